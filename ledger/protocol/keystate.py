"""The key state: which keys are live for entry n, as the chain's own entries say.

A key K is *live for entry n* when it was registered by an entry of seq < n and no entry of
seq < n revoked or replaced it. So an outgoing key can still sign the very entry that
revokes or replaces it, and a revocation takes effect at its position in the chain, whatever
the clocks say. Keys are kept with the seq that registered them and the seq that ended them,
so one state answers for every position up to the last entry applied.

A bundle's ``keys.jsonl`` is this state at the bundle's first seq (docs/ledger-format.md
section 9); the ledger's key tables are a cache of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ledger.protocol.format import FormatError, is_hex64
from ledger.protocol.records import (
    KEY_REGISTERED,
    KEY_REVOKED,
    KeyRecord,
    read_registration,
    read_revocation,
)

STATE_FIELDS = frozenset(
    {"key", "name", "participant", "use", "pem", "valid_from", "valid_until", "registered",
     "ended"}
)
REVOKED = "revoked"
REPLACED = "replaced"


@dataclass(frozen=True)
class KeyPosition:
    """A registered key, the seq of the entry that registered it, and of the one that ended
    it (revoked or replaced it), if any."""

    record: KeyRecord
    registered: int
    ended: int | None = None
    how: str | None = None  # REVOKED or REPLACED, when ended

    def live_for(self, seq: int) -> bool:
        return self.registered < seq and (self.ended is None or seq <= self.ended)

    def to_json(self) -> dict[str, Any]:
        """The ``keys.jsonl`` record of this key."""
        record = self.record
        return {
            "key": record.key, "name": record.name, "participant": record.owner,
            "use": record.use, "pem": record.pem, "valid_from": record.valid_from,
            "valid_until": record.valid_until, "registered": self.registered,
            "ended": self.ended,
        }


class KeyState:
    """Keys by id with their positions; :meth:`apply` follows the chain entry by entry.

    The append path holds only the keys a decision needs (the signer, the keys a registry
    entry names, witness keys of the same name); a verifier holds all of them.
    """

    def __init__(self, origin: str, positions: Iterable[KeyPosition] = ()) -> None:
        self.origin = origin
        self._keys: dict[str, KeyPosition] = {p.record.key: p for p in positions}

    def __iter__(self) -> Iterator[KeyPosition]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def get(self, key_id: str) -> KeyPosition | None:
        return self._keys.get(key_id)

    def live_for(self, key_id: str, seq: int) -> bool:
        found = self._keys.get(key_id)
        return found is not None and found.live_for(seq)

    def live(self, seq: int, *, use: str | None = None) -> list[KeyPosition]:
        """Keys live for entry ``seq`` (of one use), in registration order."""
        found = [p for p in self._keys.values()
                 if p.live_for(seq) and (use is None or p.record.use == use)]
        return sorted(found, key=lambda p: p.registered)

    def add(self, position: KeyPosition) -> None:
        """Take a key's position as known (a cache or a bundle's keys.jsonl says so)."""
        self._keys[position.record.key] = position

    def copy(self) -> KeyState:
        return KeyState(self.origin, self._keys.values())

    # --- following the chain -----------------------------------------------------------------

    def register(self, seq: int, record: KeyRecord) -> None:
        self._keys[record.key] = KeyPosition(record, seq)
        if record.replaces is not None and record.replaces in self._keys:
            self.end(record.replaces, seq, REPLACED)

    def end(self, key_id: str, seq: int, how: str) -> None:
        found = self._keys[key_id]
        if found.ended is None:
            self._keys[key_id] = replace(found, ended=seq, how=how)

    def apply(self, seq: int, kind: str, payload: Any) -> None:
        """Follow an accepted ``ledger.key.*`` entry (any other kind changes nothing)."""
        if kind == KEY_REGISTERED:
            self.register(seq, read_registration(payload, self.origin))
        elif kind == KEY_REVOKED:
            revocation = read_revocation(payload)
            if revocation.key in self._keys:
                self.end(revocation.key, seq, REVOKED)

    # --- keys.jsonl ----------------------------------------------------------------------------

    def at(self, start: int) -> list[dict[str, Any]]:
        """``keys.jsonl`` for a bundle from ``start``: keys registered before it, with the
        end only if it too lies before it."""
        rows = []
        for position in sorted(self._keys.values(), key=lambda p: p.registered):
            if position.registered >= start:
                continue
            ended = position.ended if position.ended is not None and \
                position.ended < start else None
            rows.append(replace(position, ended=ended).to_json())
        return rows

    @classmethod
    def from_records(cls, origin: str, records: Iterable[Mapping[str, Any]], start: int) -> (
        KeyState
    ):
        """The state at ``start`` from ``keys.jsonl`` records; FormatError (field names the
        record's number) for a record that is not one."""
        state = cls(origin)
        for number, data in enumerate(records, 1):
            position = _read_position(data, origin, start, f"keys.jsonl line {number}")
            if position.record.key in state:
                raise FormatError(f"keys.jsonl line {number}", "the key appears twice")
            state.add(position)
        return state


def _index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_position(data: Mapping[str, Any], origin: str, start: int, where: str) -> (
    KeyPosition
):
    if not isinstance(data, Mapping) or data.keys() != STATE_FIELDS:
        raise FormatError(where, f"must have exactly the fields {', '.join(sorted(STATE_FIELDS))}")
    registered, ended = data["registered"], data["ended"]
    if not _index(registered) or registered >= start:
        raise FormatError(f"{where}.registered", f"must be a seq before {start}")
    if ended is not None and (not _index(ended) or not registered < ended < start):
        raise FormatError(f"{where}.ended", f"must be null or a seq between registered and "
                          f"{start}")
    payload = {"key": data["key"], "owner": data["participant"], "name": data["name"],
               "use": data["use"], "pem": data["pem"], "valid_from": data["valid_from"],
               "valid_until": data["valid_until"], "replaces": None}
    if not is_hex64(data["key"]):
        raise FormatError(f"{where}.key", "must be 64 lowercase hex characters")
    try:
        record = read_registration(payload, origin)
    except FormatError as exc:
        field = exc.field.replace("payload.owner", "payload.participant")
        raise FormatError(f"{where}.{field.removeprefix('payload.')}", exc.reason) from None
    return KeyPosition(record, registered, ended, None if ended is None else "ended")
