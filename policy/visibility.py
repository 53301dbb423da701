"""Who may read what: every kind of object and every ledger payload, decided here.

Readers are a person with the participants they act for, a participant alone (a bundle
exported for it), or an anonymous visitor (``operators.capabilities.Reader``).

- The data authority, regulators and auditors (oversight) read every object and payload.
- Participants: the public sees those that are or were admitted (their public facts);
  applicants, and the reasons of a status, only the participant itself and oversight.
- Resources and products: ``catalog.access.visible`` and ``catalog.selectors.products``
  (the catalogue's services check the same rule).
- Workflow objects are read by their parties: requester and provider of a sharing request,
  both parties of an agreement, grantee and provider of a grant (and of its deliveries),
  filer and provider of an objection, buyer, seller and notary of an order (an admitted
  notarisation service also sees the contracted orders it may notarise), the filer, the
  data subject and the controller of an erasure request.
- Ledger entries (their signed statements) are public. A payload is read by whoever may
  read the object it is about as a party; the public reads the payloads of public objects
  (published metadata of open resources, listed products, admitted participants) unless
  the payload was marked restricted; key registry entries (``ledger.*``) are public. A
  payload withheld from a reader is withheld with the reason.
- A statement in the ledger's queue (where it stands, why it was set aside) is read by the
  members of its actor and by oversight; to anyone else it looks missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog import access
from catalog import selectors as catalog
from catalog.models import DataProduct, DataResource, ProductStatus, ResourceStatus
from contracts.models import (
    Delivery,
    ErasureRequest,
    Grant,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from kernel.errors import NotFound
from ledger import selectors as ledger_selectors
from ledger.models import Entry
from operators.capabilities import Reader, reader
from operators.models import Kind, Participant, ServiceType, Status

Who = access.Who

PUBLIC_STATUSES = (Status.ADMITTED, Status.SUSPENDED, Status.REVOKED)


# --- objects ------------------------------------------------------------------------------


def sees_queued(who: Who, actor: str) -> bool:
    """May ``who`` learn where a queued statement of ``actor`` stands?"""
    found = reader(who)
    return found.oversees or actor in found.codes


def participants(who: Who) -> QuerySet[Participant]:
    found = reader(who)
    query = Participant.objects.all()
    if found.oversees:
        return query
    return query.filter(Q(status__in=PUBLIC_STATUSES) | Q(pk__in=found.participant_ids))


def sees_status_reason(who: Who, participant: Participant) -> bool:
    """Why a participant was rejected, suspended or revoked: itself and oversight."""
    found = reader(who)
    return found.oversees or found.acts_for(participant.pk)


def sees_contacts(who: Who, participant: Participant) -> bool:
    """Contacts are personal information: the participant's members, the data authority
    and regulators see them."""
    found = reader(who)
    return found.acts_for(participant.pk) or bool(
        found.kinds & {Kind.AUTHORITY, Kind.REGULATOR})


def resources(who: Who) -> QuerySet[DataResource]:
    return access.visible(who)


def sees_restricted(who: Who, resource: DataResource) -> bool:
    """A resource's restricted fields and items: its provider, grantees and oversight."""
    return access.sees_restricted(who, resource)


def products(who: Who) -> QuerySet[DataProduct]:
    return catalog.products(who)


def _parties(model: type[Model], *fields: str,
             related: tuple[str, ...] = ()) -> Callable[[Who], QuerySet[Any]]:
    def visible(who: Who) -> QuerySet[Any]:
        found = reader(who)
        query = model._default_manager.select_related(*related)
        if found.oversees:
            return query
        if not found.participants:
            return query.none()
        mine = found.participant_ids
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}__in": mine})
        return query.filter(condition)

    return visible


sharing_requests = _parties(SharingRequest, "requester", "resource__provider",
                            related=("requester", "resource__provider"))
agreements = _parties(OperationAgreement, "operator", "authority",
                      related=("authority", "operator"))
grants = _parties(Grant, "grantee", "resource__provider",
                  related=("grantee", "resource__provider"))


def deliveries(who: Who) -> QuerySet[Delivery]:
    return Delivery.objects.filter(grant__in=grants(who)).select_related(
        "grant__resource", "grant__grantee")


