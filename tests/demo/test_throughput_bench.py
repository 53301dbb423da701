"""``manage.py throughput_bench`` runs end to end on the configured engine: a real gunicorn
server (and, on PostgreSQL, the integrator as its own process), HTTP clients posting signed
usage records one per request and 256 a request, and objections filed through the API;
every record is integrated and every figure is reported (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

REQUIRED = {"sustained_appends_per_s", "domain_actions_per_s", "integration_p99_ms",
            "openssl_sm2_verify_per_s", "clients", "database", "single_appends_per_s",
            "sustained_vs_openssl_verify", "integrated_records", "expected_records"}


def test_throughput_bench_reports_every_figure(tmp_path: Path) -> None:
    env = {**os.environ, "SHULIAN_DATA_DIR": str(tmp_path)}
    if connection.vendor == "postgresql":
        db = connection.settings_dict  # the suite's cluster: the bench makes its own database
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "throughput_bench", "--clients", "2", "--single", "4",
         "--batches", "1", "--objections", "3", "--openssl-seconds", "0.3", "--json"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=600,
        check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not REQUIRED - figures.keys()
    assert figures["database"] == connection.vendor and figures["clients"] == 2
    assert figures["integrated_records"] == figures["expected_records"] == 2 * (4 + 256)
    for key in ("sustained_appends_per_s", "single_appends_per_s", "domain_actions_per_s",
                "openssl_sm2_verify_per_s", "integration_p99_ms"):
        assert figures[key] > 0, key
