"""Checkpoints as C2SP signed notes, signed with SM2 (see docs/ledger-format.md).

A checkpoint body is ``<origin>\\n<size>\\n<base64 root>\\n``; the note is the body, a blank
line, then one line per signature: ``\\u2014 <name> <base64(blob)>``.

* The ledger's line comes first: blob = key hint (first 4 bytes of the raw key id) ||
  DER SM2 signature over the body bytes.
* A witness cosignature (C2SP tlog-cosignature layout with SM2): blob = hint ||
  timestamp (8 bytes, big-endian seconds) || DER SM2 signature over
  ``cosignature/v1\\ntime <timestamp>\\n`` followed by the body bytes.

Pure functions; no Django.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from crypto.sm2 import PrivateKey, PublicKey

DASH = "\u2014"
_NAME_RE = re.compile(r"^[^\s+]+\Z")
_ORIGIN_RE = re.compile(r"^[^\s]+\Z")
MAX_NOTE = 64 * 1024


class NoteError(ValueError):
    """Text that is not a well-formed checkpoint note."""


@dataclass(frozen=True)
class Signature:
    name: str
    blob: bytes

    @property
    def hint(self) -> bytes:
        return self.blob[:4]

    def line(self) -> str:
        return f"{DASH} {self.name} {base64.b64encode(self.blob).decode('ascii')}"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    signatures: tuple[Signature, ...] = field(default=())

    @property
    def body(self) -> bytes:
        return body(self.origin, self.size, self.root)

    def text(self) -> str:
        lines = "".join(sig.line() + "\n" for sig in self.signatures)
        return self.body.decode("utf-8") + "\n" + lines


def body(origin: str, size: int, root: bytes) -> bytes:
    if not _ORIGIN_RE.match(origin):
        raise NoteError("origin must be one word with no white space")
    if size < 0 or len(root) != 32:
        raise NoteError("size must be >= 0 and root 32 bytes")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n".encode()


def key_hint(key_id: str) -> bytes:
    """The 4-byte hint: the first 4 bytes of the raw (binary) key id."""
    return bytes.fromhex(key_id)[:4]


def sign(origin: str, size: int, root: bytes, name: str, key: PrivateKey) -> Signature:
    """The ledger's signature line over a checkpoint body."""
    if not _NAME_RE.match(name):
        raise NoteError("signer name must be one word with no '+' or white space")
    data = body(origin, size, root)
    return Signature(name, key_hint(key.public_key.key_id) + key.sign(data))


def cosignature_message(checkpoint_body: bytes, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_body


def cosign(checkpoint_body: bytes, name: str, key: PrivateKey, timestamp: int) -> Signature:
    """A witness's timestamped cosignature over a checkpoint body."""
    if not _NAME_RE.match(name):
        raise NoteError("witness name must be one word with no '+' or white space")
    sig = key.sign(cosignature_message(checkpoint_body, timestamp))
    return Signature(name, key_hint(key.public_key.key_id) + timestamp.to_bytes(8, "big") + sig)


def verify_signature(checkpoint_body: bytes, sig: Signature, key: PublicKey) -> bool:
    """Does a ledger signature line verify with ``key`` (hint and SM2 signature)?"""
    return sig.hint == key_hint(key.key_id) and key.verify(sig.blob[4:], checkpoint_body)


def cosignature_time(sig: Signature) -> int:
    if len(sig.blob) < 12:
        raise NoteError("cosignature blob is too short for hint and timestamp")
    return int.from_bytes(sig.blob[4:12], "big")


def verify_cosignature(checkpoint_body: bytes, sig: Signature, key: PublicKey) -> bool:
    """Does a witness cosignature line verify with ``key``?"""
    if sig.hint != key_hint(key.key_id) or len(sig.blob) < 12:
        return False
    timestamp = cosignature_time(sig)
    return key.verify(sig.blob[12:], cosignature_message(checkpoint_body, timestamp))


def parse(text: str) -> Checkpoint:
    """Parse a signed note into its checkpoint and signature lines; NoteError if malformed."""
    if not isinstance(text, str) or len(text) > MAX_NOTE:
        raise NoteError("a note is text of at most 64 KiB")
    head, sep, tail = text.partition("\n\n")
    if not sep:
        raise NoteError("a note needs a blank line between body and signatures")
    lines = head.split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint body has origin, size and root lines")
    origin, size_text, root_text = lines[:3]
    if not _ORIGIN_RE.match(origin):
        raise NoteError("checkpoint origin line is empty or has white space")
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text):
        raise NoteError("checkpoint size is not a decimal number without leading zeros")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise NoteError("checkpoint root is not base64") from None
    if len(root) != 32:
        raise NoteError("checkpoint root is not 32 bytes")
    if len(lines) > 3:
        raise NoteError("extension lines are not used by this ledger")
    if not tail.endswith("\n"):
        raise NoteError("the note must end with a newline")
    signatures = []
    for line in tail[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or not _NAME_RE.match(parts[1]):
            raise NoteError(f"malformed signature line {line[:80]!r}")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            raise NoteError(f"signature of {parts[1]!r} is not base64") from None
        if len(blob) < 5:
            raise NoteError(f"signature of {parts[1]!r} is too short")
        signatures.append(Signature(parts[1], blob))
    if not signatures:
        raise NoteError("a note needs at least one signature line")
    return Checkpoint(origin, int(size_text), root, tuple(signatures))