def objections(who: Who) -> QuerySet[Objection]:
    found = reader(who)
    query = Objection.objects.select_related("resource__provider", "filer_participant")
    if found.oversees:
        return query
    if found.user is None and not found.participants:
        return query.none()
    condition = Q(filer_participant__in=found.participant_ids) | Q(
        resource__provider__in=found.participant_ids)
    if found.user is not None:
        condition |= Q(filer=found.user)
    return query.filter(condition)


def erasure_requests(who: Who) -> QuerySet[ErasureRequest]:
    found = reader(who)
    query = ErasureRequest.objects.select_related("controller", "filer_participant")
    if found.oversees:
        return query
    if found.user is None and not found.participants:
        return query.none()
    condition = Q(controller__in=found.participant_ids)
    if found.user is not None:
        condition |= Q(filer=found.user) | Q(person=found.user)
    return query.filter(condition)


def orders(who: Who) -> QuerySet[Order]:
    found = reader(who)
    query = Order.objects.select_related("product", "buyer", "seller")
    if found.oversees:
        return query
    mine = found.participant_ids
    condition = Q(buyer__in=mine) | Q(seller__in=mine) | Q(notary__in=mine)
    if any(p.kind == Kind.THIRD_PARTY and p.service_type == ServiceType.NOTARISATION
           and p.status == Status.ADMITTED for p in found.participants):
        condition |= Q(state=Order.State.CONTRACTED, notarised_seq__isnull=True)
    return query.filter(condition) if mine else query.none()


VISIBLE: dict[type[Model], Callable[[Who], QuerySet[Any]]] = {
    Participant: participants, DataResource: resources, DataProduct: products,
    SharingRequest: sharing_requests, OperationAgreement: agreements, Grant: grants,
    Delivery: deliveries, Objection: objections, Order: orders,
    ErasureRequest: erasure_requests,
}


def visible(who: Who, model: type[Model]) -> QuerySet[Any]:
    """The objects of ``model`` the reader may see (the queryset form of ``can_read``)."""
    return VISIBLE[model](who)


def can_read(who: Who, obj: Model) -> bool:
    return visible(who, type(obj)).filter(pk=obj.pk).exists()


def reads_version_content(who: Who, resource: DataResource, entry_seq: int | None) -> bool:
    """May ``who`` read a published version's whole document? Those who see the resource's
    restricted fields, and whoever may read the payload of the version's entry."""
    if sees_restricted(who, resource):
        return True
    entry = Entry.objects.filter(seq=entry_seq).first() if entry_seq is not None else None
    found = ledger_selectors.payload(entry.seq) if entry is not None else None
    return entry is not None and found is not None and payload_access(
        who, kind=entry.kind, actor=entry.actor, subject=entry.subject,
        restricted=found.restricted).readable


# What a "no such ..." message calls each kind of object, in the reader's language.
NOUNS = {
    "participant": gettext_lazy("participant"), "resource": gettext_lazy("resource"),
    "product": gettext_lazy("product"), "sharing request": gettext_lazy("sharing request"),
    "agreement": gettext_lazy("agreement"), "grant": gettext_lazy("grant"),
    "delivery": gettext_lazy("delivery"), "objection": gettext_lazy("objection"),
    "order": gettext_lazy("order"), "verification": gettext_lazy("verification"),
    "entry": gettext_lazy("entry"),
}


def not_found(what: str, value: Any) -> NotFound:
    """NotFound saying which ``what`` (a key of NOUNS) is missing or invisible."""
    return NotFound(gettext_lazy("no %(what)s %(id)s"), what=NOUNS.get(what, what), id=value)


def one(who: Who, model: type[Model], what: str, **lookup: Any) -> Any:
    """The visible object matching ``lookup``; NotFound (as if missing) otherwise."""
    value = next(iter(lookup.values()))
    found = visible(who, model).filter(**lookup).first()
    if found is None:
        raise not_found(what, value)
    return found



# --- ledger payloads ----------------------------------------------------------------------

PARTY, SEES, NONE = "party", "sees", "none"


@dataclass(frozen=True)
class PayloadAccess:
    """Whether a reader may read an entry's payload, and if not, why not."""

    readable: bool
    reason: str = ""


