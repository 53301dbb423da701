"""The demo scenario behind ``manage.py load_demo``: each app's ``demo.load()`` in order.

Idempotent: every step leaves alone what already exists, and the last line says whether
this run changed anything. Apps that add workflows to the demo add a step here.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth import get_user_model

from demo import catalogue as catalog_demo
from demo import participants as operators_demo
from demo import witnesses as demo_witnesses
from demo import workflows as contracts_demo
from ledger import selectors
from ledger import services as ledger

# Three departments each run a witness (here: keys and cosignatures made in-process; the
# real thing is `python -m audit.witness serve`, see docs/witness.md).
DEMO_WITNESSES = (
    ("witness-market", operators_demo.MARKET),
    ("witness-land", operators_demo.NATURAL_RESOURCES),
    ("witness-transport", operators_demo.TRANSPORT),
)


def _counts() -> tuple[int, int]:
    return selectors.size(), get_user_model().objects.count()


def load() -> Iterator[str]:
    before = _counts()
    key = ledger.ensure_ledger_key()
    yield f"ledger {ledger.origin()}: ledger key {key.key_id[:16]}…"
    # First, so that their keys are live for every checkpoint the scenario seals.
    demo_witnesses.demo_witnesses(DEMO_WITNESSES)
    yield "participants and people:"
    yield from operators_demo.load()
    yield "catalogue:"
    yield from catalog_demo.load()
    yield "agreements, requests, objections and transactions:"
    yield from contracts_demo.load()
    yield "products:"
    yield from catalog_demo.load_products()
    names = [w.name for w in demo_witnesses.demo_settle(DEMO_WITNESSES)]
    yield f"witnesses {', '.join(names)} cosigned every checkpoint (in-process demo)"
    status = selectors.status()
    sealed = status.checkpoint.size if status.checkpoint else "-"
    yield f"ledger size {status.size}, last checkpoint at size {sealed}"
    yield from operators_demo.credentials_table()
    if _counts() == before:
        yield "Nothing to do: the demo was already loaded (no new entries, no new users)."
    else:
        yield "Demo loaded."
