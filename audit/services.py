"""Audits of the live ledger: verification with an attestation entry, and bundle export."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from audit.bundle import FORMAT, write_bundle
from audit.core import verify
from audit.models import Verification
from audit.report import Report
from audit.views_of_ledger import (
    DatabasePayloads,
    checkpoint_notes,
    entry_lines,
    key_records,
    ledger_view,
    prefix,
)
from audit.witness_claims import witness_claims
from kernel.errors import InvalidInput
from ledger import jobs, selectors, services
from ledger.models import Checkpoint, Entry
from ledger.protocol.format import format_time
from operators import authz
from operators.capabilities import AUDIT_KINDS
from operators.models import Participant
from policy.visibility import PayloadPolicy

RUN_VERIFICATION = "audit.tasks.run_verification"


@dataclass(frozen=True)
class Range:
    first: int
    last: int


def _range(first: int | None, last: int | None) -> Range:
    size = selectors.size()
    if size == 0:
        raise InvalidInput("to", _("the ledger is empty"))
    start = 0 if first is None else first
    end = size - 1 if last is None else last
    if not 0 <= start < size:
        raise InvalidInput("from", _("must be a seq from 0 to %(last)s"), last=size - 1)
    if not start <= end < size:
        raise InvalidInput("to", _("must be a seq from %(first)s to %(last)s"), first=start,
                           last=size - 1)
    return Range(start, end)


def _auditor(code: str | None) -> Participant | None:
    if code is None:
        return None
    found = Participant.objects.filter(code=code.upper()).first()
    if found is None:
        raise InvalidInput("as", _("no participant %(code)s"), code=code)

    return found


def verify_range(*, first: int | None = None, last: int | None = None,
                 workers: int | None = None, progress: Callable[[int], None] | None = None,
                 ) -> tuple[Range, Report]:
    """Run the verification core over entries first..last of the live database, with every
    row derived from them (columns, Merkle nodes, key cache). A range that runs to the
    newest entry is also held against every checkpoint and every witness's newest
    cosignature: entries missing at the end are a failure, entries not yet sealed are not."""
    span = _range(first, last)
    to_tail = span.last == selectors.size() - 1
    claims = witness_claims() if to_tail else []
    report = verify(ledger_view(span.first, span.last, to_tail=to_tail, claims=claims),
                    workers=workers, progress=progress)
    return span, report


def attest(*, span: Range, report: Report, actor: Participant | None) -> Entry:
    """Record a clean verification as ``audit.verification.completed``."""
    size = span.last + 1
    payload = {
        "from": span.first, "to": span.last, "tree_size": size,
        "root": selectors.root(size).hex(), "entries": report.entries,
        "checkpoints": report.checkpoints, "ok": report.ok, "failures": len(report.failures),
        "verified_at": format_time(datetime.now(UTC)),
    }
    with transaction.atomic():
        return services.record(actor=actor.code if actor else services.origin(),
                               kind="audit.verification.completed",
                               subject=f"audit/verification/{span.first}-{span.last}",
                               payload=payload)


def verify_ledger(*, first: int | None = None, last: int | None = None,
                  workers: int | None = None, as_code: str | None = None,
                  progress: Callable[[int], None] | None = None,
                  ) -> tuple[Range, Report, Entry | None]:
    """Verify and, if clean, attest (signed by ``as_code``'s key, else the ledger's)."""
    actor = _auditor(as_code)
    span, report = verify_range(first=first, last=last, workers=workers, progress=progress)
    entry = attest(span=span, report=report, actor=actor) if report.ok else None
    return span, report, entry


# --- verification runs from the portal and the API ----------------------------------------


def start_verification(*, by: authz.User, first: int | None = None,
                       last: int | None = None) -> Verification:
    """Queue a verification run (a Celery task; eager in the embedded default)."""
    actor = authz.acting_for(by, kinds=AUDIT_KINDS)
    span = _range(first, last)
    run = Verification.objects.create(requested_by_id=by.pk, acting_for=actor.code,
                                      first=span.first, last=span.last,
                                      total=span.last - span.first + 1)
    jobs.after_commit(RUN_VERIFICATION, run.pk)
    return run


def run_verification(verification_id: int) -> Verification:
    """Carry out a queued run, saving progress as chunks finish."""
    run = Verification.objects.get(pk=verification_id)
    if run.state in (Verification.State.PASSED, Verification.State.FAILED):
        return run
    Verification.objects.filter(pk=run.pk).update(state=Verification.State.RUNNING)

    def progress(count: int) -> None:
        run.done += count
        Verification.objects.filter(pk=run.pk).update(done=run.done)

    span, report, entry = verify_ledger(first=run.first, last=run.last,
                                        as_code=run.acting_for or None, progress=progress,
                                        workers=min(2, os.cpu_count() or 1))
    run.state = Verification.State.PASSED if report.ok else Verification.State.FAILED
    run.report = report.to_json()
    run.done = run.total
    run.entry_seq = entry.seq if entry else None
    run.finished = datetime.now(UTC)
    run.save()
    return run


# --- bundles --------------------------------------------------------------------------------


def _covering_end(last: int) -> int:
    """The bundle's last seq: ``last`` itself if a checkpoint covers exactly it, else the
    end of the next checkpoint (sealing one of the current tree when none is later)."""
    covering = Checkpoint.objects.filter(size__gt=last).order_by("size").first()
    if covering is None:
        covering = services.seal_checkpoint()
    if covering is None or covering.size <= last:
        raise InvalidInput("to", _("no checkpoint covers this range yet"))
    return covering.size - 1


def export_bundle(target: str | os.PathLike[str] | IO[bytes], *, first: int | None = None,
                  last: int | None = None, as_code: str | None = None) -> dict[str, Any]:
    """Write an audit bundle (ZIP) of entries first..last; returns its manifest.

    With ``as_code`` the payloads that participant may not read are left out (their
    entries stay verifiable); erased payloads are never written, nor their salts. The payloads
    of the ledger's own kinds (key registry, redactions) are always written. The range is
    extended to end where a checkpoint ends, so the bundle proves what it holds with a signed
    tree head of exactly its size.
    """
    reader = _auditor(as_code)
    span = _range(first, last)
    end = _covering_end(span.last)
    readable = None
    if reader is not None:
        policy = PayloadPolicy(reader)

        def readable(row: Any) -> bool:
            return policy.readable(kind=row.entry.kind, actor=row.entry.actor,
                                   subject=row.entry.subject, restricted=row.restricted)
    manifest = {
        "format": FORMAT, "ledger": services.origin(), "from": span.first, "to": end,
        "exported_at": format_time(datetime.now(UTC)),
        "exported_for": reader.code if reader else None,
    }
    head = prefix(span.first)
    payloads = DatabasePayloads(readable)

    def payload_rows() -> Any:
        step = 2000
        for start in range(span.first, end + 1, step):
            found = payloads.get_many(list(range(start, min(end, start + step - 1) + 1)))
            yield from sorted(found.items())

    write_bundle(
        target, manifest=manifest,
        prefix={"size": head.size, "subtrees": list(head.subtrees), "last": head.last},
        entries=entry_lines(span.first, end), payloads=payload_rows(),
        checkpoints=checkpoint_notes(span.first, end), keys=key_records(span.first),
    )
    return manifest


def bundle_reader(*, by: authz.User) -> str:
    """The participant code a portal or API download is exported for: auditors, regulators
    and the data authority may download bundles (with every payload they may read)."""
    return authz.acting_for(by, kinds=AUDIT_KINDS).code
