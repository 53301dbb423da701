"""Reads of the ledger: entries, roots, proofs, checkpoints and status."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils.translation import gettext_lazy as _

from crypto.canonical import parse
from kernel.errors import NotFound
from ledger import keystore, store
from ledger.models import (
    Checkpoint,
    Cosignature,
    Entry,
    EvidenceKind,
    KeyUse,
    LedgerKey,
    Payload,
    WitnessEvidence,
)
from ledger.protocol.format import FormatError, commit, decode_salt, leaf_hash


class LedgerDamaged(RuntimeError):
    """A stored row disagrees with the bytes it is derived from: run verify_ledger."""


@dataclass(frozen=True)
class Status:
    size: int
    head: str
    checkpoint: Checkpoint | None


def status() -> Status:
    tail = store.tail()
    return Status(tail.size, tail.head, Checkpoint.objects.order_by("-size").first())


def size() -> int:
    return store.tail().size


def _check_size(tree_size: int) -> int:
    current = size()
    if not 0 <= tree_size <= current:
        raise NotFound(_("the ledger has %(n)s entries; there is no tree of size %(size)s"),
                       n=current, size=tree_size)
    return current


def root(tree_size: int) -> bytes:
    """The Merkle root of the first ``tree_size`` entries."""
    _check_size(tree_size)
    return bytes(store.tree(tree_size).root(tree_size))


def inclusion_proof(seq: int, tree_size: int) -> list[bytes]:
    """RFC 9162 audit path of entry ``seq`` in the tree of ``tree_size`` entries."""
    _check_size(tree_size)
    if not 0 <= seq < tree_size:
        raise NotFound(_("entry %(seq)s is not in a tree of size %(size)s"), seq=seq,
                       size=tree_size)
    return store.tree(tree_size).inclusion_path(seq, tree_size)


def consistency_proof(old: int, new: int) -> list[bytes]:
    """RFC 9162 proof that the tree of ``old`` entries is a prefix of the one of ``new``."""
    _check_size(new)
    if not 0 < old <= new:
        raise NotFound(_("no consistency proof from size %(old)s to size %(new)s"), old=old,
                       new=new)
    return store.tree(new).consistency_path(old, new)


def entry(seq: int) -> Entry:
    found = Entry.objects.filter(seq=seq).first()
    if found is None:
        raise NotFound(_("no entry %(seq)s"), seq=seq)

    return found


def entries(first: int = 0, last: int | None = None) -> QuerySet[Entry]:
    """Entries with ``first <= seq <= last`` in order."""
    query = Entry.objects.filter(seq__gte=first).order_by("seq")
    return query if last is None else query.filter(seq__lte=last)


@dataclass(frozen=True)
class StoredPayload:
    """An entry's payload as stored: the object and the salt of its commitment, or, once
    erased, neither (``erased_by`` is the seq of the redaction entry)."""

    seq: int
    payload: Any
    salt: str
    restricted: bool
    erased_by: int | None = None
    basis: str = ""

    @property
    def erased(self) -> bool:
        return self.erased_by is not None


def payload(seq: int) -> StoredPayload | None:
    """The stored payload of entry ``seq`` (None if it has none)."""
    row = Payload.objects.filter(entry_id=seq).values_list("data", "salt", "restricted").first()
    if row is None:
        return None
    data, salt, restricted = row
    redaction = redaction_of(seq)
    if redaction is not None:
        return StoredPayload(seq, None, "", restricted, *redaction)
    if not data:
        raise LedgerDamaged(f"the payload of entry {seq} is empty, but no entry erased it")
    return StoredPayload(seq, parse(data), salt, restricted)


def redaction_of(seq: int) -> tuple[int, str] | None:
    """(seq, legal basis) of the redaction entry that erased entry ``seq``'s payload."""
    return redactions_of([seq]).get(seq)


def redactions_of(seqs: Iterable[int]) -> dict[int, tuple[int, str]]:
    """{seq: (seq of the redaction entry, legal basis)} for the erased payloads among
    ``seqs`` (one query: for timelines and lists)."""
    subjects = {f"ledger/entry/{seq}": seq for seq in seqs}
    rows = (Entry.objects.filter(kind="ledger.payload.redacted", subject__in=list(subjects))
            .select_related("payload_row"))
    return {subjects[row.subject]: (row.seq, str(parse(row.payload_row.data)["basis"]))
            for row in rows}


def statement(entry: Entry) -> dict[str, Any]:
    """The statement as the entry's bytes hold it, after checking those bytes against the
    stored leaf hash (the columns beside them are for queries, not to be trusted)."""
    if leaf_hash(entry.data.encode("utf-8")).hex() != entry.leaf_hash:
        raise LedgerDamaged(f"entry {entry.seq}'s bytes do not match its leaf hash")
    return dict(parse(entry.data)["statement"])


