"""REST API of the ledger: entries, roots, proofs, checkpoints, keys and status.

An entry's payload is served by ``api.ledger`` (the visibility policy decides who reads it).

Entries and proofs never change, so their responses carry an ETag and a long max-age.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crypto.canonical import parse
from kernel.api import errors, int_param
from kernel.errors import NotFound
from ledger import selectors, services
from ledger.models import Checkpoint, Entry, LedgerKey

IMMUTABLE = "public, max-age=31536000, immutable"


def _immutable(response: Response, tag: str) -> Response:
    response["ETag"] = f'"{tag}"'
    response["Cache-Control"] = IMMUTABLE
    return response


def _not_modified(request: Request, tag: str) -> bool:
    return request.headers.get("If-None-Match") == f'"{tag}"'


class EntrySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """An entry as its own bytes say (checked against its leaf hash), never as the columns
    beside them say."""

    seq = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    prev = serializers.CharField()
    kind = serializers.CharField()
    actor = serializers.CharField()
    subject = serializers.CharField()
    key_id = serializers.CharField()
    commitment = serializers.CharField(help_text="statement.payload: SM3(salt || payload)")
    recorded = serializers.CharField()
    entry = serializers.JSONField(help_text="the entry object exactly as hashed (its "
                                  "canonical bytes are in `raw`)")

    def to_representation(self, instance: Entry) -> dict[str, Any]:
        statement = selectors.statement(instance)
        entry = parse(instance.data)
        return {
            "seq": entry["seq"], "leaf_hash": instance.leaf_hash, "prev": entry["prev"],
            "kind": statement["kind"], "actor": statement["actor"],
            "subject": statement["subject"], "key_id": statement["key"],
            "commitment": statement["payload"], "recorded": entry["recorded"], "entry": entry,
        }


ENTRY_FILTERS = [
    OpenApiParameter("kind", str, description="exact kind, e.g. contracts.objection.filed"),
    OpenApiParameter("actor", str, description="participant code (or the origin)"),
    OpenApiParameter("subject", str, description="subject prefix, e.g. catalog/resource/"),
    OpenApiParameter("from", int, description="first seq"),
    OpenApiParameter("to", int, description="last seq"),
    OpenApiParameter("ordering", str, enum=["seq", "-seq"]),
]


class EntryList(generics.ListAPIView):  # type: ignore[type-arg]
    """Ledger entries, filterable by kind, actor, subject and seq range."""

    serializer_class = EntrySerializer

    def get_queryset(self) -> QuerySet[Entry]:
        params = self.request.query_params
        query = selectors.entries(int_param(self.request, "from", 0),
                                  int_param(self.request, "to", 2**62))
        if params.get("kind"):
            query = query.filter(kind=params["kind"])
        if params.get("actor"):
            query = query.filter(actor=params["actor"])
        if params.get("subject"):
            query = query.filter(subject__startswith=params["subject"])
        return query.order_by("-seq" if params.get("ordering") == "-seq" else "seq")

    @extend_schema(parameters=ENTRY_FILTERS, responses={200: EntrySerializer(many=True),
                                                        **errors(400)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class EntryDetail(APIView):
    @extend_schema(responses={200: EntrySerializer, **errors(404)})
    def get(self, request: Request, seq: int) -> Response:
        entry = selectors.entry(seq)
        if _not_modified(request, entry.leaf_hash):
            return _immutable(Response(status=304), entry.leaf_hash)
        return _immutable(Response(EntrySerializer(entry).data), entry.leaf_hash)


class EntryRaw(APIView):
    """The entry's exact canonical bytes (what the leaf hash is computed over)."""

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT, **errors(404)})
    def get(self, request: Request, seq: int) -> HttpResponse:
        entry = selectors.entry(seq)
        response = HttpResponse(entry.data.encode("utf-8"), content_type="application/json")
        response["ETag"] = f'"{entry.leaf_hash}"'
        response["Cache-Control"] = IMMUTABLE
        return response


class RootView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("size", int, description="tree size; default: current")],
        responses={200: inline_serializer("Root", {"size": serializers.IntegerField(),
                                                   "root": serializers.CharField()}),
                   **errors(400, 404)})
    def get(self, request: Request) -> Response:
        size = int_param(request, "size", selectors.size())
        return Response({"size": size, "root": selectors.root(size).hex()})


