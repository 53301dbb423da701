"""Erasure of a payload (the right to erasure of PIPL art. 47) without breaking any proof.

A ``ledger.payload.redacted`` entry, recorded by the origin, says that the payload and salt
of an earlier entry are erased under a legal basis; the append path, which writes it, empties
that payload row in the same transaction: the one change the database allows to a payload,
and only once its redaction entry exists (ledger.triggers). The target entry stays and still
verifies: its commitment is salted, so the erased payload cannot be recovered by guessing.
Deciding whether to erase is a workflow of its own; this is the mechanism.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from crypto.canonical import parse
from kernel.errors import InvalidInput
from ledger import conf
from ledger.models import Entry
from ledger.protocol.format import FormatError
from ledger.protocol.records import PAYLOAD_REDACTED, entry_subject, is_reserved, read_redaction
from ledger.registry import ensure_ledger_key
from ledger.signing import record


def redact_payload(*, seq: int, basis: str, request: str | None = None) -> Entry:
    """Erase the payload and salt of entry ``seq``; returns the redaction entry."""
    try:
        redaction = read_redaction({"seq": seq, "basis": basis, "request": request})
    except FormatError as exc:
        raise InvalidInput(exc.field.removeprefix("payload."), exc.reason) from None
    target = Entry.objects.filter(seq=seq).values_list("data", flat=True).first()
    if target is None:
        raise InvalidInput("seq", _("there is no entry %(seq)s"), seq=seq)
    kind = parse(target)["statement"]["kind"]
    if is_reserved(kind):
        raise InvalidInput("seq", _("entry %(seq)s is a %(kind)s entry, whose payload is never "
                                    "erased"), seq=seq, kind=kind)
    signer = ensure_ledger_key()
    with transaction.atomic():
        if Entry.objects.filter(kind=PAYLOAD_REDACTED, subject=entry_subject(seq)).exists():
            raise InvalidInput("seq", _("the payload of entry %(seq)s is already erased"),
                               seq=seq)

        return record(actor=conf.origin(), kind=PAYLOAD_REDACTED, subject=entry_subject(seq),
                      payload=redaction.payload(), key=signer)
