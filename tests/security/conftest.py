"""Fixtures of the security tests: accounts with strong passwords, clients that come from a
given address, and the API tests' world (``world``, ``w``, ``api``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts import passwords
from tests.api.conftest import api, w, world  # noqa: F401 (the API tests' world and clients)

PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture
def account(db: None) -> Any:
    return passwords.create_account(username="alice", password=PASSWORD)


def from_address(address: str, **kwargs: Any) -> Client:
    """A test client whose requests come from ``address`` (in English unless told)."""
    return Client(REMOTE_ADDR=address, **{"HTTP_ACCEPT_LANGUAGE": "en", **kwargs})
