"""The injected clock: logic never calls ``datetime.now()``; it asks a Clock. Aware UTC datetimes only."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """Wall-clock time, truncated to whole seconds (X.509 times have no fractions)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)


class FixedClock:
    """A clock tests set and move by hand."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = ensure_aware(at)

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta) -> None:
        self.at = self.at + delta


def ensure_aware(value: dt.datetime) -> dt.datetime:
    """Refuse naive datetimes: a time without a zone is a bug waiting for a server in another zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: give a timezone")
    return value.astimezone(dt.UTC)
