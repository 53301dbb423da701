"""Sharing requests, authorised-operation agreements, grants, objections and transactions."""
