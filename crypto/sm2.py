"""SM2 signatures (GB/T 32918) with SM3, at OpenSSL speed through tongsuopy.

Signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }`` over ``e = SM3(Z_A || M)`` where
``Z_A`` binds the signer's distinguishing ID and public key (GM/T 0009; default ID
``1234567812345678``, what OpenSSL's ``-pkeyopt distid:`` uses). ``Z_A`` is computed here
once per key and ID and cached, and the pre-hashed ``e`` is signed or verified by Tongsuo;
that is what lets any ID be used while staying on the fast path.

Public keys are SubjectPublicKeyInfo with id-ecPublicKey and the curve OID
1.2.156.10197.1.301 (what OpenSSL writes); a key id is the lowercase hex SM3 of that DER.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

from tongsuopy.backends.tongsuo import backend as _backend
from tongsuopy.crypto import serialization as _ser
from tongsuopy.crypto.asymciphers import ec as _ec

from crypto.errors import KeyFormatError, SignatureError

DEFAULT_ID = b"1234567812345678"
CURVE_OID = "1.2.156.10197.1.301"

# sm2p256v1 domain parameters (GB/T 32918.5-2017).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

_lib = _backend._lib
_ffi = _backend._ffi
_CURVE_PREFIX = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))


def _check_id(distid: bytes) -> None:
    if not isinstance(distid, bytes) or len(distid) >= 8192:
        raise SignatureError("distinguishing ID must be bytes shorter than 8192")


def parse_der_signature(signature: bytes) -> tuple[int, int]:
    """(r, s) from a strict DER signature; SignatureError if it is not exactly that."""
    if not isinstance(signature, bytes | bytearray) or len(signature) < 8:
        raise SignatureError("signature is not a DER SEQUENCE of two INTEGERs")
    sig = bytes(signature)
    if sig[0] != 0x30 or sig[1] != len(sig) - 2 or sig[1] >= 0x80:
        raise SignatureError("signature is not a DER SEQUENCE of two INTEGERs")
    values = []
    pos = 2
    for _ in range(2):
        if pos + 2 > len(sig) or sig[pos] != 0x02:
            raise SignatureError("signature is not a DER SEQUENCE of two INTEGERs")
        length = sig[pos + 1]
        body = sig[pos + 2 : pos + 2 + length]
        if length == 0 or length > 33 or len(body) != length:
            raise SignatureError("signature INTEGER has a bad length")
        if body[0] & 0x80 or (length > 1 and body[0] == 0 and not body[1] & 0x80):
            raise SignatureError("signature INTEGER is not minimally encoded")
        values.append(int.from_bytes(body, "big"))
        pos += 2 + length
    if pos != len(sig):
        raise SignatureError("signature has trailing bytes")
    r, s = values
    if not (0 < r < N and 0 < s < N):
        raise SignatureError("signature r or s is out of range [1, n-1]")
    return r, s


def encode_der_signature(r: int, s: int) -> bytes:
    """The DER encoding of (r, s)."""

    def integer(v: int) -> bytes:
        body = v.to_bytes((v.bit_length() + 8) // 8 or 1, "big")
        return b"\x02" + bytes([len(body)]) + body

    inner = integer(r) + integer(s)
    return b"\x30" + bytes([len(inner)]) + inner


class PublicKey:
    """An SM2 public key on sm2p256v1."""

    def __init__(self, key: Any) -> None:
        if not isinstance(key, _ec.EllipticCurvePublicKey) or key.curve.name != "SM2":
            raise KeyFormatError("not an SM2 public key (curve sm2p256v1 expected)")
        self._key = key
        self._z: dict[bytes, bytes] = {}

    @classmethod
    def from_pem(cls, data: bytes | str) -> PublicKey:
        raw = data.encode() if isinstance(data, str) else data
        try:
            return cls(_ser.load_pem_public_key(raw))
        except KeyFormatError:
            raise
        except Exception as exc:
            raise KeyFormatError(f"not a PEM SM2 public key: {_reason(exc)}") from None

    @classmethod
    def from_der(cls, data: bytes) -> PublicKey:
        try:
            return cls(_ser.load_der_public_key(data))
        except KeyFormatError:
            raise
        except Exception as exc:
            raise KeyFormatError(f"not a DER SM2 public key: {_reason(exc)}") from None

    @classmethod
    def from_point(cls, point: bytes) -> PublicKey:
        """From an uncompressed (04 || x || y) or compressed point."""
        try:
            return cls(_ec.EllipticCurvePublicKey.from_encoded_point(_ec.SM2(), point))
        except Exception as exc:
            raise KeyFormatError(f"not a point on sm2p256v1: {_reason(exc)}") from None

    @cached_property
    def der(self) -> bytes:
        return bytes(
            self._key.public_bytes(
                _ser.Encoding.DER, _ser.PublicFormat.SubjectPublicKeyInfo
            )
        )

    @cached_property
    def pem(self) -> str:
        return bytes(
            self._key.public_bytes(
                _ser.Encoding.PEM, _ser.PublicFormat.SubjectPublicKeyInfo
            )
        ).decode("ascii")

    @cached_property
    def key_id(self) -> str:
        """Lowercase hex SM3 of the DER SubjectPublicKeyInfo."""
        return hashlib.new("sm3", self.der).hexdigest()

    @cached_property
    def point(self) -> bytes:
        """The uncompressed point 04 || x || y."""
        numbers = self._key.public_numbers()
        x: int = numbers.x
        y: int = numbers.y
        return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")

    def z(self, distid: bytes = DEFAULT_ID) -> bytes:
        """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GB/T 32918.2 5.5)."""
        cached = self._z.get(distid)
        if cached is None:
            _check_id(distid)
            entl = (len(distid) * 8).to_bytes(2, "big")
            cached = hashlib.new("sm3", entl + distid + _CURVE_PREFIX + self.point[1:]).digest()
            self._z[distid] = cached
        return cached

    def digest(self, message: bytes, distid: bytes = DEFAULT_ID) -> bytes:
        """e = SM3(Z_A || M), the value SM2 actually signs."""
        hasher = hashlib.new("sm3", self.z(distid))
        hasher.update(message)
        return hasher.digest()

    def verify(self, signature: bytes, message: bytes, distid: bytes = DEFAULT_ID) -> bool:
        """True if ``signature`` (DER) is this key's SM2 signature of ``message``."""
        return self.verify_digest(signature, self.digest(message, distid))

    def verify_digest(self, signature: bytes, e: bytes) -> bool:
        """True if ``signature`` (DER) signs the pre-computed 32-byte digest ``e``."""
        try:
            parse_der_signature(signature)
        except SignatureError:
            return False
        if len(e) != 32:
            return False
        ctx = _lib.EVP_PKEY_CTX_new(self._key._evp_pkey, _ffi.NULL)
        try:
            if _lib.EVP_PKEY_verify_init(ctx) != 1:
                _backend._consume_errors()
                return False
            ok = _lib.EVP_PKEY_verify(ctx, bytes(signature), len(signature), e, len(e))
            if ok != 1:
                _backend._consume_errors()
            return bool(ok == 1)
        finally:
            _lib.EVP_PKEY_CTX_free(ctx)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"<sm2.PublicKey {self.key_id[:16]}>"


