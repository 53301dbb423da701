"""Every rule of format v2, accepted and refused, through the append path and through the
verifier, with one table of cases.

Each case sets up a key state (registrations, rotations, revocations, all of them entries)
and builds one signed statement. The *append* world submits it to the live ledger
(``ledger.services.append``) and reads the refusal's code, or, when it is accepted, also
runs ``verify_ledger``'s core over the live database; the *verifier* world appends it
unchecked to an in-memory ledger (tests/audit/builders.py), seals, exports a bundle and
reads the failures the offline verifier reports at that seq. Both must say the same code.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest
from django.db import transaction

from audit.services import verify_range
from crypto.canonical import canonical
from crypto.sm2 import PrivateKey
from ledger import keyring, keystore, services
from ledger.errors import AppendRefused
from ledger.models import Entry
from tests.audit.builders import Key, Ledger, verify_parts
from tests.ledger.helpers import counts

pytestmark = pytest.mark.django_db

ACCEPTED = None


def ledger_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Handle:
    """A key a case can sign with."""

    kid: str
    owner: str
    private: PrivateKey


@dataclass
class Attempt:
    """One signed statement with its payload and salt, ready to submit. ``successor``: the
    private key of a ledger key the statement registers (the in-memory ledger seals with it)."""

    statement: dict[str, Any]
    signature: str
    payload: Any
    salt: str
    successor: PrivateKey | None = None


class World(Protocol):
    origin: str

    def key(self, owner: str, *, use: str = "statement", name: str | None = None,
            valid_from: datetime | None = None, valid_until: datetime | None = None) -> Handle:
        ...

    def rotate(self, old: Handle) -> Handle: ...

    def revoke(self, old: Handle) -> None: ...

    def ledger_key(self) -> Handle: ...

    def now(self) -> datetime: ...

    def nonce_of(self, actor: str) -> str: ...

    def last_seq(self) -> int: ...

    def submit(self, attempt: Attempt) -> tuple[str | None, str | None]: ...


# --- the append path on the live database ----------------------------------------------------


class LiveWorld:
    """The live ledger: keys through ledger.services, the attempt through append()."""

    def __init__(self) -> None:
        services.ensure_ledger_key()
        self.origin = services.origin()

    def key(self, owner: str, *, use: str = "statement", name: str | None = None,
            valid_from: datetime | None = None, valid_until: datetime | None = None) -> Handle:
        private = PrivateKey.generate()
        with transaction.atomic():
            if use == "witness":
                row = services.register_witness(name=name or owner, pem=private.public_key.pem,
                                                owner_code=owner)
            else:
                row = services.register_key(owner=owner, pem=private.public_key.pem, use=use,
                                            valid_from=valid_from, valid_until=valid_until)
        return Handle(row.key_id, owner, private)

    def rotate(self, old: Handle) -> Handle:
        if old.owner == self.origin:
            with transaction.atomic():
                row = services.rotate_key(key_id=old.kid)
            return Handle(row.key_id, row.owner, keyring.unseal(row.custody))
        private = PrivateKey.generate()
        with transaction.atomic():
            row = services.rotate_key(key_id=old.kid, new_pem=private.public_key.pem)
        return Handle(row.key_id, row.owner, private)

    def revoke(self, old: Handle) -> None:
        with transaction.atomic():
            services.revoke_key(key_id=old.kid, reason="compromised")

    def ledger_key(self) -> Handle:
        row = keystore.ledger_key()
        assert row is not None
        return Handle(row.key_id, row.owner, keyring.unseal(row.custody))

    def now(self) -> datetime:
        return datetime.now(UTC)

    def nonce_of(self, actor: str) -> str:
        return str(Entry.objects.filter(actor=actor).order_by("-seq").first().nonce)

    def last_seq(self) -> int:
        return int(Entry.objects.order_by("-seq").values_list("seq", flat=True).first())

    def submit(self, attempt: Attempt) -> tuple[str | None, str | None]:
        before = counts()
        try:
            with transaction.atomic():
                services.append(attempt.statement, attempt.signature, attempt.payload,
                                attempt.salt)
        except AppendRefused as exc:
            assert counts() == before, "a refused append wrote something"
            return exc.code, exc.field
        span, report = verify_range()
        assert report.ok, [failure.line() for failure in report.failures]
        return None, None


# --- the verifier over a bundle ---------------------------------------------------------------


class BundleWorld:
    """An in-memory ledger that appends anything; the verifier judges the bundle."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.origin = self.ledger.origin

    def key(self, owner: str, *, use: str = "statement", name: str | None = None,
            valid_from: datetime | None = None, valid_until: datetime | None = None) -> Handle:
        private = PrivateKey.generate()
        self.ledger.add_key(owner, use=use, name=name, private=private,
                            valid_from=ledger_time(valid_from) if valid_from else None,
                            valid_until=ledger_time(valid_until) if valid_until else None)
        return Handle(private.public_key.key_id, owner, private)

    def rotate(self, old: Handle) -> Handle:
        kid = self.ledger.rotate(old.owner)
        return Handle(kid, old.owner, self.ledger.keys[kid].private)

    def revoke(self, old: Handle) -> None:
        self.ledger.revoke(old.kid)

    def ledger_key(self) -> Handle:
        kid = self.ledger.ledger_key
        return Handle(kid, self.origin, self.ledger.keys[kid].private)

    def now(self) -> datetime:
        return self.ledger.clock + timedelta(seconds=1)

    def _hand_over(self, seq: int, private: PrivateKey) -> None:
        """The in-memory ledger takes the new ledger key as its own from ``seq`` on."""
        old = self.ledger.keys[self.ledger.ledger_key]
        kid = private.public_key.key_id
        self.ledger.keys[kid] = Key(kid, self.origin, self.origin, "ledger", private,
                                    old.valid_from, None, seq, replaces=old.kid)
        old.ended = seq
        self.ledger.current[self.origin] = kid

    def nonce_of(self, actor: str) -> str:
        return str(next(s["nonce"] for s in reversed(self.ledger.statements)
                        if s["actor"] == actor))

    def last_seq(self) -> int:
        return len(self.ledger.entries) - 1

    def submit(self, attempt: Attempt) -> tuple[str | None, str | None]:
        self.ledger.tick()
        seq = self.ledger.append_raw(attempt.statement, attempt.signature, attempt.payload,
                                     attempt.salt)
        if attempt.successor is not None:
            self._hand_over(seq, attempt.successor)
        target = attempt.payload.get("seq") if isinstance(attempt.payload, dict) else None
        if attempt.statement["kind"] == "ledger.payload.redacted" and \
                isinstance(target, int) and target < seq and \
                not self.ledger.statements[target]["kind"].startswith("ledger."):
            self.ledger.erased[target] = seq  # what an exporter leaves out
        self.ledger.seal()
        report = verify_parts(self.ledger.parts())
        elsewhere = [f.line() for f in report.failures if f.seq != seq]
        assert not elsewhere, elsewhere
        found = sorted({f.code for f in report.failures})
        return (found[0] if found else None), None


