"""Headers and production mode: a CSP (nothing inline, nothing from elsewhere) and the other
security headers on every page; production mode (SHULIAN_HTTPS=1) turns on Secure cookies,
HSTS and the redirect to https, so that ``manage.py check --deploy`` is clean; the embedded
default keeps its data for its owner alone (0700/0600)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.security.conftest import PASSWORD

REPO = Path(settings.BASE_DIR)


def manage(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("SHULIAN_", "DATABASE_URL", "DJANGO_"))}
    environ.update({"SHULIAN_DATA_DIR": str(data_dir), **env})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=300, check=False)


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    done = manage("check", "--deploy", "--fail-level", "WARNING", data_dir=tmp_path,
                  SHULIAN_HTTPS="1", SHULIAN_ALLOWED_HOSTS="shulian.example.gov.cn")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_without_production_mode_check_deploy_names_what_is_missing(tmp_path: Path) -> None:
    done = manage("check", "--deploy", "--fail-level", "WARNING", data_dir=tmp_path)
    assert done.returncode != 0
    for warning in ("W004", "W008", "W012", "W016"):
        assert f"security.{warning}" in done.stderr + done.stdout


def test_production_mode_settings(tmp_path: Path) -> None:
    names = ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
             "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_PROXY_SSL_HEADER",
             "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME"]
    code = f"from django.conf import settings as s; print([getattr(s, n) for n in {names!r}])"
    done = manage("shell", "-c", code, data_dir=tmp_path, SHULIAN_HTTPS="1")
    assert done.stdout.strip().splitlines()[-1] == str([True, True, True, 31536000, True,
                                       ("HTTP_X_FORWARDED_PROTO", "https"),
                                       "__Host-sessionid", "__Host-csrftoken"])


def test_load_demo_refuses_production_mode(tmp_path: Path) -> None:
    done = manage("load_demo", data_dir=tmp_path, SHULIAN_HTTPS="1")
    assert done.returncode != 0 and "production mode" in done.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/catalogue/", "/accounts/login/", "/api/v1/ledger/",
                                  "/api/docs/", "/nope/"])
def test_every_answer_carries_the_csp_and_the_security_headers(path: str) -> None:
    response = Client().get(path)
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_no_cache_keeps_a_token_or_a_signed_in_page_but_static_files_are_cached(
        account: Any) -> None:
    client = Client()
    issued = client.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD},
                         content_type="application/json")
    assert issued.status_code == 200 and "no-store" in issued["Cache-Control"]
    client.force_login(account)
    assert "no-store" in client.get("/inbox/")["Cache-Control"]
    static = client.get("/static/css/shulian.css")
    assert static.status_code == 200 and "no-store" not in static["Cache-Control"]


@pytest.mark.django_db
def test_the_pages_hold_no_inline_script_or_style() -> None:
    import re

    for path in ("/", "/catalogue/", "/accounts/login/", "/participants/apply/", "/ledger/",
                 "/api/docs/"):
        page = Client().get(path).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", page), path
        assert "<style" not in page and " style=" not in page, path
        assert not re.search(r"\son[a-z]+=", page), path


def test_the_embedded_default_keeps_its_data_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    done = manage("check", data_dir=data)
    assert done.returncode == 0, done.stderr

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(data) == 0o700 and mode(data / "cache") == 0o700
    for name in ("db.sqlite3", "secret_key", "master_key"):
        assert mode(data / name) == 0o600, name
    # An existing, too open data dir and database are tightened at the next start.
    data.chmod(0o755)
    (data / "db.sqlite3").chmod(0o644)
    assert manage("check", data_dir=data).returncode == 0
    assert mode(data) == 0o700 and mode(data / "db.sqlite3") == 0o600




@pytest.mark.slow
def test_scripts_run_keeps_every_file_it_makes_private(tmp_path: Path) -> None:
    """``scripts/run --no-serve`` on a fresh data directory (database, keys, cache, static
    files): nothing in it may be read by the group or by others."""
    data = tmp_path / "var"
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("SHULIAN_", "DATABASE_URL", "DJANGO_", "CELERY_"))}
    done = subprocess.run([str(REPO / "scripts" / "run"), "--no-serve"], cwd=REPO,
                          env={**environ, "SHULIAN_DATA_DIR": str(data)}, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    made = [data, *data.rglob("*")]
    assert len(made) > 50 and (data / "static" / "css" / "shulian.css").exists()
    shared = [str(p.relative_to(tmp_path)) for p in made if p.lstat().st_mode & 0o077]
    assert shared == []


def test_an_api_budget_can_be_turned_off(tmp_path: Path) -> None:
    """``SHULIAN_THROTTLE_WRITE=off`` (the throughput benchmark's server): no write budget;
    the others keep theirs."""
    code = ("from django.conf import settings as s; "
            "print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'])")
    done = manage("shell", "-c", code, data_dir=tmp_path, SHULIAN_THROTTLE_WRITE="off")
    assert done.stdout.strip().splitlines()[-1] == str(
        {"read": "600/min", "write": None, "login": "20/min"})
