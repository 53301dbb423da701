"""Sharing requests, authorised operation, grants, deliveries, objections and transactions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalog.models import DataItem, DataProduct, DataResource
from operators.models import Participant


class Holiday(models.Model):
    """A day of the working-day calendar that differs from Monday-Friday: a public holiday
    (放假) on a weekday, or a make-up working day (调休上班) on a weekend."""

    day = models.DateField(unique=True)
    working = models.BooleanField(help_text="True: make-up working day; False: day off")
    name = models.CharField(max_length=100)
    source = models.TextField(blank=True)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.name} ({'work' if self.working else 'off'})"


class SharingRequest(models.Model):
    """A department's or operator's request to use a resource (《公共数据共享管理规范》)."""

    class State(models.TextChoices):
        PENDING = "pending", _("awaiting provider review")
        APPROVED = "approved", _("approved")
        REFUSED = "refused", _("refused")
        WITHDRAWN = "withdrawn", _("withdrawn")

    requester = models.ForeignKey(Participant, on_delete=models.PROTECT,
                                  related_name="sharing_requests")
    resource = models.ForeignKey(DataResource, on_delete=models.PROTECT,
                                 related_name="sharing_requests")
    items = models.ManyToManyField(DataItem, blank=True)
    purpose = models.TextField()
    scenario = models.CharField(max_length=200)
    legal_basis = models.TextField()
    period_from = models.DateField()
    period_until = models.DateField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    due = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    conditions = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(Participant, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="sharing_decisions")
    # the person who wrote the request (its purpose is their personal information)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]


class OperationAgreement(models.Model):
    """An authorised-operation agreement (授权运营协议) between the data authority and an
    operator; it takes effect once both have signed it."""

    class State(models.TextChoices):
        DRAFT = "draft", _("awaiting signatures")
        EFFECTIVE = "effective", _("in effect")
        SUSPENDED = "suspended", _("suspended")
        TERMINATED = "terminated", _("terminated")
        EXPIRED = "expired", _("expired")

    code = models.CharField(max_length=64, unique=True)
    authority = models.ForeignKey(Participant, on_delete=models.PROTECT,
                                  related_name="agreements_granted")
    operator = models.ForeignKey(Participant, on_delete=models.PROTECT,
                                 related_name="agreements_held")
    resources = models.ManyToManyField(DataResource, related_name="agreements")
    items = models.ManyToManyField(DataItem, blank=True)
    scenarios = models.TextField(help_text="scenarios and industries in scope")
    security_obligations = models.TextField()
    desensitisation_rules = models.TextField()
    term_start = models.DateField()
    term_end = models.DateField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    authority_signed_seq = models.BigIntegerField(null=True, blank=True)
    operator_signed_seq = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.code


class Grant(models.Model):
    """A right to use a resource (or some of its items) for a purpose, in a period."""

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended with its agreement")
        REVOKED = "revoked", _("revoked")
        EXPIRED = "expired", _("expired")

    grantee = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="grants")
    resource = models.ForeignKey(DataResource, on_delete=models.PROTECT, related_name="grants")
    items = models.ManyToManyField(DataItem, blank=True, help_text="none: every item")
    purpose = models.TextField()
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    sharing_request = models.OneToOneField(SharingRequest, null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="grant")
    agreement = models.ForeignKey(OperationAgreement, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="grants")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    @property
    def conditions(self) -> str:
        """What the grant was approved with: the provider's conditions on the sharing
        request, or the agreement's security obligations and desensitisation rules."""
        if self.sharing_request is not None:
            return self.sharing_request.conditions
        if self.agreement is not None:
            return "\n".join(t for t in (self.agreement.security_obligations,
                                         self.agreement.desensitisation_rules) if t)
        return ""


class Delivery(models.Model):

    """A usage record: data delivered under a grant (only its digest is on the ledger)."""

    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="deliveries")
    digest = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    desensitisation = models.JSONField(default=dict)
    disputed = models.BooleanField(default=False, help_text="data had an open objection")
    entry_seq = models.BigIntegerField()
    delivered = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-delivered"]
        verbose_name_plural = "deliveries"


