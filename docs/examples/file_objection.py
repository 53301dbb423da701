"""File an objection (异议) with a statement signed by your own SM2 key.

A complete API client that needs only this project's ``crypto`` package and the standard
library. The private key never leaves your machine: the server only checks the signature
against the public key you registered, and the ledger entry it appends is signed by you.

Before the first run, an administrator of your participant registers the public half:

    python -m crypto keygen --out client.key --pub client.pub   # unencrypted PKCS#8 PEM
    python -c 'import json; print(json.dumps({"pem": open("client.pub").read()}))' |
        curl -H "Authorization: Token $TOKEN" -H "Content-Type: application/json" \\
             --data-binary @- $URL/api/v1/participants/$USCC/keys/upload/

Then:

    PYTHONPATH=. python docs/examples/file_objection.py \\
        --url http://127.0.0.1:8000 --token $TOKEN --key client.key \\
        --participant $USCC --resource RS-0001 --ground accuracy \\
        --description "注册资本与营业执照不一致"

It reads the ledger's origin (GET /api/v1/ledger/), builds the format v2 statement — kind
``contracts.objection.filed``, actor your participant code, key the SM3 of your public key's
DER (its key id), subject ``catalog/resource/<code>``, payload the commitment SM3(salt ||
RFC 8785 canonical payload) with 16 fresh random bytes of salt, a fresh random nonce and the
time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` — signs its canonical bytes with SM2 (default
distinguishing ID) and POSTs ``{"statement", "signature", "payload", "salt"}`` to
/api/v1/objections/. (The salt travels beside the payload, never in the statement: whoever
may not read the payload cannot recover it by hashing guesses.) It prints the objection's
id and the ledger entry's seq and leaf hash; on any failure it prints the server's error
(with the field it names) to stderr and exits with status 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crypto.canonical import canonical
from crypto.sm2 import PrivateKey
from crypto.sm3 import sm3_hex

GROUNDS = ("accuracy", "completeness", "timeliness", "legitimacy")


class Failed(Exception):
    """The server refused the request, or could not be reached."""


def call(method: str, url: str, token: str, body: Any = None) -> Any:
    """One JSON request; Failed with the server's own message on an error status."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Token {token}", "Accept": "application/json",
        **({"Content-Type": "application/json"} if data is not None else {}),
    })
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raw = exc.read().decode("utf-8", "replace")
        try:
            error = json.loads(raw)["error"]
        except (ValueError, KeyError, TypeError):
            raise Failed(f"HTTP {exc.code}: {raw[:500]}") from None
        fields = "; ".join(f"{name}: {', '.join(reasons)}"
                           for name, reasons in error.get("fields", {}).items())
        raise Failed(f"HTTP {exc.code}: {error.get('message')}"
                     + (f" ({fields})" if fields else "")) from None
    except urllib.error.URLError as exc:
        raise Failed(f"cannot reach {url}: {exc.reason}") from None


def ledger_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(key: PrivateKey, *, origin: str, participant: str, resource: str, ground: str,
          description: str, grant: int | None) -> dict[str, Any]:
    """The signed submission: statement, base64 DER signature, payload and salt."""
    payload = {"resource": resource, "ground": ground, "description": description,
               "filer": participant, "grant": grant}
    salt = secrets.token_bytes(16)
    statement = {
        "v": 2, "ledger": origin, "kind": "contracts.objection.filed", "actor": participant,
        "key": key.public_key.key_id, "subject": f"catalog/resource/{resource}",
        "payload": sm3_hex(salt + canonical(payload, ledger_profile=True)),
        "nonce": secrets.token_hex(16), "time": ledger_time(datetime.now(UTC)),
    }
    signature = base64.b64encode(key.sign(canonical(statement))).decode("ascii")
    return {"statement": statement, "signature": signature, "payload": payload,
            "salt": base64.b64encode(salt).decode("ascii")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="your API token")
    parser.add_argument("--key", required=True, type=Path, help="your SM2 private key (PEM)")
    parser.add_argument("--participant", required=True, help="the USCC you act for")
    parser.add_argument("--resource", required=True, help="the resource's code")
    parser.add_argument("--ground", required=True, choices=GROUNDS)
    parser.add_argument("--description", required=True)
    parser.add_argument("--grant", type=int, default=None,
                        help="the grant objected to (ground legitimacy)")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/")
    try:
        key = PrivateKey.from_pem(args.key.read_bytes())
        origin = call("GET", f"{base}/api/v1/ledger/", args.token)["origin"]
        body = build(key, origin=origin, participant=args.participant.upper(),
                     resource=args.resource, ground=args.ground,
                     description=args.description.strip(), grant=args.grant)
        filed = call("POST", f"{base}/api/v1/objections/", args.token, body)
    except Failed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    entry = filed["entry"]
    print(f"objection {filed['id']} filed: entry seq {entry['seq']} "
          f"leaf hash {entry['leaf_hash']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
