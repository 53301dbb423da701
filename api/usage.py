"""REST surface of usage records: a gateway's batch of signed records, and where a queued
statement stands.

``POST /api/v1/usage-records/`` accepts up to 256 records signed by the grantee's own key;
once they are accepted (committed), it waits up to SHULIAN_INTEGRATION_WAIT_MS for their
integration and answers 201 with their entries, or 202 with where to find each
(``GET /api/v1/ledger/pending/<id>/``) if the integrator has not reached them yet.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, EntryRefSerializer, Input, entry_ref
from contracts import usage
from kernel.api import errors
from kernel.errors import NotFound
from ledger import queue
from ledger import services as ledger
from ledger.models import Pending
from policy import visibility


class SignedRecordInput(Input):
    statement = serializers.DictField(help_text="a format v2 statement, kind usage.*, subject "
                                      "contracts/grant/<id>, signed by the grantee")
    signature = serializers.CharField(max_length=400, help_text="base64 DER SM2 signature")
    payload = serializers.JSONField(help_text="the record (its commitment is in statement)")
    salt = serializers.CharField(max_length=64, help_text="base64 of 16 random bytes")


class UsageBatchInput(Input):
    statements = SignedRecordInput(many=True, help_text=f"1 to {usage.MAX_BATCH} records")


PENDING = inline_serializer("PendingRef", {"id": serializers.IntegerField(),
                                           "url": serializers.CharField()})


def _pending_refs(request: Request, ids: list[int]) -> list[dict[str, Any]]:
    base = request.build_absolute_uri("/api/v1/ledger/pending/")  # once, not per record
    return [{"id": pending_id, "url": f"{base}{pending_id}/"} for pending_id in ids]


class UsageRecordsView(ApiView):
    @extend_schema(
        operation_id="usage_records_submit",
        summary="Submit a batch of signed usage records (数据使用记录)",
        request=UsageBatchInput,
        responses={201: inline_serializer("UsageIntegrated", {
                       "entries": EntryRefSerializer(many=True)}),
                   202: inline_serializer("UsageQueued", {"pending": PENDING}),
                   **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        body = UsageBatchInput(data=request.data)
        body.is_valid(raise_exception=True)
        submissions = [ledger.Submission(i["statement"], i["signature"], i["payload"], i["salt"])
                       for i in body.validated_data["statements"]]
        ids = usage.submit_usage(by=request.user, submissions=submissions)
        found = queue.wait(ids, settings.SHULIAN_INTEGRATION_WAIT_MS / 1000)
        if len(found) == len(ids):
            return Response({"entries": [entry_ref(found[i]) for i in ids]}, status=201)
        return Response({"pending": _pending_refs(request, ids)}, status=202)


class PendingView(ApiView):
    """Where a queued statement stands: queued, integrated (with its entry), or set aside
    (with the reason); for the members of its actor and oversight (404 for anyone else)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="ledger_pending_retrieve", responses={200: inline_serializer(
        "PendingState", {"id": serializers.IntegerField(), "state": serializers.CharField(),
                         "entry": EntryRefSerializer(allow_null=True),
                         "problem": serializers.CharField()}), **errors(404)})
    def get(self, request: Request, pending_id: int) -> Response:
        missing = NotFound(f"no queued statement {pending_id}")
        # The queue first: a statement leaves it in the very transaction that makes its
        # entry, so once it is not in the queue, its entry is there (or it never was).
        row = Pending.objects.filter(pk=pending_id).first()
        if row is not None:
            if not visibility.sees_queued(request.user, row.actor):
                raise missing
            state = "set aside" if row.problem else "queued"
            return Response({"id": pending_id, "state": state, "entry": None,
                             "problem": row.problem})
        entry = queue.integrated([pending_id]).get(pending_id)
        if entry is None or not visibility.sees_queued(request.user, entry.actor):
            raise missing
        return Response({"id": pending_id, "state": "integrated", "entry": entry_ref(entry),
                         "problem": ""})