def _level_of_resource(found: Reader, code: str, kind: str) -> str:
    resource = DataResource.objects.filter(code=code).first()
    if resource is None:
        return NONE
    if not kind.startswith("catalog."):  # e.g. a client-signed objection about it
        return PARTY if found.acts_for(resource.provider_id) else NONE
    if access.sees_restricted(found, resource):
        return PARTY
    public = resource.status in (ResourceStatus.PUBLISHED, ResourceStatus.WITHDRAWN)
    return SEES if public and access.visible(found).filter(pk=resource.pk).exists() else NONE


def _level_of_product(found: Reader, code: str) -> str:
    product = DataProduct.objects.filter(code=code).first()
    if product is None:
        return NONE
    if found.acts_for(product.owner_id):
        return PARTY
    if product.status == ProductStatus.LISTED or products(found).filter(pk=product.pk).exists():
        return SEES
    return NONE


def _level_of_participant(found: Reader, code: str) -> str:
    participant = Participant.objects.filter(code=code).first()
    if participant is None:
        return NONE
    if found.acts_for(participant.pk):
        return PARTY
    return SEES if participant.status in PUBLIC_STATUSES else NONE


WORKFLOW_SUBJECTS: dict[str, tuple[type[Model], str]] = {
    "contracts/sharing/": (SharingRequest, "pk"), "contracts/agreement/": (
        OperationAgreement, "code"), "contracts/grant/": (Grant, "pk"),
    "contracts/objection/": (Objection, "pk"), "contracts/order/": (Order, "code"),
    "contracts/erasure/": (ErasureRequest, "pk"),
}


def _level_of_workflow(found: Reader, subject: str) -> str:
    for prefix, (model, key) in WORKFLOW_SUBJECTS.items():
        if subject.startswith(prefix):
            value = subject[len(prefix):]
            if key == "pk" and not value.isdigit():
                return NONE
            query = visible(found, model).filter(**{key: value})
            return PARTY if query.exists() else NONE
    return NONE


def subject_level(found: Reader, kind: str, subject: str) -> str:
    """How the reader stands to what an entry is about: a party (reads every payload),
    one who sees it (reads its unrestricted payloads), or neither."""
    if subject.startswith("catalog/resource/"):
        return _level_of_resource(found, subject.removeprefix("catalog/resource/"), kind)
    if subject.startswith("catalog/product/"):
        return _level_of_product(found, subject.removeprefix("catalog/product/"))
    if subject.startswith("operators/participant/"):
        return _level_of_participant(found, subject.removeprefix("operators/participant/"))
    if subject.startswith("audit/"):
        return SEES
    return _level_of_workflow(found, subject)


class PayloadPolicy:
    """The payload decisions for one reader; subjects are looked up once each."""

    def __init__(self, who: Who) -> None:
        self.reader = reader(who)
        self._levels: dict[tuple[str, str], str] = {}

    def access(self, *, kind: str, actor: str, subject: str,
               restricted: bool) -> PayloadAccess:
        found = self.reader
        if kind.startswith("ledger.") or found.oversees or actor in found.codes:
            return PayloadAccess(True)
        key = ("catalog." if kind.startswith("catalog.") else kind, subject)
        if key not in self._levels:
            self._levels[key] = subject_level(found, kind, subject)
        level = self._levels[key]
        if level == PARTY or (level == SEES and not restricted):
            return PayloadAccess(True)
        return PayloadAccess(False, withheld_reason(found, restricted))

    def readable(self, *, kind: str, actor: str, subject: str, restricted: bool) -> bool:
        return self.access(kind=kind, actor=actor, subject=subject,
                           restricted=restricted).readable


def withheld_reason(found: Reader, restricted: bool) -> str:
    if restricted:
        return _("This payload is restricted: only the parties to what it records, the "
                 "data authority, auditors and regulators may read it.")
    if not found.signed_in and not found.participants:
        return _("Only the parties to what this entry records, the data authority, "
                 "auditors and regulators may read its payload; sign in if you are one.")
    return _("Only the parties to what this entry records, the data authority, auditors "
             "and regulators may read its payload.")


def payload_access(who: Who, *, kind: str, actor: str, subject: str,
                   restricted: bool) -> PayloadAccess:
    return PayloadPolicy(who).access(kind=kind, actor=actor, subject=subject,
                                     restricted=restricted)
