"""The fee ledger: every provision to a registered verifier, counted per verifier, service, CA and day.

Throughput: an OCSP answer must not wait for a database write. :meth:`Ledger.record_provision` only adds to
a count in memory, keyed by (verifier, service, CA, day in Japan, unit fee); the flusher (:mod:`.flusher`)
adds the counts to ``jpki_provision`` in one transaction every second, and once more when the process
stops. Each process of ``jlis serve --workers N`` keeps and flushes its own counts (the flush adds, it
never overwrites, so processes do not need to agree). What a crash can lose: the counts since the last
flush, at most ``flush_period`` seconds of provisions (and, while the store is unreachable, what piled up
since it went away: a failed flush keeps its counts for the next one). A statement reads what was flushed.

The unit fee is taken from the :class:`~.fees.FeeSchedule` when the provision is recorded and kept with the
count, so changing a fee never reprices what was already provided. Days and months are Japan's (JST): a
provision at 23:30 UTC on 31 January is on 1 February's statement.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from jpki import tables
from jpki.card.validity import JST
from jpki.verifiers.errors import LedgerError
from jpki.verifiers.fees import FeeSchedule, Service, parse_service
from pki.clock import Clock
from pki.store import DomainTx, Store

P = tables.provision
R = tables.provision_ref
V = tables.verifier
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
MAX_REF = 128


@dataclass(frozen=True, slots=True)
class _Key:
    verifier_id: str
    service: Service
    ca_id: str
    day: dt.date
    unit_fee: int


@dataclass(frozen=True, slots=True)
class _Ref:
    key: _Key
    ref: str
    count: int
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month in Japan."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.fullmatch(text.strip())
        if match is None:
            raise LedgerError("month", f"{text!r}: write the month as YYYY-MM, e.g. 2026-11")
        return cls(int(match[1]), int(match[2]))

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def next_first_day(self) -> dt.date:
        return dt.date(self.year + self.month // 12, self.month % 12 + 1, 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class StatementRow:
    verifier_id: str
    verifier_name: str | None
    service: Service
    ca_id: str
    count: int
    unit_fee: int

    @property
    def amount(self) -> int:
        return self.count * self.unit_fee

    def as_dict(self) -> dict[str, Any]:
        return {
            "verifier": self.verifier_id,
            "name": self.verifier_name,
            "service": self.service.value,
            "ca": self.ca_id,
            "count": self.count,
            "unit_fee": self.unit_fee,
            "amount": self.amount,
        }


@dataclass(frozen=True, slots=True)
class Statement:
    """A month's provisions, by verifier, service, CA and unit fee, in yen."""

    month: Month
    verifier_id: str | None
    rows: tuple[StatementRow, ...]

    @property
    def total(self) -> int:
        return sum(row.amount for row in self.rows)

    @property
    def count(self) -> int:
        return sum(row.count for row in self.rows)

    def totals(self) -> dict[str, int]:
        """Yen per verifier."""
        by: Counter[str] = Counter()
        for row in self.rows:
            by[row.verifier_id] += row.amount
        return dict(by)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "verifier": self.verifier_id,
            "currency": "JPY",
            "rows": [row.as_dict() for row in self.rows],
            "totals": self.totals(),
            "count": self.count,
            "total": self.total,
        }