# --- building attempts -------------------------------------------------------------------------


def attempt(world: World, signer: Handle, *, actor: str | None = None,
            payload: Any = None, salt: bytes | None = None, commit_to: Any = None,
            commitment: str | None = None, sign_over: bytes | None = None,
            **fields: Any) -> Attempt:
    """A statement by ``actor`` (default: the key's owner) signed with ``signer``.

    ``commit_to`` makes the statement commit to another payload than the one sent,
    ``commitment`` sets statement.payload outright; ``sign_over`` signs other bytes than the
    statement's; ``fields`` override any other field.
    """
    payload = {"case": secrets.token_hex(4)} if payload is None else payload
    salt = secrets.token_bytes(16) if salt is None else salt
    committed = payload if commit_to is None else commit_to
    statement = {
        "v": 2, "ledger": world.origin, "kind": "tests.case.tried",
        "actor": actor or signer.owner, "key": signer.kid, "subject": "tests/case/1",
        "payload": commitment or hashlib.new("sm3", salt + canonical(committed)).hexdigest(),
        "nonce": secrets.token_hex(16), "time": ledger_time(world.now()),
    }
    statement.update(fields)
    data = canonical(statement) if sign_over is None else sign_over
    return Attempt(statement, b64(signer.private.sign(data)), payload, b64(salt))


