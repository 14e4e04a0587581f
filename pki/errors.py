"""The PkiError tree. Errors carry data (CA id, serial, reason, file, key); messages are for users and never
contain key material or PINs. HTTP adapters map these to 4xx answers; nothing here is a 5xx."""

from __future__ import annotations


class PkiError(Exception):
    """Base of every PKI-core error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProfileError(PkiError):
    """A profile or PKI definition that does not validate: names the file, the key and the fix."""

    def __init__(self, file: str, key: str, problem: str, fix: str) -> None:
        super().__init__(f"{file}: {key}: {problem} ({fix})")
        self.file = file
        self.key = key
        self.problem = problem
        self.fix = fix


class UnknownCa(PkiError):
    def __init__(self, ca_id: str) -> None:
        super().__init__(f"unknown CA {ca_id!r}")
        self.ca_id = ca_id


class UnknownSerial(PkiError):
    def __init__(self, ca_id: str, serial: int) -> None:
        super().__init__(f"CA {ca_id!r} has not issued serial {serial:x}")
        self.ca_id = ca_id
        self.serial = serial


class DuplicateSerial(PkiError):
    """The store already holds this serial for this CA (serials are unique per CA)."""

    def __init__(self, ca_id: str, serial: int) -> None:
        super().__init__(f"CA {ca_id!r} already has serial {serial:x}")
        self.ca_id = ca_id
        self.serial = serial


class AlreadyRevoked(PkiError):
    def __init__(self, ca_id: str, serial: int, reason: str) -> None:
        super().__init__(f"serial {serial:x} of CA {ca_id!r} is already revoked ({reason})")
        self.ca_id = ca_id
        self.serial = serial
        self.reason = reason


class InvalidRevocation(PkiError):
    """A revocation request the CA's policy or RFC 5280 does not allow (bad reason, release forbidden...)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"revocation refused: {why}")
        self.why = why


class IssuanceRefused(PkiError):
    """A request the profile does not allow, or a bad CSR / public key. Nothing was signed or stored."""

    def __init__(self, why: str) -> None:
        super().__init__(f"issuance refused: {why}")
        self.why = why


class StoreUnavailable(PkiError):
    """The database cannot be reached or is locked; the caller may retry (OCSP answers tryLater)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"certificate store unavailable: {why}")
        self.why = why


class AuditChainBroken(PkiError):
    """The audit log does not verify; ``problems`` names each altered, deleted, inserted or moved record."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"audit log does not verify: {len(problems)} problem(s); first: {problems[0]}")
        self.problems = problems
