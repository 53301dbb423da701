"""``python -m crypto``: SM2 keys and signatures, SM3 digests, key ids, for auditors.

    keygen --out KEY.pem --pub PUB.pem [--password-env VAR]
    sign   --key KEY.pem [--password-env VAR] [--id ID] FILE      prints base64 DER signature
    verify --pub PUB.pem --sig BASE64 [--id ID] FILE              exit 0 valid, 1 invalid
    sm3    FILE...                                                 like sha256sum; - is stdin
    keyid  PUB.pem                                                 lowercase hex SM3 of DER SPKI

Signatures are what ``openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:ID`` makes.
Bad input (unreadable file, not an SM2 key, bad base64, ...) gets one line on stderr and
exit status 2.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from crypto import sm3
from crypto.errors import CryptoError
from crypto.sm2 import DEFAULT_ID, PrivateKey, PublicKey, parse_der_signature

PROG = "python -m crypto"
EXIT_INVALID = 1
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Input the command cannot use; reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None


def _password(var: str | None) -> bytes | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise BadInput(f"environment variable {var} (--password-env) is not set or empty")
    return os.fsencode(value)


def _distid(value: str | None) -> bytes:
    return DEFAULT_ID if value is None else os.fsencode(value)


def _write_new(path: str, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise BadInput(f"{path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise BadInput(f"cannot create {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as stream:
        stream.write(data)


def cmd_keygen(args: argparse.Namespace) -> int:
    password = _password(args.password_env)
    if os.path.exists(args.pub):
        raise BadInput(f"{args.pub} already exists; refusing to overwrite it")
    key = PrivateKey.generate()
    _write_new(args.out, key.to_pem(password), 0o600)
    try:
        _write_new(args.pub, key.public_key.pem.encode("ascii"), 0o644)
    except BadInput:
        os.unlink(args.out)  # leave nothing half-written
        raise
    print(key.public_key.key_id)
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    key = PrivateKey.from_pem(_read(args.key), password=_password(args.password_env))
    message = _read(args.file)
    print(base64.b64encode(key.sign(message, _distid(args.id))).decode("ascii"))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    key = PublicKey.from_pem(_read(args.pub))
    try:
        signature = base64.b64decode(args.sig.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadInput("--sig is not valid base64") from None
    message = _read(args.file)
    try:
        parse_der_signature(signature)
    except CryptoError as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if key.verify(signature, message, _distid(args.id)):
        print(f"OK: valid SM2 signature of {args.file} by key {key.key_id}")
        return 0
    print(f"INVALID: not a signature of {args.file} by key {key.key_id}"
          f" with ID {_distid(args.id)!r}", file=sys.stderr)
    return EXIT_INVALID


def cmd_sm3(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            digest = sm3.sm3_stream(sys.stdin.buffer) if path == "-" else sm3.sm3_file(path)
        except OSError as exc:
            print(f"{PROG}: error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(f"{digest}  {path}")
    return status


def cmd_keyid(args: argparse.Namespace) -> int:
    print(PublicKey.from_pem(_read(args.pub)).key_id)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="SM2 / SM3 tools for Shulian keys and signatures.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    id_help = f"SM2 distinguishing ID (default {DEFAULT_ID.decode()})"
    password_help = "read the private key's passphrase from this environment variable"

    keygen = commands.add_parser("keygen", help="make a new SM2 key pair")
    keygen.add_argument("--out", required=True, help="private key file to create (PKCS#8 PEM)")
    keygen.add_argument("--pub", required=True, help="public key file to create (SPKI PEM)")
    keygen.add_argument("--password-env", metavar="VAR", help="encrypt the key; " + password_help)
    keygen.set_defaults(handler=cmd_keygen)

    sign = commands.add_parser("sign", help="print the base64 DER SM2 signature of FILE")
    sign.add_argument("--key", required=True, help="private key (PEM)")
    sign.add_argument("--password-env", metavar="VAR", help=password_help)
    sign.add_argument("--id", help=id_help)
    sign.add_argument("file", metavar="FILE", help="file to sign (- for stdin)")
    sign.set_defaults(handler=cmd_sign)

    verify = commands.add_parser("verify", help="check a signature; exit 0 valid, 1 invalid")
    verify.add_argument("--pub", required=True, help="public key (PEM)")
    verify.add_argument("--sig", required=True, metavar="BASE64", help="DER signature, base64")
    verify.add_argument("--id", help=id_help)
    verify.add_argument("file", metavar="FILE", help="signed file (- for stdin)")
    verify.set_defaults(handler=cmd_verify)

    digest = commands.add_parser("sm3", help="print SM3 digests like sha256sum")
    digest.add_argument("files", metavar="FILE", nargs="+", help="files to hash (- for stdin)")
    digest.set_defaults(handler=cmd_sm3)

    keyid = commands.add_parser("keyid", help="print a public key's id (hex SM3 of DER SPKI)")
    keyid.add_argument("pub", metavar="PUB.pem", help="public key (PEM)")
    keyid.set_defaults(handler=cmd_keyid)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except (BadInput, CryptoError) as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return status


if __name__ == "__main__":
    sys.exit(main())