def registration(world: World, private: PrivateKey, *, owner: str, use: str = "statement",
                 **fields: Any) -> dict[str, Any]:
    record = {"key": private.public_key.key_id, "owner": owner, "name": owner, "use": use,
              "pem": private.public_key.pem,
              "valid_from": ledger_time(world.now() - timedelta(minutes=10)),
              "valid_until": None, "replaces": None}
    record.update(fields)
    return record


def by_ledger(world: World, kind: str, payload: Any, subject: str, **fields: Any) -> Attempt:
    return attempt(world, world.ledger_key(), actor=world.origin, kind=kind, payload=payload,
                   subject=subject, **fields)


# --- the cases ---------------------------------------------------------------------------------

Case = tuple[str, str | None, Callable[[World], Attempt]]


def _ordinary(w: World) -> Attempt:
    return attempt(w, w.key("alice"))


def _unregistered(w: World) -> Attempt:
    private = PrivateKey.generate()
    return attempt(w, Handle(private.public_key.key_id, "alice", private))


def _revoked(w: World) -> Attempt:
    key = w.key("alice")
    w.revoke(key)
    return attempt(w, key)


def _replaced(w: World) -> Attempt:
    key = w.key("alice")
    w.rotate(key)
    return attempt(w, key)


def _successor(w: World) -> Attempt:
    return attempt(w, w.rotate(w.key("alice")))


def _someone_elses_key(w: World) -> Attempt:
    return attempt(w, w.key("alice"), actor="bob")


def _witness_key(w: World) -> Attempt:
    return attempt(w, w.key("dept.finance", use="witness", name="witness-finance"))


def _expired(w: World) -> Attempt:
    key = w.key("alice", valid_from=w.now() - timedelta(minutes=30),
                valid_until=w.now() - timedelta(minutes=1))
    return attempt(w, key)


def _not_yet_valid(w: World) -> Attempt:
    return attempt(w, w.key("alice", valid_from=w.now() + timedelta(minutes=3)))


def _time(minutes: float) -> Callable[[World], Attempt]:
    def build(w: World) -> Attempt:
        key = w.key("alice")
        return attempt(w, key, time=ledger_time(w.now() + timedelta(minutes=minutes)))
    return build


def _other_ledger(w: World) -> Attempt:
    return attempt(w, w.key("alice"), ledger="other.example/ledger")


def _bad_signature(w: World) -> Attempt:
    return attempt(w, w.key("alice"), sign_over=b"something else")


def _other_payload(w: World) -> Attempt:
    return attempt(w, w.key("alice"), payload={"amount": "100.00"},
                   commit_to={"amount": "1000.00"})


def _unsalted(w: World) -> Attempt:
    payload = {"amount": "100.00"}
    return attempt(w, w.key("alice"), payload=payload,
                   commitment=hashlib.new("sm3", canonical(payload)).hexdigest())


def _v1(w: World) -> Attempt:
    return attempt(w, w.key("alice"), v=1)


def _replayed_nonce(w: World) -> Attempt:
    key = w.key("alice")
    first = attempt(w, key)
    assert w.submit(first)[0] is None
    return attempt(w, key, nonce=first.statement["nonce"])


def _participant_in_ledger_kind(w: World) -> Attempt:
    private = PrivateKey.generate()
    key = w.key("alice")
    return attempt(w, key, kind="ledger.key.registered",
                   payload=registration(w, private, owner="alice"),
                   subject=f"ledger/key/{private.public_key.key_id}")


