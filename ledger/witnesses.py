"""The ledger's side of witnessing: collect cosignatures of checkpoints from the witnesses.

For each configured witness (settings ``SHULIAN_WITNESSES``), :func:`collect` submits the
checkpoints it still has to cosign, oldest first (those not yet settled, and the newest),
each with a consistency proof from the last size the witness cosigned, per C2SP
tlog-witness (:mod:`ledger.protocol.witness`). A returned cosignature is stored only if it
verifies with the witness key registered in the key registry (use ``witness``). A refusal
that shows a split view is kept as :class:`~ledger.models.WitnessEvidence`. Unreachable
witnesses are skipped (and, unless ``force``, left alone for an exponential back-off);
nothing here ever blocks an append: the Celery task runs after the checkpoint commits.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q

from kernel.errors import DomainError
from ledger import keystore, selectors
from ledger.models import (
    Checkpoint,
    Cosignature,
    EvidenceKind,
    KeyUse,
    LedgerKey,
    WitnessEvidence,
)
from ledger.protocol import note as notes
from ledger.protocol import witness as protocol

log = logging.getLogger(__name__)

TIMEOUT = 3.0  # seconds, per request (connect, and each read)
MAX_RESPONSE = 64 * 1024
MAX_PER_RUN = 64  # checkpoints submitted to one witness in one run
BACKOFF_BASE = 5.0
BACKOFF_MAX = 300.0


@dataclass(frozen=True)
class WitnessConfig:
    """One entry of ``SHULIAN_WITNESSES``."""

    name: str
    url: str
    key_id: str

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/") + protocol.PATH


@dataclass
class Outcome:
    """What one collection run did: new cosignatures by size, and witnesses that failed."""

    cosigned: dict[int, list[str]] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, size: int, witness: str) -> None:
        self.cosigned.setdefault(size, []).append(witness)

    def to_json(self) -> dict[str, Any]:
        return {
            "cosigned": {str(size): names for size, names in sorted(self.cosigned.items())},
            "unreachable": self.unreachable,
            "refused": self.refused,
            "skipped": self.skipped,
            "problems": self.problems,
        }


class Unreachable(Exception):
    """The witness did not answer (connection refused, timeout, broken response)."""


class Refused(Exception):
    """The witness answered, but not with a usable cosignature."""


def configured() -> list[WitnessConfig]:
    return [WitnessConfig(w["name"], w["url"], w["key_id"]) for w in settings.SHULIAN_WITNESSES]


def threshold() -> int:
    """k: how many cosignatures settle a checkpoint (0: settlement not in use)."""
    return selectors.witness_k()


# --- back-off for unreachable witnesses (per process) ---------------------------------------

_failures: dict[str, tuple[int, float]] = {}


def _backing_off(name: str) -> bool:
    found = _failures.get(name)
    return found is not None and time.monotonic() < found[1]


def _failed(name: str) -> None:
    count = _failures.get(name, (0, 0.0))[0] + 1
    delay = min(BACKOFF_BASE * 2 ** (count - 1), BACKOFF_MAX)
    _failures[name] = (count, time.monotonic() + delay)


def reset_backoff() -> None:
    _failures.clear()


# --- talking to a witness ------------------------------------------------------------------


def _post(url: str, body: bytes) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": "shulian-ledger"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, response.headers.get_content_type(), \
                response.read(MAX_RESPONSE)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers.get_content_type(), exc.read(MAX_RESPONSE)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise Unreachable(f"{url}: {reason}") from None


def registered_key(config: WitnessConfig) -> LedgerKey | None:
    """The witness's key in the registry: use ``witness``, the configured id and name, valid."""
    key = keystore.current(LedgerKey.objects.filter(key_id=config.key_id,
                                                    use=KeyUse.WITNESS)).first()
    if key is None or key.name != config.name:
        return None
    return key


def last_cosigned(name: str) -> int:
    """The largest checkpoint size ``name`` has cosigned here (0 if none)."""
    found = Cosignature.objects.filter(witness=name).aggregate(size=Max("checkpoint__size"))
    return int(found["size"] or 0)


def _pending(name: str, k: int, up_to: int | None, registered: int) -> list[Checkpoint]:
    """Checkpoints to submit: beyond the witness's last, unsettled or the newest, oldest first;
    only those beyond the entry that ``registered`` its key (its cosignature counts only for
    a checkpoint its key is live for)."""
    newest_query = Checkpoint.objects.order_by("-size")
    if up_to is not None:
        newest_query = newest_query.filter(size__lte=up_to)
    newest = newest_query.first()
    if newest is None:
        return []
    query = (
        Checkpoint.objects.filter(size__gt=max(last_cosigned(name), registered),
                                  size__lte=newest.size)
        .annotate(cosigners=Count("cosignatures"))
        .filter(Q(cosigners__lt=k) | Q(pk=newest.pk))
        .order_by("size")
    )
    return list(query[:MAX_PER_RUN])


