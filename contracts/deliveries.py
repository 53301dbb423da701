"""What a delivery records: the SM3 of the delivered bytes (or the digest itself), never
the data. Used by deliveries under grants and by the delivery of an order."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from crypto.sm3 import sm3_hex
from kernel.errors import InvalidInput
from kernel.uploads import MiB, check_size
from ledger.protocol.format import is_hex64

MAX_DELIVERY = 50 * MiB
MAX_DOCUMENT = 50 * MiB


def delivered_digest(data: bytes | None, digest: str | None,
                     limit: int = MAX_DELIVERY) -> str:
    """The SM3 of ``data``, or ``digest`` checked; exactly one of them is given."""
    if (data is None) == (digest is None):
        raise InvalidInput("data", _("give either the delivered bytes or their SM3 digest"))
    if data is not None:
        return sm3_hex(check_size("data", data, limit))
    if not is_hex64(digest):
        raise InvalidInput("digest", _("must be 64 lowercase hex characters (SM3)"))
    return str(digest)
