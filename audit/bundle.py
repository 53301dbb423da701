"""The audit bundle (``shulian-bundle/2``): one ZIP an auditor carries away.

Members (see docs/ledger-format.md): ``manifest.json``, ``prefix.json``, ``entries.jsonl``,
``payloads.jsonl``, ``checkpoints.jsonl``, ``keys.jsonl``. JSON members are written as
canonical JSON (RFC 8785); every JSONL line ends with ``\\n`` and none is blank.

:func:`read_bundle` checks the structure and raises :class:`BundleError` for anything that
is not a bundle: not a ZIP, missing or unexpected members, invalid JSON (naming member and
line), over-long lines, a member or total size beyond the limits (zip bombs), records with
the wrong fields. Entry lines are NOT parsed here: they are the core's job, so a corrupt
entry is a verification failure at its seq, not a broken bundle. Entry lines are streamed
from the ZIP when verifying, so a large bundle is never held in memory twice.

No Django.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from audit.core import verify
from audit.report import Report
from audit.view import LedgerView, Prefix, Stored
from crypto.canonical import canonical, parse
from crypto.errors import CanonicalizationError
from crypto.sm2 import PublicKey
from ledger.protocol.checkpoints import WitnessKey
from ledger.protocol.format import is_hex64
from ledger.protocol.keystate import STATE_FIELDS
from ledger.protocol.rules import Code

FORMAT = "shulian-bundle/2"
PAYLOAD_FIELDS = frozenset({"seq", "salt", "payload"})
MANIFEST_FIELDS = frozenset({"format", "ledger", "from", "to", "exported_at", "exported_for"})
PREFIX_FIELDS = frozenset({"size", "subtrees", "last"})
MEMBERS = (
    "manifest.json",
    "prefix.json",
    "entries.jsonl",
    "payloads.jsonl",
    "checkpoints.jsonl",
    "keys.jsonl",
)
MAX_LINE = 16 * 1024 * 1024
MAX_TOTAL = 8 * 1024 * 1024 * 1024
_READ = 1024 * 1024
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)

Target = str | os.PathLike[str] | IO[bytes]


class BundleError(ValueError):
    """The file is not a well-formed shulian-bundle/2; the message says where and why."""


# --- writing ----------------------------------------------------------------------------


def _json_member(zf: zipfile.ZipFile, name: str, value: Any) -> None:
    info = zipfile.ZipInfo(name, _FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, canonical(value) + b"\n")


def _lines_member(zf: zipfile.ZipFile, name: str, lines: Iterable[bytes]) -> None:
    info = zipfile.ZipInfo(name, _FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as out:
        for line in lines:
            if not line or b"\n" in line:
                raise ValueError(f"{name}: a line must be non-empty and have no newline")
            out.write(line + b"\n")


def _exact(record: Mapping[str, Any], fields: frozenset[str], what: str) -> dict[str, Any]:
    if record.keys() != fields:
        missing, extra = sorted(fields - record.keys()), sorted(record.keys() - fields)
        raise ValueError(f"{what}: wrong fields (missing {missing}, unexpected {extra})")
    return dict(record)


def write_bundle(
    target: Target,
    *,
    manifest: Mapping[str, Any],
    prefix: Mapping[str, Any],
    entries: Iterable[bytes],
    payloads: Iterable[tuple[int, Stored]],
    checkpoints: Iterable[str],
    keys: Iterable[Mapping[str, Any]],
) -> None:
    """Write a bundle ZIP to a path or a binary file. Entries are their canonical bytes,
    payloads (seq, salt and payload) those the reader may see and that are not erased.

    Records with the wrong fields raise ValueError before anything is written; a path is
    written under a temporary name and renamed at the end, so a failure leaves nothing.
    """
    head = _exact(manifest, MANIFEST_FIELDS, "manifest")
    if head["format"] != FORMAT:
        raise ValueError(f"manifest: format must be {FORMAT!r}")
    start = _exact(prefix, PREFIX_FIELDS, "prefix")
    records = [_exact(key, STATE_FIELDS, f"key record #{n}") for n, key in enumerate(keys, 1)]
    if not isinstance(target, str | os.PathLike):
        _write(target, head, start, entries, payloads, checkpoints, records)
        return
    partial = f"{os.fspath(target)}.partial"
    try:
        with open(partial, "wb") as out:
            _write(out, head, start, entries, payloads, checkpoints, records)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _write(
    target: IO[bytes], manifest: dict[str, Any], prefix: dict[str, Any],
    entries: Iterable[bytes], payloads: Iterable[tuple[int, Stored]],
    checkpoints: Iterable[str], keys: list[dict[str, Any]],
) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        _json_member(zf, "manifest.json", manifest)
        _json_member(zf, "prefix.json", prefix)
        _lines_member(zf, "entries.jsonl", entries)
        _lines_member(
            zf, "payloads.jsonl",
            (canonical({"seq": seq, "salt": stored.salt, "payload": stored.payload})
             for seq, stored in payloads),
        )
        _lines_member(zf, "checkpoints.jsonl", (canonical({"note": n}) for n in checkpoints))
        _lines_member(zf, "keys.jsonl", (canonical(key) for key in keys))


# --- reading ----------------------------------------------------------------------------


@dataclass
class Bundle:
    """A structurally valid bundle. ``entries`` streams the entry lines from the ZIP."""

    manifest: dict[str, Any]
    prefix: Prefix
    entries: EntryLines
    payloads: dict[int, Stored]
    checkpoints: list[str]
    keys: list[dict[str, Any]] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return str(self.manifest["ledger"])

    def view(self) -> LedgerView:
        return LedgerView(
            origin=self.origin,
            prefix=self.prefix,
            entries=self.entries,
            payloads=self.payloads,
            checkpoints=self.checkpoints,
            keys=self.keys,
            count=len(self.entries),
        )


class EntryLines:
    """The lines of entries.jsonl, without their newlines; iterable any number of times."""

    def __init__(self, source: str | bytes, count: int) -> None:
        self._source = source
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes]:
        source = io.BytesIO(self._source) if isinstance(self._source, bytes) else self._source
        with zipfile.ZipFile(source) as zf:
            for _, line in _lines(zf, "entries.jsonl", _Budget()):
                yield line


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale and count % scale == 0:
            return f"{count // scale} {unit}"
    return f"{count} bytes"


class _Budget:
    """Uncompressed bytes read so far, refused beyond MAX_TOTAL (zip bombs)."""

    def __init__(self) -> None:
        self.left = MAX_TOTAL

    def take(self, count: int, member: str) -> None:
        self.left -= count
        if self.left < 0:
            raise BundleError(f"{member}: the bundle is larger than the {_size(MAX_TOTAL)} "
                              "limit uncompressed")


def _split(stream: IO[bytes], member: str, budget: _Budget) -> Iterator[bytes]:
    """Lines with their newline (the last one possibly without), read 1 MiB at a time."""
    carry = b""
    while chunk := stream.read(_READ):
        budget.take(len(chunk), member)
        *complete, carry = (carry + chunk).split(b"\n")
        for line in complete:
            yield line + b"\n"
        if len(carry) > MAX_LINE:
            yield carry
            return
    if carry:
        yield carry


def _lines(zf: zipfile.ZipFile, member: str, budget: _Budget) -> Iterator[tuple[int, bytes]]:
    """(line number, line without newline) of a JSONL member, enforcing the line rules."""
    try:
        with zf.open(member) as stream:
            for number, line in enumerate(_split(stream, member, budget), 1):
                if len(line) > MAX_LINE + 1 or (len(line) > MAX_LINE and line[-1:] != b"\n"):
                    raise BundleError(f"{member} line {number}: longer than the "
                                      f"{_size(MAX_LINE)} line limit")
                if not line.endswith(b"\n"):
                    raise BundleError(f"{member} line {number}: the last line does not end "
                                      "with a newline")
                if line == b"\n":
                    raise BundleError(f"{member} line {number}: blank lines are not allowed")
                yield number, line[:-1]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        raise BundleError(f"{member}: cannot be read from the ZIP ({exc})") from None


def _json(data: bytes, where: str) -> Any:
    try:
        return parse(data)
    except CanonicalizationError as exc:
        raise BundleError(f"{where}: invalid JSON ({exc.reason})") from None


def _record(data: bytes, where: str, fields: frozenset[str]) -> dict[str, Any]:
    value = _json(data, where)
    if not isinstance(value, dict):
        raise BundleError(f"{where}: must be a JSON object")
    if value.keys() != fields:
        missing, extra = sorted(fields - value.keys()), sorted(value.keys() - fields)
        raise BundleError(f"{where}: wrong fields (missing {missing}, unexpected {extra})")
    return value


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _open(path: str | os.PathLike[str] | bytes) -> zipfile.ZipFile:
    source: Any = io.BytesIO(path) if isinstance(path, bytes) else path
    try:
        zf = zipfile.ZipFile(source)
    except FileNotFoundError:
        raise BundleError(f"{path!s}: no such file") from None
    except IsADirectoryError:
        raise BundleError(f"{path!s}: is a directory, not a bundle") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise BundleError(f"not a ZIP file, so not a {FORMAT}") from None
    return zf


def _check_members(zf: zipfile.ZipFile) -> None:
    names = [info.filename for info in zf.infolist()]
    missing = [name for name in MEMBERS if name not in names]
    if missing:
        raise BundleError(f"not a complete bundle: member {', '.join(missing)} is missing")
    if len(set(names)) != len(names):
        raise BundleError("a member appears more than once in the ZIP")
    unexpected = sorted(set(names) - set(MEMBERS))
    if unexpected:
        raise BundleError(f"not a {FORMAT}: unexpected member {', '.join(unexpected)}")
    declared = sum(info.file_size for info in zf.infolist())
    if declared > MAX_TOTAL:
        raise BundleError(f"the members declare {declared} bytes uncompressed, beyond the "
                          f"{_size(MAX_TOTAL)} limit")


def _single(zf: zipfile.ZipFile, member: str, fields: frozenset[str], budget: _Budget) -> Any:
    lines = _lines(zf, member, budget)
    records = [_record(line, f"{member} line {n}", fields) for n, line in lines]
    if len(records) != 1:
        raise BundleError(f"{member}: must hold exactly one JSON object")
    return records[0]


def _manifest(zf: zipfile.ZipFile, budget: _Budget) -> dict[str, Any]:
    manifest: dict[str, Any] = _single(zf, "manifest.json", MANIFEST_FIELDS, budget)
    if manifest["format"] != FORMAT:
        raise BundleError(f"manifest.json: format is {manifest['format']!r}, not {FORMAT!r}")
    if not isinstance(manifest["ledger"], str) or not manifest["ledger"]:
        raise BundleError("manifest.json: ledger must be the origin, a non-empty string")
    if not (_is_index(manifest["from"]) and _is_index(manifest["to"])):
        raise BundleError("manifest.json: from and to must be non-negative integers")
    if not isinstance(manifest["exported_at"], str):
        raise BundleError("manifest.json: exported_at must be a time string")
    if manifest["exported_for"] is not None and not isinstance(manifest["exported_for"], str):
        raise BundleError("manifest.json: exported_for must be a participant code or null")
    return manifest


def _prefix(zf: zipfile.ZipFile, budget: _Budget, manifest: dict[str, Any]) -> Prefix:
    data = _single(zf, "prefix.json", PREFIX_FIELDS, budget)
    if not _is_index(data["size"]):
        raise BundleError("prefix.json: size must be a non-negative integer")
    if data["size"] != manifest["from"]:
        raise BundleError(f"prefix.json: size {data['size']} is not manifest.from "
                          f"{manifest['from']}")
    subtrees = data["subtrees"]
    if not isinstance(subtrees, list) or not all(is_hex64(s) for s in subtrees):
        raise BundleError("prefix.json: subtrees must be a list of 64-character hex hashes")
    last = data["last"]
    if (last is None) != (data["size"] == 0) or (last is not None and not is_hex64(last)):
        raise BundleError("prefix.json: last must be a 64-character hex leaf hash, "
                          "null exactly when size is 0")
    return Prefix(data["size"], tuple(subtrees), last)


def _payloads(zf: zipfile.ZipFile, budget: _Budget) -> dict[int, Stored]:
    payloads: dict[int, Stored] = {}
    for number, line in _lines(zf, "payloads.jsonl", budget):
        where = f"payloads.jsonl line {number}"
        record = _record(line, where, PAYLOAD_FIELDS)
        if not _is_index(record["seq"]):
            raise BundleError(f"{where}: seq must be a non-negative integer")
        if record["seq"] in payloads:
            raise BundleError(f"{where}: a second payload for seq {record['seq']}")
        payloads[record["seq"]] = Stored(record["salt"], record["payload"])
    return payloads


def _checkpoints(zf: zipfile.ZipFile, budget: _Budget) -> list[str]:
    found = []
    for number, line in _lines(zf, "checkpoints.jsonl", budget):
        where = f"checkpoints.jsonl line {number}"
        note = _record(line, where, frozenset({"note"}))["note"]
        if not isinstance(note, str):
            raise BundleError(f"{where}: note must be a string")
        found.append(note)
    return found


def _keys(zf: zipfile.ZipFile, budget: _Budget) -> list[dict[str, Any]]:
    return [
        _record(line, f"keys.jsonl line {number}", STATE_FIELDS)
        for number, line in _lines(zf, "keys.jsonl", budget)
    ]


def _count_entries(zf: zipfile.ZipFile, budget: _Budget) -> int:
    return sum(1 for _ in _lines(zf, "entries.jsonl", budget))


def read_bundle(path: str | os.PathLike[str] | bytes) -> Bundle:
    """Read and structure-check a bundle (path, or the ZIP's bytes); BundleError otherwise."""
    with _open(path) as zf:
        _check_members(zf)
        budget = _Budget()
        manifest = _manifest(zf, budget)
        prefix = _prefix(zf, budget, manifest)
        count = _count_entries(zf, budget)
        payloads = _payloads(zf, budget)
        checkpoints = _checkpoints(zf, budget)
        keys = _keys(zf, budget)
    source = path if isinstance(path, bytes) else os.fspath(path)
    return Bundle(manifest, prefix, EntryLines(source, count), payloads, checkpoints, keys)


def verify_bundle(
    bundle: Bundle,
    *,
    ledger_key: PublicKey | str | None = None,
    witnesses: Sequence[WitnessKey] | None = None,
    k: int | None = None,
    workers: int | None = None,
    progress: Any = None,
) -> Report:
    """The core's report on the bundle, plus whether the manifest's range matches it."""
    report = verify(bundle.view(), ledger_key=ledger_key, witnesses=witnesses, k=k,
                    workers=workers, progress=progress)
    to = bundle.manifest["to"]
    if report.last is not None and report.last != to:
        report.fail(None, f"the manifest says the bundle ends at seq {to}, but its last entry "
                    f"is seq {report.last}", Code.RANGE)
    return report
