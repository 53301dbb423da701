"""Categories, resources (draft, revise, publish, withdraw), versions, items and quality."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    AS_PARTICIPANT,
    WRITE_ERRORS,
    ApiListView,
    ApiView,
    acting_participant,
    entry_ref,
    latest_entry,
    permit,
    with_actions,
    written,
)
from api.catalogue import serializers as s
from api.participants import ReasonSerializer
from catalog import quality, selectors, services, versions
from catalog.models import (
    Category,
    DataItem,
    DataResource,
    QualityCheck,
    QualityRule,
    ResourceStatus,
    ResourceVersion,
)
from crypto.canonical import parse
from kernel.api import errors, order_by
from kernel.drf import MultiPartParser, Pagination
from kernel.errors import NotFound
from kernel.uploads import read_upload
from ledger.models import Entry
from policy import visibility

MAX_VERSION = 2**31 - 1


def resource_of(request: Request, code: str) -> DataResource:
    """The resource named in the URL, if the user may see it (404 otherwise)."""
    return selectors.resource(request.user, code)


def resource_written(request: Request, resource: DataResource, *, appended: bool,
                     status: int = 200) -> Response:
    entry = latest_entry(versions.subject(resource)) if appended else None
    fresh = DataResource.objects.select_related("provider", "category").get(pk=resource.pk)
    return written(s.ResourceSerializer, fresh, request, entry, status)


# --- categories ----------------------------------------------------------------------------


class CategoryListView(ApiListView):
    """The subject classification tree (分类), flattened; ``parent`` links the nodes."""

    serializer_class = s.CategorySerializer
    query_serializer = s.CategoryQuery

    def get_queryset(self) -> QuerySet[Category]:
        query = self.query()
        found = selectors.categories()
        if query.get("q"):
            text = query["q"]
            found = (found.filter(code__icontains=text) | found.filter(name__icontains=text)
                     | found.filter(name_en__icontains=text))
        if query.get("branch"):
            found = found.filter(branch=query["branch"])
        if query.get("parent"):
            found = found.filter(parent__code=query["parent"])
        return order_by(found, query.get("ordering"), {"code": "code", "name": "name"}, "code")

    @extend_schema(operation_id="catalog_categories_list", parameters=[s.CategoryQuery],
                   responses={200: s.CategorySerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# --- resources -----------------------------------------------------------------------------

CREATE_EXAMPLE = OpenApiExample(
    "A conditional resource with two items",
    request_only=True,
    value={
        "code": "RS-110000-0042", "category": "BASE-PERSON", "name": "企业社保缴纳记录",
        "name_en": "Company social insurance payments", "grade": "important",
        "sensitivity": 3, "sharing": "conditional",
        "sharing_basis": "《社会保险法》第八十一条", "opening": "conditional",
        "update_frequency": "monthly", "source_system": "社保核心系统",
        "data_format": "csv", "responsible_person": "李明",
        "items": [
            {"name": "uscc", "data_type": "char(18)", "standard_code": "DE-0001"},
            {"name": "paid_month", "data_type": "date"},
        ],
    },
)


class ResourceListView(ApiListView):
    """The catalogue: the resources you may see, filtered and ordered."""

    serializer_class = s.ResourceSummarySerializer
    query_serializer = s.ResourceQuery

    def get_queryset(self) -> QuerySet[DataResource]:
        query = self.query()
        criteria = selectors.ResourceFilter(
            text=query.get("q", ""), category=query.get("category", ""),
            grade=query.get("grade", ""), sharing=query.get("sharing", ""),
            opening=query.get("opening", ""), provider=query.get("provider", ""),
            quality_failing=query.get("quality_failing"), status=query.get("status", ""),
        )
        return order_by(selectors.search(self.request.user, criteria), query.get("ordering"),
                        {"code": "code", "name": "name", "updated": "updated"}, "code")

    @extend_schema(operation_id="catalog_resources_list", parameters=[s.ResourceQuery],
                   responses={200: s.ResourceSummarySerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="catalog_resources_create",
        summary="Create a draft resource (provider departments)",
        description="Drafts are the provider's private work: no ledger entry (``entry`` is "
                    "null) until the resource is published. Act for one provider with "
                    "X-Participant if you act for several.",
        parameters=[AS_PARTICIPANT], request=s.ResourceCreateSerializer,
        examples=[CREATE_EXAMPLE],
        responses={201: s.ResourceWrittenSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        services.resource_author(request.user, acting_participant(request))
        form = s.ResourceCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        resource = services.create_resource(by=request.user, provider=acting_participant(request),
                                            **form.validated_data)
        return resource_written(request, resource, appended=False, status=201)


RESOURCE_DETAIL = with_actions(s.ResourceSerializer)


class ResourceDetailView(ApiView):
    """A resource you may see. Restricted fields and the items' details only for those who
    may see them; otherwise they are omitted and ``restricted`` is true."""

    @extend_schema(operation_id="catalog_resources_retrieve",
                   responses={200: RESOURCE_DETAIL, **errors(404)})
    def get(self, request: Request, code: str) -> Response:
        resource = resource_of(request, code)
        return Response(RESOURCE_DETAIL(resource, context={"request": request}).data)


class ResourceReviseView(ApiView):
    """Change any of the resource's fields; ``items``, if given, replaces every item. A
    published resource is re-published as a new version (its entry is returned); a draft
    changes without an entry. Withdrawn: 409."""


    @extend_schema(
        operation_id="catalog_resources_revise",
        summary="Revise a resource (a published one gets a new version at once)",
        request=s.ResourceReviseSerializer,
        examples=[OpenApiExample("Change the update frequency", request_only=True,
                                 value={"update_frequency": "weekly"})],
        responses={200: s.ResourceWrittenSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        resource = resource_of(request, code)
        permit(request, resource, "revise")
        form = s.ResourceReviseSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        revised = services.revise_resource(by=request.user, resource=resource,
                                           **form.validated_data)
        return resource_written(request, revised,
                                appended=revised.status == ResourceStatus.PUBLISHED)


class ResourcePublishView(ApiView):
    @extend_schema(
        operation_id="catalog_resources_publish",
        summary="Publish a draft (version 1) or a withdrawn resource (a new version)",
        description="Appends catalog.resource.published whose payload is the version's "
                    "canonical document. Already published: 409.",
        request=None,
        responses={200: s.ResourceWrittenSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        resource = services.publish_resource(by=request.user,
                                             resource=resource_of(request, code))
        return resource_written(request, resource, appended=True)


class ResourceWithdrawView(ApiView):
    """Withdraw a published resource (catalog.resource.withdrawn); otherwise 409."""


    @extend_schema(
        operation_id="catalog_resources_withdraw",
        summary="Withdraw a published resource (reason required)",
        request=ReasonSerializer,
        responses={200: s.ResourceWrittenSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        resource = resource_of(request, code)
        permit(request, resource, "withdraw")
        form = ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        withdrawn = services.withdraw_resource(by=request.user, resource=resource,
                                               reason=form.validated_data["reason"])
        return resource_written(request, withdrawn, appended=True)


# --- versions ------------------------------------------------------------------------------


class VersionListView(ApiListView):
    """The resource's published versions, newest first."""

    serializer_class = s.VersionSummarySerializer
    query_serializer = s.VersionQuery

    def get_queryset(self) -> QuerySet[ResourceVersion]:
        resource = resource_of(self.request, self.kwargs["code"])
        query = self.query()
        return order_by(selectors.versions_of(resource).select_related("resource"),
                        query.get("ordering"), {"number": "number"}, "-number")

    @extend_schema(operation_id="catalog_versions_list", parameters=[s.VersionQuery],
                   responses={200: s.VersionSummarySerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _shows_content(request: Request, resource: DataResource, entry: Entry | None) -> bool:
    return visibility.reads_version_content(request.user, resource,
                                            entry.seq if entry is not None else None)


class VersionDetailView(ApiView):
    """A published version never changes: the answer carries an ETag (If-None-Match gives
    304). It may differ per reader (restricted content), hence ``private``."""

    @extend_schema(
        operation_id="catalog_versions_retrieve",
        parameters=[OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER,
                                     description="an ETag from an earlier answer")],
        responses={200: s.VersionSerializer, 304: None, **errors(404)},
    )
    def get(self, request: Request, code: str, number: int) -> Response:
        resource = resource_of(request, code)
        version = (resource.versions.filter(number=number).first()
                   if number <= MAX_VERSION else None)
        if version is None:
            raise NotFound(_("resource %(code)s has no version %(n)s"), code=resource.code,
                           n=number)

        entry = Entry.objects.filter(seq=version.entry_seq).first()
        shows = _shows_content(request, resource, entry)
        tag = f'"{version.digest}-{"full" if shows else "restricted"}"'
        if request.headers.get("If-None-Match") == tag:
            response = Response(status=304)
        else:
            data = dict(s.VersionSummarySerializer(version).data)
            if shows:
                data["content"] = parse(version.content)
            data.update(matches_entry=versions.matches_entry(version), restricted=not shows,
                        entry=entry_ref(entry))
            response = Response(data)
        response["ETag"] = tag
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "Authorization, Cookie"
        return response


# --- items ---------------------------------------------------------------------------------


class ItemPagination(Pagination):
    """Pages of items, saying whether their details were withheld."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        page = super().get_paginated_response_schema(schema)
        page["properties"]["restricted"] = {
            "type": "boolean", "description": "the items' details are withheld from you"}
        page["required"] = [*page.get("required", []), "restricted"]
        return page


class ItemListView(ApiListView):
    """The resource's data items (数据项); details only for those who may see restricted
    fields."""

    serializer_class = s.ItemSerializer
    query_serializer = s.ItemQuery
    pagination_class = ItemPagination

    def get_queryset(self) -> QuerySet[DataItem]:
        resource = resource_of(self.request, self.kwargs["code"])
        self.restricted = not visibility.sees_restricted(self.request.user, resource)
        query = self.query()
        items = resource.items.all()
        if query.get("q"):
            items = items.filter(name__icontains=query["q"])
        if query.get("standard_code"):
            items = items.filter(standard_code=query["standard_code"])
        return order_by(items, query.get("ordering"), {"name": "name", "id": "id"}, "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        if self.restricted:
            response.data["results"] = [s.strip_item(item) for item in response.data["results"]]
        response.data["restricted"] = self.restricted
        return response

    @extend_schema(operation_id="catalog_items_list", parameters=[s.ItemQuery],
                   responses={200: s.ItemSerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# --- quality -------------------------------------------------------------------------------


class RuleListView(ApiListView):
    """The resource's data-quality rules (数据质量规则). Rules are the provider's own
    settings (no entry); each quality check's entry records the results."""

    serializer_class = s.RuleSerializer
    query_serializer = s.RuleQuery

    def get_queryset(self) -> QuerySet[QualityRule]:
        resource = resource_of(self.request, self.kwargs["code"])
        query = self.query()
        rules = QualityRule.objects.filter(item__resource=resource).select_related("item")
        if query.get("item"):
            rules = rules.filter(item__name=query["item"])
        if query.get("check"):
            rules = rules.filter(rule=query["check"])
        return order_by(rules, query.get("ordering"), {"id": "id", "item": "item__name"}, "id")

    @extend_schema(operation_id="catalog_quality_rules_list", parameters=[s.RuleQuery],
                   responses={200: s.RuleSerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="catalog_quality_rules_add",
        summary="Add a quality rule to a data item (the provider)",
        description="Parameters by check: pattern {pattern}, range {min and/or max}, "
                    "enumeration {values}; the others take none. Rules are settings, not "
                    "public acts: ``entry`` is null.",
        request=s.RuleInputSerializer,
        examples=[OpenApiExample("Every row has a valid code", request_only=True, value={
            "item": "uscc", "check": "pattern",
            "parameters": {"pattern": "[0-9A-HJ-NPQRTUWXY]{18}"}, "threshold": 99})],
        responses={201: s.RuleWrittenSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, code: str) -> Response:
        resource = resource_of(request, code)
        quality.require_manager(by=request.user, resource=resource)
        form = s.RuleInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        rule = quality.add_rule(by=request.user, resource=resource, item_name=data["item"],
                                check=data["check"], parameters=data["parameters"],
                                threshold=data["threshold"])
        return written(s.RuleSerializer, rule, request, None, 201)


class CheckListView(ApiListView):
    """Quality checks run over samples of the resource, newest first."""

    serializer_class = s.QualityCheckSerializer
    query_serializer = s.CheckQuery
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> QuerySet[QualityCheck]:
        resource = resource_of(self.request, self.kwargs["code"])
        query = self.query()
        checks = resource.quality_checks.all()
        if query.get("passed") is not None:
            checks = checks.filter(passed=query["passed"])
        return order_by(checks, query.get("ordering"), {"checked": "checked"}, "-checked")

    @extend_schema(operation_id="catalog_quality_checks_list", parameters=[s.CheckQuery],
                   responses={200: s.QualityCheckSerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="catalog_quality_checks_run",
        summary="Run the resource's quality rules over an uploaded sample (the provider)",
        description="Records catalog.quality.checked with each rule's pass rate and the "
                    "sample's SM3; a failing resource is flagged in the catalogue.",
        request={"multipart/form-data": s.SampleSerializer},
        responses={201: s.QualityCheckWrittenSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, code: str) -> Response:
        resource = resource_of(request, code)
        quality.require_manager(by=request.user, resource=resource)
        form = s.SampleSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        sample = form.validated_data["sample"]
        check = quality.run_quality_check(by=request.user, resource=resource,
                                          sample_name=sample.name,
                                          sample=read_upload(sample, quality.MAX_SAMPLE) or b"")
        entry = entry_ref(Entry.objects.filter(seq=check.entry_seq).first())
        return written(s.QualityCheckSerializer, check, request, entry, 201)
