"""``python -m crypto.bench [--seconds S] [--json]``: our SM2/SM3 speed beside OpenSSL, gmssl.

Everything is measured in one run, on one core, per CPU second (what ``openssl speed``
divides by): SM2 sign/s and verify/s through :mod:`crypto.sm2` (message -> Z_A, e, DER
signature: the full path a ledger append takes), ``openssl speed -seconds S sm2`` parsed from
its output, SM3 MB/s through :mod:`crypto.sm3` against ``openssl speed -evp sm3`` on the same
16 KiB blocks (plus ours on 1 MiB blocks), and gmssl's pure-Python SM2 for a bounded time.
MB is 10**6 bytes, as OpenSSL's "1000s of bytes".
With ``--json`` the last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence

from crypto import sm3
from crypto.sm2 import N, PrivateKey

SM3_BLOCK = 16 * 1024  # openssl speed's largest default block size
SM3_BIG_BLOCK = 1 << 20
MESSAGE = b'{"v":1,"kind":"bench","payload":"' + b"0" * 64 + b'","nonce":"bench"}'
_SM2_LINE = re.compile(r"SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)")
_SM3_LINE = re.compile(r"^sm3\s+(.*)$", re.MULTILINE)

Figures = dict[str, float | str | None]


def rate(operation: Callable[[], object], seconds: float, max_ops: int | None = None) -> float:
    """Operations per CPU second of ``operation``, run for about ``seconds`` of CPU time.

    CPU time, not wall time, is what ``openssl speed`` divides by (unless ``-elapsed``), so
    both sides stay comparable on a machine busy with other work.
    """
    done = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        operation()
        done += 1
        now = time.process_time()
        if now >= deadline or (max_ops is not None and done >= max_ops):
            return done / (now - start)


def ours_sm2(seconds: float) -> tuple[float, float]:
    key = PrivateKey.generate()
    public = key.public_key
    signature = key.sign(MESSAGE)
    assert public.verify(signature, MESSAGE)
    return (
        rate(lambda: key.sign(MESSAGE), seconds),
        rate(lambda: public.verify(signature, MESSAGE), seconds),
    )


def ours_sm3(seconds: float, block_size: int) -> float:
    block = os.urandom(block_size)
    return rate(lambda: sm3.sm3(block), seconds) * block_size / 1e6


def gmssl_sm2(seconds: float) -> tuple[float, float]:
    from gmssl import sm2 as gm  # imported here: only the benchmark and tests use gmssl

    scalar = secrets.randbelow(N - 2) + 1
    key = PrivateKey.from_scalar(scalar)
    signer = gm.CryptSM2(private_key=f"{scalar:064x}", public_key="")
    signer.public_key = key.public_key.point[1:].hex()  # set directly: gmssl lstrips "04"
    signature = signer.sign_with_sm3(MESSAGE)
    assert signer.verify_with_sm3(signature, MESSAGE)
    return (
        rate(lambda: signer.sign_with_sm3(MESSAGE), seconds, max_ops=1000),
        rate(lambda: signer.verify_with_sm3(signature, MESSAGE), seconds, max_ops=1000),
    )


def openssl_speed(args: Sequence[str]) -> str | None:
    """The stdout of ``openssl speed ARGS``, or None without a working openssl."""
    binary = shutil.which("openssl")
    if binary is None:
        return None
    try:
        done = subprocess.run(
            [binary, "speed", *args], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_openssl_sm2(output: str) -> tuple[float, float] | None:
    """(sign/s, verify/s) from the `` 256 bits SM2 (CurveSM2) ...`` line."""
    match = _SM2_LINE.search(output)
    return (float(match.group(1)), float(match.group(2))) if match else None


def openssl_sm2(seconds: float = 3) -> tuple[float | None, float | None]:
    """(sign/s, verify/s) of ``openssl speed -seconds S sm2`` on one core; Nones without it."""
    output = openssl_speed(["-seconds", str(max(1, math.ceil(seconds))), "sm2"])
    parsed = parse_openssl_sm2(output) if output else None
    return parsed if parsed else (None, None)


def parse_openssl_sm3(output: str) -> float | None:
    """MB/s in the last (largest block) column of the ``sm3`` line (printed in 1000s of B/s)."""
    match = _SM3_LINE.search(output)
    if not match:
        return None
    columns = match.group(1).split()
    if not columns or not columns[-1].endswith("k"):
        return None
    return float(columns[-1][:-1]) / 1000


def ratio(ours: float | str | None, theirs: float | str | None) -> float | None:
    if not isinstance(ours, float) or not isinstance(theirs, float) or theirs == 0:
        return None
    return round(ours / theirs, 3)


def measure(seconds: float) -> Figures:
    whole = str(max(1, math.ceil(seconds)))  # openssl speed takes whole seconds only
    sign, verify = ours_sm2(seconds)
    sm2_output = openssl_speed(["-seconds", whole, "sm2"])
    openssl_sm2 = parse_openssl_sm2(sm2_output) if sm2_output else None
    sm3_output = openssl_speed(["-seconds", whole, "-bytes", str(SM3_BLOCK), "-evp", "sm3"])
    gm_sign, gm_verify = gmssl_sm2(seconds)
    figures: Figures = {
        "seconds": seconds,
        "sm2_sign_per_s": sign,
        "sm2_verify_per_s": verify,
        "openssl_sm2_sign_per_s": openssl_sm2[0] if openssl_sm2 else None,
        "openssl_sm2_verify_per_s": openssl_sm2[1] if openssl_sm2 else None,
        "sm3_mb_per_s": ours_sm3(seconds / 2, SM3_BLOCK),
        "sm3_1mib_mb_per_s": ours_sm3(seconds / 2, SM3_BIG_BLOCK),
        "openssl_sm3_mb_per_s": parse_openssl_sm3(sm3_output) if sm3_output else None,
        "gmssl_sm2_sign_per_s": gm_sign,
        "gmssl_sm2_verify_per_s": gm_verify,
        "openssl_version": _openssl_version(),
    }
    figures["sm2_sign_ratio"] = ratio(sign, figures["openssl_sm2_sign_per_s"])
    figures["sm2_verify_ratio"] = ratio(verify, figures["openssl_sm2_verify_per_s"])
    figures["sm3_ratio"] = ratio(figures["sm3_mb_per_s"], figures["openssl_sm3_mb_per_s"])
    figures["gmssl_sm2_verify_ratio"] = ratio(gm_verify, verify)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


def _openssl_version() -> str | None:
    binary = shutil.which("openssl")
    if binary is None:
        return None
    done = subprocess.run([binary, "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def table(f: Figures) -> str:
    def cell(value: float | str | None, digits: int = 1) -> str:
        return f"{value:,.{digits}f}" if isinstance(value, float) else "-"

    rows = [
        ("SM2 sign/s", f["sm2_sign_per_s"], f["openssl_sm2_sign_per_s"], f["sm2_sign_ratio"]),
        ("SM2 verify/s", f["sm2_verify_per_s"], f["openssl_sm2_verify_per_s"],
         f["sm2_verify_ratio"]),
        ("SM3 MB/s, 16 KiB blocks", f["sm3_mb_per_s"], f["openssl_sm3_mb_per_s"],
         f["sm3_ratio"]),
        ("SM3 MB/s, 1 MiB blocks", f["sm3_1mib_mb_per_s"], None, None),
        ("gmssl SM2 sign/s", f["gmssl_sm2_sign_per_s"], None, None),
        ("gmssl SM2 verify/s", f["gmssl_sm2_verify_per_s"], None, None),
    ]
    lines = [f"{'one core, ' + str(f['seconds']) + ' s per figure':<26}"
             f"{'ours':>12}{'openssl':>12}{'ours/openssl':>14}"]
    for name, ours, theirs, quotient in rows:
        lines.append(f"{name:<26}{cell(ours):>12}{cell(theirs):>12}{cell(quotient, 2):>14}")
    lines.append(f"gmssl SM2 verify is {cell(f['gmssl_sm2_verify_ratio'], 4)} x ours "
                 f"(gmssl is pure Python); {f['openssl_version'] or 'openssl not found'}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crypto.bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="time per figure (openssl rounds it up to whole seconds)")
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON object of every figure on the last line")
    args = parser.parse_args(argv)
    if not args.seconds > 0:
        parser.error("--seconds must be positive")
    figures = measure(args.seconds)
    print(table(figures))
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
