"""The data catalogue (数据资源目录, 一本账): resources, versions, items, quality, products."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from operators.models import Participant, ServiceType


class Category(models.Model):
    """A node of the subject classification tree (分类): base, topic or department."""

    class Branch(models.TextChoices):
        BASE = "base", _("base (基础)")
        TOPIC = "topic", _("topic (主题)")
        DEPARTMENT = "department", _("department (部门)")

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True)
    branch = models.CharField(max_length=16, choices=Branch.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Grade(models.TextChoices):
    GENERAL = "general", _("general (一般)")
    IMPORTANT = "important", _("important (重要)")
    CORE = "core", _("core (核心)")


class Sharing(models.TextChoices):
    UNCONDITIONAL = "unconditional", _("unconditional sharing (无条件共享)")
    CONDITIONAL = "conditional", _("conditional sharing (有条件共享)")
    NOT_SHAREABLE = "not_shareable", _("not shareable (不予共享)")


class Opening(models.TextChoices):
    OPEN = "open", _("open (无条件开放)")
    CONDITIONAL = "conditional", _("conditionally open (有条件开放)")
    NOT_OPEN = "not_open", _("not open (不予开放)")


class Frequency(models.TextChoices):
    REALTIME = "realtime", _("real time")
    DAILY = "daily", _("daily")
    WEEKLY = "weekly", _("weekly")
    MONTHLY = "monthly", _("monthly")
    QUARTERLY = "quarterly", _("quarterly")
    YEARLY = "yearly", _("yearly")
    IRREGULAR = "irregular", _("irregular")


class ResourceStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    PUBLISHED = "published", _("published")
    WITHDRAWN = "withdrawn", _("withdrawn")


class DataResource(models.Model):
    """A catalogue entry: a body of data a provider department holds."""

    code = models.CharField(max_length=64, unique=True)
    provider = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="resources")
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="resources")
    grade = models.CharField(max_length=16, choices=Grade.choices)
    sensitivity = models.PositiveSmallIntegerField(help_text="1 (low) to 4 (high)")
    sharing = models.CharField(max_length=16, choices=Sharing.choices)
    sharing_basis = models.TextField(blank=True, help_text="legal basis (conditional / not)")
    opening = models.CharField(max_length=16, choices=Opening.choices)
    update_frequency = models.CharField(max_length=16, choices=Frequency.choices)
    source_system = models.CharField(max_length=200, blank=True)
    data_format = models.CharField(max_length=64, blank=True)
    responsible_person = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=ResourceStatus.choices,
                              default=ResourceStatus.DRAFT)
    version = models.PositiveIntegerField(default=0, help_text="latest published version")
    quality_failing = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        permissions = [
            ("manage_resource", "Can edit, publish and withdraw the resource"),
            ("view_restricted", "Can see the resource's restricted fields and data items"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Desensitisation(models.TextChoices):
    NONE = "none", _("none")
    MASK = "mask", _("mask")
    HASH = "hash", _("hash")
    GENERALISE = "generalise", _("generalise")


class DataType(models.TextChoices):
    """What a data item holds (its type in the catalogue)."""

    STRING = "string", _("string")
    TEXT = "text", _("long text")
    INTEGER = "integer", _("integer")
    DECIMAL = "decimal", _("decimal")
    BOOLEAN = "boolean", _("yes / no")
    DATE = "date", _("date")
    DATETIME = "datetime", _("date and time")
    CODE = "code", _("code (from a code list)")
    GEOMETRY = "geometry", _("geometry")
    BINARY = "binary", _("file or binary")


class DataItem(models.Model):

    """A field (数据项) of a resource."""

    resource = models.ForeignKey(DataResource, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=100)
    standard_code = models.CharField(max_length=64, blank=True,
                                     help_text="data element standard code (一数一源)")
    authoritative = models.BooleanField(default=False,
                                        help_text="this resource is the standard's one source")
    data_type = models.CharField(max_length=32)
    description = models.TextField(blank=True)
    sensitivity = models.PositiveSmallIntegerField(default=1)
    personal_information = models.BooleanField(default=False)
    desensitisation = models.CharField(max_length=16, choices=Desensitisation.choices,
                                       default=Desensitisation.NONE)

    class Meta:
        ordering = ["resource", "id"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "name"], name="item_name_per_resource"),
            models.UniqueConstraint(
                fields=["standard_code"], condition=models.Q(authoritative=True),
                name="one_source_per_standard",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource.code}.{self.name}"


class ResourceVersion(models.Model):
    """An immutable published version: ``content`` is canonical JSON whose SM3 is ``digest``,
    the payload of the ``catalog.resource.published`` entry ``entry_seq``."""

    resource = models.ForeignKey(DataResource, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    content = models.TextField()
    digest = models.CharField(max_length=64)
    entry_seq = models.BigIntegerField()
    published = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["resource", "number"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "number"], name="one_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.resource.code} v{self.number}"


class QualityRule(models.Model):
    class Check(models.TextChoices):
        NOT_NULL = "not_null", _("not null")
        PATTERN = "pattern", _("pattern")
        RANGE = "range", _("range")
        ENUMERATION = "enumeration", _("enumeration")
        UNIQUENESS = "uniqueness", _("uniqueness")
        FRESHNESS = "freshness", _("freshness")

    item = models.ForeignKey(DataItem, on_delete=models.CASCADE, related_name="rules")
    rule = models.CharField(max_length=16, choices=Check.choices)
    parameters = models.JSONField(default=dict, blank=True)
    threshold = models.PositiveSmallIntegerField(default=100, help_text="pass rate % required")

    def __str__(self) -> str:
        return f"{self.item} {self.rule}"


class QualityCheck(models.Model):
    """A run of a resource's rules over a sample file, recorded as catalog.quality.checked."""

    resource = models.ForeignKey(DataResource, on_delete=models.CASCADE,
                                 related_name="quality_checks")
    sample_name = models.CharField(max_length=200)
    sample_digest = models.CharField(max_length=64)
    sample_encoding = models.CharField(max_length=32, blank=True)

    rows = models.PositiveIntegerField()
    results = models.JSONField()
    passed = models.BooleanField()
    entry_seq = models.BigIntegerField()
    checked = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-checked"]


class ProductStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted for compliance review")
    LISTED = "listed", _("listed (挂牌)")
    REJECTED = "rejected", _("rejected")
    DELISTED = "delisted", _("delisted")


class DataProduct(models.Model):
    """A data product an operator or merchant builds on resources it was granted."""

    code = models.CharField(max_length=64, unique=True)
    owner = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    resources = models.ManyToManyField(DataResource, related_name="products")
    price = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(max_length=16, choices=ProductStatus.choices,
                              default=ProductStatus.DRAFT)
    review_reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Certificate(models.Model):
    """A third party's certification, notarisation or valuation of a product."""

    product = models.ForeignKey(DataProduct, on_delete=models.PROTECT,
                                related_name="certificates")
    issuer = models.ForeignKey(Participant, on_delete=models.PROTECT,
                               related_name="certificates_issued")
    kind = models.CharField(max_length=16, choices=ServiceType.choices)
    document_name = models.CharField(max_length=200)
    digest = models.CharField(max_length=64)
    summary = models.TextField(blank=True)
    entry_seq = models.BigIntegerField()
    issued = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued"]
