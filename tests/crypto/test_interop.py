"""SM2 interoperability, both directions, between crypto.sm2, gmssl and the openssl CLI.

gmssl is an independent pure-Python SM2/SM3; openssl is OpenSSL 3's own SM2. Every signer's
signature must verify with every verifier, with the default distinguishing ID and with
another one, and keys must move between us and openssl in PEM (SPKI, PKCS#8, encrypted).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from gmssl import func as gm_func
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3

from crypto.sm2 import (
    DEFAULT_ID,
    N,
    PrivateKey,
    PublicKey,
    encode_der_signature,
    parse_der_signature,
)

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
OTHER_ID = b"alice@shulian.example"
MESSAGES = [b"", b"abc", b'{"v":1,"kind":"x"}', bytes(range(256)) * 5]


def openssl(*args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
    assert OPENSSL is not None
    done = subprocess.run([OPENSSL, *args], input=stdin, capture_output=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {done.stderr.decode()}")
    return done.stdout if check else bytes([done.returncode])


class Party:
    """One SM2 key pair known to all three implementations."""

    def __init__(self, tmp: Path) -> None:
        self.scalar = secrets.randbelow(N - 2) + 1
        self.key = PrivateKey.from_scalar(self.scalar)
        self.public = self.key.public_key
        self.tmp = tmp
        self.key_pem = tmp / "key.pem"
        self.pub_pem = tmp / "pub.pem"
        self.key_pem.write_bytes(self.key.to_pem())
        self.pub_pem.write_text(self.public.pem)

    def gmssl(self) -> gm_sm2.CryptSM2:
        crypt = gm_sm2.CryptSM2(private_key=f"{self.scalar:064x}", public_key="")
        # Set directly: gmssl's constructor does public_key.lstrip("04"), which also eats
        # leading '0'/'4' hex digits of x.
        crypt.public_key = self.public.point[1:].hex()
        return crypt


def gmssl_digest(point: bytes, message: bytes, distid: bytes) -> bytes:
    """e = SM3(Z_A || M) computed with gmssl's own SM3 and curve table (independent of ours)."""
    table = gm_sm2.default_ecc_table
    z_input = (
        (len(distid) * 8).to_bytes(2, "big")
        + distid
        + bytes.fromhex(table["a"] + table["b"] + table["g"])
        + point[1:]
    )
    z = bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(z_input)))
    return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(z + message)))


def raw_to_der(raw_hex: str) -> bytes:
    return encode_der_signature(int(raw_hex[:64], 16), int(raw_hex[64:], 16))


def der_to_raw(der: bytes) -> str:
    r, s = parse_der_signature(der)
    return f"{r:064x}{s:064x}"


# Signers and verifiers ----------------------------------------------------------------


def sign_ours(party: Party, message: bytes, distid: bytes) -> bytes:
    return party.key.sign(message, distid)


def sign_gmssl(party: Party, message: bytes, distid: bytes) -> bytes:
    crypt = party.gmssl()
    if distid == DEFAULT_ID:  # gmssl's own Z_A path, fixed to the default ID
        raw = crypt.sign_with_sm3(message)
    else:
        raw = crypt.sign(gmssl_digest(party.public.point, message, distid), gm_func.random_hex(64))
    assert raw is not None
    return raw_to_der(raw)


def sign_openssl(party: Party, message: bytes, distid: bytes) -> bytes:
    msg = party.tmp / "msg.bin"
    msg.write_bytes(message)
    return openssl(
        "pkeyutl", "-sign", "-inkey", str(party.key_pem), "-in", str(msg), "-rawin",
        "-digest", "sm3", "-pkeyopt", f"distid:{distid.decode()}",
    )


def verify_ours(party: Party, signature: bytes, message: bytes, distid: bytes) -> bool:
    return PublicKey.from_pem(party.pub_pem.read_bytes()).verify(signature, message, distid)


def verify_gmssl(party: Party, signature: bytes, message: bytes, distid: bytes) -> bool:
    crypt = party.gmssl()
    if distid == DEFAULT_ID:
        return bool(crypt.verify_with_sm3(der_to_raw(signature), message))
    digest = gmssl_digest(party.public.point, message, distid)
    return bool(crypt.verify(der_to_raw(signature), digest))


def verify_openssl(party: Party, signature: bytes, message: bytes, distid: bytes) -> bool:
    msg = party.tmp / "msg.bin"
    sig = party.tmp / "sig.der"
    msg.write_bytes(message)
    sig.write_bytes(signature)
    assert OPENSSL is not None
    done = subprocess.run(
        [OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", str(party.pub_pem), "-in", str(msg),
         "-sigfile", str(sig), "-rawin", "-digest", "sm3", "-pkeyopt",
         f"distid:{distid.decode()}"],
        capture_output=True, check=False,
    )
    if done.returncode == 0:
        assert b"Signature Verified Successfully" in done.stdout
    return done.returncode == 0


Signer = Callable[[Party, bytes, bytes], bytes]
Verifier = Callable[[Party, bytes, bytes, bytes], bool]
SIGNERS: dict[str, Signer] = {"ours": sign_ours, "gmssl": sign_gmssl, "openssl": sign_openssl}
VERIFIERS: dict[str, Verifier] = {
    "ours": verify_ours, "gmssl": verify_gmssl, "openssl": verify_openssl,
}


