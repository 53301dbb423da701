"""The offline verifier: ``python -m audit.offline verify|prove|check-proof``.

Needs nothing but the installed package: no database, no settings, no Django.

* ``verify FILE [--json] [--workers N] [--ledger-key PUB.pem] [--witnesses FILE --k K]``
  exits 0 if the bundle is valid, 1 if not (every failure listed, one a line), 2 if the file
  is not a bundle.
* ``prove FILE --seq N [--size S]`` prints the shulian-inclusion/1 proof of entry N against
  the bundle's last checkpoint (or the one of size S).
* ``check-proof PROOF.json [--entry LINE_FILE] [--checkpoint NOTE_FILE] [--ledger-key PEM]``
  checks a proof against its embedded (or the given) entry line and checkpoint note.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from audit.bundle import Bundle, BundleError, read_bundle, verify_bundle
from audit.entries import Progress
from audit.proofs import (
    ProofError,
    RangeTree,
    check_proof,
    inclusion_keys,
    inclusion_path,
    load_proof,
    make_proof,
)
from audit.report import Report
from crypto.canonical import parse
from crypto.errors import CanonicalizationError, KeyFormatError
from crypto.sm2 import PublicKey
from ledger.protocol import note as notes
from ledger.protocol.checkpoints import Witness
from ledger.protocol.format import is_hex64, leaf_hash

EXIT_OK, EXIT_INVALID, EXIT_NOT_A_BUNDLE = 0, 1, 2


class UsageError(Exception):
    """Bad input that is not a verification result: exit 2 with a one-line message."""


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _ledger_key(path: str | None) -> PublicKey | None:
    if path is None:
        return None
    try:
        return PublicKey.from_pem(_read(path, "ledger key"))
    except KeyFormatError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _anchor(value: str | None) -> PublicKey | str | None:
    """The trust anchor: a ledger key id (64 hex characters) or a PEM file of the key."""
    if value is None or is_hex64(value):
        return value
    return _ledger_key(value)


def _witnesses(path: str | None) -> list[Witness] | None:
    """JSON lines each with at least "name" and "pem" (a keys.jsonl works as is)."""
    if path is None:
        return None
    found = []
    for number, line in enumerate(_read(path, "witnesses file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = parse(line)
            found.append(Witness(str(record["name"]), PublicKey.from_pem(record["pem"])))
        except (CanonicalizationError, KeyFormatError, KeyError, TypeError) as exc:
            raise UsageError(f"{path} line {number}: not a witness record with name and pem "
                             f"({exc})") from None
    return found


def _progress(total: int, enabled: bool) -> tuple[Progress | None, Callable[[], None]]:
    if not enabled or not (sys.stderr.isatty() and sys.stdout.isatty()):
        return None, lambda: None
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    bar = tqdm(total=total, unit="entry", desc="verifying", file=sys.stderr, leave=False)
    return bar.update, bar.close


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return
    for failure in report.failures:
        print(failure.line())
    for line in report.erasures():
        print(line)
    span = f"seq {report.first}..{report.last}" if report.last is not None else "no entries"
    if report.ok:
        print(f"OK: {report.entries} entries ({span}) and {report.checkpoints} checkpoints "
              f"verified; root {report.root}")
    else:
        print(f"INVALID: {len(report.failures)} failure(s) in {report.entries} entries ({span}) "
              f"and {report.checkpoints} checkpoints")
    for size, done in sorted(report.settled.items()):
        print(f"checkpoint {size}: {'settled' if done else 'not settled'} "
              f"(cosigned by {', '.join(report.cosigned.get(size, [])) or 'no witness'})")


def cmd_verify(args: argparse.Namespace) -> int:
    ledger_key = _anchor(args.ledger_key)
    witnesses = _witnesses(args.witnesses)
    bundle = read_bundle(args.file)
    progress, close = _progress(len(bundle.entries), not args.json)
    try:
        report = verify_bundle(bundle, ledger_key=ledger_key, witnesses=witnesses, k=args.k,
                               workers=args.workers, progress=progress)
    finally:
        close()
    _print_report(report, args.json)
    return EXIT_OK if report.ok else EXIT_INVALID


def _target_checkpoint(bundle: Bundle, size: int | None) -> tuple[notes.Checkpoint, str]:
    candidates = []
    for text in bundle.checkpoints:
        try:
            checkpoint = notes.parse(text)
        except notes.NoteError:
            continue
        if checkpoint.origin == bundle.origin and (size is None or checkpoint.size == size):
            candidates.append((checkpoint, text))
    if not candidates:
        wanted = f"of size {size}" if size is not None else "at all"
        raise UsageError(f"the bundle has no valid checkpoint {wanted}")
    return max(candidates, key=lambda item: item[0].size)


def cmd_prove(args: argparse.Namespace) -> int:
    bundle = read_bundle(args.file)
    checkpoint, text = _target_checkpoint(bundle, args.size)
    seq, size, start = args.seq, checkpoint.size, bundle.prefix.size
    if not start <= seq < size:
        print(f"error: entry {seq} is not in this bundle under the checkpoint of size {size} "
              f"(the bundle starts at seq {start})", file=sys.stderr)
        return EXIT_INVALID
    tree = RangeTree(start, [bytes.fromhex(h) for h in bundle.prefix.subtrees],
                     inclusion_keys(seq, size))
    entry = b""
    for position, line in enumerate(bundle.entries, start):
        if position == seq:
            entry = line
        tree.add(leaf_hash(line))
        if tree.size() == size:
            break
    if tree.size() < size or tree.root() != checkpoint.root:
        print(f"error: the checkpoint of size {size} does not match the bundle's entries; "
              "run verify", file=sys.stderr)
        return EXIT_INVALID
    proof = make_proof(seq=seq, entry=entry, checkpoint=text, tree_size=size,
                       root=checkpoint.root, path=inclusion_path(tree, seq, size))
    print(json.dumps(proof, indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_check_proof(args: argparse.Namespace) -> int:
    try:
        proof = load_proof(_read(args.proof, "proof"))
    except ProofError as exc:
        raise UsageError(f"{args.proof}: {exc}") from None
    entry = _read(args.entry, "entry line").removesuffix(b"\n") if args.entry else (
        proof["entry"].encode("utf-8")
    )
    note = _read(args.checkpoint, "checkpoint").decode("utf-8", "replace") if args.checkpoint \
        else proof["checkpoint"]
    key = _ledger_key(args.ledger_key)
    problems = check_proof(proof, entry=entry, checkpoint=note, ledger_key=key)
    result: dict[str, Any] = {"ok": not problems, "seq": proof["seq"],
                              "tree_size": proof["tree_size"], "signature_checked": key is not None,
                              "problems": problems}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for problem in problems:
            print(f"proof: {problem}")
        if not problems:
            print(f"OK: entry {proof['seq']} is included in the tree of size "
                  f"{proof['tree_size']} with root {proof['root']}")
            if key is None:
                print("note: the checkpoint's ledger signature was NOT checked; "
                      "pass --ledger-key PUB.pem")
    return EXIT_INVALID if problems else EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audit.offline",
                                     description="Verify a Shulian audit bundle offline.")
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="verify a bundle; exit 0 valid, 1 invalid, "
                                 "2 not a bundle")
    verify.add_argument("file")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    verify.add_argument("--ledger-key", metavar="PUB.pem|KEYID",
                        help="pin the trust anchor: the ledger key entry 0 registers (its PEM "
                        "file or its key id)")
    verify.add_argument("--witnesses", metavar="FILE",
                        help="JSON lines with name and pem of trusted witnesses")
    verify.add_argument("--k", type=int, default=None, help="cosignatures needed to settle")
    verify.set_defaults(run=cmd_verify)
    prove = commands.add_parser("prove", help="print the inclusion proof of one entry")
    prove.add_argument("file")
    prove.add_argument("--seq", type=int, required=True)
    prove.add_argument("--size", type=int, default=None,
                       help="checkpoint size to prove against (default: the largest)")
    prove.set_defaults(run=cmd_prove)
    check = commands.add_parser("check-proof", help="check a shulian-inclusion/1 proof")
    check.add_argument("proof", metavar="PROOF.json")
    check.add_argument("--entry", metavar="LINE_FILE", help="the entry line to check")
    check.add_argument("--checkpoint", metavar="NOTE_FILE", help="the checkpoint note to use")
    check.add_argument("--ledger-key", metavar="PUB.pem", help="check the note's signature")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=cmd_check_proof)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return EXIT_NOT_A_BUNDLE
    try:
        result: int = args.run(args)
    except (BundleError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_A_BUNDLE
    except KeyboardInterrupt:
        return 130
    return result