PROOF = inline_serializer("Proof", {
    "format": serializers.CharField(), "leaf_index": serializers.IntegerField(required=False),
    "tree_size": serializers.IntegerField(), "old_size": serializers.IntegerField(required=False),
    "leaf_hash": serializers.CharField(required=False), "root": serializers.CharField(),
    "old_root": serializers.CharField(required=False),
    "path": serializers.ListField(child=serializers.CharField()),
})


class InclusionProofView(APIView):
    """RFC 9162 inclusion proof (hashes hex, bottom-up) of entry `seq` in the tree `size`."""

    @extend_schema(parameters=[OpenApiParameter("seq", int, required=True),
                               OpenApiParameter("size", int)],
                   responses={200: PROOF, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        seq = int_param(request, "seq")
        size = int_param(request, "size", selectors.size())
        path = selectors.inclusion_proof(seq, size)
        entry = selectors.entry(seq)
        body = {"format": "rfc9162-sm3/inclusion", "leaf_index": seq, "tree_size": size,
                "leaf_hash": entry.leaf_hash, "root": selectors.root(size).hex(),
                "path": [node.hex() for node in path]}
        return _immutable(Response(body), f"i-{seq}-{size}")


class ConsistencyProofView(APIView):
    @extend_schema(parameters=[OpenApiParameter("old", int, required=True),
                               OpenApiParameter("new", int)],
                   responses={200: PROOF, **errors(400, 404)})
    def get(self, request: Request) -> Response:
        old = int_param(request, "old", minimum=1)
        new = int_param(request, "new", selectors.size(), minimum=1)
        path = selectors.consistency_proof(old, new)
        body = {"format": "rfc9162-sm3/consistency", "old_size": old, "tree_size": new,
                "old_root": selectors.root(old).hex(), "root": selectors.root(new).hex(),
                "path": [node.hex() for node in path]}
        return _immutable(Response(body), f"c-{old}-{new}")


class CheckpointSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Checkpoint
        fields = ["size", "root", "note", "created"]


class CheckpointList(generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = CheckpointSerializer

    def get_queryset(self) -> QuerySet[Checkpoint]:
        return selectors.checkpoints().order_by("-size")


class CheckpointNote(APIView):
    """A checkpoint as its signed-note text (text/plain): of a tree size, or the latest."""

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR, **errors(404)})
    def get(self, request: Request, size: int | None) -> HttpResponse:
        if size is None:
            checkpoint = selectors.latest_checkpoint()
        else:
            checkpoint = Checkpoint.objects.filter(size=size).first()
        if checkpoint is None:
            if size is None:
                raise NotFound(_("no checkpoint has been sealed yet"))
            raise NotFound(_("no checkpoint %(size)s"), size=size)
        return HttpResponse(selectors.checkpoint_note(checkpoint),
                            content_type="text/plain; charset=utf-8")


class KeySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    ended_seq = serializers.SerializerMethodField(help_text="seq of the entry that revoked or "
                                                  "replaced it; it is live for no later entry")
    ended_how = serializers.SerializerMethodField(help_text="revoked or replaced")

    class Meta:
        model = LedgerKey
        fields = ["key_id", "owner", "name", "use", "pem", "valid_from", "valid_until",
                  "replaces", "registered_seq", "ended_seq", "ended_how"]

    def get_ended_seq(self, obj: LedgerKey) -> int | None:
        end = getattr(obj, "end", None)
        return None if end is None else int(end.seq)

    def get_ended_how(self, obj: LedgerKey) -> str | None:
        end = getattr(obj, "end", None)
        return None if end is None else str(end.how)


class KeyList(generics.ListAPIView):  # type: ignore[type-arg]
    """The key registry: every registered public key and its validity."""

    serializer_class = KeySerializer

    def get_queryset(self) -> QuerySet[LedgerKey]:
        query = selectors.keys()
        owner = self.request.query_params.get("owner")
        return query.filter(owner=owner) if owner else query


class StatusView(APIView):
    @extend_schema(responses={200: inline_serializer("LedgerStatus", {
        "origin": serializers.CharField(), "size": serializers.IntegerField(),
        "head": serializers.CharField(), "checkpoint": CheckpointSerializer(allow_null=True)})})
    def get(self, request: Request) -> Response:
        status = selectors.status()
        checkpoint = CheckpointSerializer(status.checkpoint).data if status.checkpoint else None
        return Response({"origin": services.origin(), "size": status.size, "head": status.head,
                         "checkpoint": checkpoint})

