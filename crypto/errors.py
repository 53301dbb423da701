"""The documented error types of :mod:`crypto`. Nothing else escapes its public API."""


class CryptoError(Exception):
    """Base class of every error raised by the crypto package."""


class KeyFormatError(CryptoError):
    """A key could not be read: wrong encoding, wrong curve, wrong type, or bad passphrase."""


class SignatureError(CryptoError):
    """A signature is malformed (not DER, out-of-range r or s) or could not be made."""


class DecryptionError(CryptoError):
    """Ciphertext failed authentication: wrong key, wrong associated data, or tampering."""


class CanonicalizationError(CryptoError, ValueError):
    """A value cannot be represented in RFC 8785 canonical JSON; ``path`` names where."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
