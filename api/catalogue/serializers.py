"""Shapes of the catalogue API: what goes out (model serializers) and what comes in (checked
here for type, length and choice; the services check the rules)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from api.base import AsSentField, EntryRefSerializer, Input, MoneyField
from catalog import selectors
from catalog.models import (
    Category,
    Certificate,
    DataItem,
    DataProduct,
    DataResource,
    Desensitisation,
    Frequency,
    Grade,
    Opening,
    ProductStatus,
    QualityCheck,
    QualityRule,
    ResourceStatus,
    ResourceVersion,
    Sharing,
)
from contracts.products import CERTIFICATE_KINDS
from kernel.api import orderings
from kernel.errors import NotFound
from policy import visibility

# --- out -----------------------------------------------------------------------------------


def code_of(**kwargs: Any) -> serializers.SlugRelatedField[Any]:
    """A related object written as its code."""
    return serializers.SlugRelatedField(slug_field="code", read_only=True, **kwargs)


class CategorySerializer(serializers.ModelSerializer):
    parent: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Category
        fields = ["code", "name", "name_en", "branch", "parent"]


class ResourceSummarySerializer(serializers.ModelSerializer):
    """A resource's public metadata (a row of the catalogue)."""

    provider = code_of()
    provider_name = serializers.CharField(source="provider.name_zh", read_only=True)
    category = code_of()

    class Meta:
        model = DataResource
        fields = ["code", "name", "name_en", "description", "provider", "provider_name",
                  "category", "grade", "sensitivity", "sharing", "opening",
                  "update_frequency", "data_format", "status", "version", "quality_failing",
                  "created", "updated"]


ITEM_RESTRICTED = ("description", "sensitivity", "personal_information", "desensitisation")
RESOURCE_RESTRICTED = ("sharing_basis", "source_system", "responsible_person")


class ItemSerializer(serializers.ModelSerializer):
    """A data item (数据项); the fields after ``authoritative`` are restricted."""

    class Meta:
        model = DataItem
        fields = ["name", "data_type", "standard_code", "authoritative", *ITEM_RESTRICTED]
        extra_kwargs = {name: {"required": False} for name in ITEM_RESTRICTED}


def strip_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ITEM_RESTRICTED}


class ResourceSerializer(ResourceSummarySerializer):
    """The whole resource. ``sharing_basis``, ``source_system``, ``responsible_person`` and
    the items' details are shown only to those who may see restricted fields (the provider,
    grantees, the data authority, regulators and auditors); otherwise they are omitted and
    ``restricted`` is true."""

    items = ItemSerializer(many=True, read_only=True)
    restricted = serializers.SerializerMethodField()

    class Meta(ResourceSummarySerializer.Meta):
        fields = [*ResourceSummarySerializer.Meta.fields, *RESOURCE_RESTRICTED, "items",
                  "restricted"]
        extra_kwargs = {name: {"required": False} for name in RESOURCE_RESTRICTED}

    def get_restricted(self, resource: DataResource) -> bool:
        """True when restricted fields are withheld from you."""
        request = self.context.get("request")
        return request is None or not visibility.sees_restricted(request.user, resource)

    def to_representation(self, instance: DataResource) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if data["restricted"]:
            for name in RESOURCE_RESTRICTED:
                data.pop(name, None)
            data["items"] = [strip_item(item) for item in data["items"]]
        return data


class ResourceWrittenSerializer(ResourceSerializer):
    entry = EntryRefSerializer(allow_null=True, help_text="the ledger entry appended, or null "
                                                          "for a change to a draft")

    class Meta(ResourceSerializer.Meta):
        fields = [*ResourceSerializer.Meta.fields, "entry"]


class VersionSummarySerializer(serializers.ModelSerializer):
    resource = code_of()

    class Meta:
        model = ResourceVersion
        fields = ["resource", "number", "digest", "entry_seq", "published"]


class VersionSerializer(VersionSummarySerializer):
    """An immutable published version. ``content`` is the canonical document whose SM3 is
    ``digest`` and the payload hash of entry ``entry_seq``; it is omitted (``restricted``)
    when the entry's payload is restricted and you may not read it."""

    content = serializers.JSONField(required=False)
    matches_entry = serializers.BooleanField(help_text="SM3(content) equals the payload hash "
                                                       "of its catalog.resource.published "
                                                       "entry")
    restricted = serializers.BooleanField()
    entry = EntryRefSerializer(allow_null=True)

    class Meta(VersionSummarySerializer.Meta):
        fields = [*VersionSummarySerializer.Meta.fields, "content", "matches_entry",
                  "restricted", "entry"]


class RuleSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="item.name", read_only=True)
    check = serializers.CharField(source="rule", read_only=True)

    class Meta:
        model = QualityRule
        fields = ["id", "item", "check", "parameters", "threshold"]


