"""``python -m audit.witness``: run a department's witness, and read its state.

    serve    --key KEY.pem [--password-env VAR] --state DIR --listen HOST:PORT
             --ledger ORIGIN --ledger-key PUB.pem [--ledger-key PUB2.pem] --name NAME [--quiet]
    status   --state DIR [--json]
    evidence --state DIR [--json]        exit 0 if there is none, 1 if there is evidence

``serve`` prints one line when it listens (with the actual port when PORT is 0) and runs
until SIGTERM or SIGINT. Bad input gets one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from audit.witness.server import Witness, make_server
from audit.witness.state import State, StateError, iso_time
from crypto.errors import CryptoError
from crypto.sm2 import PrivateKey, PublicKey
from ledger.protocol.note import NoteError

PROG = "python -m audit.witness"
EXIT_EVIDENCE = 1
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise BadInput(f"--listen {value!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _password(var: str | None) -> bytes | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise BadInput(f"environment variable {var} (--password-env) is not set or empty")
    return os.fsencode(value)


def cmd_serve(args: argparse.Namespace) -> int:
    key = PrivateKey.from_pem(_read(args.key, "witness key"), _password(args.password_env))
    ledger_keys = [PublicKey.from_pem(_read(path, "ledger key")) for path in args.ledger_key]
    host, port = _listen(args.listen)
    state = State(args.state, writer=True)
    try:
        witness = Witness(state, name=args.name, key=key, origin=args.ledger,
                          ledger_keys=ledger_keys)
        try:
            server = make_server(witness, host, port, quiet=args.quiet)
        except OSError as exc:
            raise BadInput(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None

        def stop(signum: int, frame: Any) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        bound = server.server_address[1]
        print(f"witness {args.name} (key {key.public_key.key_id}) for {args.ledger} "
              f"listening on http://{host}:{bound}", flush=True)
        with server:
            server.serve_forever(poll_interval=0.2)
    finally:
        state.close()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = State(args.state)
    try:
        status = state.status()
    finally:
        state.close()
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return 0
    print(f"witness {status['name']} (key {status['key']}) for {status['origin']}")
    if status["size"]:
        print(f"latest cosigned: size {status['size']} root {status['root']} "
              f"at {status['cosigned_at']} ({status['cosigned']} checkpoints cosigned)")
    else:
        print("latest cosigned: none yet")
    print(f"split-view evidence: {status['evidence']}")
    return 0


def cmd_evidence(args: argparse.Namespace) -> int:
    state = State(args.state)
    try:
        items = state.evidence()
    finally:
        state.close()
    if args.json:
        print(json.dumps([item.to_json() for item in items], ensure_ascii=False))
        return EXIT_EVIDENCE if items else 0
    if not items:
        print("no split-view evidence")
    for item in items:
        print(f"#{item.id} {item.kind} at {iso_time(item.received_at)}: {item.reason}")
        print(f"--- cosigned by this witness (size {item.cosigned_size}):")
        print(item.cosigned_note, end="")
        print(f"--- presented and refused (size {item.size}, old {item.old}):")
        print(item.presented_note, end="")
    return EXIT_EVIDENCE if items else 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A Shulian witness: cosigns ledger checkpoints that "
                     "extend the ones it cosigned before, and keeps split-view evidence.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the witness's HTTP service")
    serve.add_argument("--key", required=True, help="the witness's SM2 private key (PEM)")
    serve.add_argument("--password-env", metavar="VAR",
                       help="read the key's passphrase from this environment variable")
    serve.add_argument("--state", required=True, metavar="DIR", help="state directory")
    serve.add_argument("--listen", required=True, metavar="HOST:PORT",
                       help="address to listen on (port 0: any free port)")
    serve.add_argument("--ledger", required=True, metavar="ORIGIN", help="the ledger's origin")
    serve.add_argument("--ledger-key", required=True, action="append", metavar="PUB.pem",
                       help="the ledger's public key (repeat for rotated keys)")
    serve.add_argument("--name", required=True,
                       help="the witness's name in cosignature lines (one word)")
    serve.add_argument("--quiet", action="store_true", help="no access log on stderr")
    serve.set_defaults(handler=cmd_serve)

    for name, handler, text in (
        ("status", cmd_status, "print the latest cosigned checkpoint"),
        ("evidence", cmd_evidence, "print stored split-view evidence (exit 1 if any)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--state", required=True, metavar="DIR", help="state directory")
        command.add_argument("--json", action="store_true", help="one JSON document")
        command.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except (BadInput, CryptoError, StateError, NoteError) as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return status


if __name__ == "__main__":
    sys.exit(main())
