"""DRF authentication by knox token (``Authorization: Token <token>``), refusing a malformed
token with 401 before it reaches the database (a NUL or a non-hex byte is no token)."""

from __future__ import annotations

import string
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.settings import knox_settings
from rest_framework import exceptions

HEX = frozenset(string.hexdigits.lower().encode())


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> Any:
        length = knox_settings.AUTH_TOKEN_CHARACTER_LENGTH + len(knox_settings.TOKEN_PREFIX)
        if len(token) != length or not set(token) <= HEX:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)


class TokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI schema (so that Swagger UI and schemathesis can send it)."""

    target_class = "accounts.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <token>`, from POST /api/v1/auth/token/; a token "
                               "expires after SHULIAN_TOKEN_HOURS (default 10) and is revoked "
                               "by logout, logout-all and any change of the password."}
