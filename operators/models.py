"""Participants of the public-data economy and the people who act for them."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    PROVIDER = "provider", _("provider department (数据提供方)")
    AUTHORITY = "authority", _("data authority (数据主管部门)")
    OPERATOR = "operator", _("authorised operator (授权运营单位)")
    MERCHANT = "merchant", _("data merchant (数商)")
    THIRD_PARTY = "third_party", _("third-party service")
    AUDITOR = "auditor", _("auditor")
    REGULATOR = "regulator", _("regulator (监管)")


GOVERNMENT_KINDS = frozenset({Kind.PROVIDER, Kind.AUTHORITY, Kind.REGULATOR})
# The data authority registers these (admitted at once); the others apply for admission.
DEPARTMENT_KINDS = GOVERNMENT_KINDS | {Kind.AUDITOR}
APPLICANT_KINDS = frozenset(Kind.values) - GOVERNMENT_KINDS


class MerchantType(models.TextChoices):
    TECHNICAL = "technical", _("technical (技术型)")
    SERVICE = "service", _("service (服务型)")
    APPLICATION = "application", _("application (应用型)")


class ServiceType(models.TextChoices):
    CERTIFICATION = "certification", _("compliance certification (合规认证)")
    NOTARISATION = "notarisation", _("data notarisation (数据公证)")
    VALUATION = "valuation", _("asset valuation (资产评估)")


class Status(models.TextChoices):
    APPLIED = "applied", _("applied")
    UNDER_REVIEW = "under_review", _("under review")
    ADMITTED = "admitted", _("admitted")
    REJECTED = "rejected", _("rejected")
    SUSPENDED = "suspended", _("suspended")
    REVOKED = "revoked", _("revoked")


class Participant(models.Model):
    """A party on the ledger, identified by its unified social credit code (统一社会信用代码)."""

    code = models.CharField(max_length=18, unique=True)
    name_zh = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    merchant_type = models.CharField(max_length=16, choices=MerchantType.choices, blank=True)
    service_type = models.CharField(max_length=16, choices=ServiceType.choices, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPLIED)
    status_reason = models.TextField(blank=True)
    contact_name = models.CharField(max_length=100, blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    contact_email = models.EmailField(blank=True)
    address = models.CharField(max_length=300, blank=True)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="participant")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code})"

    @property
    def is_government(self) -> bool:
        return self.kind in GOVERNMENT_KINDS

    @property
    def is_admitted(self) -> bool:
        return self.status == Status.ADMITTED

    @property
    def display_name(self) -> str:
        return self.name_zh


class Role(models.TextChoices):
    ADMIN = "admin", _("administrator")
    REVIEWER = "reviewer", _("reviewer")
    STAFF = "staff", _("staff")


class Membership(models.Model):
    """A person (Django user) who acts for a participant, with a role inside it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE,
                                    related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "participant"], name="one_membership_each")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.participant.code} ({self.role})"