class Ledger:
    """Provisions counted in memory and flushed in batches (see the module docstring). Thread-safe."""

    def __init__(self, store: Store, clock: Clock, fees: FeeSchedule | None = None) -> None:
        store.ensure_domain(tables.SCHEMA)
        self._store = store
        self._clock = clock
        self.fees = fees or FeeSchedule.standard()
        self._lock = threading.Lock()
        self._counts: Counter[_Key] = Counter()
        self._refs: list[_Ref] = []

    def record_provision(
        self, verifier_id: str, service: Service | str, ca_id: str, count: int = 1, ref: str | None = None
    ) -> None:
        """Count ``count`` units of ``service`` about certificates of ``ca_id`` for a verifier, at the fee
        in force now. ``ref`` (a request or consent id, up to 128 characters) is kept with the provision
        for tracing; it does not make the call idempotent. Never touches the database."""
        if not isinstance(service, Service):
            service = parse_service(service)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise LedgerError("count", f"{count!r} is not a whole number >= 1")
        if ref is not None and not 0 < len(ref) <= MAX_REF:
            raise LedgerError("ref", f"must be 1 to {MAX_REF} characters")
        now = self._clock.now()
        key = _Key(verifier_id, service, ca_id, now.astimezone(JST).date(), self.fees.unit(service, ca_id))
        with self._lock:
            self._counts[key] += count
            if ref is not None:
                self._refs.append(_Ref(key, ref, count, now))

    def pending(self) -> int:
        """Units counted and not yet flushed."""
        with self._lock:
            return sum(self._counts.values())

    def take(self, *, everything: bool = False) -> LedgerBatch | None:
        """Everything counted so far, for the flusher (``everything`` is the same: all is due at once)."""
        with self._lock:
            if not self._counts:
                return None
            counts, refs = self._counts, self._refs
            self._counts, self._refs = Counter(), []
        return LedgerBatch(self, counts, refs)

    def _restore(self, counts: Counter[_Key], refs: list[_Ref]) -> None:
        with self._lock:
            self._counts.update(counts)
            self._refs[:0] = refs

    # -- statements ------------------------------------------------------------------------------------------

    def statement(self, verifier_id: str | None, month: Month | str) -> Statement:
        """The month's provisions (of one verifier, or all), as flushed so far."""
        if isinstance(month, str):
            month = Month.parse(month)
        total = sa.func.sum(P.c.count).label("count")
        query = (
            sa.select(P.c.verifier_id, V.c.name, P.c.service, P.c.ca_id, P.c.unit_fee, total)
            .select_from(P.outerjoin(V, V.c.verifier_id == P.c.verifier_id))
            .where(P.c.day >= month.first_day, P.c.day < month.next_first_day)
            .group_by(P.c.verifier_id, V.c.name, P.c.service, P.c.ca_id, P.c.unit_fee)
            .order_by(P.c.verifier_id, P.c.service, P.c.ca_id, P.c.unit_fee)
        )
        if verifier_id is not None:
            query = query.where(P.c.verifier_id == verifier_id)
        with self._store.domain_read() as conn:
            rows = tuple(
                StatementRow(
                    m["verifier_id"],
                    m["name"],
                    Service(m["service"]),
                    m["ca_id"],
                    int(m["count"]),
                    int(m["unit_fee"]),
                )
                for m in conn.execute(query).mappings()
            )
        return Statement(month, verifier_id, rows)

    def references(self, verifier_id: str, month: Month | str) -> list[dict[str, Any]]:
        """The provisions recorded with a reference in a month, oldest first."""
        if isinstance(month, str):
            month = Month.parse(month)
        query = (
            sa.select(R)
            .where(R.c.verifier_id == verifier_id, R.c.day >= month.first_day, R.c.day < month.next_first_day)
            .order_by(R.c.at, R.c.id)
        )
        with self._store.domain_read() as conn:
            return [
                {
                    "service": m["service"],
                    "ca": m["ca_id"],
                    "ref": m["ref"],
                    "count": m["count"],
                    "unit_fee": m["unit_fee"],
                    "at": m["at"].isoformat(),
                }
                for m in conn.execute(query).mappings()
            ]


@dataclass(frozen=True, slots=True)
class LedgerBatch:
    """Counts taken from a ledger: written in the flusher's transaction, or put back if it fails."""

    ledger: Ledger
    counts: Counter[_Key]
    refs: list[_Ref]

    def write(self, tx: DomainTx) -> None:
        _add_counts(tx.conn, self.counts.items())
        if self.refs:
            tx.conn.execute(sa.insert(R), [_ref_values(r) for r in self.refs])

    def restore(self) -> None:
        self.ledger._restore(self.counts, self.refs)

    def done(self) -> None:
        return None


def _add_counts(conn: Connection, counts: Iterable[tuple[_Key, int]]) -> None:
    """Add to the stored counts: one upsert (INSERT … ON CONFLICT DO UPDATE) for every key."""
    values = [
        {
            "verifier_id": k.verifier_id,
            "service": k.service.value,
            "ca_id": k.ca_id,
            "day": k.day,
            "unit_fee": k.unit_fee,
            "count": n,
        }
        for k, n in counts
    ]
    insert = postgresql.insert(P) if conn.dialect.name == "postgresql" else sqlite.insert(P)
    upsert = insert.on_conflict_do_update(
        index_elements=[P.c.verifier_id, P.c.service, P.c.ca_id, P.c.day, P.c.unit_fee],
        set_={"count": P.c.count + insert.excluded["count"]},
    )
    conn.execute(upsert, values)


def _ref_values(ref: _Ref) -> dict[str, Any]:
    k = ref.key
    return {
        "verifier_id": k.verifier_id,
        "service": k.service.value,
        "ca_id": k.ca_id,
        "ref": ref.ref,
        "count": ref.count,
        "unit_fee": k.unit_fee,
        "day": k.day,
        "at": ref.at,
    }
