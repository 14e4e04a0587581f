"""The CmsError tree: a SignedData that cannot be made as asked. Raised before the Signer is touched."""

from __future__ import annotations

import datetime as dt

from pki.errors import PkiError


class CmsError(PkiError):
    """Base of every CMS error."""


class CertificateKeyMismatch(CmsError):
    """The Signer's key is not the one the signing certificate certifies: the signature could never verify."""

    def __init__(self, signer_label: str, subject: str, serial: int) -> None:
        super().__init__(
            f"signer {signer_label!r} does not hold the key of certificate {subject!r} (serial {serial:x}); "
            "give the certificate issued for this signer's key"
        )
        self.signer_label = signer_label
        self.subject = subject
        self.serial = serial


class UnsupportedAlgorithm(CmsError):
    """A digest, or a digest and signature scheme together, that CMS signing here does not offer."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"CMS cannot sign with {name}: {why}")
        self.name = name
        self.why = why


class InvalidSigningTime(CmsError):
    """A signing time without a timezone: it would be read in the zone of whoever parses it."""

    def __init__(self, value: dt.datetime) -> None:
        super().__init__(f"signing time {value.isoformat()} is naive: give a timezone (UTC)")
        self.value = value
