"""Shared fixtures. Tests run against the database DATABASE_URL names (SQLite by default)."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("SHULIAN_DATA_DIR", tempfile.mkdtemp(prefix="shulian-test-"))


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