class PrivateKey:
    """An SM2 private key on sm2p256v1."""

    def __init__(self, key: Any) -> None:
        if not isinstance(key, _ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
            raise KeyFormatError("not an SM2 private key (curve sm2p256v1 expected)")
        self._key = key

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(_ec.generate_private_key(_ec.SM2()))

    @classmethod
    def from_scalar(cls, d: int) -> PrivateKey:
        if not 0 < d < N - 1:
            raise KeyFormatError("private scalar out of range [1, n-2]")
        return cls(_ec.derive_private_key(d, _ec.SM2()))

    @classmethod
    def from_pem(cls, data: bytes | str, password: bytes | None = None) -> PrivateKey:
        """From PKCS#8 (optionally encrypted) or SEC1 ``EC PRIVATE KEY`` PEM."""
        raw = data.encode() if isinstance(data, str) else data
        try:
            return cls(_ser.load_pem_private_key(raw, password=password))
        except KeyFormatError:
            raise
        except Exception as exc:
            raise KeyFormatError(f"not a usable PEM SM2 private key: {_reason(exc)}") from None

    def to_pem(self, password: bytes | None = None) -> bytes:
        """PKCS#8 PEM, encrypted under ``password`` if given."""
        encryption: Any = (
            _ser.BestAvailableEncryption(password) if password else _ser.NoEncryption()
        )
        return bytes(
            self._key.private_bytes(_ser.Encoding.PEM, _ser.PrivateFormat.PKCS8, encryption)
        )

    @cached_property
    def public_key(self) -> PublicKey:
        return PublicKey(self._key.public_key())

    def sign(self, message: bytes, distid: bytes = DEFAULT_ID) -> bytes:
        """The DER SM2 signature of ``message`` under distinguishing ID ``distid``."""
        return self.sign_digest(self.public_key.digest(message, distid))

    def sign_digest(self, e: bytes) -> bytes:
        """The DER SM2 signature of the pre-computed 32-byte digest ``e``."""
        if len(e) != 32:
            raise SignatureError("SM2 signs a 32-byte SM3 digest")
        ctx = _lib.EVP_PKEY_CTX_new(self._key._evp_pkey, _ffi.NULL)
        try:
            size = _ffi.new("size_t *")
            if _lib.EVP_PKEY_sign_init(ctx) != 1 or _lib.EVP_PKEY_sign(
                ctx, _ffi.NULL, size, e, len(e)
            ) != 1:
                _backend._consume_errors()
                raise SignatureError("SM2 signing failed to initialise")
            buf = _ffi.new("unsigned char[]", size[0])
            if _lib.EVP_PKEY_sign(ctx, buf, size, e, len(e)) != 1:
                _backend._consume_errors()
                raise SignatureError("SM2 signing failed")
            return bytes(_ffi.buffer(buf)[: size[0]])
        finally:
            _lib.EVP_PKEY_CTX_free(ctx)

    def __repr__(self) -> str:
        return f"<sm2.PrivateKey of {self.public_key.key_id[:16]}>"


def _reason(exc: Exception) -> str:
    first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    return first.split("\n")[0].strip() or type(exc).__name__