def _store(checkpoint: Checkpoint, config: WitnessConfig, key: LedgerKey, body: bytes) -> None:
    """Verify the witness's answer and keep its cosignature; Refused if none verifies."""
    try:
        lines = protocol.parse_cosignatures(body)
    except protocol.ProtocolError as exc:
        raise Refused(f"{config.name}: {exc}") from None
    if key.registered_seq >= checkpoint.size or (
            hasattr(key, "end") and key.end.seq < checkpoint.size):
        raise Refused(f"{config.name}: key {key.key_id[:16]} is not live for entry "
                      f"{checkpoint.size}, so its cosignature would not count")
    checkpoint_body = notes.parse(checkpoint.note).body
    public = keystore.record_of(key).public_key
    for sig in lines:
        if sig.name == config.name and notes.verify_cosignature(checkpoint_body, sig, public):
            try:
                with transaction.atomic():
                    Cosignature.objects.get_or_create(
                        checkpoint=checkpoint, witness=config.name,
                        defaults={"key_id": key.key_id, "timestamp": notes.cosignature_time(sig),
                                  "line": sig.line()},
                    )
            except IntegrityError:
                pass  # stored meanwhile by a concurrent collection
            return
    raise Refused(f"{config.name}: no cosignature in the answer verifies with key "
                  f"{key.key_id[:16]}")


def _evidence(config: WitnessConfig, checkpoint: Checkpoint, status: int, body: bytes) -> None:
    reason = body.decode("utf-8", "replace").strip()[:2000] or f"HTTP {status}"
    # A witness reports a split view (a fork) only when it verified it itself.
    fork = status == 409 and reason.startswith(protocol.SPLIT_VIEW)
    kind = EvidenceKind.FORK if fork else EvidenceKind.REFUSED
    log.warning("witness %s refused checkpoint %s (%s): %s", config.name, checkpoint.size,
                status, reason)
    try:
        with transaction.atomic():
            WitnessEvidence.objects.get_or_create(
                witness=config.name, checkpoint_size=checkpoint.size, kind=kind,
                defaults={"status": status, "reason": reason, "note": checkpoint.note},
            )
    except IntegrityError:
        pass


def _request(old: int, checkpoint: Checkpoint) -> bytes:
    proof = selectors.consistency_proof(old, checkpoint.size) if 0 < old < checkpoint.size else []
    return protocol.encode_request(old, proof, checkpoint.note)


def submit(config: WitnessConfig, key: LedgerKey, checkpoint: Checkpoint, old: int) -> int:
    """Ask one witness to cosign ``checkpoint``; returns the size it has cosigned after.

    ``old`` is the size we believe it last cosigned; on a 409 with its real size we retry
    once from there. Unreachable or Refused (after recording any evidence) otherwise.
    """
    for _ in range(2):
        status, content_type, body = _post(config.endpoint, _request(old, checkpoint))
        if status == 200:
            _store(checkpoint, config, key, body)
            return int(checkpoint.size)
        if status == 409 and content_type == protocol.SIZE_CONTENT_TYPE:
            try:
                size = protocol.parse_size(body)
            except protocol.ProtocolError as exc:
                raise Refused(f"{config.name}: {exc}") from None
            if size > checkpoint.size:
                newest = selectors.latest_checkpoint()
                if newest is None or size > newest.size:
                    _evidence(config, checkpoint, status, (
                        f"the witness has cosigned size {size}, beyond every checkpoint of "
                        "this ledger").encode())
                return size
            if size == old:
                break
            old = size
            continue
        _evidence(config, checkpoint, status, body)
        raise Refused(f"{config.name}: HTTP {status}")
    raise Refused(f"{config.name}: the witness keeps answering 409 for size {old}")


def _collect_from(config: WitnessConfig, key: LedgerKey, k: int, up_to: int | None,
                  outcome: Outcome) -> None:
    old = last_cosigned(config.name)
    for checkpoint in _pending(config.name, k, up_to, key.registered_seq):
        if checkpoint.size < old:
            continue
        try:
            reached = submit(config, key, checkpoint, old)
        except (Refused, DomainError) as exc:
            log.warning("witness %s: %s", config.name, exc)
            outcome.refused.append(config.name)
            return
        if reached == checkpoint.size:
            outcome.add(checkpoint.size, config.name)
        old = reached


def collect(size: int | None = None, *, force: bool = False) -> Outcome:
    """Collect cosignatures for checkpoints up to ``size`` (default: all) from every witness.

    Witnesses that recently failed are skipped for a back-off period unless ``force``.
    """
    outcome = Outcome()
    k = threshold()
    for config in configured():
        if not force and _backing_off(config.name):
            outcome.skipped.append(config.name)
            continue
        key = registered_key(config)
        if key is None:
            outcome.problems.append(f"{config.name}: key {config.key_id[:16]} is not a valid "
                                    "witness key of that name in the key registry")
            continue
        try:
            _collect_from(config, key, k, size, outcome)
        except Unreachable as exc:
            log.info("witness %s is unreachable: %s", config.name, exc)
            _failed(config.name)
            outcome.unreachable.append(config.name)
        else:
            _failures.pop(config.name, None)
    return outcome
