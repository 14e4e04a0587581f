"""The VerifyError tree: input a verifier cannot work with (raised), as opposed to a verdict (returned).

A signature that does not verify, an expired certificate or a revoked one is a *verdict*
(:class:`pki.verify.Verdict`), never an exception. Exceptions are for inputs that cannot be judged at all:
bytes that are not a certificate, a detached signature without its content, no trust anchors, a naive time.
"""

from __future__ import annotations

from pki.errors import PkiError


class VerifyError(PkiError):
    """Base of every verification error."""


class MalformedInput(VerifyError):
    """Bytes that do not parse as what they should be (``what``: certificate, CRL, CMS signature...)."""

    def __init__(self, what: str, source: str, why: str) -> None:
        why = " ".join(why.split())  # parsers write several lines; a message is one
        super().__init__(f"{source}: not a valid {what} ({why})")
        self.what = what
        self.source = source
        self.why = why


class UnsupportedInput(VerifyError):
    """Well-formed input this verifier does not handle (e.g. several SignerInfos, a non-data content)."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"unsupported {what}: {why}")
        self.what = what
        self.why = why


class ContentMissing(VerifyError):
    """A detached signature was given without the content it signs."""

    def __init__(self) -> None:
        super().__init__("the signature is detached: give the signed content as well")


class ContentConflict(VerifyError):
    """An attached signature was given a separate content too: which one was meant is unclear."""

    def __init__(self) -> None:
        super().__init__("the signature already holds its content: do not give a separate content")


class NoAnchors(VerifyError):
    """Path validation without a pinned trust anchor: nothing could ever be trusted."""

    def __init__(self, where: str = "") -> None:
        hint = f" in {where}" if where else ""
        super().__init__(f"no trust anchor certificates{hint}: give the CA certificates you trust")
        self.where = where


class BadParameter(VerifyError):
    """A validation parameter that makes no sense (a naive time, a malformed policy OID...)."""

    def __init__(self, name: str, value: str, why: str) -> None:
        super().__init__(f"{name} {value!r}: {why}")
        self.name = name
        self.value = value
        self.why = why


class FetchFailed(VerifyError):
    """Revocation data could not be fetched from ``url`` (network error, HTTP error status, timeout).

    Fetchers raise it; the validator turns it into an *indeterminate* verdict when revocation data is
    required, so callers of :class:`pki.verify.PathValidator` never see it.
    """

    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"{url}: {why}")
        self.url = url
        self.why = why
