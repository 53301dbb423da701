"""The right to erasure on the append-only ledger, end to end: a citizen files an objection
with personal details and asks for their erasure, the provider approves. Afterwards the
payloads and salts are gone from the database (raw SQL over every table shows it), every
entry and proof still verifies online and offline, a bundle exported afterwards has no
trace of the text, and re-hashing guesses of the text against the entry's commitment
cannot confirm any of them."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from audit import services as audit
from contracts import erasure, objections
from contracts.models import Objection
from crypto.sm3 import sm3_hex
from ledger import inspection
from ledger import selectors as ledger_reads
from ledger.models import Entry
from ledger.protocol.format import commit, payload_bytes
from tests.contracts import world as w

pytestmark = pytest.mark.django_db
DESCRIPTION = "本人林晓红（身份证号350102198806061234）的住址被登记为台江区，实为鼓楼区。"
SECRETS = ["林晓红", "350102198806061234", "13906061234", "xiaohong.lin@example.com"]
CONTACT = {"name": "林晓红", "phone": "13906061234", "email": "xiaohong.lin@example.com"}


def every_row() -> str:
    """Every row of every table, as text (raw SQL, not the ORM)."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                dump.append(repr([bytes(v).decode("utf-8", "replace")
                                  if isinstance(v, bytes | memoryview) else v for v in row]))
    return "\n".join(dump)


def traces(text: str) -> list[str]:
    """The secrets found in ``text``, as UTF-8 or as JSON \\u escapes."""
    found = []
    for secret in SECRETS:
        escaped = json.dumps(secret)[1:-1]
        if secret in text or escaped in text:
            found.append(secret)
    return found


def all_salts(text: str) -> set[bytes]:
    """Every base64 string of 16 bytes that occurs in ``text``."""
    salts = set()
    for candidate in re.findall(r"[A-Za-z0-9+/]{22}==", text):
        salts.add(base64.b64decode(candidate))
    return salts


def test_erased_personal_details_leave_no_trace_and_every_proof_holds(
        world: w.World, tmp_path: Path) -> None:
    filed = objections.file_objection(by=world.subject_user, resource=world.unconditional,
                                      ground="accuracy", description=DESCRIPTION,
                                      contact=CONTACT)
    targets = list(Entry.objects.filter(subject=f"contracts/objection/{filed.pk}")
                   .order_by("seq"))
    assert [e.kind for e in targets] == ["contracts.objection.filed",
                                         "contracts.objection.contact"]
    # What a guesser would try: the exact payloads (known here, before the erasure).
    guesses = {}
    for entry in targets:
        stored = ledger_reads.payload(entry.seq)
        assert stored is not None
        guesses[entry.seq] = stored.payload
        commitment = ledger_reads.statement(entry)["payload"]
        # control: with the salt, the guess is confirmed
        assert commit(base64.b64decode(stored.salt), stored.payload) == commitment
    assert traces(every_row()) == SECRETS

    (made,) = erasure.request_erasure(by=world.subject_user, ground="consent",
                                      reason="异议已处理完毕")
    assert sorted(t.entry_id for t in made.targets.all()) == [e.seq for e in targets]
    erasure.approve_erasure(by=world.provider_user, request=made)

    # 1. gone from the database: the payload rows are empty, nothing else holds the text
    with connection.cursor() as cursor:
        cursor.execute("SELECT entry_id, data, salt FROM ledger_payload WHERE entry_id IN "
                       f"({', '.join(str(e.seq) for e in targets)}) ORDER BY entry_id")
        assert cursor.fetchall() == [(e.seq, "", "") for e in targets]
    dump = every_row()
    assert traces(dump) == []
    assert Objection.objects.get(pk=filed.pk).description == ""

    # 2. every entry and proof still verifies online, the erasures reported
    span, report, _ = audit.verify_ledger()
    assert report.ok, [f.line() for f in report.failures]
    redactions = {e.seq: e for e in targets}
    assert set(redactions) <= set(report.redacted)
    for entry in targets:
        check = inspection.check_entry(entry.seq)
        assert check.verified, check.problems
        assert ledger_reads.statement(entry)["payload"] == entry.commitment

    # 3. a bundle exported afterwards has no trace, and verifies offline
    bundle = tmp_path / "after.zip"
    audit.export_bundle(bundle)
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name).decode() for name in archive.namelist()}
    assert all(traces(text) == [] for text in members.values())
    lines = [json.loads(line) for line in members["payloads.jsonl"].splitlines()]
    assert not {line["seq"] for line in lines} & set(redactions)
    checked = subprocess.run([sys.executable, "-m", "audit.offline", "verify", str(bundle)],
                             cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for entry in targets:
        by = report.redacted[entry.seq]
        assert (f"seq {entry.seq}: payload erased under {made.basis}, entry {by} (the entry "
                "itself verified)" in checked.stdout.splitlines())

    # 4. guesses cannot be confirmed: no salt is left to hash them with
    salts = all_salts(dump) | all_salts("\n".join(members.values())) | {bytes(16)}
    for seq, payload in guesses.items():
        commitment = Entry.objects.get(seq=seq).commitment
        assert sm3_hex(payload_bytes(payload)) != commitment
        assert all(commit(salt, payload) != commitment for salt in salts)


def test_a_bundle_carrying_an_erased_payload_fails_offline(world: w.World,
                                                           tmp_path: Path) -> None:
    """An export made before the erasure still carries the payload: verified against the
    ledger after it, the verifier refuses it (the erasure was ignored)."""
    filed = objections.file_objection(by=world.subject_user, resource=world.unconditional,
                                      ground="accuracy", description=DESCRIPTION,
                                      contact=CONTACT)
    contact = Entry.objects.get(kind="contracts.objection.contact",
                                subject=f"contracts/objection/{filed.pk}")
    before = io.BytesIO()
    audit.export_bundle(before)
    (made,) = erasure.request_erasure(by=world.subject_user, ground="consent",
                                      seq=contact.seq)
    erasure.approve_erasure(by=world.provider_user, request=made)
    after = tmp_path / "after.zip"
    audit.export_bundle(after)
    spliced = tmp_path / "spliced.zip"
    with zipfile.ZipFile(before) as old, zipfile.ZipFile(after) as new, \
            zipfile.ZipFile(spliced, "w") as out:
        stale = [line for line in old.read("payloads.jsonl").decode().splitlines()
                 if json.loads(line)["seq"] == contact.seq]
        for name in new.namelist():
            data = new.read(name).decode()
            if name == "payloads.jsonl":
                rows = sorted(data.splitlines() + stale, key=lambda line: json.loads(line)["seq"])
                data = "".join(row + "\n" for row in rows)
            out.writestr(name, data)
    checked = subprocess.run([sys.executable, "-m", "audit.offline", "verify", str(spliced),
                              "--json"], cwd=settings.BASE_DIR, capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 1
    report: dict[str, Any] = json.loads(checked.stdout)
    assert [(f["seq"], f["code"]) for f in report["failures"]] == [
        (contact.seq, "redaction-ignored")]
