"""What is personal information (个人信息) on the ledger: declared here, never guessed.

- Data items carry their own flag (``catalog.models.DataItem.personal_information``); a
  delivery of one must apply the desensitisation its resource declares for it
  (``contracts.desensitisation``).
- Payload kinds that hold free text from a person are personal by default:
  :data:`PERSONAL_KINDS` names each one, what it holds, how long it is kept (GB/T
  35273-2020 §6.1; ``SHULIAN_RETENTION`` overrides the days) and which workflow rows copy its
  text, so that an erasure takes the copies with it.
- A person's own steps note the payloads they wrote (``PersonalPayload``); a sharing
  request names the person who wrote it on its own row (``requested_by``, so that filing one
  writes no extra row). Together they are what "every payload that carries my personal
  information" means (:func:`held_by`).
- The controller of a record decides its erasure: the provider department for what is about
  one of its resources, the data authority for the platform's own records.

:func:`erase` is the one way personal information leaves the ledger (an erasure request's
approval and the retention task both call it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User as Person
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from catalog.models import DataResource
from contracts.models import (
    ErasureRequest,
    Grant,
    Objection,
    PersonalPayload,
    SharingRequest,
)
from crypto.sm3 import hmac_sm3_hex
from ledger import selectors as ledger_reads
from ledger import services as ledger
from ledger.models import Entry
from operators import selectors as participants
from operators.authz import User
from operators.models import Participant

YEAR = 365


def _pk(record: str) -> int | None:
    tail = record.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _find(model: Any, prefix: str, record: str) -> Any:
    pk = _pk(record) if record.startswith(prefix) else None
    return model.objects.filter(pk=pk).first() if pk is not None else None


def _objection(record: str) -> Objection | None:
    found: Objection | None = _find(Objection, "contracts/objection/", record)
    return found


def _sharing(record: str) -> SharingRequest | None:
    found: SharingRequest | None = _find(SharingRequest, "contracts/sharing/", record)
    return found


def _erasure(record: str) -> ErasureRequest | None:
    found: ErasureRequest | None = _find(ErasureRequest, "contracts/erasure/", record)
    return found


# --- which payload kinds hold personal information ----------------------------------------


def _nothing(record: str) -> None:
    """The payload's text is copied into no workflow row."""


def _scrub_description(record: str) -> None:
    found = _objection(record)
    if found is not None:
        Objection.objects.filter(pk=found.pk).update(description="")


def _scrub_purpose(record: str) -> None:
    found = _sharing(record)
    if found is not None:
        SharingRequest.objects.filter(pk=found.pk).update(purpose="")


def _scrub_reason(record: str) -> None:
    found = _erasure(record)
    if found is not None:
        ErasureRequest.objects.filter(pk=found.pk).update(reason="")


def _objection_open(record: str) -> bool:
    found = _objection(record)
    return found is not None and found.is_open


def _sharing_open(record: str) -> bool:
    found = _sharing(record)
    return found is not None and found.state == SharingRequest.State.PENDING


def _erasure_open(record: str) -> bool:
    found = _erasure(record)
    return found is not None and found.is_open


@dataclass(frozen=True)
class PersonalKind:
    """A payload kind that holds personal information: what it holds, its default
    retention in days (None: kept), the workflow rows that copy its text (``scrub`` blanks
    them) and whether its record still needs it (an open workflow is never cut short)."""

    kind: str
    holds: StrOrPromise
    retention_days: float | None
    scrub: Callable[[str], None] = _nothing
    needed: Callable[[str], bool] = lambda record: False


PERSONAL_KINDS: dict[str, PersonalKind] = {k.kind: k for k in [
    PersonalKind("contracts.objection.filed",
                 _("the objection's description, in the filer's own words"), 5 * YEAR,
                 _scrub_description, _objection_open),
    PersonalKind("contracts.objection.contact", _("the filer's contact details"), YEAR,
                 needed=_objection_open),
    PersonalKind("contracts.objection.appealed", _("the grounds of an appeal"), 5 * YEAR,
                 needed=_objection_open),
    PersonalKind("contracts.sharing.requested",
                 _("the request's purpose, as the requester wrote it"), 5 * YEAR,
                 _scrub_purpose, _sharing_open),
    PersonalKind("contracts.erasure.requested", _("the reasons given for an erasure"),
                 3 * YEAR, _scrub_reason, _erasure_open),
    PersonalKind("contracts.erasure.appealed",
                 _("the grounds of an appeal against a refused erasure"), 3 * YEAR,
                 needed=_erasure_open),
]}


def is_personal(kind: str) -> bool:
    return kind in PERSONAL_KINDS


def holds(kind: str) -> StrOrPromise:
    declared = PERSONAL_KINDS.get(kind)
    return declared.holds if declared is not None else _("a payload named by the request")


def retention_days(kind: str) -> float | None:
    """How many days a kind's payloads are kept (SHULIAN_RETENTION over the defaults)."""
    overrides: dict[str, Any] = settings.SHULIAN_RETENTION
    unknown = sorted(set(overrides) - set(PERSONAL_KINDS))
    if unknown:
        raise ImproperlyConfigured(
            f"SHULIAN_RETENTION names {unknown[0]!r}, which is not a personal payload kind "
            f"(one of {', '.join(sorted(PERSONAL_KINDS))})")
    if kind in overrides:
        value = overrides[kind]
        return None if value is None else float(value)
    return PERSONAL_KINDS[kind].retention_days


