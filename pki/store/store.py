"""``Store``: the only code that touches the database (docs/pki-core.md, "Store").

Each public method checks out its own pooled connection, so one Store serves many threads. Each method
that changes state is one transaction that ends by appending its audit record (pki.store.auditlog), so a
change and its record commit or roll back together; a refused call (a typed PkiError) changes nothing.
Driver errors never escape: :mod:`pki.store.boundary` maps them to the PkiError tree.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from pki.audit.chain import AuditRecord
from pki.clock import Clock, SystemClock, ensure_aware
from pki.errors import DuplicateSerial, InvalidRevocation, UnknownCa, UnknownSerial
from pki.model import CertStatus, RevocationReason, serial_hex
from pki.store import auditlog, certs, presigned, revocations
from pki.store.boundary import Conflicts, DatabaseFailure, translated
from pki.store.domain import DomainRecords
from pki.store.driver import POSTGRES, SQLITE, Sql, Tx, broken
from pki.store.engine import DEFAULT_BUSY_TIMEOUT, WRITE, is_postgres, make_engine
from pki.store.errors import (
    CaExists,
    DuplicateCrlNumber,
    NotPending,
    StoreConflict,
    UnknownCertificate,
)
from pki.store.generations import Generations, record_generation
from pki.store.lookups import BatchLookups
from pki.store.migrate import upgrade_to_head
from pki.store.ocsp_records import OcspRecords
from pki.store.rows import (
    AuditEntry,
    CaRow,
    CertRow,
    Checkpoint,
    CrlRow,
    LinkKind,
    PendingCert,
    RevocationRow,
    RevokedEntry,
    StatusRow,
    aware_or_none,
)
from pki.store.schema import (
    audit_checkpoint,
    audit_log,
    ca,
    cert_link,
    certificate,
    crl,
    crl_counter,
    revocation_counter,
)
from pki.tbs import tbs_of

STREAM_BATCH = 5000
"""Rows a stream (CRL entries, audit records) holds in memory at a time."""

_CA_EXISTS = sa.select(ca.c.ca_id).where(ca.c.ca_id == sa.bindparam("ca_id"))
_CERT_EXISTS = sa.select(certificate.c.id).where(certificate.c.id == sa.bindparam("cert_id"))
_SCOPE = re.compile(r"full|arl|shard:(0|[1-9][0-9]{0,5})")
"""CRL number sequences: ``full`` (full CRLs and their deltas, RFC 5280 §5.2.3), ``arl``, ``shard:N``."""


class Store(OcspRecords, DomainRecords, BatchLookups, Generations):
    """The certificate store over SQLite or PostgreSQL; create it with :meth:`open`, share it freely.
    What the OCSP responder reads and writes comes from :class:`pki.store.ocsp_records.OcspRecords`."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        """Wrap an engine from :func:`pki.store.engine.make_engine` whose schema is at head (use ``open``)."""
        self._engine = engine
        self._clock = clock
        # PostgreSQL: one-statement reads skip BEGIN/ROLLBACK round trips. (Not on SQLite, whose reads
        # already run in autocommit; switching the driver's isolation would undo the BEGIN takeover.)
        pg = is_postgres(engine)
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT") if pg else engine
        self._sql = POSTGRES if pg else SQLITE
        self._presigned = presigned.POSTGRES if pg else presigned.SQLITE
        self._head = auditlog.Head()
        self._ensured: set[str] = set()

    @classmethod
    def open(
        cls, url: str, *, clock: Clock | None = None, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> Store:
        """Open the store at a SQLAlchemy URL and migrate its schema to head (a no-op when already there).

        ``clock`` stamps audit records and row times (default: the system clock); ``busy_timeout`` is how
        many seconds a writer waits for a lock (SQLite's write lock, a PostgreSQL row lock) before
        StoreUnavailable.
        """
        engine = make_engine(url, busy_timeout=busy_timeout)
        try:
            with translated():
                upgrade_to_head(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock or SystemClock())

    def close(self) -> None:
        """Close every pooled connection (a closed store reconnects if used again)."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    # -- transactions ------------------------------------------------------------------------------------

    @contextmanager
    def _write(self, conflicts: Conflicts | None = None) -> Iterator[Connection]:
        """One write transaction (SQLite: ``BEGIN IMMEDIATE``); errors leave nothing behind."""
        with (
            translated(conflicts),
            self._engine.connect() as conn,
            conn.execution_options(**{WRITE: True}).begin(),
        ):
            yield conn

    @contextmanager
    def _raw_write(self, conflicts: Conflicts | None = None) -> Iterator[Tx]:
        """One write transaction on the driver's own cursor (the hot paths; :mod:`pki.store.driver`).

        The same transaction as :meth:`_write` (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: psycopg's implicit
        one) without SQLAlchemy per statement. Errors roll back; a connection the failure broke is dropped
        from the pool instead of being handed to the next caller.
        """
        with translated(conflicts):
            pooled = self._engine.raw_connection()
            driver: Any = pooled.driver_connection
            try:
                cursor = driver.cursor()
                if not self._sql.postgres:
                    cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield self._sql.tx(cursor)
                    driver.commit()
                except BaseException:
                    _quiet_rollback(driver)
                    raise
            except DatabaseFailure:
                if broken(driver):
                    pooled.invalidate()
                raise
            finally:
                pooled.close()

    @contextmanager
    def _raw_read(self) -> Iterator[Any]:
        """A driver cursor for one-statement reads (the OCSP hot path), in autocommit: each statement sees
        what was committed before it, with no BEGIN/ROLLBACK round trips. Errors become PkiErrors."""
        with translated():
            pooled = self._engine.raw_connection()
            driver: Any = pooled.driver_connection
            try:
                if self._sql.postgres:
                    driver.autocommit = True
                    try:
                        yield driver.cursor()
                    finally:
                        if not driver.closed:
                            driver.autocommit = False
                else:
                    yield driver.cursor()
            except DatabaseFailure:
                if broken(driver):
                    pooled.invalidate()
                raise
            finally:
                pooled.close()

    def _run(self, cursor: Any, sql: str, params: tuple[object, ...]) -> Any:
        if self._sql.postgres:
            return cursor.execute(sql, params, prepare=True)
        return cursor.execute(sql, params)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for one-statement reads."""
        with translated(), self._reader.connect() as conn:
            yield conn

    @contextmanager
    def _stream(self) -> Iterator[Connection]:
        """A connection for streamed reads (a transaction: PostgreSQL server-side cursors need one)."""
        with translated(), self._engine.connect() as conn:
            yield conn

    def _audit(self, conn: Connection, audit: AuditEntry) -> AuditRecord:
        """Append inside a SQLAlchemy write transaction (through its driver connection's cursor)."""
        driver: Any = conn.connection.driver_connection
        return auditlog.append(self._sql.tx(driver.cursor()), self._sql, self._head, audit, self._clock.now())

    def _chain(self, tx: Tx, record: AuditRecord, chained: bool, audit: AuditEntry) -> None:
        """After a PostgreSQL statement that tried to append ``record``: on a stale tip, the slow path."""
        if not chained:
            record = auditlog.locked_append(tx, self._sql, audit, record.at)
        self._head.tip = (record.seq, record.record_hash)

    @staticmethod
    def _require_ca(conn: Connection, ca_id: str) -> None:
        if conn.execute(_CA_EXISTS, {"ca_id": ca_id}).first() is None:
            raise UnknownCa(ca_id)

    # -- CAs ---------------------------------------------------------------------------------------------

    def add_ca(self, row: CaRow, audit: AuditEntry) -> None:
        """Record a CA and start its revocation counter; CaExists if the id is taken."""
        with self._write({"pk_ca": lambda: CaExists(row.ca_id)}) as conn:
            conn.execute(
                sa.insert(ca).values(
                    ca_id=row.ca_id,
                    subject_der=row.subject_der,
                    key_uri=row.key_uri,
                    cert_der=row.cert_der,
                    key_sha1=row.key_sha1,
                    created_at=row.created_at,
                )
            )
            conn.execute(sa.insert(revocation_counter).values(ca_id=row.ca_id, last_seq=0))
            record_generation(conn, row.ca_id, row.key_sha1, row.cert_der, row.key_uri, row.created_at)
            self._audit(conn, audit)

    def update_ca(
        self, ca_id: str, key_uri: str, cert_der: bytes, key_sha1: bytes, audit: AuditEntry
    ) -> None:
        """Point a CA at a new key and current certificate (key rollover); UnknownCa if there is none."""
        if len(key_sha1) != 20:
            raise ValueError("key_sha1 must be 20 bytes")
        with self._write() as conn:
            result = conn.execute(
                sa.update(ca)
                .where(ca.c.ca_id == ca_id)
                .values(key_uri=key_uri, cert_der=cert_der, key_sha1=key_sha1)
            )
            if result.rowcount != 1:
                raise UnknownCa(ca_id)
            record_generation(conn, ca_id, key_sha1, cert_der, key_uri, self._clock.now())
            self._audit(conn, audit)

    def get_ca(self, ca_id: str) -> CaRow:
        """A CA by id; UnknownCa if the store has none."""
        with self._read() as conn:
            found = conn.execute(sa.select(ca).where(ca.c.ca_id == ca_id)).mappings().first()
        if found is None:
            raise UnknownCa(ca_id)
        return _ca_row(found)

    def list_cas(self) -> list[CaRow]:
        """Every CA, by id."""
        with self._read() as conn:
            return [_ca_row(m) for m in conn.execute(sa.select(ca).order_by(ca.c.ca_id)).mappings()]

    # -- certificates ------------------------------------------------------------------------------------

    def reserve_certificate(self, cert: PendingCert, audit: AuditEntry) -> int:
        """Reserve a serial and record the TBS about to be signed (``pending``); returns the certificate id.

        DuplicateSerial if the CA already has the serial (the unique index decides, also between
        processes); UnknownCa for an unknown CA.
        """
        duplicate = {"uq_certificate_ca_id_serial_hex": lambda: DuplicateSerial(cert.ca_id, cert.serial)}
        sql, now = self._sql, self._clock.now()
        values = _pending_values(sql, cert, now)
        with self._raw_write(duplicate) as tx:
            if sql.postgres:  # one round trip: insert + audit append, when the cached tip holds
                record = auditlog.optimistic(self._head, audit, now)
                cert_id, chained = tx.one(sql.pg_reserve, values + auditlog.head_if_params(sql, record))
                if cert_id is None:
                    raise UnknownCa(cert.ca_id)
                self._chain(tx, record, chained, audit)
            else:
                inserted = tx.one(sql.insert_pending, values)
                if inserted is None:
                    raise UnknownCa(cert.ca_id)
                cert_id = inserted[0]
                auditlog.append(tx, sql, self._head, audit, now)
        return int(cert_id)

    def complete_certificate(self, cert_id: int, der: bytes, audit: AuditEntry) -> None:
        """Store the signed DER of a pending certificate: pending → good.

        The DER must carry the reserved serial and TBS (DerMismatch); UnknownCertificate for an unknown
        id, NotPending if it was completed already or aborted as a dead issuance.
        """
        try:
            parsed = x509.load_der_x509_certificate(der)
            key = certs.serial_key(parsed.serial_number)
            tbs = hashlib.sha256(parsed.tbs_certificate_bytes).digest()
        except ValueError:
            key, tbs = "", b""  # matches no reservation: the diagnosis says why
        sql, now = self._sql, self._clock.now()
        signed = (der, sql.time(now), cert_id, key, tbs)
        with self._raw_write() as tx:
            if sql.postgres:  # one round trip: pending -> good + audit append, when the cached tip holds
                record = auditlog.optimistic(self._head, audit, now)
                done, chained = tx.one(sql.pg_complete, signed + auditlog.head_if_params(sql, record))
                if not done:
                    _refuse_completion(tx, sql, cert_id, der)
                self._chain(tx, record, chained, audit)
            else:
                if tx.count(sql.complete, signed) != 1:
                    _refuse_completion(tx, sql, cert_id, der)
                auditlog.append(tx, sql, self._head, audit, now)

    def reserve_certificates(self, pending: Sequence[PendingCert], audits: Sequence[AuditEntry]) -> None:
        """Reserve many serials in one transaction (one commit), each with its own audit record, in order.

        All or nothing: DuplicateSerial (naming the first serial the CA already has; with several in the batch
        the error names one of them) or UnknownCa leaves none reserved.
        """
        if len(pending) != len(audits):
            raise ValueError("one audit entry per reservation")
        if not pending:
            return
        ca_ids = {cert.ca_id for cert in pending}
        first = pending[0]
        duplicate = {"uq_certificate_ca_id_serial_hex": lambda: DuplicateSerial(first.ca_id, first.serial)}
        sql, now = self._sql, self._clock.now()
        times: dict[dt.datetime, object] = {}  # a batch shares its validity period and creation time
        rows = [_pending_values(sql, cert, now, times) for cert in pending]
        with self._raw_write(duplicate) as tx:
            if tx.many(sql.insert_pending_many, rows) != len(rows):
                raise UnknownCa(sorted(ca_ids)[0])
            auditlog.append_many(tx, sql, self._head, list(audits), now)

    def complete_certificates(
        self, ca_id: str, signed: Sequence[tuple[int, bytes]], audits: Sequence[AuditEntry]
    ) -> None:
        """Store the signed DER of many pending certificates of one CA, given as (serial, DER), in one
        transaction; all or nothing. Each DER must carry the reserved TBS (DerMismatch), each serial must be
        pending (UnknownSerial, NotPending)."""
        if len(signed) != len(audits):
            raise ValueError("one audit entry per certificate")
        if not signed:
            return
        sql, now = self._sql, self._clock.now()
        at = sql.time(now)
        rows: list[tuple[object, ...]] = []
        for serial, der in signed:
            try:
                tbs = hashlib.sha256(tbs_of(der)).digest()
            except IndexError:
                tbs = b""  # matches no reservation: the diagnosis says why
            rows.append((der, at, ca_id, serial_hex(serial), tbs))
        try:
            with self._raw_write() as tx:
                if tx.many(sql.complete_by_serial, rows) != len(rows):
                    raise _Incomplete  # rolls the batch back; the diagnosis below says which and why
                auditlog.append_many(tx, sql, self._head, list(audits), now)
        except _Incomplete:
            with self._raw_write() as tx:
                for (serial, der), row in zip(signed, rows, strict=True):
                    found = tx.one(sql.pending_by_serial, (ca_id, serial_hex(serial)))
                    if found is None:
                        raise UnknownSerial(ca_id, serial) from None
                    facts = tx.one(sql.pending_facts, (int(found[0]),))
                    if facts[0] != CertStatus.pending.value or bytes(facts[2]) != row[4]:
                        _refuse_completion(tx, sql, int(found[0]), der)
            raise StoreConflict(
                f"the pending certificates of CA {ca_id!r} changed while being completed"
            ) from None

    def abort_pending(self, ca_id: str, older_than: dt.datetime, audit: AuditEntry) -> int:
        """Mark a CA's pending rows older than ``older_than`` aborted (dead issuances); returns how many."""
        cutoff = ensure_aware(older_than)
        with self._write() as conn:
            result = conn.execute(
                sa.update(certificate)
                .where(
                    certificate.c.ca_id == ca_id,
                    certificate.c.status == CertStatus.pending.value,
                    certificate.c.created_at < cutoff,
                )
                .values(status=CertStatus.aborted.value)
            )
            self._audit(conn, audit)
        return int(result.rowcount)

    def get_certificate(self, ca_id: str, serial: int) -> CertRow:
        """A certificate in any status; UnknownSerial if the CA never reserved the serial."""
        with self._read() as conn:
            found = conn.execute(certs.CERT_QUERY, _key(ca_id, serial)).mappings().first()
        if found is None:
            raise UnknownSerial(ca_id, serial)
        return certs.cert_row(found)

    def certificates(
        self,
        ca_id: str,
        *,
        subject_der: bytes | None = None,
        holder_ref: str | None = None,
        is_ca: bool | None = None,
        profile: str | None = None,
        status: CertStatus | None = None,
        limit: int = 1000,
    ) -> list[CertRow]:
        """A CA's certificates, filtered by subject, holder, CA flag, profile or status; newest first."""
        query = sa.select(certificate).where(certificate.c.ca_id == ca_id)
        if profile is not None:
            query = query.where(certificate.c.profile == profile)
        if status is not None:
            query = query.where(certificate.c.status == status.value)
        if subject_der is not None:
            query = query.where(certificate.c.subject_der == subject_der)
        if holder_ref is not None:
            query = query.where(certificate.c.holder_ref == holder_ref)
        if is_ca is not None:
            query = query.where(certificate.c.is_ca == is_ca)
        query = query.order_by(certificate.c.id.desc()).limit(limit)
        with self._read() as conn:
            return [certs.cert_row(m) for m in conn.execute(query).mappings()]

    def status(self, ca_id: str, serial: int) -> StatusRow | None:
        """The OCSP hot path: status by (CA, serial) in one indexed SELECT; None if never reserved."""
        with self._read() as conn:
            found = conn.execute(certs.STATUS_QUERY, _key(ca_id, serial)).mappings().first()
        return None if found is None else certs.status_row(serial, found)

    def link(self, from_id: int, to_id: int, kind: LinkKind, audit: AuditEntry) -> None:
        """Record that two certificates are related (renewal, reissue, pair, link)."""
        already = {
            "pk_cert_link": lambda: StoreConflict(f"certificates {from_id} and {to_id} already linked")
        }
        with self._write(already) as conn:
            for cert_id in (from_id, to_id):
                if conn.execute(_CERT_EXISTS, {"cert_id": cert_id}).first() is None:
                    raise UnknownCertificate(cert_id)
            conn.execute(
                sa.insert(cert_link).values(
                    from_id=from_id, to_id=to_id, kind=LinkKind(kind).value, created_at=self._clock.now()
                )
            )
            self._audit(conn, audit)

    # -- revocation --------------------------------------------------------------------------------------

    def revoke(
        self,
        ca_id: str,
        serial: int,
        reason: RevocationReason,
        when: dt.datetime,
        invalidity_date: dt.datetime | None,
        audit: AuditEntry,
    ) -> RevocationRow:
        """Revoke an issued certificate, or put it on hold with ``certificateHold``.

        UnknownSerial for a serial never issued (pending and aborted included); AlreadyRevoked if revoked,
        or on hold and asked for another hold (a hold may become a final revocation: RFC 5280 §5.3.1);
        InvalidRevocation for removeFromCRL, which only a delta CRL says (use release_hold).
        """
        if reason is RevocationReason.remove_from_crl:
            raise InvalidRevocation("removeFromCRL is not a revocation reason; release the hold instead")
        revoked_at, invalid_since = ensure_aware(when), aware_or_none(invalidity_date)
        with self._raw_write() as tx:
            row = revocations.revoke(tx, self._sql, ca_id, serial, reason, revoked_at, invalid_since)
            auditlog.append(tx, self._sql, self._head, audit, self._clock.now())
        return row

    def release_hold(self, ca_id: str, serial: int, when: dt.datetime, audit: AuditEntry) -> None:
        """Release a hold: the certificate is good again; deltas after this list it as removeFromCRL.

        Whether a CA allows release is the CA's policy, checked by the caller; the store only requires
        the certificate to be on hold (InvalidRevocation otherwise).
        """
        released_at = ensure_aware(when)
        with self._write() as conn:
            target = revocations.lock_target(conn, ca_id, serial)
            if target.status is not CertStatus.on_hold:
                raise InvalidRevocation(f"serial {serial:x} of CA {ca_id!r} is {target.status}, not on hold")
            revocations.write_release(conn, target, released_at, revocations.bump_change_seq(conn, ca_id))
            conn.exec_driver_sql(self._presigned.drop, (ca_id, serial_hex(serial)))
            self._audit(conn, audit)

    def change_seq(self, ca_id: str) -> int:
        """The CA's revocation high-water mark (0 before its first revocation); UnknownCa if none."""
        with self._read() as conn:
            value = conn.execute(
                sa.select(revocation_counter.c.last_seq).where(revocation_counter.c.ca_id == ca_id)
            ).scalar_one_or_none()
        if value is None:
            raise UnknownCa(ca_id)
        return int(value)

    def revoked_entries(
        self,
        ca_id: str,
        *,
        shard: int | None = None,
        ca_only: bool | None = None,
        after_change_seq: int | None = None,
    ) -> Iterator[RevokedEntry]:
        """Stream a CRL's entries sorted by serial, a batch at a time (10⁶ entries never sit in memory).

        ``shard``: only that shard's certificates. ``ca_only``: True for CA certificates (an ARL), False
        for end-entity ones, None for both. ``after_change_seq``: a delta's entries (changes after that
        mark, released holds included) instead of a full CRL's (current revocations and holds). The
        stream holds a connection until it is exhausted or closed.
        """
        stmt = revocations.entries_query(ca_id, shard, ca_only, after_change_seq)
        with self._stream() as conn:
            yield from revocations.stream_entries(conn, stmt, STREAM_BATCH)

    # -- CRLs --------------------------------------------------------------------------------------------

    def next_crl_number(self, ca_id: str, scope: str) -> int:
        """The next CRL number of a CA's scope: atomic, strictly increasing, never handed out twice.

        One upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``) row-locks the counter on PostgreSQL;
        SQLite's ``BEGIN IMMEDIATE`` serializes it. The first number of a scope is 1.
        """
        _check_scope(scope)
        with self._write() as conn:
            self._require_ca(conn, ca_id)
            upsert = _NEXT_NUMBER[conn.dialect.name]
            return int(conn.execute(upsert, {"ca": ca_id, "sc": scope}).scalar_one())

    def save_crl(self, row: CrlRow, audit: AuditEntry) -> None:
        """Record an issued CRL; DuplicateCrlNumber if its number was used in its scope already."""
        _check_scope(row.scope)
        taken = {"pk_crl": lambda: DuplicateCrlNumber(row.ca_id, row.scope, row.crl_number)}
        with self._write(taken) as conn:
            self._require_ca(conn, row.ca_id)
            conn.execute(
                sa.insert(crl).values(
                    ca_id=row.ca_id,
                    scope=row.scope,
                    crl_number=row.crl_number,
                    this_update=row.this_update,
                    next_update=row.next_update,
                    base_crl_number=row.base_crl_number,
                    change_seq=row.change_seq,
                    der=row.der,
                )
            )
            self._audit(conn, audit)

    def latest_crl(self, ca_id: str, scope: str, delta: bool = False) -> CrlRow | None:
        """The highest-numbered full (or, with ``delta``, delta) CRL of a scope; None before the first."""
        base = crl.c.base_crl_number
        stmt = (
            sa.select(crl)
            .where(crl.c.ca_id == ca_id, crl.c.scope == scope, base.is_not(None) if delta else base.is_(None))
            .order_by(crl.c.crl_number.desc())
            .limit(1)
        )
        with self._read() as conn:
            found = conn.execute(stmt).mappings().first()
        return None if found is None else _crl_row(found)

    # -- audit -------------------------------------------------------------------------------------------

    def append_audit(self, audit: AuditEntry) -> AuditRecord:
        """Record an action that changes nothing else in the store (e.g. a key ceremony step)."""
        with self._write() as conn:
            return self._audit(conn, audit)

    def audit_records(self, from_seq: int = 1) -> Iterator[AuditRecord]:
        """Stream the audit log from ``from_seq`` in seq order."""
        with self._stream() as conn:
            yield from auditlog.records(conn, from_seq, STREAM_BATCH)

    def audit_head(self) -> AuditRecord | None:
        """The latest audit record (one indexed read, not a walk of the log); None while it is empty."""
        with self._read() as conn:
            found = (
                conn.execute(sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(1))
                .mappings()
                .first()
            )
        return None if found is None else auditlog.record_from_row(found)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a signed checkpoint; it must name a record that exists with exactly that hash."""
        with self._write() as conn:
            stored = conn.execute(
                sa.select(audit_log.c.record_hash).where(audit_log.c.seq == checkpoint.seq)
            ).scalar_one_or_none()
            if stored is None or bytes(stored) != checkpoint.record_hash:
                raise StoreConflict(
                    f"checkpoint names seq {checkpoint.seq}, whose stored hash differs or is absent"
                )
            conn.execute(
                sa.insert(audit_checkpoint).values(
                    seq=checkpoint.seq,
                    record_hash=checkpoint.record_hash,
                    at=checkpoint.at,
                    signer_key_id=checkpoint.signer_key_id,
                    algorithm=checkpoint.algorithm,
                    signature=checkpoint.signature,
                )
            )

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        stmt = sa.select(audit_checkpoint).order_by(audit_checkpoint.c.seq, audit_checkpoint.c.id)
        with self._read() as conn:
            return [_checkpoint(m) for m in conn.execute(stmt).mappings()]


def _pending_values(
    sql: Sql, cert: PendingCert, now: dt.datetime, times: dict[dt.datetime, object] | None = None
) -> tuple[object, ...]:
    """A reservation's parameters for ``insert_pending`` / ``pg_reserve`` / ``insert_pending_many``;
    ``times`` keeps converted times across the rows of a batch."""
    time = sql.time if times is None else functools.partial(_batch_time, sql, times)
    return (
        serial_hex(cert.serial),
        certs.serial_key(cert.serial),
        cert.subject_der,
        cert.subject_text,
        time(cert.not_before),
        time(cert.not_after),
        cert.profile,
        cert.holder_ref,
        cert.is_ca,
        cert.shard,
        cert.tbs_sha256,
        time(now),
        cert.ca_id,
    )


class _Incomplete(Exception):
    """A batch completion matched fewer rows than it carries (internal: rolls the transaction back)."""


def _batch_time(sql: Sql, times: dict[dt.datetime, object], value: dt.datetime) -> object:
    found = times.get(value)
    if found is None:
        found = times[value] = sql.time(value)
    return found


def _refuse_completion(tx: Tx, sql: Sql, cert_id: int, der: bytes) -> None:
    """Why a completion matched no pending reservation, as the typed error (in the order callers rely on)."""
    found = tx.one(sql.pending_facts, (cert_id,))
    if found is None:
        raise UnknownCertificate(cert_id)
    status, key, tbs = found
    if status != CertStatus.pending.value:
        raise NotPending(cert_id, status)
    certs.check_signed(cert_id, der, int(key, 16), bytes(tbs))
    raise StoreConflict(f"certificate {cert_id} changed while being completed")


def _quiet_rollback(driver: Any) -> None:
    """Roll back after a failure; a rollback that fails too (a dead connection) must not hide the first."""
    try:
        driver.rollback()
    except Exception:  # the original failure is what the caller needs to see
        pass


def _key(ca_id: str, serial: int) -> dict[str, str]:
    # No range check: a serial no CA could issue (an OCSP request may carry anything) is simply not found.
    return {"ca_id": ca_id, "serial_hex": serial_hex(serial)}


def _check_scope(scope: str) -> None:
    if not _SCOPE.fullmatch(scope):
        raise ValueError(f"unknown CRL scope {scope!r}: use full, arl or shard:N")


def _upsert_counter(dialect: str) -> sa.Executable:
    """The upsert that starts a scope's counter at 1 or bumps it, returning the new number."""
    keys = [crl_counter.c.ca_id, crl_counter.c.scope]
    bump = {"last_number": crl_counter.c.last_number + 1}
    first = {"ca_id": sa.bindparam("ca"), "scope": sa.bindparam("sc"), "last_number": 1}
    if dialect == "postgresql":
        pg = (
            postgresql.insert(crl_counter).values(first).on_conflict_do_update(index_elements=keys, set_=bump)
        )
        return pg.returning(crl_counter.c.last_number)
    lite = sqlite.insert(crl_counter).values(first).on_conflict_do_update(index_elements=keys, set_=bump)
    return lite.returning(crl_counter.c.last_number)


_NEXT_NUMBER = {dialect: _upsert_counter(dialect) for dialect in ("postgresql", "sqlite")}


def _ca_row(m: sa.RowMapping) -> CaRow:
    return CaRow(
        ca_id=m["ca_id"],
        subject_der=bytes(m["subject_der"]),
        key_uri=m["key_uri"],
        cert_der=bytes(m["cert_der"]),
        key_sha1=bytes(m["key_sha1"]),
        created_at=m["created_at"],
    )


def _crl_row(m: sa.RowMapping) -> CrlRow:
    return CrlRow(
        ca_id=m["ca_id"],
        scope=m["scope"],
        crl_number=int(m["crl_number"]),
        this_update=m["this_update"],
        next_update=m["next_update"],
        change_seq=int(m["change_seq"]),
        der=bytes(m["der"]),
        base_crl_number=None if m["base_crl_number"] is None else int(m["base_crl_number"]),
    )


def _checkpoint(m: sa.RowMapping) -> Checkpoint:
    return Checkpoint(
        seq=int(m["seq"]),
        record_hash=bytes(m["record_hash"]),
        at=m["at"],
        signer_key_id=m["signer_key_id"],
        algorithm=m["algorithm"],
        signature=bytes(m["signature"]),
    )
