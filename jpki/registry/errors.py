"""Errors of the resident registry. Like every JpkiError they carry data and never personal data."""

from __future__ import annotations

from jpki.errors import JpkiError


class RegistryError(JpkiError):
    """Base of the registry's errors."""


class InvalidResident(RegistryError):
    """A resident record or an event that does not validate: ``field`` says which part, ``reason`` why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"resident record: {field}: {reason}")
        self.field = field
        self.reason = reason


class UnknownResident(RegistryError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no resident with code {code}")
        self.code = code


class ResidentExists(RegistryError):
    def __init__(self, code: str) -> None:
        super().__init__(f"a resident with code {code} is already registered")
        self.code = code


class EventConflict(RegistryError):
    """An event id seen before with different content: the sender reused an id."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id} was recorded before with different content; use a new event id")
        self.event_id = event_id


class EventRefused(RegistryError):
    """An event that cannot apply to the resident as recorded (e.g. a move of a deceased resident)."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(f"event {event_id} refused: {reason}")
        self.event_id = event_id
        self.reason = reason
