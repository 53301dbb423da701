"""The erasure log outside the database, and erasing again after a restore: a database
restored from a backup taken before an erasure still holds the payload; the log written
afterwards names it (by seq and leaf hash), and ``reapply_erasures`` erases it again."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from contracts import erasure, objections, personal
from ledger import selectors as ledger_reads
from ledger.models import Entry
from tests.contracts import world as w

pytestmark = pytest.mark.django_db


def contact(world: w.World) -> Entry:
    filed = objections.file_objection(by=world.subject_user, resource=world.unconditional,
                                      ground="accuracy", description="电话有误",
                                      contact={"phone": "13800001111"})
    found = objections.contact_entry(filed)
    assert found is not None
    return found


def export(tmp_path: Path) -> list[dict[str, object]]:
    out = tmp_path / "erasures.jsonl"
    call_command("export_erasures", "--out", str(out), stdout=io.StringIO())
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_the_log_names_each_erasure_and_holds_no_personal_information(
        world: w.World, tmp_path: Path) -> None:
    target = contact(world)
    (made,) = erasure.request_erasure(by=world.subject_user, ground="consent", seq=target.seq)
    erasure.approve_erasure(by=world.provider_user, request=made)
    redaction = Entry.objects.get(kind="ledger.payload.redacted",
                                  subject=f"ledger/entry/{target.seq}")
    records = export(tmp_path)
    assert {"seq": target.seq, "leaf": target.leaf_hash, "basis": made.basis,
            "request": f"contracts/erasure/{made.pk}", "redaction": redaction.seq,
            "recorded": redaction.recorded.isoformat()} in records
    assert "13800001111" not in (tmp_path / "erasures.jsonl").read_text()
    out = io.StringIO()
    call_command("reapply_erasures", str(tmp_path / "erasures.jsonl"), stdout=out)
    assert "erased again: 0 []" in out.getvalue()  # nothing to do on the live database


def test_after_a_restore_the_erasures_are_applied_again(world: w.World,
                                                        tmp_path: Path) -> None:
    """The restored database holds the payload and no redaction of it; the log (written
    after the erasure, kept outside the database) says it was erased."""
    target = contact(world)
    log = tmp_path / "erasures.jsonl"
    log.write_text(json.dumps({
        "seq": target.seq, "leaf": target.leaf_hash, "basis": "PIPL art. 47(1)(iii)",
        "request": "contracts/erasure/77", "redaction": 10**6,
        "recorded": "2026-12-01T08:00:00+00:00"}) + "\n" + json.dumps({
        "seq": 10**6 + 5, "leaf": "0" * 64, "basis": "x", "request": None,
        "redaction": 10**6 + 6, "recorded": "2026-12-01T08:00:00+00:00"}) + "\n")
    seq = w.last_seq()
    out = io.StringIO()
    call_command("reapply_erasures", str(log), stdout=out)
    assert f"erased again: 1 [{target.seq}]" in out.getvalue()
    assert f"lost with the restore): [{10**6 + 5}]" in out.getvalue()
    (again,) = w.entries_after(seq)
    assert again.kind == "ledger.payload.redacted"
    assert w.payload_of(again) == {
        "seq": target.seq, "request": "contracts/erasure/77",
        "basis": f"PIPL art. 47(1)(iii); re-applied after a restore (first erased by entry "
                 f"{10**6})"}
    assert ledger_reads.payload(target.seq).erased  # type: ignore[union-attr]
    assert personal.is_erased(target.seq)


def test_a_log_of_another_ledger_is_refused_before_anything_is_erased(
        world: w.World, tmp_path: Path) -> None:
    first, second = contact(world), contact(world)
    log = tmp_path / "other.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in [
        {"seq": first.seq, "leaf": first.leaf_hash, "basis": "b", "request": None,
         "redaction": 1, "recorded": "t"},
        {"seq": second.seq, "leaf": "f" * 64, "basis": "b", "request": None,
         "redaction": 2, "recorded": "t"}]))
    seq = w.last_seq()
    with pytest.raises(CommandError, match="another ledger"):
        call_command("reapply_erasures", str(log), stdout=io.StringIO())
    assert w.last_seq() == seq
    (tmp_path / "bad.jsonl").write_text("not json\n")
    with pytest.raises(CommandError, match="line 1"):
        call_command("reapply_erasures", str(tmp_path / "bad.jsonl"), stdout=io.StringIO())
