"""``python -m crypto`` run as an auditor would run it, in a subprocess."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")

P256_PUBLIC = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkaGuDTGHgE9FuvMcIrCTANqKk09k
60NlsxMQPUbYoGaPcJ27eN43hXSseWttHjAa/T4GA2FM603WcEJDlgdWJA==
-----END PUBLIC KEY-----
"""
P256_PRIVATE = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgITsAO1EYtQoqWxOn
CzDLEGDZtDBEPQNErHLdXbO4cGWhRANCAASRoa4NMYeAT0W68xwisJMA2oqTT2Tr
Q2WzExA9RtigZo9wnbt43jeFdKx5a20eMBr9PgYDYUzrTdZwQkOWB1Yk
-----END PRIVATE KEY-----
"""


def cli(
    *args: str, cwd: Path, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    raw = subprocess.run(
        [sys.executable, "-m", "crypto", *args],
        cwd=cwd, input=stdin, capture_output=True, env=environ, check=False, timeout=60,
    )
    done = subprocess.CompletedProcess(
        raw.args, raw.returncode, raw.stdout.decode("utf-8"), raw.stderr.decode("utf-8")
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def openssl(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[
    bytes
]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *args], cwd=cwd, input=stdin, capture_output=True,
                          check=False)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    done = cli("keygen", "--out", "key.pem", "--pub", "pub.pem", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (tmp_path / "msg.txt").write_bytes(b"entry bytes\n")
    return tmp_path


def test_keygen_writes_private_key_readable_by_owner_only(keys: Path) -> None:
    assert b"BEGIN PRIVATE KEY" in (keys / "key.pem").read_bytes()
    assert b"BEGIN PUBLIC KEY" in (keys / "pub.pem").read_bytes()
    assert stat.S_IMODE((keys / "key.pem").stat().st_mode) == 0o600
    keyid = cli("keyid", "pub.pem", cwd=keys)
    assert keyid.returncode == 0
    assert len(keyid.stdout.strip()) == 64


def test_sign_verify_roundtrip(keys: Path) -> None:
    signed = cli("sign", "--key", "key.pem", "msg.txt", cwd=keys)
    assert signed.returncode == 0, signed.stderr
    signature = signed.stdout.strip()
    assert base64.b64decode(signature, validate=True)[0] == 0x30  # DER SEQUENCE
    ok = cli("verify", "--pub", "pub.pem", "--sig", signature, "msg.txt", cwd=keys)
    assert ok.returncode == 0
    assert "valid" in ok.stdout.lower()
    (keys / "other.txt").write_bytes(b"entry bytes!\n")
    bad = cli("verify", "--pub", "pub.pem", "--sig", signature, "other.txt", cwd=keys)
    assert bad.returncode == 1
    assert "INVALID" in bad.stderr
    from_stdin = cli("verify", "--pub", "pub.pem", "--sig", signature, "-", cwd=keys,
                     stdin=b"entry bytes\n")
    assert from_stdin.returncode == 0


def test_distinguishing_id_roundtrip(keys: Path) -> None:
    signed = cli("sign", "--key", "key.pem", "--id", "auditor@shulian", "msg.txt", cwd=keys)
    signature = signed.stdout.strip()
    assert cli("verify", "--pub", "pub.pem", "--sig", signature, "--id", "auditor@shulian",
               "msg.txt", cwd=keys).returncode == 0
    assert cli("verify", "--pub", "pub.pem", "--sig", signature, "msg.txt",
               cwd=keys).returncode == 1
    assert cli("verify", "--pub", "pub.pem", "--sig", signature, "--id", "auditor@shulian2",
               "msg.txt", cwd=keys).returncode == 1


def test_malformed_signature_is_invalid_not_bad_input(keys: Path) -> None:
    truncated = base64.b64encode(b"\x30\x44\x02\x20").decode()
    done = cli("verify", "--pub", "pub.pem", "--sig", truncated, "msg.txt", cwd=keys)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1


@needs_openssl
@pytest.mark.parametrize("distid", ["1234567812345678", "regulator-01"])
def test_openssl_verifies_cli_signature(keys: Path, distid: str) -> None:
    signed = cli("sign", "--key", "key.pem", "--id", distid, "msg.txt", cwd=keys)
    (keys / "sig.der").write_bytes(base64.b64decode(signed.stdout.strip()))
    done = openssl("pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "msg.txt",
                   "-sigfile", "sig.der", "-rawin", "-digest", "sm3", "-pkeyopt",
                   f"distid:{distid}", cwd=keys)
    assert done.returncode == 0, done.stderr
    assert b"Signature Verified Successfully" in done.stdout


@needs_openssl
def test_cli_verifies_openssl_signature_and_key(tmp_path: Path) -> None:
    assert openssl("genpkey", "-algorithm", "SM2", "-out", "key.pem", cwd=tmp_path).returncode == 0
    assert openssl("pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem",
                   cwd=tmp_path).returncode == 0
    (tmp_path / "msg.txt").write_bytes(b"by openssl")
    sig = openssl("pkeyutl", "-sign", "-inkey", "key.pem", "-in", "msg.txt", "-rawin",
                  "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", cwd=tmp_path).stdout
    done = cli("verify", "--pub", "pub.pem", "--sig", base64.b64encode(sig).decode(),
               "msg.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


@needs_openssl
def test_sm3_matches_openssl_dgst(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(bytes(range(256)) * 4099)
    (tmp_path / "empty").write_bytes(b"")
    done = cli("sm3", "a.bin", "empty", cwd=tmp_path)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    for line, name in zip(lines, ["a.bin", "empty"], strict=True):
        theirs = openssl("dgst", "-sm3", "-r", name, cwd=tmp_path).stdout.decode().split()[0]
        assert line == f"{theirs}  {name}"
    piped = cli("sm3", "-", cwd=tmp_path, stdin=(tmp_path / "a.bin").read_bytes())
    assert piped.stdout == lines[0].replace("a.bin", "-") + "\n"


@needs_openssl
def test_keyid_matches_openssl(keys: Path) -> None:
    der = openssl("pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", cwd=keys).stdout
    digest = openssl("dgst", "-sm3", "-r", cwd=keys, stdin=der).stdout.decode().split()[0]
    assert cli("keyid", "pub.pem", cwd=keys).stdout.strip() == digest


@needs_openssl
def test_password_protected_key(tmp_path: Path) -> None:
    env = {"SHULIAN_TEST_PW": "p4ss phrase"}
    made = cli("keygen", "--out", "key.pem", "--pub", "pub.pem", "--password-env",
               "SHULIAN_TEST_PW", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "key.pem").read_bytes()
    assert openssl("pkey", "-in", "key.pem", "-passin", "pass:p4ss phrase", "-noout",
                   cwd=tmp_path).returncode == 0
    (tmp_path / "m").write_bytes(b"x")
    signed = cli("sign", "--key", "key.pem", "--password-env", "SHULIAN_TEST_PW", "m",
                 cwd=tmp_path, env=env)
    assert signed.returncode == 0
    assert cli("verify", "--pub", "pub.pem", "--sig", signed.stdout.strip(), "m",
               cwd=tmp_path).returncode == 0
    no_password = cli("sign", "--key", "key.pem", "m", cwd=tmp_path)
    assert no_password.returncode == 2
    wrong = cli("sign", "--key", "key.pem", "--password-env", "SHULIAN_TEST_PW", "m",
                cwd=tmp_path, env={"SHULIAN_TEST_PW": "wrong"})
    assert wrong.returncode == 2


GOOD_SIG = (  # a well-formed signature (by another key)
    "MEUCIQC6yPjSe2yDIBh2pBErekCNVcf0UUqz5ajJCWL5mHCbFAIgAnh4dgGQmJd2iA1+MLSN5Nfz5LJQ6xx1LNOx6IlM0+M="
)

BAD_INPUTS = {
    "no command": [],
    "unknown command": ["frobnicate"],
    "sign: missing key file": ["sign", "--key", "absent.pem", "msg.txt"],
    "sign: missing message": ["sign", "--key", "key.pem", "absent.txt"],
    "sign: P-256 key": ["sign", "--key", "p256.pem", "msg.txt"],
    "sign: public key given": ["sign", "--key", "pub.pem", "msg.txt"],
    "sign: garbage PEM": ["sign", "--key", "garbage.pem", "msg.txt"],
    "sign: unset password variable": ["sign", "--key", "key.pem", "--password-env",
                                      "SHULIAN_NO_SUCH_VAR", "msg.txt"],
    "verify: bad base64": ["verify", "--pub", "pub.pem", "--sig", "not*base64!", "msg.txt"],
    "verify: missing message": ["verify", "--pub", "pub.pem", "--sig", GOOD_SIG, "absent"],
    "verify: missing key": ["verify", "--pub", "absent.pem", "--sig", GOOD_SIG, "msg.txt"],
    "verify: P-256 key": ["verify", "--pub", "p256pub.pem", "--sig", GOOD_SIG, "msg.txt"],
    "verify: garbage PEM": ["verify", "--pub", "garbage.pem", "--sig", GOOD_SIG, "msg.txt"],
    "verify: no --sig": ["verify", "--pub", "pub.pem", "msg.txt"],
    "sm3: missing file": ["sm3", "absent.bin"],
    "sm3: directory": ["sm3", "."],
    "keyid: missing file": ["keyid", "absent.pem"],
    "keyid: P-256 key": ["keyid", "p256pub.pem"],
    "keyid: garbage PEM": ["keyid", "garbage.pem"],
    "keyid: private key": ["keyid", "key.pem"],
    "keygen: would overwrite": ["keygen", "--out", "key.pem", "--pub", "new.pem"],
    "keygen: unwritable": ["keygen", "--out", "no/such/dir/k.pem", "--pub", "p.pem"],
    "keygen: unwritable public key": ["keygen", "--out", "k2.pem", "--pub", "no/dir/p.pem"],
}


@pytest.mark.parametrize("args", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_and_exit_2(keys: Path, args: list[str]) -> None:
    (keys / "p256.pem").write_text(P256_PRIVATE)
    (keys / "p256pub.pem").write_text(P256_PUBLIC)
    (keys / "garbage.pem").write_text("-----BEGIN PUBLIC KEY-----\nzzzz\n")
    done = cli(*args, cwd=keys, env={"SHULIAN_NO_SUCH_VAR": ""})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
    assert "error" in done.stderr
    assert done.stdout == ""
    assert not (keys / "k2.pem").exists()  # a failed keygen leaves nothing half-written
