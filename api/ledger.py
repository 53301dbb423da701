"""The ledger's REST reads that depend on who reads: an entry's payload.

The rest of the ledger's API (entries, proofs, checkpoints, keys) is ``ledger.api``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.api import errors
from kernel.errors import NotFound, NotPermitted
from ledger import selectors
from policy.visibility import payload_access


class PayloadView(APIView):
    """The entry's payload, if the visibility policy lets you read it; otherwise 403 with
    the reason (the entry itself stays public and verifiable)."""

    @extend_schema(responses={200: inline_serializer("Payload", {
        "seq": serializers.IntegerField(), "payload": serializers.JSONField(),
        "restricted": serializers.BooleanField()}), **errors(403, 404)})
    def get(self, request: Request, seq: int) -> Response:
        entry = selectors.entry(seq)
        found = selectors.payload(seq)
        if found is None:
            raise NotFound(f"entry {seq} has no stored payload")
        payload, restricted = found
        access = payload_access(request.user, kind=entry.kind, actor=entry.actor,
                                subject=entry.subject, restricted=restricted)
        if not access.readable:
            raise NotPermitted(f"the payload of entry {seq} is withheld: {access.reason}")
        return Response({"seq": seq, "payload": payload, "restricted": restricted})