@needs_openssl
@pytest.mark.parametrize("distid", [DEFAULT_ID, OTHER_ID], ids=["default-id", "other-id"])
@pytest.mark.parametrize("verifier", VERIFIERS)
@pytest.mark.parametrize("signer", SIGNERS)
def test_signature_crosses_implementations(
    signer: str, verifier: str, distid: bytes, tmp_path: Path
) -> None:
    party = Party(tmp_path)
    for message in MESSAGES[:3]:
        signature = SIGNERS[signer](party, message, distid)
        assert VERIFIERS[verifier](party, signature, message, distid), (signer, verifier)
        other = OTHER_ID if distid == DEFAULT_ID else DEFAULT_ID
        assert not VERIFIERS[verifier](party, signature, message, other), "ID must be bound"
        assert not VERIFIERS[verifier](party, signature, message + b"!", distid)


def test_digest_agrees_with_gmssl_for_any_id(tmp_path: Path) -> None:
    party = Party(tmp_path)
    for distid in (DEFAULT_ID, OTHER_ID, b"", b"\x00" * 100, "数链".encode()):
        for message in MESSAGES:
            assert party.public.digest(message, distid) == gmssl_digest(
                party.public.point, message, distid
            )


def test_many_keys_ours_and_gmssl_both_ways(tmp_path: Path) -> None:
    """Several random keys (x with leading zero digits included over time) in both directions."""
    for _ in range(4):
        party = Party(tmp_path)
        message = secrets.token_bytes(secrets.randbelow(300))
        assert verify_gmssl(party, sign_ours(party, message, DEFAULT_ID), message, DEFAULT_ID)
        assert verify_ours(party, sign_gmssl(party, message, DEFAULT_ID), message, DEFAULT_ID)


# Keys across implementations ----------------------------------------------------------


@needs_openssl
def test_openssl_generated_key_loads_and_signs_for_us(tmp_path: Path) -> None:
    key_pem = tmp_path / "key.pem"
    openssl("genpkey", "-algorithm", "SM2", "-out", str(key_pem))
    pub_pem = openssl("pkey", "-in", str(key_pem), "-pubout")
    private = PrivateKey.from_pem(key_pem.read_bytes())
    public = PublicKey.from_pem(pub_pem)
    assert private.public_key == public
    assert public.pem.encode() == pub_pem
    msg = tmp_path / "msg"
    msg.write_bytes(b"made by openssl")
    signature = openssl(
        "pkeyutl", "-sign", "-inkey", str(key_pem), "-in", str(msg), "-rawin", "-digest", "sm3",
        "-pkeyopt", "distid:1234567812345678",
    )
    assert public.verify(signature, b"made by openssl")
    assert private.public_key.verify(private.sign(b"made by us"), b"made by us")


@needs_openssl
def test_openssl_encrypted_pkcs8_loads_in_ours(tmp_path: Path) -> None:
    key_pem = tmp_path / "key.pem"
    openssl("genpkey", "-algorithm", "SM2", "-aes-256-cbc", "-pass", "pass:s3cret",
            "-out", str(key_pem))
    assert b"ENCRYPTED PRIVATE KEY" in key_pem.read_bytes()
    pub_pem = openssl("pkey", "-in", str(key_pem), "-passin", "pass:s3cret", "-pubout")
    private = PrivateKey.from_pem(key_pem.read_bytes(), password=b"s3cret")
    assert private.public_key.pem.encode() == pub_pem


@needs_openssl
@pytest.mark.parametrize("password", [None, b"correct horse"], ids=["plain", "encrypted"])
def test_our_keys_load_in_openssl(password: bytes | None, tmp_path: Path) -> None:
    private = PrivateKey.generate()
    key_pem = tmp_path / "key.pem"
    key_pem.write_bytes(private.to_pem(password))
    header = b"ENCRYPTED PRIVATE KEY" if password else b"BEGIN PRIVATE KEY"
    assert header in key_pem.read_bytes()
    passin = ["-passin", f"pass:{password.decode()}"] if password else []
    assert openssl("pkey", "-in", str(key_pem), *passin, "-pubout").decode() == (
        private.public_key.pem
    )
    text = openssl("pkey", "-in", str(key_pem), *passin, "-noout", "-text").decode()
    assert "ASN1 OID: SM2" in text
    pub_pem = tmp_path / "pub.pem"
    pub_pem.write_text(private.public_key.pem)
    spki = openssl("pkey", "-pubin", "-in", str(pub_pem), "-outform", "DER")
    assert spki == private.public_key.der
    # SubjectPublicKeyInfo: id-ecPublicKey (1.2.840.10045.2.1) + sm2p256v1 (1.2.156.10197.1.301)
    assert bytes.fromhex("06072a8648ce3d0201") in spki
    assert bytes.fromhex("06082a811ccf5501822d") in spki


@needs_openssl
def test_key_id_is_sm3_of_der_spki_as_openssl_computes_it(tmp_path: Path) -> None:
    private = PrivateKey.generate()
    pub_pem = tmp_path / "pub.pem"
    pub_pem.write_text(private.public_key.pem)
    der = openssl("pkey", "-pubin", "-in", str(pub_pem), "-outform", "DER")
    line = openssl("dgst", "-sm3", stdin=der).decode().strip()
    assert line.endswith(private.public_key.key_id)
    assert line.split("= ")[-1] == private.public_key.key_id
