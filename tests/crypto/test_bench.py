"""Smoke test of ``python -m crypto.bench``: it runs and reports every figure (no timing checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crypto.bench import parse_openssl_sm2, parse_openssl_sm3

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "sm2_sign_per_s", "sm2_verify_per_s", "openssl_sm2_sign_per_s", "openssl_sm2_verify_per_s",
    "sm3_mb_per_s", "openssl_sm3_mb_per_s", "gmssl_sm2_sign_per_s", "gmssl_sm2_verify_per_s",
    "sm2_sign_ratio", "sm2_verify_ratio", "sm3_ratio",
}


def test_bench_json_last_line_has_every_figure(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crypto.bench", "--seconds", "0.2", "--json"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, check=False, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert not REQUIRED - figures.keys()
    for key in ("sm2_sign_per_s", "sm2_verify_per_s", "sm3_mb_per_s", "gmssl_sm2_verify_per_s"):
        assert figures[key] > 0, key
    assert any("SM2 verify/s" in line for line in lines[:-1])  # the readable table came first


def test_openssl_output_parsers() -> None:
    sm2 = (
        "                              sign    verify    sign/s verify/s\n"
        " 256 bits SM2 (CurveSM2)   0.0004s   0.0003s   2792.3   3264.0\n"
    )
    assert parse_openssl_sm2(sm2) == (2792.3, 3264.0)
    sm3 = (
        "The 'numbers' are in 1000s of bytes per second processed.\n"
        "type          16 bytes    64 bytes   256 bytes  1024 bytes  8192 bytes 16384 bytes\n"
        "sm3          52763.90k  124955.97k  232500.74k  323792.90k  369410.05k  369917.95k\n"
    )
    assert parse_openssl_sm3(sm3) == pytest.approx(369.91795)
    assert parse_openssl_sm2("no such line") is None
    assert parse_openssl_sm3("no such line") is None
