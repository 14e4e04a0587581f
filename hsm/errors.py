"""The HsmError tree: every backend failure surfaces as one of these, mapped once at the backend boundary.

Messages are for users: they name the token, the key label or the mechanism, and never contain a PIN,
a passphrase or key material. The underlying library exception, when there is one, stays in ``__cause__``.
"""

from __future__ import annotations


class HsmError(Exception):
    """Base of every key-custody error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidKeyUri(HsmError):
    """A key URI that cannot be parsed or names an unsupported scheme or attribute."""

    def __init__(self, uri: str, why: str) -> None:
        uri = _redact_uri(uri)
        super().__init__(f"invalid key URI {uri!r}: {why}")
        self.uri = uri
        self.why = why


def _redact_uri(uri: str) -> str:
    """Hide a PIN someone put in a URI (RFC 7512 ``pin-value``), so no message ever repeats it."""
    import re

    return re.sub(r"(pin-value=)[^&;#]*", r"\1<hidden>", uri, flags=re.IGNORECASE)


class PinMissing(HsmError):
    """No PIN or passphrase was supplied where one is needed."""

    def __init__(self, what: str, how: str) -> None:
        super().__init__(f"no {what} given: {how}")
        self.what = what


class PinIncorrect(HsmError):
    """The PIN (PKCS#11) or passphrase (software keys) was rejected."""

    def __init__(self, where: str) -> None:
        super().__init__(f"incorrect PIN or passphrase for {where}")
        self.where = where


class PinLocked(HsmError):
    """The token locked the PIN after too many failures."""

    def __init__(self, where: str) -> None:
        super().__init__(f"the PIN of {where} is locked")
        self.where = where


class TokenNotFound(HsmError):
    """No token (or key store directory) matches the URI."""

    def __init__(self, token: str) -> None:
        super().__init__(f"token not found: {token}")
        self.token = token


class KeyNotFound(HsmError):
    """No private key with that label (or id) exists in the backend."""

    def __init__(self, label: str, where: str) -> None:
        super().__init__(f"key {label!r} not found in {where}")
        self.label = label
        self.where = where


class KeyExists(HsmError):
    """A key with that label already exists; keys are never overwritten."""

    def __init__(self, label: str, where: str) -> None:
        super().__init__(f"key {label!r} already exists in {where}")
        self.label = label
        self.where = where


class MechanismUnsupported(HsmError):
    """The algorithm, key type or mechanism is not supported by us or by the backend."""

    def __init__(self, mechanism: str, why: str = "not supported") -> None:
        super().__init__(f"unsupported algorithm or mechanism {mechanism}: {why}")
        self.mechanism = mechanism


class PayloadLengthInvalid(HsmError):
    """A raw PKCS#1 v1.5 payload that is empty or longer than the key leaves room for (k - 11 octets)."""

    def __init__(self, length: int, maximum: int) -> None:
        super().__init__(f"cannot sign a {length}-byte raw PKCS#1 v1.5 payload: give 1 to {maximum} bytes")
        self.length = length
        self.maximum = maximum


class TokenBusy(HsmError):
    """Every session of the pool stayed busy for the whole wait, or the token refused another session."""

    def __init__(self, token: str, why: str = "no free session") -> None:
        super().__init__(f"token {token} is busy: {why}")
        self.token = token


class KeyNotExtractable(HsmError):
    """Wrapping was refused: the key was not made backupable, or the wrapping key is not trusted."""

    def __init__(self, label: str, why: str) -> None:
        super().__init__(f"key {label!r} cannot be wrapped: {why}")
        self.label = label
        self.why = why


class BackendFailure(HsmError):
    """The device or library failed in a way the caller cannot fix by changing its input."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"{operation} failed in the key backend ({code})")
        self.operation = operation
        self.code = code