def payload_matches(seq: int, document: Any) -> bool:
    """Is ``document`` the payload entry ``seq`` commits to (SM3(salt || canonical bytes),
    the commitment read from the entry's own bytes)?"""
    stored = payload(seq)
    if stored is None or stored.erased:
        return False
    try:
        return bool(commit(decode_salt(stored.salt), document)
                    == statement(entry(seq))["payload"])
    except (FormatError, LedgerDamaged):
        return False


def checkpoints() -> QuerySet[Checkpoint]:
    return Checkpoint.objects.order_by("size")


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-size").first()


def checkpoint_covering(seq: int) -> Checkpoint | None:
    """The smallest checkpoint that includes entry ``seq``."""
    return Checkpoint.objects.filter(size__gt=seq).order_by("size").first()


def keys() -> QuerySet[LedgerKey]:
    return LedgerKey.objects.select_related("end").order_by("registered_seq")


# --- witnesses ------------------------------------------------------------------------------


def checkpoint_note(checkpoint: Checkpoint) -> str:
    """The note as served and exported: the ledger's line, then the stored cosignatures."""
    lines = checkpoint.cosignatures.order_by("witness").values_list("line", flat=True)
    return checkpoint.note + "".join(line + "\n" for line in lines)


def cosigners(checkpoint: Checkpoint) -> list[str]:
    """Names of the witnesses whose (verified) cosignature of ``checkpoint`` is stored."""
    return list(checkpoint.cosignatures.order_by("witness").values_list("witness", flat=True))


def witness_count() -> int:
    """n: the witness keys valid now (each department's witness has one)."""
    return int(keystore.current(LedgerKey.objects.filter(use=KeyUse.WITNESS)).count())


def witness_k() -> int:
    """k: cosignatures that settle a checkpoint (0: no witnesses, settlement not in use).

    SHULIAN_WITNESS_K when set; otherwise a majority of the witness keys valid now.
    """
    if settings.SHULIAN_WITNESS_K is not None:
        return int(settings.SHULIAN_WITNESS_K)
    witnesses = keystore.current(LedgerKey.objects.filter(use=KeyUse.WITNESS)).count()
    return witnesses // 2 + 1 if witnesses else 0


def is_settled(checkpoint: Checkpoint) -> bool:
    """Has ``checkpoint`` at least k stored cosignatures? (Always, when k is 0.)"""
    return checkpoint.cosignatures.count() >= witness_k()


@dataclass(frozen=True)
class Settlement:
    """How far a checkpoint is settled: ``cosigners`` of the ``witnesses`` (n) cosigned it;
    ``k`` of them settle it."""

    size: int
    cosigners: list[str]
    k: int
    witnesses: int = 0

    @property
    def settled(self) -> bool:
        return len(self.cosigners) >= self.k


def settlement(checkpoint: Checkpoint) -> Settlement:
    return Settlement(checkpoint.size, cosigners(checkpoint), witness_k(), witness_count())



def unsettled_checkpoints(older_than: timedelta | float | None = None) -> QuerySet[Checkpoint]:
    """Checkpoints with fewer than k cosignatures, sealed more than ``older_than`` ago
    (a timedelta or seconds; default SHULIAN_UNSETTLED_ALERT_SECONDS). None when k is 0."""
    k = witness_k()
    if k <= 0:
        return Checkpoint.objects.none()
    if older_than is None:
        older_than = settings.SHULIAN_UNSETTLED_ALERT_SECONDS
    if not isinstance(older_than, timedelta):
        older_than = timedelta(seconds=older_than)
    return (
        Checkpoint.objects.filter(created__lte=datetime.now(UTC) - older_than)
        .annotate(cosigner_count=Count("cosignatures"))
        .filter(cosigner_count__lt=k)
        .order_by("size")
    )


def witness_evidence(witness: str | None = None) -> QuerySet[WitnessEvidence]:
    """What witnesses refused (split views first of all), newest first."""
    query = WitnessEvidence.objects.order_by("-created", "-id")
    return query if witness is None else query.filter(witness=witness)


def split_view_evidence() -> QuerySet[WitnessEvidence]:
    """Forks a witness verified itself (two ledger-signed roots for one size): what the
    regulator must be alerted to. (A failed consistency proof is a refusal, no evidence: the
    checkpoint stays unsettled, which is alerted on too.)"""
    return witness_evidence().filter(kind=EvidenceKind.FORK)


def cosignatures(witness: str | None = None) -> QuerySet[Cosignature]:
    query = Cosignature.objects.select_related("checkpoint").order_by("checkpoint__size",
                                                                      "witness")
    return query if witness is None else query.filter(witness=witness)