# --- whose, and who decides ---------------------------------------------------------------

PSEUDONYM_CONTEXT = b"shulian/contracts/pseudonym/v1"


def pseudonym(person: Person) -> str:
    """The person's pseudonym in the payloads the platform records for them (去标识化):
    HMAC-SM3 of the username under a key derived from SHULIAN_MASTER_KEY. Unlike a plain
    hash, a reader of the payload (a bundle's holder) cannot confirm a guess of the
    username with it; the platform, which holds the key, can still tell whose it is."""
    key = bytes.fromhex(hmac_sm3_hex(bytes.fromhex(settings.SHULIAN_MASTER_KEY),
                                     PSEUDONYM_CONTEXT))
    return hmac_sm3_hex(key, person.get_username().encode())



def remember(entry: Entry, person: User, record: str | None = None) -> PersonalPayload:
    """Note that ``entry``'s payload holds ``person``'s personal information (call in the
    transaction that appends it). ``record`` is its workflow object's subject, when the
    entry's own subject is not (a client-signed filing)."""
    if not is_personal(entry.kind):
        raise ValueError(f"{entry.kind} is not declared as holding personal information")
    if not isinstance(person, Person):
        raise ValueError("personal information is a signed-in person's")
    return PersonalPayload.objects.create(entry=entry, person=person, kind=entry.kind,
                                          record=record or entry.subject)


@dataclass(frozen=True)
class Held:
    """A payload holding a person's personal information: its entry and the subject of the
    workflow object it belongs to."""

    entry: Entry
    record: str

    @property
    def entry_id(self) -> int:
        return self.entry.seq

    @property
    def kind(self) -> str:
        return self.entry.kind


SHARING_REQUESTED = "contracts.sharing.requested"


def held_by(person: User) -> list[Held]:
    """The payloads that hold ``person``'s personal information and are not erased, in
    ledger order."""
    if not person.is_authenticated:
        return []
    noted = [Held(p.entry, p.record) for p in PersonalPayload.objects.filter(person=person)
             .exclude(entry__payload_row__data="").select_related("entry")]
    asked = [f"contracts/sharing/{pk}" for pk in SharingRequest.objects
             .filter(requested_by=person).values_list("pk", flat=True)]
    written = [Held(entry, entry.subject) for entry in Entry.objects
               .filter(kind=SHARING_REQUESTED, subject__in=asked)
               .exclude(payload_row__data="")] if asked else []
    return sorted(noted + written, key=lambda held: held.entry.seq)


def held_entry(person: User, seq: int) -> Held | None:
    """The payload of entry ``seq``, if it holds ``person``'s personal information."""
    return next((held for held in held_by(person) if held.entry.seq == seq), None)


def record_of(entry: Entry) -> str:
    """The subject of the workflow object ``entry``'s payload belongs to."""
    noted = PersonalPayload.objects.filter(entry=entry).values_list("record", flat=True).first()
    return noted or entry.subject


def _provider_of(record: str) -> Participant | None:
    if record.startswith("catalog/resource/"):
        code = record.removeprefix("catalog/resource/")
        found = DataResource.objects.filter(code=code).select_related("provider").first()
        return found.provider if found is not None else None
    lookups: list[tuple[str, Callable[[int], Participant | None]]] = [
        ("contracts/objection/", lambda pk: _provider(Objection, pk)),
        ("contracts/sharing/", lambda pk: _provider(SharingRequest, pk)),
        ("contracts/grant/", lambda pk: _provider(Grant, pk)),
    ]
    for prefix, find in lookups:
        if record.startswith(prefix):
            pk = _pk(record)
            return find(pk) if pk is not None else None
    return None


def _provider(model: Any, pk: int) -> Participant | None:
    found = model.objects.filter(pk=pk).select_related("resource__provider").first()
    return found.resource.provider if found is not None else None


def controller_of(record: str) -> Participant:
    """Who controls a record and decides its erasure: the provider department of the
    resource it is about, or the data authority for the platform's own records."""
    provider = _provider_of(record)
    if provider is not None:
        return provider
    authority = participants.authority()
    if authority is None:
        raise ImproperlyConfigured("the platform has no data authority to control its records")
    return authority


def still_needed(entry: Entry) -> bool:
    """Does an open workflow still need this payload (retention waits for it to close)?"""
    declared = PERSONAL_KINDS.get(entry.kind)
    return declared is not None and declared.needed(record_of(entry))


# --- the one way personal information is erased -----------------------------------------


def is_erased(seq: int) -> bool:
    return ledger_reads.redaction_of(seq) is not None


def erase(*, entry: Entry, basis: str, request: str | None = None) -> Entry:
    """Erase ``entry``'s payload and salt (a ``ledger.payload.redacted`` entry, signed by
    the ledger key) and blank the workflow rows that copy its text, in one transaction;
    returns the redaction entry."""
    with transaction.atomic():
        declared = PERSONAL_KINDS.get(entry.kind)
        if declared is not None:
            declared.scrub(record_of(entry))
        return ledger.redact_payload(seq=entry.seq, basis=basis, request=request)
