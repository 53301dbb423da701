"""The witness wire protocol: C2SP tlog-witness ``add-checkpoint`` with SM2 notes.

Request (``POST <witness url>/add-checkpoint``, UTF-8 text)::

    old <size the client believes the witness last cosigned>\\n
    <base64 consistency proof hash>\\n          (zero to 63 lines; none when old is 0)
    \\n
    <the checkpoint note, ledger signature line included>

Responses: 200 with the witness's cosignature line(s) ``\\u2014 <name> <base64 blob>\\n``;
409 ``text/x.tlog.size`` with the witness's latest size when ``old`` is wrong; other errors
are ``text/plain`` with one line giving the reason (split views: 409 ``text/plain``
starting with ``split view``; a consistency proof that does not verify: 422).

Pure functions, no Django, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.protocol import note as notes

PATH = "/add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
MAX_PROOF = 63
MAX_BODY = 128 * 1024
SPLIT_VIEW = "split view"
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,18}")


class ProtocolError(ValueError):
    """A request or response that does not follow the protocol."""


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed ``add-checkpoint`` request."""

    old: int
    proof: tuple[bytes, ...]
    note: str
    checkpoint: notes.Checkpoint


def _size(text: str, what: str) -> int:
    if not _SIZE_RE.fullmatch(text):
        raise ProtocolError(f"{what} is not a decimal size without leading zeros")
    return int(text)


def encode_request(old: int, proof: Sequence[bytes], note: str) -> bytes:
    """The body of an ``add-checkpoint`` request."""
    if old < 0 or len(proof) > MAX_PROOF:
        raise ProtocolError("old must be >= 0 and the proof at most 63 hashes")
    lines = [f"old {old}"] + [base64.b64encode(node).decode("ascii") for node in proof]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse an ``add-checkpoint`` body; ProtocolError says what is malformed."""
    if len(body) > MAX_BODY:
        raise ProtocolError("the request body is larger than 128 KiB")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("the request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ProtocolError("no empty line between the proof and the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise ProtocolError("the first line must be 'old <size>'")
    old = _size(lines[0][4:], "old")
    if len(lines) - 1 > MAX_PROOF:
        raise ProtocolError("more than 63 consistency proof lines")
    proof = []
    for number, line in enumerate(lines[1:], 1):
        try:
            node = base64.b64decode(line, validate=True)
        except binascii.Error:
            node = b""
        if len(node) != 32:
            raise ProtocolError(f"consistency proof line {number} is not a base64 32-byte hash")
        proof.append(node)
    try:
        checkpoint = notes.parse(note)
    except notes.NoteError as exc:
        raise ProtocolError(f"the checkpoint is not a valid note: {exc}") from None
    return AddCheckpoint(old, tuple(proof), note, checkpoint)


def encode_size(size: int) -> bytes:
    """The body of a 409 ``text/x.tlog.size`` response."""
    return f"{size}\n".encode("ascii")


def parse_size(body: bytes) -> int:
    """The witness's latest size from a 409 ``text/x.tlog.size`` body."""
    text = body.decode("ascii", "replace")
    if not text.endswith("\n"):
        raise ProtocolError("a size response must end with a newline")
    return _size(text[:-1], "the witness's size")


def encode_cosignatures(signatures: Sequence[notes.Signature]) -> bytes:
    return "".join(sig.line() + "\n" for sig in signatures).encode("utf-8")


def parse_cosignatures(body: bytes) -> list[notes.Signature]:
    """Signature lines of a 200 response (at least one); ProtocolError if malformed.

    Parsed the way tlog-witness suggests: appended to a note body and read as a note.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("the cosignature response is not UTF-8") from None
    placeholder = notes.body("x", 0, bytes(32)).decode("ascii")
    try:
        parsed = notes.parse(placeholder + "\n" + text)
    except notes.NoteError as exc:
        raise ProtocolError(f"the response is not signature lines: {exc}") from None
    return list(parsed.signatures)
