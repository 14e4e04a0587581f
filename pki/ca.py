"""The CA engine: prepare (every check, TBS built) then issue (reserve, sign, record, audit); revoke; CRLs.

A CertificateAuthority composes the store, the CA's Signer, its profiles and the clock. It never touches key
material and never writes outside the store. ``prepare`` may refuse (IssuanceRefused) and changes nothing;
``issue`` reserves the serial and records the TBS digest (audit ``cert.prepare``) before the key signs, then
stores the DER (audit ``cert.signed``): a crash between the two leaves a pending row that ``recover``
turns into ``aborted``, never a signed certificate the store does not know.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from hsm import HsmError, KeyKind, PublicKey, Signer
from pki.clock import Clock
from pki.crl import CrlSpec, IssuingDistributionPoint, encode_crl
from pki.definition import CaDefinition
from pki.errors import DuplicateSerial, InvalidRevocation, IssuanceRefused, UnknownCa
from pki.model import CaId, RevocationReason, new_serial, serial_hex, shard_of
from pki.profile import IssueContext, Profile, RequestedSubject
from pki.profile.extensions import ExtensionCache
from pki.publication import Published
from pki.store import AuditEntry, CrlRow, PendingCert, RevocationRow, Store
from pki.tbs import PreparedTbs, algorithm_identifier, encode_tbs, extension_der, sign_der, spki_der

ISSUE_CHUNK = 200
"""Certificates per commit in ``issue_requests``."""
_SUBJECT_CACHE = 4096
"""Subjects a CA keeps built (a cache, emptied when full)."""


_K = TypeVar("_K")
_V = TypeVar("_V")


class _ByIdentity(Generic[_K, _V]):
    """Values computed once per object (by identity, the entry keeping the object alive), for the objects
    a CA builds once and reuses: subjects and issuer-constant extensions. Bounded: emptied when full."""

    def __init__(self, compute: Callable[[_K], _V]) -> None:
        self._compute = compute
        self._found: dict[int, tuple[_K, _V]] = {}

    def get(self, key: _K) -> _V:
        found = self._found.get(id(key))
        if found is not None and found[0] is key:
            return found[1]
        value = self._compute(key)
        if len(self._found) >= _SUBJECT_CACHE:
            self._found.clear()
        self._found[id(key)] = (key, value)
        return value


@dataclass(frozen=True, slots=True)
class IssueRequest:
    """A request for a certificate: a CSR, or a bare public key with a subject."""

    profile: str
    csr: x509.CertificateSigningRequest | None = None
    public_key: PublicKey | None = None
    subject: RequestedSubject | None = None
    holder_ref: str | None = None
    """An opaque reference to the holder (never a My Number), to find a holder's certificates."""
    san: tuple[x509.GeneralName, ...] = ()
    other_names: Mapping[str, str] = field(default_factory=dict)
    """otherName values by type-id OID (the JPKI basic 4 information)."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """Holder data for validity rules (date of birth, card expiry)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything checked and the TBS built; nothing stored, nothing signed yet."""

    ca_id: CaId
    serial: int
    profile: str
    subject: x509.Name
    not_before: dt.datetime
    not_after: dt.datetime
    tbs: PreparedTbs
    holder_ref: str | None
    is_ca: bool
    shard: int


def _public_key_of(request: IssueRequest) -> tuple[PublicKey, RequestedSubject | None]:
    """The subject key and requested subject; a CSR must carry a valid self-signature (RFC 2986 §3)."""
    if request.csr is not None:
        if not request.csr.is_signature_valid:
            raise IssuanceRefused("the CSR's signature does not verify")
        key = request.csr.public_key()
        subject: RequestedSubject | None = request.subject or request.csr.subject
    elif request.public_key is not None:
        key, subject = request.public_key, request.subject
    else:
        raise IssuanceRefused("give a CSR or a public key")
    try:
        KeyKind.of(key)
    except HsmError as exc:
        raise IssuanceRefused(exc.message) from None
    return key, subject  # type: ignore[return-value]  # KeyKind.of admitted only RSA and EC keys


def _key_id(certificate: x509.Certificate) -> bytes | None:
    """The issuer certificate's subjectKeyIdentifier, for the AKI of what it issues (RFC 5280 §4.2.1.1)."""
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _requested_extensions(request: IssueRequest) -> tuple[x509.Extension[x509.ExtensionType], ...]:
    if request.csr is None:
        return ()
    try:
        return tuple(request.csr.extensions)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise IssuanceRefused(f"the CSR's extensions do not parse ({exc})") from None


