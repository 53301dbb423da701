"""Verification, proofs, bundle export, the offline verifier and regulator views.

The verification core (``audit.core`` and ``audit.offline``) imports no Django.
"""