def _unknown_ledger_kind(w: World) -> Attempt:
    return by_ledger(w, "ledger.key.borrowed", {"key": "x"}, "ledger/key/x")


def _platform_action(w: World) -> Attempt:
    return by_ledger(w, "contracts.sharing.escalated", {"request": 1}, "contracts/sharing/1")


def _ledger_key_for_participant(w: World) -> Attempt:
    return attempt(w, w.ledger_key(), actor="alice")


def _register(w: World, **fields: Any) -> Attempt:
    private = PrivateKey.generate()
    record = registration(w, private, owner="carol")
    subject = f"ledger/key/{private.public_key.key_id}"
    subject = fields.pop("subject", subject)
    record.update(fields)
    return by_ledger(w, "ledger.key.registered", record, subject)


def _registration_ok(w: World) -> Attempt:
    return _register(w)


def _registration_wrong_id(w: World) -> Attempt:
    return _register(w, key="ab" * 32)


def _registration_wrong_subject(w: World) -> Attempt:
    return _register(w, subject="ledger/key/elsewhere")


def _registration_twice(w: World) -> Attempt:
    key = w.key("carol")
    row = registration(w, key.private, owner="carol")
    return by_ledger(w, "ledger.key.registered", row, f"ledger/key/{key.kid}")


def _replaces_revoked(w: World) -> Attempt:
    old = w.key("carol")
    w.revoke(old)
    return _register(w, replaces=old.kid)


def _replaces_other_owner(w: World) -> Attempt:
    return _register(w, replaces=w.key("dave").kid)


def _statement_key_for_origin(w: World) -> Attempt:
    return _register(w, owner=w.origin, name=w.origin)


def _revoke_twice(w: World) -> Attempt:
    key = w.key("carol")
    w.revoke(key)
    return by_ledger(w, "ledger.key.revoked", {"key": key.kid, "reason": "again"},
                     f"ledger/key/{key.kid}")


def _revoke_ok(w: World) -> Attempt:
    key = w.key("carol")
    return by_ledger(w, "ledger.key.revoked", {"key": key.kid, "reason": "left the platform"},
                     f"ledger/key/{key.kid}")


def _hand_over(w: World) -> Attempt:
    """A key is live for the entry that ends it: the ledger's outgoing key signs its
    successor's registration."""
    old = w.ledger_key()
    private = PrivateKey.generate()
    record = registration(w, private, owner=w.origin, use="ledger", replaces=old.kid)
    record["name"] = w.origin
    made = attempt(w, old, actor=w.origin, kind="ledger.key.registered", payload=record,
                   subject=f"ledger/key/{private.public_key.key_id}")
    made.successor = private
    return made


def _outgoing_ledger_key_after_hand_over(w: World) -> Attempt:
    old = w.ledger_key()
    w.rotate(old)
    return attempt(w, old, actor=w.origin, kind="contracts.sharing.escalated")


def _redact(w: World, target: Callable[[World], int], basis: str = "PIPL art. 47") -> Attempt:
    seq = target(w)
    return by_ledger(w, "ledger.payload.redacted",
                     {"seq": seq, "basis": basis, "request": None}, f"ledger/entry/{seq}")


def _redaction_ok(w: World) -> Attempt:
    key = w.key("alice")
    assert w.submit(attempt(w, key))[0] is None
    return _redact(w, lambda world: world.last_seq())


def _redaction_of_the_future(w: World) -> Attempt:
    return _redact(w, lambda world: world.last_seq() + 5)


def _redaction_of_a_key_entry(w: World) -> Attempt:
    w.key("alice")
    return _redact(w, lambda world: world.last_seq())


def _redaction_without_basis(w: World) -> Attempt:
    key = w.key("alice")
    assert w.submit(attempt(w, key))[0] is None
    return _redact(w, lambda world: world.last_seq(), basis=" ")


