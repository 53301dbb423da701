"""The payloads of the ledger's own kinds: key registration, key revocation, redaction.

Their payloads are never withheld, erased or left out of a bundle, because the key state
and the redactions are rebuilt from them (docs/ledger-format.md section 6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from crypto.errors import KeyFormatError
from crypto.sm2 import PublicKey
from ledger.protocol.format import FormatError, is_hex64, is_text, parse_time

KEY_REGISTERED = "ledger.key.registered"
KEY_REVOKED = "ledger.key.revoked"
PAYLOAD_REDACTED = "ledger.payload.redacted"
LEDGER_KINDS = frozenset({KEY_REGISTERED, KEY_REVOKED, PAYLOAD_REDACTED})
KEY_KINDS = frozenset({KEY_REGISTERED, KEY_REVOKED})
RESERVED_PREFIX = "ledger."

USES = ("statement", "ledger", "witness")
REGISTRATION_FIELDS = frozenset(
    {"key", "owner", "name", "use", "pem", "valid_from", "valid_until", "replaces"}
)
REVOCATION_FIELDS = frozenset({"key", "reason"})
REDACTION_FIELDS = frozenset({"seq", "basis", "request"})
MAX_PEM = 4096
_NAME_RE = re.compile(r"^[^\s+]{1,128}\Z")  # a name on a note signature line


def key_subject(key_id: str) -> str:
    return f"ledger/key/{key_id}"


def entry_subject(seq: int) -> str:
    return f"ledger/entry/{seq}"


def is_reserved(kind: str) -> bool:
    """Kinds under ``ledger.`` belong to the ledger itself."""
    return kind.startswith(RESERVED_PREFIX)


def _exact(payload: Any, fields: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise FormatError("payload", f"{what} must be a JSON object")
    missing, extra = sorted(fields - payload.keys()), sorted(payload.keys() - fields)
    if missing:
        raise FormatError(f"payload.{missing[0]}", f"is missing from {what}")
    if extra:
        raise FormatError(f"payload.{extra[0]}", f"is not a field of {what}")
    return payload


# --- key registration -----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRecord:
    """A key as its ``ledger.key.registered`` payload describes it."""

    key: str
    owner: str
    name: str
    use: str
    pem: str
    valid_from: str
    valid_until: str | None
    replaces: str | None

    @cached_property
    def public_key(self) -> PublicKey:
        return PublicKey.from_pem(self.pem)

    def __getstate__(self) -> dict[str, Any]:  # the parsed key stays behind when pickled
        return {name: value for name, value in self.__dict__.items() if name != "public_key"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def payload(self) -> dict[str, Any]:
        """The registration payload, exactly its fields."""
        return {
            "key": self.key, "owner": self.owner, "name": self.name, "use": self.use,
            "pem": self.pem, "valid_from": self.valid_from, "valid_until": self.valid_until,
            "replaces": self.replaces,
        }

    def valid_at(self, time: str) -> bool:
        """Is ``time`` (a ledger time string) inside [valid_from, valid_until)?"""
        return self.valid_from <= time and (self.valid_until is None or time < self.valid_until)


def _check_names(record: KeyRecord, origin: str) -> None:
    if record.use == "ledger":
        if record.owner != origin or record.name != origin:
            raise FormatError("payload.owner", "a ledger key's owner and name are the origin")
    elif record.owner == origin:
        raise FormatError("payload.owner", f"only ledger keys belong to the origin {origin!r}")
    if record.use == "statement" and record.name != record.owner:
        raise FormatError("payload.name", "a statement key's name is its owner's code")
    if record.use == "witness" and (not _NAME_RE.match(record.name) or record.name == origin):
        raise FormatError("payload.name", "a witness name is one word of at most 128 "
                          "characters, without '+', and not the origin")


def read_registration(payload: Any, origin: str) -> KeyRecord:
    """The key a registration payload describes; FormatError naming the field otherwise."""
    data = _exact(payload, REGISTRATION_FIELDS, "a key registration")
    for field in ("key", "owner", "name", "use"):
        if not is_text(data[field]):
            raise FormatError(f"payload.{field}", "must be a non-empty string of at most "
                              "512 characters")
    if not is_hex64(data["key"]):
        raise FormatError("payload.key", "must be 64 lowercase hex characters")
    if data["use"] not in USES:
        raise FormatError("payload.use", f"must be one of {', '.join(USES)}")
    if not isinstance(data["pem"], str) or not 0 < len(data["pem"]) <= MAX_PEM:
        raise FormatError("payload.pem", "must be a PEM public key")
    try:
        public = PublicKey.from_pem(data["pem"])
    except KeyFormatError as exc:
        raise FormatError("payload.pem", str(exc)) from None
    if public.key_id != data["key"]:
        raise FormatError("payload.key", "is not the SM3 of the pem's SubjectPublicKeyInfo")
    parse_time(data["valid_from"], "payload.valid_from")
    if data["valid_until"] is not None:
        parse_time(data["valid_until"], "payload.valid_until")
        if data["valid_until"] <= data["valid_from"]:
            raise FormatError("payload.valid_until", "must be after valid_from")
    if data["replaces"] is not None and not is_hex64(data["replaces"]):
        raise FormatError("payload.replaces", "must be null or a key id")
    record = KeyRecord(**{field: data[field] for field in sorted(REGISTRATION_FIELDS)})
    _check_names(record, origin)
    return record


# --- revocation and redaction -------------------------------------------------------------------


@dataclass(frozen=True)
class Revocation:
    key: str
    reason: str


def read_revocation(payload: Any) -> Revocation:
    data = _exact(payload, REVOCATION_FIELDS, "a key revocation")
    if not is_hex64(data["key"]):
        raise FormatError("payload.key", "must be 64 lowercase hex characters")
    if not is_text(data["reason"]) or not data["reason"].strip():
        raise FormatError("payload.reason", "must say why, in at most 512 characters")
    return Revocation(data["key"], data["reason"])


@dataclass(frozen=True)
class Redaction:
    """``ledger.payload.redacted``: the payload and salt of entry ``seq`` are erased."""

    seq: int
    basis: str
    request: str | None

    def payload(self) -> dict[str, Any]:
        return {"seq": self.seq, "basis": self.basis, "request": self.request}


def read_redaction(payload: Any) -> Redaction:
    data = _exact(payload, REDACTION_FIELDS, "a redaction")
    seq = data["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise FormatError("payload.seq", "must be the seq of the entry whose payload is erased")
    if not is_text(data["basis"]) or not data["basis"].strip():
        raise FormatError("payload.basis", "must give the legal basis, in at most 512 "
                          "characters")
    if data["request"] is not None and not is_text(data["request"]):
        raise FormatError("payload.request", "must be null or the subject of the request")
    return Redaction(seq, data["basis"], data["request"])

