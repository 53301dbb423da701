"""The witness: decides whether to cosign a checkpoint, and serves that over HTTP.

:class:`Witness` holds the rules (C2SP tlog-witness with SM2): it cosigns a checkpoint only
if the ledger signed it, the client's ``old`` is the size the witness last cosigned, and a
consistency proof from that checkpoint verifies; it never cosigns two roots for one size.
It keeps evidence only of what it verified itself: a ledger-signed checkpoint whose root
differs from the one the ledger signed, and it cosigned, for the same size (a fork). A
consistency proof that does not verify is refused and proves nothing: anyone can send a
genuine checkpoint with a made-up proof. :func:`make_server` wraps it in a stdlib
``ThreadingHTTPServer``. No Django.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from audit.witness.state import Cosigned, Evidence, State
from crypto.sm2 import PrivateKey, PublicKey
from ledger.protocol import note as notes
from ledger.protocol import witness as protocol
from ledger.protocol.merkle import SM3, verify_consistency


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = protocol.TEXT_CONTENT_TYPE

    @classmethod
    def text(cls, status: int, message: str) -> Response:
        return cls(status, (message + "\n").encode("utf-8"))


class Witness:
    """One witness for one ledger ``origin``, trusting ``ledger_keys`` for its checkpoints."""

    def __init__(
        self,
        state: State,
        *,
        name: str,
        key: PrivateKey,
        origin: str,
        ledger_keys: Sequence[PublicKey],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ledger_keys:
            raise ValueError("a witness needs at least one ledger public key")
        notes.body(origin, 0, bytes(32))  # NoteError unless the origin is one word
        if not name or "+" in name or any(c.isspace() for c in name):
            raise notes.NoteError("witness name must be one word with no '+' or white space")
        self.state = state
        self.name = name
        self.key = key
        self.origin = origin
        self.ledger_keys = list(ledger_keys)
        self.clock = clock
        state.bind(origin, name=name, key=key.public_key.key_id, pem=key.public_key.pem,
                   ledger_keys=",".join(k.key_id for k in self.ledger_keys))

    def _ledger_signed(self, checkpoint: notes.Checkpoint) -> bool:
        """The first signature line is the ledger's, by one of the configured ledger keys."""
        first = checkpoint.signatures[0]
        return first.name == self.origin and any(
            first.hint == notes.key_hint(key.key_id)
            and notes.verify_signature(checkpoint.body, first, key)
            for key in self.ledger_keys
        )

    def add_checkpoint(self, body: bytes) -> Response:
        """Handle one ``add-checkpoint`` request body."""
        try:
            request = protocol.parse_request(body)
        except protocol.ProtocolError as exc:
            return Response.text(HTTPStatus.BAD_REQUEST, str(exc))
        checkpoint = request.checkpoint
        if checkpoint.origin != self.origin:
            return Response.text(HTTPStatus.NOT_FOUND,
                                 f"unknown log {checkpoint.origin!r}: this witness follows "
                                 f"{self.origin!r}")
        if not self._ledger_signed(checkpoint):
            return Response.text(HTTPStatus.FORBIDDEN,
                                 "no signature line verifies with the ledger's key")
        if request.old > checkpoint.size:
            return Response.text(HTTPStatus.BAD_REQUEST,
                                 f"old size {request.old} is larger than the checkpoint's "
                                 f"size {checkpoint.size}")
        with self.state.transaction():
            return self._decide(request)

    def _decide(self, request: protocol.AddCheckpoint) -> Response:
        """The checks that read and update the state, atomically."""
        checkpoint = request.checkpoint
        now = int(self.clock())
        same_size = self.state.cosigned(checkpoint.size)
        if same_size is not None and same_size.root != checkpoint.root:
            reason = (f"{protocol.SPLIT_VIEW}: this witness cosigned size {checkpoint.size} "
                      f"with root {same_size.root.hex()}, not {checkpoint.root.hex()}")
            self._keep(request, reason, same_size, now)
            return Response.text(HTTPStatus.CONFLICT, reason)
        latest = self.state.latest()
        latest_size = latest.size if latest else 0
        if request.old != latest_size:
            return Response(HTTPStatus.CONFLICT, protocol.encode_size(latest_size),
                            protocol.SIZE_CONTENT_TYPE)
        if latest is None:
            if request.proof:
                return Response.text(HTTPStatus.UNPROCESSABLE_ENTITY,
                                     "the consistency proof must be empty when old is 0")
        elif not verify_consistency(latest.size, checkpoint.size, latest.root,
                                    checkpoint.root, request.proof, SM3):
            if latest.size == checkpoint.size:
                return Response.text(HTTPStatus.UNPROCESSABLE_ENTITY,
                                     "the consistency proof must be empty when old is the "
                                     "checkpoint's size")
            # Refused, and not kept: the proof is the client's, not the ledger's signature.
            return Response.text(HTTPStatus.UNPROCESSABLE_ENTITY,
                                 f"the consistency proof from the cosigned size "
                                 f"{latest.size} to size {checkpoint.size} does not verify")
        if same_size is None:
            self.state.add_cosigned(checkpoint.size, checkpoint.root, request.note, now)
        cosignature = notes.cosign(checkpoint.body, self.name, self.key, now)
        return Response(HTTPStatus.OK, protocol.encode_cosignatures([cosignature]))

    def _keep(self, request: protocol.AddCheckpoint, reason: str, cosigned: Cosigned,
              now: int) -> None:
        """Keep a fork: two checkpoints of one size, both verified as the ledger's."""
        checkpoint = request.checkpoint
        self.state.add_evidence(Evidence(
            kind="fork", reason=reason, old=request.old, size=checkpoint.size,
            root=checkpoint.root, cosigned_size=cosigned.size, cosigned_root=cosigned.root,
            cosigned_note=cosigned.note, presented_note=request.note, proof=request.proof,
            received_at=now,
        ))


class Handler(BaseHTTPRequestHandler):
    """``POST /add-checkpoint``; ``GET /status`` and ``GET /evidence`` (JSON) for monitors."""

    protocol_version = "HTTP/1.1"
    server_version = "shulian-witness/1"
    timeout = 30
    witness: Witness
    quiet = False

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _json(self, value: object) -> None:
        body = json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
        self._send(Response(HTTPStatus.OK, body, "application/json"))

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path != protocol.PATH:
            self.close_connection = True
            self._send(Response.text(HTTPStatus.NOT_FOUND, f"no such endpoint {path}"))
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._send(Response.text(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required"))
            return
        if int(length) > protocol.MAX_BODY:
            self.close_connection = True
            self._send(Response.text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                     "the request body is larger than 128 KiB"))
            return
        body = self.rfile.read(int(length))
        self._send(self.witness.add_checkpoint(body))

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        state = self.witness.state
        if path == "/status":
            self._json(state.status())
        elif path == "/evidence":
            self._json([item.to_json() for item in state.evidence()])
        else:
            self._send(Response.text(HTTPStatus.NOT_FOUND, f"no such endpoint {path}"))

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


def make_server(witness: Witness, host: str, port: int, *, quiet: bool = False) -> (
    ThreadingHTTPServer
):
    """An HTTP server for ``witness`` bound to (host, port); call ``serve_forever``."""
    handler = type("WitnessHandler", (Handler,), {"witness": witness, "quiet": quiet})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
