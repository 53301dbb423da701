"""The queue keeps the commit contract: nothing is queued outside the caller's transaction."""

from __future__ import annotations

import pytest

from ledger import services
from ledger.errors import NotInTransaction
from ledger.models import Pending
from tests.ledger.helpers import register_client


def test_submit_outside_a_transaction_is_refused(committed_db: None) -> None:
    gateway = register_client("GATEWAY")
    sub = gateway.submission({"call": 1}, kind="usage.call.recorded", subject="usage/1")
    with pytest.raises(NotInTransaction):
        services.submit([sub])
    assert not Pending.objects.exists()
