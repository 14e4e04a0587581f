"""The OcspError tree. Errors carry data; a MalformedRequest's reason is a short fixed phrase that never
repeats what the client sent (at most a tag byte in hex), so it is safe to log and to count."""

from __future__ import annotations


class OcspError(Exception):
    """Base of every OCSP error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedRequest(OcspError):
    """A request that is not exactly one DER OCSPRequest we can answer: the responder says
    ``malformedRequest`` (RFC 6960 §2.3). ``reason`` says what was wrong, for logs and metrics."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed OCSP request: {reason}")
        self.reason = reason


class ResponseError(OcspError):
    """A response that cannot be encoded or signed as asked: ``what`` names the field, ``problem`` says why.

    Raised before the Signer is used (or, for a signature that does not verify, before the response is
    returned), so a refused response is never served.
    """

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(f"OCSP response {what}: {problem}")
        self.what = what
        self.problem = problem