class CertificateAuthority:
    """One CA of the PKI: its definition, certificate, key and the store."""

    def __init__(
        self,
        definition: CaDefinition,
        certificate: x509.Certificate,
        signer: Signer | Callable[[], Signer],
        store: Store,
        profiles: Mapping[str, Profile],
        clock: Clock,
        base_url: str,
    ) -> None:
        self.definition = definition
        self.certificate = certificate
        self._signer_factory = signer if callable(signer) and not hasattr(signer, "sign") else None
        self._signer: Signer | None = None if self._signer_factory is not None else signer  # type: ignore[assignment]
        self.store = store
        self._profiles = profiles
        self.clock = clock
        self.base_url = base_url
        self.revocation_listeners: list[Callable[[CaId, int], None]] = []
        """Called with (CA id, serial) after a revocation, hold or release commits (CRLs, OCSP cache)."""
        self._extension_caches: dict[str, ExtensionCache] = {}
        """Issuer-constant extensions per profile: valid because this object's certificate never changes."""
        self._subjects: dict[tuple[str, tuple[tuple[str, object], ...]], x509.Name] = {}
        """Built subjects for plain ``{attribute: value}`` requests, per profile (bounded)."""
        self._subject_text: _ByIdentity[x509.Name, tuple[bytes, str]] = _ByIdentity(
            lambda name: (name.public_bytes(), name.rfc4514_string())
        )
        """DER and RFC 4514 text of the (cached) subject objects."""
        self._extension_der: _ByIdentity[x509.Extension[x509.ExtensionType], bytes] = _ByIdentity(
            extension_der
        )
        """DER of the (cached) issuer-constant extension objects."""
        self._key_id = _key_id(certificate)

    @property
    def id(self) -> CaId:
        return self.definition.id

    @property
    def signer(self) -> Signer:
        """The CA key's Signer, opened on first use when given as a factory."""
        signer = self._signer
        if signer is None:  # a plain attribute test: isinstance on a Protocol costs ~0.3 ms per issuance
            assert self._signer_factory is not None
            signer = self._signer = self._signer_factory()
        return signer

    # -- issuance -------------------------------------------------------------------------------------------

    def profile(self, profile_id: str, *, for_ca: bool = False) -> Profile:
        """A profile this CA may use: an EE profile it issues, or a CA/cross profile when certifying CAs."""
        if not for_ca and profile_id not in self.definition.issues:
            allowed = ", ".join(self.definition.issues) or "none"
            raise IssuanceRefused(
                f"CA {self.id!r} does not issue profile {profile_id!r} (it issues: {allowed})"
            )
        profile = self._profiles.get(profile_id)
        if profile is None:
            raise IssuanceRefused(f"no profile {profile_id!r}")
        if for_ca and not profile.kind.is_ca:
            raise IssuanceRefused(f"profile {profile_id!r} does not make CA certificates")
        return profile

    def prepare(self, request: IssueRequest, *, for_ca: bool = False) -> Prepared:
        """Every check, and the TBS: refuses with IssuanceRefused; changes nothing."""
        profile = self.profile(request.profile, for_ca=for_ca)
        public_key, requested_subject = _public_key_of(request)
        profile.check_key(public_key)
        subject = self._subject(profile, requested_subject)
        serial = new_serial()
        shards = self.definition.crl.shards
        ctx = IssueContext(
            subject_public_key=public_key,
            issuer_public_key=self.signer.public_key,
            issuer_name=self.certificate.subject,
            at=self.clock.now(),
            ca_id=self.id,
            base_url=self.base_url,
            shard=shard_of(serial, shards) if shards else None,
            issuer_not_after=self.certificate.not_valid_after_utc,
            issuer_key_id=self._key_id,
            san=request.san,
            other_names=request.other_names,
            requested_extensions=_requested_extensions(request),
            attributes=request.attributes,
        )
        cache = self._extension_caches.setdefault(profile.id, {})
        return self.prepare_with(profile, subject, ctx, serial, request.holder_ref, cache)

    def _subject(self, profile: Profile, requested: RequestedSubject | None) -> x509.Name:
        """The profile's subject for a request; plain ``{attribute: text}`` requests are built once."""
        if requested is None:
            requested = {}
        if not isinstance(requested, Mapping) or not all(isinstance(v, str) for v in requested.values()):
            return profile.subject(requested)
        key = (profile.id, tuple(requested.items()))
        found = self._subjects.get(key)
        if found is None:
            found = profile.subject(requested)
            if len(self._subjects) >= _SUBJECT_CACHE:
                self._subjects.clear()
            self._subjects[key] = found
        return found

    def prepare_with(
        self,
        profile: Profile,
        subject: x509.Name,
        ctx: IssueContext,
        serial: int,
        holder_ref: str | None,
        cache: ExtensionCache | None = None,
    ) -> Prepared:
        """Build the TBS from a profile and a context (also used for self-signed and link certificates).
        ``cache`` only when ``ctx`` is this CA's own issuing context."""
        not_before, not_after = profile.validity(ctx)
        if not_after <= not_before:
            raise IssuanceRefused(f"profile {profile.id!r} gives an empty validity period")
        if not 0 < serial < 1 << 159:
            raise IssuanceRefused(f"serial {serial:x} is not a positive number of at most 20 octets")
        extensions = profile.extensions(ctx, cache)
        if len({ext.oid for ext in extensions}) != len(extensions):
            raise IssuanceRefused(f"profile {profile.id!r} gives an extension twice")  # RFC 5280 §4.2
        tbs = encode_tbs(
            serial=serial,
            algorithm_id=algorithm_identifier(self.signer),
            issuer=self._subject_text.get(ctx.issuer_name)[0],
            not_before=not_before,
            not_after=not_after,
            subject=self._subject_text.get(subject)[0],
            spki=spki_der(ctx.subject_public_key),
            extensions=[self._extension_der.get(ext) for ext in extensions],
        )
        return Prepared(
            self.id,
            serial,
            profile.id,
            subject,
            not_before,
            not_after,
            tbs,
            holder_ref,
            profile.kind.is_ca,
            ctx.shard or 0,
        )

    def issue(self, prepared: Prepared, *, actor: str) -> x509.Certificate:
        """Reserve + record the TBS, sign, store the certificate; each step audited."""
        if prepared.ca_id != self.id:
            raise IssuanceRefused(f"prepared by CA {prepared.ca_id!r}, not {self.id!r}")
        pending, audit = self._reservation(prepared, actor)
        cert_id = self.store.reserve_certificate(pending, audit)
        der = sign_der(prepared.tbs, self.signer)
        self.store.complete_certificate(cert_id, der, _signed_audit(self.id, prepared.serial, der, actor))
        return x509.load_der_x509_certificate(der)

    def issue_many(self, prepared: Sequence[Prepared], *, actor: str) -> list[x509.Certificate]:
        """``issue`` for a batch, with one commit before the signing and one after (group commit).

        Same guarantees as ``issue`` for every certificate: each serial is reserved and its TBS digest
        recorded (audit ``cert.prepare``) before the key signs anything, and each stored DER gets its
        ``cert.signed`` record. All or nothing on each side: a refused reservation (DuplicateSerial)
        reserves none, and a crash while signing leaves the batch pending for ``recover``."""
        self._reserve(prepared, actor)
        return self._complete(self._sign(prepared), actor)

    def _reserve(self, prepared: Sequence[Prepared], actor: str) -> None:
        """Reserve a batch's serials and record its TBS digests: one commit."""
        for item in prepared:
            if item.ca_id != self.id:
                raise IssuanceRefused(f"prepared by CA {item.ca_id!r}, not {self.id!r}")
        if prepared:
            reservations = [self._reservation(item, actor) for item in prepared]
            self.store.reserve_certificates([r[0] for r in reservations], [r[1] for r in reservations])

    def _sign(self, prepared: Sequence[Prepared]) -> list[tuple[int, bytes]]:
        """(serial, DER) of each reserved certificate, signed and not yet stored."""
        signer = self.signer
        return [(item.serial, sign_der(item.tbs, signer)) for item in prepared]

    def _complete(self, signed: list[tuple[int, bytes]], actor: str) -> list[x509.Certificate]:
        """Store a signed batch (one commit), each certificate with its ``cert.signed`` record."""
        audits = [_signed_audit(self.id, serial, der, actor) for serial, der in signed]
        self.store.complete_certificates(self.id, signed, audits)
        return [x509.load_der_x509_certificate(der) for _, der in signed]

    def issue_requests(
        self,
        requests: Sequence[IssueRequest],
        *,
        actor: str,
        for_ca: bool = False,
        chunk: int = ISSUE_CHUNK,
    ) -> list[x509.Certificate]:
        """Issue many certificates, ``chunk`` per commit, pipelined: while the key signs one chunk, a
        second thread stores the chunk before it and reserves the chunk after it (the database works while
        the key does; every chunk is still reserved before it is signed).

        Every request is checked before anything is reserved: one refusal refuses them all and changes
        nothing. A serial collision redraws that chunk's serials. On an error, chunks already stored stay
        issued, the others are left pending (``recover`` aborts them) and the error is raised."""
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        prepared = [self.prepare(request, for_ca=for_ca) for request in requests]
        parts = [
            (requests[start : start + chunk], prepared[start : start + chunk])
            for start in range(0, len(prepared), chunk)
        ]
        if len(parts) <= 1:
            return (
                []
                if not parts
                else self._complete(self._sign(self._reserve_chunk(*parts[0], actor, for_ca)), actor)
            )
        with ThreadPoolExecutor(1, thread_name_prefix=f"store-{self.id}") as storer:
            reserved = storer.submit(self._reserve_chunk, *parts[0], actor, for_ca)
            stored: list[Future[list[x509.Certificate]]] = []
            for index in range(len(parts)):
                ready = reserved.result()
                if index + 1 < len(parts):
                    reserved = storer.submit(self._reserve_chunk, *parts[index + 1], actor, for_ca)
                stored.append(storer.submit(self._complete, self._sign(ready), actor))
            return [cert for future in stored for cert in future.result()]

    def _reserve_chunk(
        self, requests: Sequence[IssueRequest], prepared: list[Prepared], actor: str, for_ca: bool
    ) -> list[Prepared]:
        """Reserve a chunk, redrawing its serials on a collision; the chunk as reserved."""
        for _ in range(3):
            try:
                self._reserve(prepared, actor)
                return prepared
            except DuplicateSerial:
                prepared = [self.prepare(request, for_ca=for_ca) for request in requests]
        raise IssuanceRefused("could not draw unused serial numbers")

    def _reservation(self, prepared: Prepared, actor: str) -> tuple[PendingCert, AuditEntry]:
        """What ``reserve_certificate`` records for a prepared certificate, and its audit entry."""
        subject_der, subject_text = self._subject_text.get(prepared.subject)
        pending = PendingCert(
            ca_id=self.id,
            serial=prepared.serial,
            subject_der=subject_der,
            subject_text=subject_text,
            not_before=prepared.not_before,
            not_after=prepared.not_after,
            profile=prepared.profile,
            tbs_sha256=prepared.tbs.sha256,
            holder_ref=prepared.holder_ref,
            is_ca=prepared.is_ca,
            shard=prepared.shard,
        )
        payload = {
            "profile": prepared.profile,
            "subject": pending.subject_text,
            "tbs": prepared.tbs.sha256.hex(),
        }
        obj = f"{self.id}/{serial_hex(prepared.serial)}"
        return pending, AuditEntry(actor, "cert.prepare", obj, payload)

    def issue_request(self, request: IssueRequest, *, actor: str, for_ca: bool = False) -> x509.Certificate:
        """prepare + issue, drawing a new serial in the (astronomically rare) case of a collision."""
        for _ in range(3):
            prepared = self.prepare(request, for_ca=for_ca)
            try:
                return self.issue(prepared, actor=actor)
            except DuplicateSerial:
                continue
        raise IssuanceRefused("could not draw an unused serial number")

    # -- revocation ----------------------------------------------------------------------------------------

    def revoke(
        self,
        serial: int,
        reason: RevocationReason,
        *,
        actor: str,
        invalidity_date: dt.datetime | None = None,
        when: dt.datetime | None = None,
    ) -> RevocationRow:
        """Revoke (or hold) a certificate this CA issued; typed errors change nothing."""
        if reason is RevocationReason.remove_from_crl:
            raise InvalidRevocation("removeFromCRL is not a revocation reason; release the hold instead")
        at = when or self.clock.now()
        obj = f"{self.id}/{serial_hex(serial)}"
        audit = AuditEntry(actor, "cert.revoke", obj, {"reason": reason.value})
        row = self.store.revoke(self.id, serial, reason, at, invalidity_date, audit)
        self._notify(serial)
        return row

    def release_hold(self, serial: int, *, actor: str) -> None:
        """Release a certificateHold where this CA's policy allows it (JPKI never does)."""
        if not self.definition.hold_release:
            raise InvalidRevocation(f"CA {self.id!r} does not release holds (its policy forbids it)")
        obj = f"{self.id}/{serial_hex(serial)}"
        self.store.release_hold(self.id, serial, self.clock.now(), AuditEntry(actor, "cert.release", obj, {}))
        self._notify(serial)

    def _notify(self, serial: int) -> None:
        for listener in self.revocation_listeners:
            listener(self.id, serial)

    # -- CRLs ----------------------------------------------------------------------------------------------

    def crl_url(self, scope: str = "full", delta: bool = False) -> str:
        """Where ``jlis serve`` publishes a CRL of this CA (pki.http routes)."""
        base = f"{self.base_url}/crl/{self.id}"
        if scope == "arl":
            return f"{base}/arl.crl"
        if scope.startswith("shard:"):
            return f"{base}/{scope[6:]}{'-delta' if delta else ''}.crl"
        return f"{base}/delta.crl" if delta else f"{base}.crl"

    def scopes(self) -> list[str]:
        """Every CRL scope this CA publishes under its policy."""
        policy = self.definition.crl
        return ["full", *(f"shard:{n}" for n in range(policy.shards)), *(["arl"] if policy.arl else [])]

    def generate_crl(self, scope: str = "full", *, delta: bool = False, actor: str) -> CrlRow:
        """Build, sign and store the next CRL of a scope (a delta lists changes since the latest base)."""
        policy = self.definition.crl
        if scope not in self.scopes():
            raise InvalidRevocation(f"CA {self.id!r} publishes no CRL of scope {scope!r}")
        if delta and policy.delta_next_update is None:
            raise InvalidRevocation(f"CA {self.id!r} does not publish delta CRLs")
        base = self.store.latest_crl(self.id, scope) if delta else None
        if delta and base is None:
            raise InvalidRevocation(
                f"CA {self.id!r} has no complete CRL of scope {scope!r} to base a delta on"
            )
        high = self.store.change_seq(self.id)
        now = self.clock.now()
        lifetime = policy.delta_next_update if delta else policy.next_update
        assert lifetime is not None  # checked above for deltas; always set for complete CRLs
        number = self.store.next_crl_number(self.id, scope)
        spec = CrlSpec(
            issuer=self.certificate.subject,
            this_update=now,
            next_update=now + lifetime,
            crl_number=number,
            authority_key_id=self._key_id or self.signer.public_key,
            delta_base=base.crl_number if base is not None else None,
            issuing_distribution_point=self._idp(scope),
            freshest_crl=(self.crl_url(scope, delta=True),) if policy.delta_next_update and not delta else (),
        )
        entries = self.store.revoked_entries(
            self.id,
            shard=int(scope[6:]) if scope.startswith("shard:") else None,
            ca_only=True if scope == "arl" else (False if scope.startswith("shard:") else None),
            after_change_seq=base.change_seq if base is not None else None,
        )
        der = encode_crl(spec, entries, self.signer)
        row = CrlRow(self.id, scope, number, now, now + lifetime, high, der, spec.delta_base)
        kind = "delta" if delta else "complete"
        self.store.save_crl(
            row, AuditEntry(actor, "crl.issue", f"{self.id}/{scope}/{number}", {"kind": kind})
        )
        return row

    def _idp(self, scope: str) -> IssuingDistributionPoint | None:
        """RFC 5280 §5.2.5: shards name their own URL and cover end entities; the ARL covers CA certs."""
        if scope.startswith("shard:"):
            return IssuingDistributionPoint(uris=(self.crl_url(scope),), only_contains_user_certs=True)
        if scope == "arl":
            return IssuingDistributionPoint(only_contains_ca_certs=True)
        return None