CASES: list[Case] = [
    ("an ordinary statement by a live key", ACCEPTED, _ordinary),
    ("a key nobody registered", "key-unknown", _unregistered),
    ("a revoked key", "key-ended", _revoked),
    ("a replaced (rotated) key", "key-ended", _replaced),
    ("the successor of a rotated key", ACCEPTED, _successor),
    ("another participant's key", "key-owner", _someone_elses_key),
    ("a witness key signing a statement", "key-use", _witness_key),
    ("a key past its valid_until", "key-window", _expired),
    ("a key before its valid_from", "key-window", _not_yet_valid),
    ("time 6 minutes after recorded", "time-window", _time(6)),
    ("time 6 minutes before recorded (backdated)", "time-window", _time(-6)),
    ("time 4 minutes after recorded", ACCEPTED, _time(4)),
    ("time 4 minutes before recorded", ACCEPTED, _time(-4)),
    ("a statement for another ledger", "ledger-origin", _other_ledger),
    ("a signature over other bytes", "signature", _bad_signature),
    ("a payload other than the one committed to", "payload-commitment", _other_payload),
    ("an unsalted (v1) commitment", "payload-commitment", _unsalted),
    ("a v1 statement", "format", _v1),
    ("a replayed nonce", "nonce-replay", _replayed_nonce),
    ("a participant using a ledger kind", "ledger-kind", _participant_in_ledger_kind),
    ("an unknown kind under ledger.", "ledger-kind", _unknown_ledger_kind),
    ("a platform action by the ledger key", ACCEPTED, _platform_action),
    ("the ledger key signing for a participant", "key-owner", _ledger_key_for_participant),
    ("a key registration", ACCEPTED, _registration_ok),
    ("a registration whose key id is not its pem's", "key-record", _registration_wrong_id),
    ("a registration about another subject", "subject", _registration_wrong_subject),
    ("a key registered twice", "key-duplicate", _registration_twice),
    ("a successor of a revoked key", "key-replaces", _replaces_revoked),
    ("a successor of another owner's key", "key-replaces", _replaces_other_owner),
    ("a statement key for the origin", "key-record", _statement_key_for_origin),
    ("a revocation", ACCEPTED, _revoke_ok),
    ("a revocation of a revoked key", "revocation", _revoke_twice),
    ("the outgoing ledger key signing its successor", ACCEPTED, _hand_over),
    ("the outgoing ledger key after the hand-over", "key-ended",
     _outgoing_ledger_key_after_hand_over),
    ("a redaction", ACCEPTED, _redaction_ok),
    ("a redaction of a later entry", "redaction", _redaction_of_the_future),
    ("a redaction of a key registration", "redaction", _redaction_of_a_key_entry),
    ("a redaction without a legal basis", "redaction", _redaction_without_basis),
]

WORLDS: dict[str, Callable[[], World]] = {"append": LiveWorld, "verifier": BundleWorld}


@pytest.mark.parametrize("world_name", sorted(WORLDS))
@pytest.mark.parametrize(("name", "code", "build"), CASES, ids=[case[0] for case in CASES])
def test_the_append_path_and_the_verifier_agree(world_name: str, name: str, code: str | None,
                                               build: Callable[[World], Attempt]) -> None:
    world = WORLDS[world_name]()
    found, _ = world.submit(build(world))
    assert found == code, f"{world_name}: {name}: expected {code}, got {found}"


def test_the_append_path_names_the_field() -> None:
    world = LiveWorld()
    key = world.key("alice")
    expected = {
        "statement.key": attempt(world, key, actor="bob"),
        "statement.time": attempt(world, key,
                                  time=ledger_time(world.now() + timedelta(minutes=6))),
        "signature": attempt(world, key, sign_over=b"x"),
        "statement.payload": attempt(world, key, payload={"a": 1}, commit_to={"a": 2}),
        "statement.ledger": attempt(world, key, ledger="elsewhere"),
    }
    for field, made in expected.items():
        code, named = world.submit(made)
        assert code is not None and named == field, (field, code, named)
