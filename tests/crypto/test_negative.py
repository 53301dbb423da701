"""What must be refused: bad SM2 signatures return False; bad keys, bad ciphertexts and bad
arguments raise only the documented crypto.errors types, never a library's own exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import sm4
from crypto.errors import CryptoError, DecryptionError, KeyFormatError, SignatureError
from crypto.sm2 import DEFAULT_ID, N, PrivateKey, PublicKey, parse_der_signature

KEY = PrivateKey.generate()
PUB = KEY.public_key
MESSAGE = b'{"v":1,"kind":"contracts.objection.filed"}'
SIGNATURE = KEY.sign(MESSAGE)
R, S = parse_der_signature(SIGNATURE)

P256_PRIVATE = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgITsAO1EYtQoqWxOn
CzDLEGDZtDBEPQNErHLdXbO4cGWhRANCAASRoa4NMYeAT0W68xwisJMA2oqTT2Tr
Q2WzExA9RtigZo9wnbt43jeFdKx5a20eMBr9PgYDYUzrTdZwQkOWB1Yk
-----END PRIVATE KEY-----
"""
P256_PUBLIC = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkaGuDTGHgE9FuvMcIrCTANqKk09k
60NlsxMQPUbYoGaPcJ27eN43hXSseWttHjAa/T4GA2FM603WcEJDlgdWJA==
-----END PUBLIC KEY-----
"""
ED25519_PRIVATE = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEk11iO5gPm/tzAwgLhjJZ1cXRGkaNIdklf97lbCPnVd
-----END PRIVATE KEY-----
"""
ED25519_PUBLIC = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAPAgOjheerUXVzxLLWjeCPQcCbdn7ADCOYqzS7sOCwqc=
-----END PUBLIC KEY-----
"""


def der_int(value: int, pad: int = 0) -> bytes:
    """A DER INTEGER with ``pad`` extra leading zero bytes (non-minimal when pad > 0)."""
    body = b"\x00" * pad + value.to_bytes((value.bit_length() + 8) // 8 or 1, "big")
    return b"\x02" + bytes([len(body)]) + body


def der_seq(*parts: bytes) -> bytes:
    inner = b"".join(parts)
    return b"\x30" + bytes([len(inner)]) + inner


def test_the_baseline_signature_verifies() -> None:
    assert der_seq(der_int(R), der_int(S)) == SIGNATURE
    assert PUB.verify(SIGNATURE, MESSAGE)


def test_every_single_bit_flip_is_rejected() -> None:
    for position in range(len(SIGNATURE)):
        for bit in range(8):
            forged = bytearray(SIGNATURE)
            forged[position] ^= 1 << bit
            assert not PUB.verify(bytes(forged), MESSAGE), (position, bit)


def test_wrong_key_wrong_id_wrong_message_are_rejected() -> None:
    assert not PrivateKey.generate().public_key.verify(SIGNATURE, MESSAGE)
    assert not PUB.verify(SIGNATURE, MESSAGE, b"1234567812345679")
    assert not PUB.verify(SIGNATURE, MESSAGE, b"")
    assert not PUB.verify(SIGNATURE, MESSAGE + b" ")
    assert not PUB.verify(SIGNATURE, MESSAGE[:-1])


def test_every_truncation_is_rejected() -> None:
    for length in range(len(SIGNATURE)):
        assert not PUB.verify(SIGNATURE[:length], MESSAGE), length


@pytest.mark.parametrize(
    ("label", "r", "s"),
    [
        ("r = 0", 0, S),
        ("s = 0", R, 0),
        ("r = n", N, S),
        ("s = n", R, N),
        ("r + n", R + N, S),
        ("s + n", R, S + N),
        ("r = 2^256-1", 2**256 - 1, S),
        ("s = 2^256-1", R, 2**256 - 1),
        ("s -> n - s (no 'low-S' twin in SM2)", R, N - S),
        ("r + s = n", R, N - R),
    ],
)
def test_out_of_range_or_twin_r_s_are_rejected(label: str, r: int, s: int) -> None:
    forged = der_seq(der_int(r), der_int(s))
    assert not PUB.verify(forged, MESSAGE), label
    if not (0 < r < N and 0 < s < N):
        with pytest.raises(SignatureError):
            parse_der_signature(forged)


def test_non_strict_der_is_rejected() -> None:
    body = der_int(R) + der_int(S)
    cases = {
        "trailing byte": SIGNATURE + b"\x00",
        "trailing sequence": SIGNATURE + SIGNATURE,
        "extra leading zero on r": der_seq(der_int(R, pad=1), der_int(S)),
        "extra leading zero on s": der_seq(der_int(R), der_int(S, pad=1)),
        "long-form length": b"\x30\x81" + bytes([len(body)]) + body,
        "indefinite length": b"\x30\x80" + body + b"\x00\x00",
        "length too long": b"\x30" + bytes([len(body) + 1]) + body,
        "length too short": b"\x30" + bytes([len(body) - 1]) + body,
        "SET instead of SEQUENCE": b"\x31" + SIGNATURE[1:],
        "BIT STRING instead of INTEGER": der_seq(b"\x03" + der_int(R)[1:], der_int(S)),
        "negative r": der_seq(b"\x02\x01\xff", der_int(S)),
        "three integers": der_seq(der_int(R), der_int(S), der_int(1)),
        "one integer": der_seq(der_int(R)),
        "raw r||s": R.to_bytes(32, "big") + S.to_bytes(32, "big"),
        "empty": b"",
    }
    for label, forged in cases.items():
        assert not PUB.verify(forged, MESSAGE), label
        with pytest.raises(SignatureError):
            parse_der_signature(forged)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_raise(garbage: bytes) -> None:
    assert PUB.verify(garbage, MESSAGE) is False
    assert PUB.verify_digest(garbage, PUB.digest(MESSAGE)) is False


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=64))
def test_sign_verify_roundtrip_any_message_and_id(message: bytes, distid: bytes) -> None:
    signature = KEY.sign(message, distid)
    assert PUB.verify(signature, message, distid)
    assert PUB.verify_digest(signature, PUB.digest(message, distid))
    assert PUB.verify(signature, message, distid + b"x") is False


def test_digest_length_is_enforced() -> None:
    e = PUB.digest(MESSAGE)
    assert PUB.verify_digest(KEY.sign_digest(e), e)
    for bad in (b"", e[:31], e + b"\x00"):
        assert PUB.verify_digest(SIGNATURE, bad) is False
        with pytest.raises(SignatureError):
            KEY.sign_digest(bad)


def test_distinguishing_id_must_be_bytes_of_sane_length() -> None:
    with pytest.raises(SignatureError):
        PUB.verify(SIGNATURE, MESSAGE, "1234567812345678")  # type: ignore[arg-type]
    with pytest.raises(SignatureError):
        KEY.sign(MESSAGE, b"x" * 8192)
    assert DEFAULT_ID == b"1234567812345678"


# Keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "garbage",
        "-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        P256_PUBLIC,
        ED25519_PUBLIC,
        P256_PRIVATE,
        KEY.to_pem().decode(),
    ],
    ids=["empty", "garbage", "bad-base64", "bad-der", "p256", "ed25519", "p256-private",
         "sm2-private"],
)
def test_unusable_public_pem_raises_key_format_error(pem: str) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_pem(pem)


@pytest.mark.parametrize(
    "pem",
    ["", "garbage", P256_PRIVATE, ED25519_PRIVATE, P256_PUBLIC, PUB.pem],
    ids=["empty", "garbage", "p256", "ed25519", "p256-public", "sm2-public"],
)
def test_unusable_private_pem_raises_key_format_error(pem: str) -> None:
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(pem)


def test_private_key_passwords() -> None:
    encrypted = KEY.to_pem(b"right")
    assert PrivateKey.from_pem(encrypted, password=b"right").public_key == PUB
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(encrypted, password=b"wrong")
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(encrypted)
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(KEY.to_pem(), password=b"not encrypted")


def test_bad_der_points_and_scalars_raise_key_format_error() -> None:
    assert PublicKey.from_der(PUB.der) == PUB
    assert PublicKey.from_point(PUB.point) == PUB
    with pytest.raises(KeyFormatError):
        PublicKey.from_der(PUB.der[:-1])
    with pytest.raises(KeyFormatError):
        PublicKey.from_der(b"\x30\x00")
    off_curve = PUB.point[:-1] + bytes([PUB.point[-1] ^ 1])
    with pytest.raises(KeyFormatError):
        PublicKey.from_point(off_curve)
    with pytest.raises(KeyFormatError):
        PublicKey.from_point(b"\x04" + b"\x00" * 64)
    for scalar in (0, -1, N - 1, N, 2**256):
        with pytest.raises(KeyFormatError):
            PrivateKey.from_scalar(scalar)


# SM4 ----------------------------------------------------------------------------------

SM4_KEY = bytes(range(16))


def test_sealed_blob_roundtrip_and_every_tamper_is_detected() -> None:
    blob = sm4.seal(SM4_KEY, b"custodial key material", b"key-id-1")
    assert sm4.open_sealed(SM4_KEY, blob, b"key-id-1") == b"custodial key material"
    assert sm4.seal(SM4_KEY, b"custodial key material", b"key-id-1") != blob  # fresh nonce
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            sm4.open_sealed(SM4_KEY, bytes(tampered), b"key-id-1")


def test_sealed_blob_wrong_context_key_or_length() -> None:
    blob = sm4.seal(SM4_KEY, b"secret", b"key-id-1")
    with pytest.raises(DecryptionError):
        sm4.open_sealed(SM4_KEY, blob, b"key-id-2")
    with pytest.raises(DecryptionError):
        sm4.open_sealed(SM4_KEY, blob)
    with pytest.raises(DecryptionError):
        sm4.open_sealed(bytes(16), blob, b"key-id-1")
    for cut in (0, 1, 13, 28, len(blob) - 1):
        with pytest.raises(DecryptionError):
            sm4.open_sealed(SM4_KEY, blob[:cut], b"key-id-1")
    with pytest.raises(DecryptionError):
        sm4.open_sealed(SM4_KEY, blob + b"\x00", b"key-id-1")
    assert sm4.open_sealed(SM4_KEY, sm4.seal(SM4_KEY, b"")) == b""


def test_sm4_bad_arguments_raise_crypto_error() -> None:
    for key in (b"", b"short", bytes(32)):
        with pytest.raises(CryptoError):
            sm4.seal(key, b"x")
    with pytest.raises(CryptoError):
        sm4.gcm_encrypt(SM4_KEY, b"short", b"x")
    with pytest.raises(CryptoError):
        sm4.ccm_encrypt(SM4_KEY, b"short", b"x")
    with pytest.raises(CryptoError):
        sm4.transform("CBC", SM4_KEY, None, bytes(16), encrypt=True)
    with pytest.raises(CryptoError):
        sm4.transform("ECB", SM4_KEY, None, bytes(15), encrypt=True)
    with pytest.raises(CryptoError):
        sm4.transform("XTS", SM4_KEY, bytes(16), bytes(16), encrypt=True)  # type: ignore[arg-type]
