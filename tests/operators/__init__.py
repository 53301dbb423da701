"""Builders shared by the operators and catalog tests, and the ledger checks they make.

Every participant is made through the services (valid code from ``operators.uscc.make``,
custodial key, ledger entries), never by writing rows directly, so what the tests see is
what a real deployment would hold.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from crypto.canonical import canonical
from crypto.sm2 import PublicKey
from ledger.models import Entry, LedgerKey
from ledger.protocol.format import statement_bytes
from operators import services, uscc
from operators.models import GOVERNMENT_KINDS, Kind, Participant, Role, Status

DIVISION = "350100"  # 福州市, as in the published example 91350100M000100Y43
_serial = itertools.count(1)

# The registration actions that take a newly applied company to each status.
PATH_TO = {
    Status.APPLIED: [],
    Status.UNDER_REVIEW: ["start_review"],
    Status.ADMITTED: ["start_review", "admit"],
    Status.REJECTED: ["start_review", "reject"],
    Status.SUSPENDED: ["start_review", "admit", "suspend"],
    Status.REVOKED: ["start_review", "admit", "suspend", "revoke"],
}


def new_code(kind: str = Kind.MERCHANT) -> str:
    """A fresh valid USCC: prefix 11 (机关) for government bodies, 91 (企业) otherwise."""
    prefix = "11" if kind in GOVERNMENT_KINDS else "91"
    return uscc.make(prefix, DIVISION, f"T{next(_serial):07d}")


def user(username: str) -> AbstractBaseUser:
    """A person without a usable password (hashing one would only slow the tests down)."""
    return get_user_model().objects.create_user(username=username, password=None)


def member(participant: Participant, username: str,
           role: str = Role.ADMIN) -> AbstractBaseUser:
    person = user(username)
    services.add_member(participant=participant, user=person, role=role, by=None)
    return person


def department(kind: str = Kind.PROVIDER, name: str = "测试局", *,
               by: Participant | None = None) -> Participant:
    return services.register_department(code=new_code(kind), name_zh=name, kind=kind, by=by)


def company(kind: str = Kind.MERCHANT, *, status: str = Status.ADMITTED,
            reviewer: AbstractBaseUser | None = None, name: str = "测试公司",
            **extra: str) -> Participant:
    """A company that applied and was taken to ``status`` by ``reviewer`` (an authority
    reviewer) through the registration services."""
    if kind == Kind.MERCHANT:
        extra.setdefault("merchant_type", "technical")
    if kind == Kind.THIRD_PARTY:
        extra.setdefault("service_type", "certification")
    participant = services.apply_for_admission(code=new_code(kind), name_zh=name, kind=kind,
                                               **extra)
    for action in PATH_TO[Status(status)]:
        assert reviewer is not None, "moving a registration needs an authority reviewer"
        participant = services.review_registration(participant=participant, action=action,
                                                   by=reviewer, reason=f"test: {action}")
    return participant


def authority() -> tuple[Participant, AbstractBaseUser]:
    """The data authority (bootstrapped by the platform) and one of its reviewers."""
    body = department(Kind.AUTHORITY, "市数据局")
    return body, member(body, f"reviewer-{body.code}", Role.REVIEWER)


# --- the ledger side of a change ---------------------------------------------------------


def ledger_size() -> int:
    return Entry.objects.count()


def entries_since(size: int) -> list[Entry]:
    return list(Entry.objects.filter(seq__gte=size).select_related("payload_row"))


def check_entry(entry: Entry, *, kind: str, actor: str, subject: str | None = None) -> Any:
    """The entry is of ``kind``, signed by ``actor``'s own key, and its stored payload with
    its salt gives the statement's payload commitment, SM3(salt || canonical payload);
    returns the payload."""
    assert entry.kind == kind, f"entry {entry.seq} is {entry.kind}, expected {kind}"
    assert entry.actor == actor
    if subject is not None:
        assert entry.subject == subject
    key = LedgerKey.objects.get(key_id=entry.key_id)
    assert key.owner == actor, f"signed with a key of {key.owner}, not of {actor}"
    document = json.loads(entry.data)
    statement = document["statement"]
    assert statement["actor"] == actor and statement["kind"] == kind
    assert PublicKey.from_pem(key.pem).verify(base64.b64decode(document["sig"]),
                                              statement_bytes(statement))
    payload = json.loads(entry.payload_row.data)
    salt = base64.b64decode(entry.payload_row.salt, validate=True)
    assert len(salt) == 16, "every payload has its own 16-byte salt"
    commitment = hashlib.new("sm3", salt + canonical(payload)).hexdigest()
    assert commitment == entry.commitment == statement["payload"]
    return payload


def one_entry(since: int, *, kind: str, actor: str, subject: str | None = None) -> Any:
    """Exactly one entry was appended since ``since``; it is checked as in check_entry."""
    entries = entries_since(since)
    assert [e.kind for e in entries] == [kind], [e.kind for e in entries]
    return check_entry(entries[0], kind=kind, actor=actor, subject=subject)