def _signed_audit(ca_id: CaId, serial: int, der: bytes, actor: str) -> AuditEntry:
    obj = f"{ca_id}/{serial_hex(serial)}"
    return AuditEntry(actor, "cert.signed", obj, {"sha256": hashlib.sha256(der).hexdigest()})


class StorePublications:
    """What ``jlis serve`` publishes, read from the store (implements ``pki.http.Publications``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def ca_certificate(self, ca_id: str) -> Published | None:
        try:
            row = self.store.get_ca(ca_id)
        except UnknownCa:
            return None
        return Published(row.cert_der, row.created_at)

    def ca_generations(self, ca_id: str) -> Published | None:
        try:
            current = self.store.get_ca(ca_id)
        except UnknownCa:
            return None
        generations = self.store.generations(ca_id) or []
        ders = [g.cert_der for g in generations] or [current.cert_der]
        for row in self.store.certificates(ca_id, subject_der=current.subject_der, is_ca=True, limit=100):
            if row.der is not None and row.der not in ders:
                ders.append(row.der)  # the link certificates (new-with-old, old-with-new)
        certs = [x509.load_der_x509_certificate(der) for der in ders]
        produced = max([g.created_at for g in generations] or [current.created_at])
        return Published(pkcs7.serialize_certificates(certs, serialization.Encoding.DER), produced)

    def crl(self, ca_id: str, scope: str, delta: bool) -> Published | None:
        try:
            row = self.store.latest_crl(ca_id, scope, delta=delta)
        except UnknownCa:
            return None
        return None if row is None else Published(row.der, row.this_update, row.next_update)
