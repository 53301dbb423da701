"""REST API of audits: verification runs (start one, follow its progress, read its report)
and audit bundle downloads, for auditors, regulators and the data authority."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User as Person
from django.db.models import QuerySet
from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import AS_PARTICIPANT, ApiListView, ApiView, EntryRefSerializer, Input, entry_ref
from audit import services
from audit.models import Verification
from kernel.api import errors, order_by, orderings
from kernel.errors import InvalidInput, NotFound
from ledger.models import Entry
from operators import authz, capabilities

MAX_SEQ = 2**63 - 1


def auditor(request: Request) -> Any:
    """The auditor, regulator or data authority the user acts for (403 for anyone else)."""
    return authz.acting_for(request.user, kinds=capabilities.AUDIT_KINDS)


class VerificationSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True, help_text="progress, 0..100")
    report = serializers.JSONField(allow_null=True, help_text="the verification report "
                                                              "once finished")
    entry = serializers.SerializerMethodField()

    class Meta:
        model = Verification
        fields = ["id", "acting_for", "first", "last", "state", "total", "done", "percent",
                  "report", "entry_seq", "entry", "created", "finished"]

    @extend_schema_field(EntryRefSerializer(allow_null=True))
    def get_entry(self, run: Verification) -> dict[str, Any] | None:
        """The attestation entry (audit.verification.completed) of a clean run."""
        if run.entry_seq is None:
            return None
        return entry_ref(Entry.objects.filter(seq=run.entry_seq).first())


class RangeInput(Input):
    first = serializers.IntegerField(required=False, allow_null=True, default=None,
                                     min_value=0, max_value=MAX_SEQ, help_text="default 0")
    last = serializers.IntegerField(required=False, allow_null=True, default=None,
                                    min_value=0, max_value=MAX_SEQ,
                                    help_text="default: the newest entry (extended to end "
                                              "where a checkpoint ends)")


class VerificationQuery(serializers.Serializer):
    state = serializers.ChoiceField(Verification.State.choices, required=False,
                                    allow_blank=True)
    ordering = serializers.ChoiceField(orderings("created", "state"), required=False,
                                       help_text="default: newest first")


class VerificationListView(ApiListView):
    """Verification runs (what you may see: all, for the audit kinds)."""

    serializer_class = VerificationSerializer
    query_serializer = VerificationQuery
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[Verification]:
        auditor(self.request)
        query = self.query()
        runs = Verification.objects.all()
        if query.get("state"):
            runs = runs.filter(state=query["state"])
        return order_by(runs, query.get("ordering"), {"created": "created", "state": "state"},
                        "-created")

    @extend_schema(operation_id="audit_verifications_list", parameters=[VerificationQuery],
                   responses={200: VerificationSerializer(many=True),
                              **errors(400, 401, 403, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="audit_verifications_start",
        summary="Start a full-chain verification (auditors, regulators, the data authority)",
        description="Queues a run over entries first..last (every signature, every leaf hash, "
                    "the Merkle tree and every checkpoint); a clean run is attested by an "
                    "audit.verification.completed entry signed for you. Poll the run for "
                    "progress.",
        parameters=[AS_PARTICIPANT], request=RangeInput,
        responses={201: VerificationSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        form = RangeInput(data=request.data)
        form.is_valid(raise_exception=True)
        assert isinstance(request.user, Person)  # IsAuthenticated
        run = services.start_verification(by=request.user, **form.validated_data)
        run.refresh_from_db()
        return Response(VerificationSerializer(run).data, status=201)


class VerificationDetailView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="audit_verifications_retrieve",
                   description="A run's state, progress and, once finished, its report.",
                   responses={200: VerificationSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        auditor(request)
        run = Verification.objects.filter(pk=pk).first() if 0 < pk <= MAX_SEQ else None
        if run is None:
            raise NotFound(_("no verification %(id)s"), id=pk)

        return Response(VerificationSerializer(run).data)


def _seq(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(name, _("must be an integer")) from None
    if not 0 <= value <= MAX_SEQ:
        raise InvalidInput(name, _("must be a seq >= 0"))
    return value


class ZipRenderer(BaseRenderer):
    """Lets a client ask for application/zip; an error is still JSON."""

    media_type = "application/zip"
    format = "zip"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        return JSONRenderer().render(data)


class BundleView(ApiView):
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, ZipRenderer]

    @extend_schema(
        operation_id="audit_bundle_download",
        summary="Download an audit bundle (ZIP) of entries from..to",
        description="Entries, the payloads you may read, checkpoints and keys, extended to "
                    "end where a checkpoint ends. Check it offline with "
                    "`python -m audit.offline verify bundle.zip`.",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.INT, description="first seq (default 0)"),
            OpenApiParameter("to", OpenApiTypes.INT, description="last seq (default newest)"),
        ],
        responses={(200, "application/zip"): OpenApiResponse(
            OpenApiTypes.BINARY, description="the bundle (Content-Disposition: attachment)"),
            **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> FileResponse:
        assert isinstance(request.user, Person)  # IsAuthenticated
        reader = services.bundle_reader(by=request.user)
        first, last = _seq(request, "from"), _seq(request, "to")
        spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115
        try:
            manifest = services.export_bundle(spool, first=first, last=last, as_code=reader)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        name = f"shulian-bundle-{manifest['from']}-{manifest['to']}.zip"
        return FileResponse(spool, as_attachment=True, filename=name,
                            content_type="application/zip")
