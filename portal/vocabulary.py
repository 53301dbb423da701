"""How the portal names what the ledger records in codes: entry kinds as words (the machine
kind stays on hover), participants by name beside their code, subjects by what they are."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from catalog.models import DataItem, DataResource, DataType, Desensitisation
from ledger.models import KeyUse
from operators.models import Participant

KINDS: dict[str, StrOrPromise] = {
    "ledger.key.registered": _("Key registered"),
    "ledger.key.revoked": _("Key revoked"),
    "ledger.payload.redacted": _("Payload erased under the law"),
    "operators.participant.registered": _("Department registered"),
    "operators.member.added": _("Member added"),
    "operators.registration.applied": _("Applied for admission"),
    "operators.registration.review_started": _("Admission review started"),
    "operators.registration.admitted": _("Admitted"),
    "operators.registration.rejected": _("Admission rejected"),
    "operators.registration.suspended": _("Participant suspended"),
    "operators.registration.reinstated": _("Participant reinstated"),
    "operators.registration.revoked": _("Admission revoked"),
    "catalog.resource.published": _("Catalogue version published"),
    "catalog.resource.withdrawn": _("Resource withdrawn"),
    "catalog.quality.checked": _("Quality check recorded"),
    "catalog.certificate.issued": _("Certificate issued"),
    "catalog.product.submitted": _("Product submitted for review"),
    "catalog.product.listed": _("Product listed"),
    "catalog.product.rejected": _("Product rejected"),
    "catalog.product.delisted": _("Product delisted"),
    "contracts.sharing.requested": _("Sharing requested"),
    "contracts.sharing.approved": _("Sharing request approved"),
    "contracts.sharing.refused": _("Sharing request refused"),
    "contracts.sharing.withdrawn": _("Sharing request withdrawn"),
    "contracts.sharing.escalated": _("Sharing request escalated"),
    "contracts.agreement.created": _("Agreement drafted"),
    "contracts.agreement.signed": _("Agreement signed"),
    "contracts.agreement.suspended": _("Agreement suspended"),
    "contracts.agreement.resumed": _("Agreement resumed"),
    "contracts.agreement.terminated": _("Agreement terminated"),
    "contracts.agreement.expired": _("Agreement expired"),
    "contracts.grant.revoked": _("Grant revoked"),
    "contracts.grant.expired": _("Grant expired"),
    "contracts.delivery.recorded": _("Delivery recorded"),
    "contracts.objection.filed": _("Objection filed"),
    "contracts.objection.accepted": _("Objection accepted"),
    "contracts.objection.not_accepted": _("Objection not accepted"),
    "contracts.objection.verification_started": _("Verification started"),
    "contracts.objection.corrected": _("Resolved: corrected"),
    "contracts.objection.upheld": _("Resolved: data upheld"),
    "contracts.objection.dismissed": _("Objection dismissed"),
    "contracts.objection.appealed": _("Appeal filed"),
    "contracts.objection.closed": _("Closed after re-examination"),
    "contracts.objection.escalated": _("Objection escalated"),
    "contracts.order.placed": _("Order placed"),
    "contracts.order.signed": _("Contract signed"),
    "contracts.order.notarised": _("Contract notarised"),
    "contracts.order.delivered": _("Order delivered"),
    "contracts.order.accepted": _("Delivery accepted"),
    "contracts.order.disputed": _("Delivery disputed"),
    "contracts.order.settled": _("Settlement recorded"),
    "contracts.order.closed": _("Order closed"),
    "contracts.order.cancelled": _("Order cancelled"),
    "contracts.calendar.imported": _("Holiday calendar imported"),
    "audit.verification.completed": _("Ledger verified (attestation)"),
}


def kind_label(kind: str) -> StrOrPromise:
    """The entry kind in words; an unknown kind is shown as its code."""
    return KINDS.get(kind, kind)


def kind_choices(kinds: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, its words) for a filter, sorted by the words."""
    return sorted(((k, str(kind_label(k))) for k in kinds), key=lambda pair: pair[1])


def names(codes: Iterable[str]) -> dict[str, str]:
    """Participant code -> name, for the codes given (one query); the ledger's origin is
    the platform itself."""
    wanted = {c for c in codes if c}
    found = dict(Participant.objects.filter(code__in=wanted).values_list("code", "name_zh"))
    if settings.SHULIAN_LEDGER_ORIGIN in wanted:
        found[settings.SHULIAN_LEDGER_ORIGIN] = str(_("the platform (ledger)"))
    return found


@dataclass(frozen=True)
class Named:
    """A code and, when known, the name that goes beside it."""

    code: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.code})" if self.name else self.code


SUBJECT_PAGES = {
    "catalog/resource": "catalog:detail", "catalog/product": "catalog:product",
    "contracts/sharing": "contracts:request", "contracts/agreement": "contracts:agreement",
    "contracts/grant": "contracts:grant", "contracts/objection": "contracts:objection",
    "contracts/order": "contracts:order", "operators/participant": "operators:detail",
    "ledger/entry": "ledger:entry",
}


def subject_url(subject: str) -> str:
    """The portal page of a subject such as ``contracts/sharing/12`` ('' if it has none)."""
    kind, _sep, key = subject.rpartition("/")
    name = SUBJECT_PAGES.get(kind)
    if name is None or not key:
        return ""
    try:
        return reverse(name, args=[int(key) if name in INT_KEYS else key])
    except (NoReverseMatch, ValueError):
        return ""


INT_KEYS = {"contracts:request", "contracts:grant", "contracts:objection", "ledger:entry"}


def _choices(model: type[DataResource] | type[DataItem], name: str) -> dict[str, StrOrPromise]:
    field = model._meta.get_field(name)
    return dict(getattr(field, "choices", None) or [])


# What a version document's coded fields say, in words (the resource's and its items').
DOCUMENT_CHOICES: dict[str, dict[str, StrOrPromise]] = {
    **{name: _choices(DataResource, name)
       for name in ("grade", "sharing", "opening", "update_frequency")},
    "data_type": dict(DataType.choices),
    "desensitisation": _choices(DataItem, "desensitisation"),
}
KEY_USES: dict[str, StrOrPromise] = {
    KeyUse.STATEMENT: _("signs statements"), KeyUse.LEDGER: _("ledger key"),
    KeyUse.WITNESS: _("witness key"),
}


def document_value(field: str, value: object) -> object:
    """A value of a version document as the reader reads it: a coded choice in words,
    yes or no for a flag; anything else as it is."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str) and value in DOCUMENT_CHOICES.get(field, {}):
        return DOCUMENT_CHOICES[field][value]
    return value


def desensitisation(rule: str) -> StrOrPromise:
    """A delivery's desensitisation rule (``mask``) in words."""
    return dict(Desensitisation.choices).get(rule, rule)


def key_use(use: str) -> StrOrPromise:
    return KEY_USES.get(use, use)
