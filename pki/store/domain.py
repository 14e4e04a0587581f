"""Tables of the domain packages (JPKI's resident registry and cards, LGPKI's bodies) inside the one store.

``pki`` knows nothing of JPKI or LGPKI, yet the store stays the only owner of persistence: a domain package
declares its tables as a :class:`DomainSchema` (a name and numbered upgrade steps) and the store creates
and upgrades them next to its own, in its database, with the same transactions:

- :meth:`DomainRecords.ensure_domain` brings a domain's tables to its newest version in one write
  transaction (the version is kept in ``domain_schema``; a PostgreSQL advisory lock makes a second process
  wait, then find nothing to do). A database newer than the code is refused, as for the core schema.
- :meth:`DomainRecords.domain_write` is one write transaction (SQLite: ``BEGIN IMMEDIATE``) whose
  :class:`DomainTx` also appends audit records, so a domain change and its audit record commit together.
- :meth:`DomainRecords.domain_read` is a connection for reads.

Driver errors become PkiErrors (:mod:`pki.store.boundary`): StoreUnavailable, StoreConflict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pki.audit.chain import AuditRecord
from pki.errors import StoreUnavailable
from pki.store.boundary import Conflicts, translated
from pki.store.engine import is_postgres
from pki.store.rows import AuditEntry
from pki.store.schema import domain_schema

DOMAIN_LOCK = 0x6A6C6973_00000002
"""PostgreSQL advisory lock key held while a domain schema upgrades ("jlis", 2)."""

Step = Callable[[Connection], None]
"""One upgrade step: runs DDL (and data moves) on a connection inside the upgrade transaction."""


@dataclass(frozen=True, slots=True)
class DomainSchema:
    """A domain package's tables: ``steps[i]`` takes them from version ``i`` to ``i + 1``.

    Steps are append-only once released: a database at version ``n`` runs only ``steps[n:]``.
    """

    name: str
    steps: Sequence[Step]

    @property
    def version(self) -> int:
        return len(self.steps)


@dataclass(frozen=True, slots=True)
class DomainTx:
    """One write transaction for a domain: SQL on ``conn``, audit records with :meth:`audit`."""

    conn: Connection
    append_audit: Callable[[Connection, AuditEntry], AuditRecord]

    def audit(self, entry: AuditEntry) -> AuditRecord:
        """Append an audit record that commits (or rolls back) with this transaction."""
        return self.append_audit(self.conn, entry)


class DomainRecords:
    """Store methods for domain tables (mixed into :class:`pki.store.Store`)."""

    _engine: Engine
    _ensured: set[str]

    def _write(self, conflicts: Conflicts | None = None) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # implemented by Store

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # implemented by Store

    def _audit(self, conn: Connection, audit: AuditEntry) -> AuditRecord:
        raise NotImplementedError  # implemented by Store

    def ensure_domain(self, schema: DomainSchema) -> None:
        """Create or upgrade a domain's tables to ``schema.version`` (a no-op once there, and cheap)."""
        if schema.name in self._ensured:
            return
        with self._write() as conn:
            if is_postgres(self._engine):
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(DOMAIN_LOCK)))
            found = conn.execute(
                sa.select(domain_schema.c.version).where(domain_schema.c.name == schema.name)
            ).scalar_one_or_none()
            current = found or 0
            if current > schema.version:
                raise StoreUnavailable(
                    f"the {schema.name} tables are at version {current}, newer than this jlis-pki knows "
                    f"({schema.version}); upgrade jlis-pki"
                )
            for step in schema.steps[current:]:
                step(conn)
            if found is None:
                conn.execute(sa.insert(domain_schema).values(name=schema.name, version=schema.version))
            elif current != schema.version:
                conn.execute(
                    sa.update(domain_schema)
                    .where(domain_schema.c.name == schema.name)
                    .values(version=schema.version)
                )
        self._ensured.add(schema.name)

    def domain_version(self, name: str) -> int:
        """The version a domain's tables are at (0: not created)."""
        with self._read() as conn:
            found = conn.execute(
                sa.select(domain_schema.c.version).where(domain_schema.c.name == name)
            ).scalar_one_or_none()
        return found or 0

    @contextmanager
    def domain_write(self, conflicts: Conflicts | None = None) -> Iterator[DomainTx]:
        """One write transaction; whatever raises inside leaves nothing behind."""
        with self._write(conflicts) as conn:
            yield DomainTx(conn, self._audit)

    @contextmanager
    def domain_read(self) -> Iterator[Connection]:
        """A connection for reads (each statement sees what was committed before it)."""
        with translated(), self._read() as conn:
            yield conn
