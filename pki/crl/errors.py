"""The error CRL encoding raises: a spec or an entry that RFC 5280 does not allow, named with the fix."""

from __future__ import annotations

from pki.errors import PkiError


class CrlError(PkiError):
    """A CRL that cannot be encoded as asked: ``what`` names the field or entry, ``problem`` says why.

    Raised before anything is signed, so a refused CRL never reaches the Signer.
    """

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"CRL {what}: {problem}")
        self.what = what
        self.problem = problem
