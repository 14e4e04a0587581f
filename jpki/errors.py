"""The JpkiError tree. Errors carry data (the field, the otherName type-id, the reason). Messages never repeat
personal data (a name, an address, a date of birth): they give lengths, positions and code points instead,
so they are safe to log."""

from __future__ import annotations


class JpkiError(Exception):
    """Base of every JPKI error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FourInfoError(JpkiError):
    """Basic 4 information (基本4情報) that does not validate, to encode or as decoded from a certificate.

    ``field`` is the FourInfo attribute (``name``, ``birth``, ``era``, ``sex``, ``address``,
    ``name_substitutes``, ``address_substitutes``) or ``subjectAltName``; ``oid`` the item's type-id.
    """

    def __init__(self, field: str, reason: str, oid: str | None = None) -> None:
        where = f"{field} ({oid})" if oid else field
        super().__init__(f"basic 4 information: {where}: {reason}")
        self.field = field
        self.reason = reason
        self.oid = oid


class NoFourInfo(FourInfoError):
    """A certificate with none of the basic 4 information: not a JPKI signing certificate (an
    authentication certificate carries none)."""

    def __init__(self, why: str = "no basic 4 information") -> None:
        JpkiError.__init__(self, f"not a JPKI signing certificate: {why}")
        self.field = "subjectAltName"
        self.reason = why
        self.oid = None
