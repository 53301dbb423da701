"""``manage.py demo_witnesses --ports P1,P2,P3 [--dir DIR]``: everything ``scripts/run`` needs
to start the demo's three witnesses as real ``python -m audit.witness serve`` processes.

Writes, under DIR (default ``$SHULIAN_DATA_DIR/witnesses``): each witness's private key
(``NAME/key.pem``, mode 0600; derived from its name: demo data only) and state directory
(``NAME/state``), the ledger's public keys (``ledger-N.pem``, every ledger key registered, so
that the witnesses follow a rotation), ``serve.tsv`` (name, listen address, key, state, the
ledger's origin: one witness a line) and ``witnesses.json`` (the ``SHULIAN_WITNESSES``
value that tells the ledger where they listen). Prints the path of ``witnesses.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo import witnesses
from demo.loader import DEMO_WITNESSES
from ledger import services as ledger
from ledger.models import KeyUse, LedgerKey


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


class Command(BaseCommand):
    help = "Write the keys and configuration to run the demo's witnesses as processes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ports", required=True,
                            help="one port per witness, comma-separated (3 of them)")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--dir", default="", help="default: $SHULIAN_DATA_DIR/witnesses")

    def handle(self, *args: Any, **options: Any) -> None:
        ports = [p.strip() for p in str(options["ports"]).split(",") if p.strip()]
        if len(ports) != len(DEMO_WITNESSES) or not all(p.isdigit() for p in ports):
            raise CommandError(f"--ports needs {len(DEMO_WITNESSES)} port numbers")
        folder = Path(options["dir"] or Path(settings.DATA_DIR) / "witnesses").resolve()
        ledger.ensure_ledger_key()
        demo = witnesses.demo_witnesses(DEMO_WITNESSES)
        for n, key in enumerate(LedgerKey.objects.filter(use=KeyUse.LEDGER)
                                .order_by("registered_seq")):
            _write(folder / f"ledger-{n}.pem", key.pem)
        lines, config = [], []
        for witness, port in zip(demo, ports, strict=True):
            key_path = folder / witness.name / "key.pem"
            _write(key_path, witness.key.to_pem().decode("ascii"), 0o600)
            state = folder / witness.name / "state"
            state.mkdir(parents=True, exist_ok=True)
            listen = f"{options['host']}:{port}"
            lines.append("\t".join([witness.name, listen, str(key_path), str(state),
                                     ledger.origin()]))
            config.append({"name": witness.name, "url": f"http://{listen}",
                           "key_id": witness.key.public_key.key_id})
        _write(folder / "serve.tsv", "\n".join(lines) + "\n")
        _write(folder / "witnesses.json", json.dumps(config))
        self.stdout.write(str(folder / "witnesses.json"))