class RuleWrittenSerializer(RuleSerializer):
    entry = EntryRefSerializer(allow_null=True, help_text="always null: rules are the "
                                                          "provider's own settings")

    class Meta(RuleSerializer.Meta):
        fields = [*RuleSerializer.Meta.fields, "entry"]


class RuleResultSerializer(serializers.Serializer):
    item = serializers.CharField()
    check = serializers.CharField()
    rows_passed = serializers.IntegerField()
    pass_rate_bp = serializers.IntegerField(help_text="pass rate in basis points")
    threshold_pct = serializers.IntegerField()
    meets = serializers.BooleanField()


class QualityCheckSerializer(serializers.ModelSerializer):
    results = RuleResultSerializer(many=True, read_only=True)

    class Meta:
        model = QualityCheck
        fields = ["id", "sample_name", "sample_digest", "rows", "results", "passed",
                  "entry_seq", "checked"]


class QualityCheckWrittenSerializer(QualityCheckSerializer):
    entry = EntryRefSerializer(allow_null=True)

    class Meta(QualityCheckSerializer.Meta):
        fields = [*QualityCheckSerializer.Meta.fields, "entry"]


class ProductSerializer(serializers.ModelSerializer):
    owner = code_of()
    owner_name = serializers.CharField(source="owner.name_zh", read_only=True)
    resources = code_of(many=True)
    price = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True,
                                     help_text="a decimal string, e.g. \"1250.00\"")

    class Meta:
        model = DataProduct
        fields = ["code", "owner", "owner_name", "name", "description", "resources", "price",
                  "currency", "status", "review_reason", "created", "updated"]


class ProductWrittenSerializer(ProductSerializer):
    entry = EntryRefSerializer(allow_null=True, help_text="the ledger entry appended, or null "
                                                          "for a draft")

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "entry"]


class CertificateSerializer(serializers.ModelSerializer):
    product = code_of()
    issuer = code_of()
    issuer_name = serializers.CharField(source="issuer.name_zh", read_only=True)

    class Meta:
        model = Certificate
        fields = ["id", "product", "issuer", "issuer_name", "kind", "document_name", "digest",
                  "summary", "entry_seq", "issued"]


class CertificateWrittenSerializer(CertificateSerializer):
    entry = EntryRefSerializer(allow_null=True)

    class Meta(CertificateSerializer.Meta):
        fields = [*CertificateSerializer.Meta.fields, "entry"]


# --- query parameters of the lists -----------------------------------------------------------


def _choice(choices: Any, help_text: str = "") -> serializers.ChoiceField:
    return serializers.ChoiceField(choices, required=False, allow_blank=True,
                                   help_text=help_text)


def _text(max_length: int = 200, help_text: str = "") -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=max_length,
                                 help_text=help_text)


class CategoryQuery(serializers.Serializer):
    q = _text(help_text="text in the code or either name")
    branch = _choice(Category.Branch.choices)
    parent = _text(32, "code of the parent category")  # type: ignore[assignment]
    ordering = serializers.ChoiceField(orderings("code", "name"), required=False)


class ResourceQuery(serializers.Serializer):
    q = _text(help_text="text in the code, names or description")
    category = _text(32, "category code; its sub-categories are included")
    grade = _choice(Grade.choices)
    sharing = _choice(Sharing.choices)
    opening = _choice(Opening.choices)
    provider = _text(32, "the provider's unified social credit code")
    quality_failing = serializers.BooleanField(required=False, allow_null=True, default=None)
    status = _choice(ResourceStatus.choices)
    ordering = serializers.ChoiceField(orderings("code", "name", "updated"), required=False,
                                       help_text="default: code")


class VersionQuery(serializers.Serializer):
    ordering = serializers.ChoiceField(orderings("number"), required=False,
                                       help_text="default: -number (newest first)")


class ItemQuery(serializers.Serializer):
    q = _text(help_text="text in the item's name")
    standard_code = _text(64)
    ordering = serializers.ChoiceField(orderings("name", "id"), required=False,
                                       help_text="default: id (the resource's order)")


class RuleQuery(serializers.Serializer):
    item = _text(100, "the data item's name")
    check = _choice(QualityRule.Check.choices)
    ordering = serializers.ChoiceField(orderings("id", "item"), required=False)


class CheckQuery(serializers.Serializer):
    passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    ordering = serializers.ChoiceField(orderings("checked"), required=False,
                                       help_text="default: -checked (newest first)")


class ProductQuery(serializers.Serializer):
    q = _text(help_text="text in the code, name or description")
    status = _choice(ProductStatus.choices)
    owner = _text(32, "the owner's unified social credit code")
    resource = _text(64, "code of a resource the product is built on")
    ordering = serializers.ChoiceField(orderings("code", "name", "price", "updated"),
                                       required=False, help_text="default: code")


