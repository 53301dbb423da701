"""What the configured witnesses say they last cosigned (their ``GET /status``), for a
verification of the live ledger: a witness that cosigned a larger tree than the ledger now
holds shows that entries were lost, where the ledger's own checkpoints may have gone too."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from audit.view import Claim
from ledger import conf, witnesses

log = logging.getLogger(__name__)
TIMEOUT = 3.0
MAX_STATUS = 64 * 1024


def _status(url: str) -> dict[str, object] | None:
    request = urllib.request.Request(url.rstrip("/") + "/status",
                                     headers={"User-Agent": "shulian-audit"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            value = json.loads(response.read(MAX_STATUS))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.info("witness status %s: %s", url, exc)
        return None
    return value if isinstance(value, dict) else None


def witness_claims() -> list[Claim]:
    """One claim per reachable configured witness that has cosigned something."""
    claims = []
    for config in witnesses.configured():
        status = _status(config.url)
        if status is None or status.get("origin") != conf.origin():
            continue
        size, root = status.get("size"), status.get("root")
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            claims.append(Claim(f"witness {config.name}", size,
                                root if isinstance(root, str) else None))
    return claims
