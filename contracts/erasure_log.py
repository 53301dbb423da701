"""The erasure log: every erasure the ledger recorded, kept outside the database so that
erasures can be applied again to a database restored from a backup taken before them.

One JSON line per ``ledger.payload.redacted`` entry: the erased entry (seq, and its leaf
hash, which identifies it beyond doubt), the legal basis and the request, the redaction's
own seq and time. It holds no personal information. ``manage.py export_erasures`` writes
it; ``manage.py reapply_erasures`` reads it after a restore (README: Production, backups).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from contracts import personal
from crypto.canonical import canonical, parse
from kernel.errors import InvalidInput
from ledger import selectors as ledger_reads
from ledger.models import Entry
from ledger.protocol.records import PAYLOAD_REDACTED, read_redaction

FIELDS = ("seq", "leaf", "basis", "request", "redaction", "recorded")


def lines() -> Iterator[str]:
    """The log, oldest erasure first: one canonical JSON object a line."""
    redactions = (Entry.objects.filter(kind=PAYLOAD_REDACTED).select_related("payload_row")
                  .order_by("seq"))
    for entry in redactions.iterator():
        redaction = read_redaction(parse(entry.payload_row.data))
        target = Entry.objects.filter(seq=redaction.seq).values_list("leaf_hash", flat=True)
        yield canonical({"seq": redaction.seq, "leaf": target.first(),
                         "basis": redaction.basis, "request": redaction.request,
                         "redaction": entry.seq,
                         "recorded": entry.recorded.isoformat()}).decode()


@dataclass(frozen=True)
class Reapplied:
    erased: list[int]  # seqs erased again
    already: list[int]  # seqs already erased here
    beyond: list[int]  # seqs this database does not have (entries lost with the restore)


def _record(number: int, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput(f"line {number}", "is not JSON") from None
    if not isinstance(value, dict) or set(value) != set(FIELDS) \
            or not isinstance(value["seq"], int) or not isinstance(value["basis"], str):
        raise InvalidInput(f"line {number}", f"is not an erasure record ({', '.join(FIELDS)})")
    return value


def reapply(log: Iterable[str]) -> Reapplied:
    """Erase again every payload the log says was erased and this database still holds;
    refuses (before erasing anything) a log from another ledger."""
    records = [_record(n, text) for n, text in enumerate(log, 1) if text.strip()]
    present = dict(Entry.objects.filter(seq__in=[r["seq"] for r in records])
                   .values_list("seq", "leaf_hash"))
    for number, record in enumerate(records, 1):
        if record["seq"] in present and present[record["seq"]] != record["leaf"]:
            raise InvalidInput(f"line {number}", f"entry {record['seq']} here is not the one "
                               "the log erased: this database is another ledger")
    done = Reapplied([], [], [])
    for record in records:
        seq = record["seq"]
        if seq not in present:
            done.beyond.append(seq)
        elif ledger_reads.redaction_of(seq) is not None:
            done.already.append(seq)
        else:
            personal.erase(entry=Entry.objects.get(seq=seq),
                           basis=f"{record['basis']}; re-applied after a restore (first "
                                 f"erased by entry {record['redaction']})"[:512],
                           request=record["request"])
            done.erased.append(seq)
    return done
