"""The REST API (/api/v1/): one module per part, each view parsing its request, calling one
service or selector and answering; the visibility policy (``visibility``) decides every read.

Generic pieces live in ``kernel.api``; what the views share in ``api.base``.
"""
