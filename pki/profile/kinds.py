"""Profile kinds: what sort of certificate a profile makes."""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    """The certificate a profile makes."""

    ca = "ca"
    """A CA certificate: a self-signed root, a subordinate CA, or a link (key-rollover) certificate."""
    ee = "ee"
    """An end-entity certificate."""
    ocsp_responder = "ocsp-responder"
    """A delegated OCSP responder's certificate (RFC 6960 §4.2.2.2)."""
    cross = "cross"
    """A cross-certificate to another PKI's CA (bridge): may carry policyMappings."""

    @property
    def is_ca(self) -> bool:
        return self in (Kind.ca, Kind.cross)
