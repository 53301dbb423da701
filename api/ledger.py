"""The ledger's REST reads that depend on who reads: an entry's payload.

The rest of the ledger's API (entries, proofs, checkpoints, keys) is ``ledger.api``.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
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
    """The entry's payload and the salt of its commitment (SM3(salt || canonical payload) is
    the entry's statement.payload), if the visibility policy lets you read it; otherwise 403
    with the reason (the entry itself stays public and verifiable). An erased payload answers
    with ``payload`` and ``salt`` null and ``erased`` saying by which entry and on what legal
    basis."""

    @extend_schema(responses={200: inline_serializer("Payload", {
        "seq": serializers.IntegerField(), "payload": serializers.JSONField(allow_null=True),
        "salt": serializers.CharField(allow_null=True), "restricted": serializers.BooleanField(),
        "erased": inline_serializer("Erasure", {"seq": serializers.IntegerField(),
                                                "basis": serializers.CharField()},
                                    allow_null=True)}), **errors(403, 404)})
    def get(self, request: Request, seq: int) -> Response:
        entry = selectors.entry(seq)
        statement = selectors.statement(entry)
        found = selectors.payload(seq)
        if found is None:
            raise NotFound(_("entry %(seq)s has no stored payload"), seq=seq)
        access = payload_access(request.user, kind=statement["kind"], actor=statement["actor"],
                                subject=statement["subject"], restricted=found.restricted)
        if not access.readable:
            raise NotPermitted(_("the payload of entry %(seq)s is withheld: %(reason)s"),
                               seq=seq, reason=access.reason)

        erased = {"seq": found.erased_by, "basis": found.basis} if found.erased else None
        return Response({"seq": seq, "payload": found.payload, "salt": found.salt or None,
                         "restricted": found.restricted, "erased": erased})