class ListingQuery(serializers.Serializer):
    q = _text(help_text="text in the code, name or description")
    owner = _text(32, "the owner's unified social credit code")
    resource = _text(64, "code of a resource the product is built on")
    ordering = serializers.ChoiceField(orderings("code", "name", "price", "updated"),
                                       required=False, help_text="default: code")


class CertificateQuery(serializers.Serializer):
    kind = _choice(sorted(CERTIFICATE_KINDS))
    ordering = serializers.ChoiceField(orderings("issued"), required=False,
                                       help_text="default: -issued (newest first)")


# --- in ------------------------------------------------------------------------------------


class ItemInputSerializer(Input):
    name = serializers.CharField(max_length=100)
    data_type = serializers.CharField(max_length=32)
    standard_code = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                          default="", help_text="data element standard")
    authoritative = serializers.BooleanField(required=False, default=False,
                                             help_text="this resource is the standard's one "
                                                       "source (一数一源)")
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True,
                                        default="")
    sensitivity = serializers.IntegerField(min_value=1, max_value=4, required=False,
                                           default=1)
    personal_information = serializers.BooleanField(required=False, default=False)
    desensitisation = serializers.ChoiceField(Desensitisation.choices, required=False,
                                              default=Desensitisation.NONE)


class ResourceFieldsSerializer(Input):
    name = serializers.CharField(max_length=200)
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    grade = serializers.ChoiceField(Grade.choices)
    sensitivity = serializers.IntegerField(min_value=1, max_value=4,
                                           help_text="1 (low) to 4 (high)")
    sharing = serializers.ChoiceField(Sharing.choices)
    sharing_basis = serializers.CharField(max_length=4000, required=False, allow_blank=True,
                                          help_text="legal basis; required unless sharing is "
                                                    "unconditional")
    opening = serializers.ChoiceField(Opening.choices)
    update_frequency = serializers.ChoiceField(Frequency.choices)
    source_system = serializers.CharField(max_length=200, required=False, allow_blank=True)
    data_format = serializers.CharField(max_length=64, required=False, allow_blank=True)
    responsible_person = serializers.CharField(max_length=100, required=False,
                                               allow_blank=True)
    items = serializers.ListField(child=ItemInputSerializer(), required=False, max_length=500)


class ResourceCreateSerializer(ResourceFieldsSerializer):
    code = serializers.CharField(max_length=64, help_text="new catalogue code")
    category = serializers.CharField(max_length=32, help_text="category code")

    def validate_category(self, value: str) -> Category:
        found = Category.objects.filter(code=value).first()
        if found is None:
            raise serializers.ValidationError(f"no category {value}")
        return found


class ResourceReviseSerializer(ResourceFieldsSerializer):
    """Any of the fields; ``items``, if given, replaces every item. A published resource
    gets a new version at once."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("give at least one field to change")
        return attrs


class RuleInputSerializer(Input):
    """A quality rule. Only parsed here; the service checks the check, its parameters
    (RE2 patterns, finite bounds, allowed values) and the threshold."""

    item = serializers.CharField(max_length=100, help_text="the data item's name")
    check = serializers.CharField(max_length=32, help_text="one of: " + ", ".join(
        QualityRule.Check.values))
    parameters = AsSentField(
        required=False, default=dict,
        help_text='pattern: {"pattern": RE2 expression}; range: {"min": n, "max": n}; '
                  'enumeration: {"values": [...]}; none for the other checks')
    threshold = serializers.IntegerField(default=100, help_text="pass rate (%) required, "
                                                                "1..100")


class SampleSerializer(Input):
    sample = serializers.FileField(max_length=200, help_text="a .csv (header row) or .json "
                                                             "(array of objects) file, at "
                                                             "most 20 MiB")


class ProductCreateSerializer(Input):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10000, required=False, allow_blank=True,
                                        default="")
    resources = serializers.ListField(child=serializers.CharField(max_length=64),
                                      min_length=1, max_length=50,
                                      help_text="codes of resources you hold a grant on")
    price = MoneyField(help_text="a decimal string, e.g. \"1250.00\" (never a float)")
    currency = serializers.CharField(max_length=8, default="CNY",
                                     help_text="ISO 4217, e.g. CNY")

    def validate_resources(self, value: list[str]) -> list[DataResource]:
        user = self.context["request"].user
        found = []
        for code in value:
            try:
                found.append(selectors.resource(user, code))
            except NotFound:
                raise serializers.ValidationError(f"no resource {code}") from None
        return found


class CertificateInputSerializer(Input):
    kind = serializers.ChoiceField(sorted(CERTIFICATE_KINDS))
    document = serializers.FileField(max_length=200, help_text="the certificate, "
                                                               "notarisation or valuation "
                                                               "report (at most 20 MiB)")
    summary = serializers.CharField(max_length=2000, required=False, allow_blank=True,
                                    default="")