class Objection(models.Model):
    """An objection (异议) about a resource's data or about an authorisation
    (《公共数据异议处理细则》)."""

    class State(models.TextChoices):
        FILED = "filed", _("filed")
        ACCEPTED = "accepted", _("accepted")
        NOT_ACCEPTED = "not_accepted", _("not accepted")
        VERIFYING = "verifying", _("under verification")
        CORRECTED = "corrected", _("resolved: corrected")
        UPHELD = "upheld", _("resolved: upheld as correct")
        DISMISSED = "dismissed", _("dismissed")
        APPEALED = "appealed", _("appealed")
        CLOSED = "closed", _("closed")

    class Ground(models.TextChoices):
        ACCURACY = "accuracy", _("accuracy")
        COMPLETENESS = "completeness", _("completeness")
        TIMELINESS = "timeliness", _("timeliness")
        LEGITIMACY = "legitimacy", _("legitimacy of an authorisation")

    filer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="objections")
    filer_participant = models.ForeignKey(Participant, null=True, blank=True,
                                          on_delete=models.PROTECT,
                                          related_name="objections_filed")
    resource = models.ForeignKey(DataResource, on_delete=models.PROTECT,
                                 related_name="objections")
    grant = models.ForeignKey(Grant, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="objections")
    ground = models.CharField(max_length=16, choices=Ground.choices)
    description = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.FILED)
    accept_due = models.DateTimeField()
    resolve_due = models.DateTimeField(null=True, blank=True)
    appeal_until = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    correction = models.TextField(blank=True)
    corrected_version = models.PositiveIntegerField(null=True, blank=True)
    appealed = models.BooleanField(default=False)
    appeal_grounds = models.TextField(blank=True, help_text="the filer's grounds of appeal")

    resolved_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, help_text="the data authority's re-examination")
    created = models.DateTimeField(auto_now_add=True)

    OPEN_STATES = (State.FILED, State.ACCEPTED, State.VERIFYING, State.APPEALED)

    class Meta:
        ordering = ["-created"]

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class Order(models.Model):
    """A transaction on a listed product (公共数据交易进场)."""

    class State(models.TextChoices):
        ORDERED = "ordered", _("ordered")
        CONTRACTED = "contracted", _("contract signed by both")
        DELIVERED = "delivered", _("delivered")
        ACCEPTED = "accepted", _("accepted by buyer")
        DISPUTED = "disputed", _("disputed")
        SETTLED = "settled", _("settled")
        CLOSED = "closed", _("closed")
        CANCELLED = "cancelled", _("cancelled")

    code = models.CharField(max_length=64, unique=True)
    product = models.ForeignKey(DataProduct, on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="purchases")
    seller = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="sales")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="CNY")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ORDERED)
    buyer_signed_seq = models.BigIntegerField(null=True, blank=True)
    seller_signed_seq = models.BigIntegerField(null=True, blank=True)
    notarised_seq = models.BigIntegerField(null=True, blank=True)
    notary = models.ForeignKey(Participant, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="orders_notarised")
    delivery_digest = models.CharField(max_length=64, blank=True)
    settled_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True,
                                         blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.code


class PersonalPayload(models.Model):
    """A ledger payload that holds a person's personal information (个人信息), noted when
    that person's own step wrote it (an objection, its contact details, an appeal, a
    request): what "every payload that carries my personal information" means.

    ``record`` is the subject of the workflow object the payload belongs to (for a
    client-signed filing it differs from the entry's own subject); ``contracts.personal``
    declares which kinds hold personal information and who controls each record.
    """

    entry = models.OneToOneField("ledger.Entry", on_delete=models.PROTECT, primary_key=True,
                                 related_name="personal")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="personal_payloads")
    kind = models.CharField(max_length=128)
    record = models.CharField(max_length=512)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entry"]


class ErasureRequest(models.Model):
    """A request to erase personal information (个人信息删除请求, PIPL art. 47; GB/T
    35273-2020 §8.3): by the data subject, or by the data authority on a court order or a
    statutory ground; decided by the controller of the data within a deadline."""

    class State(models.TextChoices):
        FILED = "filed", _("awaiting the controller's decision")
        ERASED = "erased", _("approved: erased")
        REFUSED = "refused", _("refused")
        APPEALED = "appealed", _("appealed")
        CLOSED = "closed", _("refusal upheld on appeal")
        WITHDRAWN = "withdrawn", _("withdrawn")

    class Ground(models.TextChoices):
        PURPOSE = "purpose", _("the purpose is achieved or no longer needs it")
        CONSENT = "consent", _("consent withdrawn")
        RETENTION = "retention", _("the retention period has ended")
        UNLAWFUL = "unlawful", _("processed against the law or an agreement")
        COURT_ORDER = "court_order", _("a court order")
        STATUTORY = "statutory", _("a statutory ground")

    class Scope(models.TextChoices):
        PAYLOAD = "payload", _("one named payload")
        ALL = "all", _("every payload that carries the person's personal information")

    filer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="erasure_requests_filed")
    filer_participant = models.ForeignKey(Participant, null=True, blank=True,
                                          on_delete=models.PROTECT,
                                          related_name="erasure_requests_filed")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.PROTECT, related_name="erasure_requests",
                               help_text="the data subject, when the request names one")
    controller = models.ForeignKey(Participant, on_delete=models.PROTECT,
                                   related_name="erasure_requests_to_decide")
    ground = models.CharField(max_length=16, choices=Ground.choices)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    reference = models.CharField(max_length=200, blank=True,
                                 help_text="the court order's number or the statute")
    basis = models.CharField(max_length=512, help_text="the legal basis the erasure records")
    reason = models.TextField(blank=True, help_text="the filer's own words (personal)")
    state = models.CharField(max_length=16, choices=State.choices, default=State.FILED)
    due = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(Participant, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="erasure_decisions")
    refusal = models.TextField(blank=True)
    appeal_until = models.DateTimeField(null=True, blank=True)
    appealed = models.BooleanField(default=False)
    outcome = models.TextField(blank=True, help_text="the data authority's re-examination")
    created = models.DateTimeField(auto_now_add=True)

    OPEN_STATES = (State.FILED, State.APPEALED)

    class Meta:
        ordering = ["-created"]

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class ErasureTarget(models.Model):
    """One payload an erasure request asks to erase, and the redaction entry that erased it."""

    request = models.ForeignKey(ErasureRequest, on_delete=models.CASCADE,
                                related_name="targets")
    entry = models.ForeignKey("ledger.Entry", on_delete=models.PROTECT,
                              related_name="erasure_targets")
    redaction_seq = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["entry"]
        constraints = [
            models.UniqueConstraint(fields=["request", "entry"], name="erasure_target_once"),
        ]
