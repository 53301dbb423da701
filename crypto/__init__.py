"""National-standard cryptography for Shulian: SM2 signatures, SM3 hashing, SM4 encryption
and RFC 8785 canonical JSON.

This package imports no Django, so the offline verifier runs from a bare install. Nothing
else in the project imports tongsuopy or gmssl's primitives directly: go through here.
"""
