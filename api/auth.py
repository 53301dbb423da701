"""Sign-in for API clients: a token for a username and password (throttled per address,
locked out per account and per address), the caller's own tokens (listed, revoked one by one
or all at once). Tokens are django-rest-knox's (``accounts.tokens``): hashed at rest and
expiring."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import tokens
from api.base import ApiView, Input
from kernel.api import errors
from kernel.drf import FormParser, JSONParser, LoginThrottle, MultiPartParser


class Credentials(Input):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False,
                                     style={"input_type": "password"})


class IssuedSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="send it as `Authorization: Token <token>`; "
                                  "shown once, stored only as a digest")
    id = serializers.CharField(help_text="the token's name in the list of your tokens")
    expiry = serializers.DateTimeField(allow_null=True)


class TokenSerializer(serializers.Serializer):
    id = serializers.CharField()
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    current = serializers.BooleanField(help_text="the token this request was made with")


class TokenView(ApiView):
    """A new API token for your username and password; it expires after the configured
    lifetime (default 10 hours). Failed attempts lock the account and the address out for a
    while (429 with Retry-After)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (LoginThrottle,)
    # JSON or a form, as DRF's obtain_auth_token took (existing clients post either).
    parser_classes = (JSONParser, FormParser, MultiPartParser)

    @extend_schema(operation_id="auth_token", request=Credentials,
                   responses={200: IssuedSerializer, **errors(400, 429)})
    def post(self, request: Request) -> Response:
        form = Credentials(data=request.data)
        form.is_valid(raise_exception=True)
        issued = tokens.obtain(request._request, username=form.validated_data["username"],
                               password=form.validated_data["password"])
        return Response(IssuedSerializer(issued).data)


def _token(request: Request, token: Any) -> dict[str, Any]:
    return {"id": tokens.token_id(token), "created": token.created, "expiry": token.expiry,
            "current": token == request.auth}


class TokenListView(ApiView):
    """Your API tokens that have not expired, newest first."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="auth_tokens", responses={
        200: TokenSerializer(many=True), **errors(401)})
    def get(self, request: Request) -> Response:
        found = [_token(request, token) for token in tokens.live(request.user)]
        return Response(TokenSerializer(found, many=True).data)


class TokenDetailView(ApiView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="auth_token_revoke", summary="Revoke one of your tokens",
                   responses={204: None, **errors(401, 404)})
    def delete(self, request: Request, id: str) -> Response:  # noqa: A002
        tokens.revoke(user=request.user, id=id)
        return Response(status=204)


class LogoutView(ApiView):
    """Revoke the token this request was made with."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="auth_logout", request=None,
                   responses={204: None, **errors(401)})
    def post(self, request: Request) -> Response:
        if request.auth is not None and hasattr(request.auth, "digest"):
            tokens.revoke(user=request.user, id=tokens.token_id(request.auth))
        return Response(status=204)


class LogoutAllView(ApiView):
    """Revoke every one of your tokens (they are revoked too when your password changes)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="auth_logout_all", request=None,
                   responses={200: inline_serializer("Revoked", {
                       "revoked": serializers.IntegerField()}), **errors(401)})
    def post(self, request: Request) -> Response:
        return Response({"revoked": tokens.revoke_all(user=request.user)})
