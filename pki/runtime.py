"""The running PKI: one home, its store, its CAs (with lazily opened keys), profiles and the audit key.

``Pki.initialise`` creates everything a PKI definition declares and is idempotent: run again, it reuses
existing keys and skips CAs the store already has, so an interrupted init can simply be run again.
``Pki.open`` is what every command and ``jlis serve`` use afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from hsm import KeyExists, KeyKind, Signer, open_backend, open_signer
from pki.audit.chain import Checkpoint
from pki.audit.checkpoint import sign_checkpoint
from pki.audit.verify import AuditReport, verify_log
from pki.ca import CertificateAuthority, IssueRequest, StorePublications
from pki.clock import Clock, SystemClock
from pki.definition import DEFAULT_DEFINITION, CaDefinition, PkiDefinition, load_definition
from pki.errors import IssuanceRefused, UnknownCa
from pki.home import HomeConfig, KeyMode, create_home, read_config
from pki.model import CaId, ProfileId, new_serial
from pki.names import build_name
from pki.profile import IssueContext, Profile, shipped_profiles
from pki.profile.build import ExtensionSpec
from pki.profile.ext_basic import AuthorityKeyIdentifierSpec
from pki.store import AuditEntry, CaRow, CrlRow, PendingCert, Store
from pki.tbs import prepare_tbs, public_key_bits, sign_certificate

AUDIT_KEY = "audit"
RECOVERY_GRACE = dt.timedelta(minutes=10)
"""A pending issuance older than this belongs to a process that died (signing takes milliseconds)."""
SYSTEM = "system:init"


class _LazySigner:
    """Opens a CA key on first use (decrypting seven file keys on every CLI call would be wasted work)."""

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._signer: Signer | None = None
        self._lock = threading.Lock()

    def get(self) -> Signer:
        with self._lock:
            if self._signer is None:
                self._signer = open_signer(self._uri)
            return self._signer


class Pki:
    """A PKI home opened for use."""

    def __init__(
        self,
        config: HomeConfig,
        definition: PkiDefinition,
        store: Store,
        profiles: dict[str, Profile],
        clock: Clock,
    ) -> None:
        self.config = config
        self.definition = definition
        self.store = store
        self.profiles = profiles
        self.clock = clock
        self._cas: dict[str, CertificateAuthority] = {}
        self._signers: dict[str, _LazySigner] = {}
        self._lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, home: Path, *, clock: Clock | None = None) -> Pki:
        """Open an initialised home (HomeError when ``jlis init`` has not run there)."""
        config = read_config(home)
        config.activate()
        definition = load_definition(config.definition_path)
        if config.base_url:
            definition = dataclasses.replace(definition, base_url=config.base_url)
        return cls(
            config, definition, Store.open(config.store_url), shipped_profiles(), clock or SystemClock()
        )

    @classmethod
    def initialise(
        cls,
        home: Path,
        *,
        keys: KeyMode = KeyMode.file,
        store_url: str | None = None,
        definition: Path | None = None,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> Pki:
        """Create (or finish creating) the PKI a definition declares: keys, CA certificates, first CRLs."""
        if not (home / "config.toml").exists():
            config = create_home(home, keys=keys, store_url=store_url, base_url=base_url)
            shutil.copyfile(definition or DEFAULT_DEFINITION, config.definition_path)
        pki = cls.open(home, clock=clock)
        pki._create_missing()
        return pki

    def close(self) -> None:
        self.store.close()

    # -- CAs ------------------------------------------------------------------------------------------------

    def ca(self, ca_id: str) -> CertificateAuthority:
        """The CA with this id (UnknownCa when the definition or the store lacks it)."""
        with self._lock:
            found = self._cas.get(ca_id)
            if found is None:
                found = self._load_ca(ca_id)
                self._cas[ca_id] = found
            return found

    def forget_cas(self) -> None:
        """Drop the CAs opened so far: the next ``ca()`` reads the store again (a rollover elsewhere)."""
        with self._lock:
            self._cas.clear()

    def cas(self) -> list[CertificateAuthority]:
        return [self.ca(ca.id) for ca in self.definition.cas]

    def generations(self, ca_id: str) -> list[CertificateAuthority]:
        """Every generation (key) of a CA as an authority, oldest first, the current one last. After a key
        rollover an old generation still signs what only it may: OCSP responder certificates for the
        certificates it issued (RFC 6960 §4.2.2.2 wants the responder authorized by the issuing key)."""
        current = self.ca(ca_id)
        current_sha1 = _key_sha1(current.certificate)
        older = []
        for generation in self.store.generations(ca_id):
            if generation.key_sha1 == current_sha1:
                continue
            certificate = x509.load_der_x509_certificate(generation.cert_der)
            older.append(
                CertificateAuthority(
                    current.definition,
                    certificate,
                    self._lazy(generation.key_uri).get,
                    self.store,
                    self.profiles,
                    self.clock,
                    self.definition.base_url,
                )
            )
        return [*older, current]

    def _load_ca(self, ca_id: str) -> CertificateAuthority:
        try:
            definition = self.definition.ca(ca_id)
        except KeyError:
            raise UnknownCa(ca_id) from None
        row = self.store.get_ca(ca_id)
        certificate = x509.load_der_x509_certificate(row.cert_der)
        return CertificateAuthority(
            definition,
            certificate,
            self._lazy(row.key_uri).get,
            self.store,
            self.profiles,
            self.clock,
            self.definition.base_url,
        )

    def _lazy(self, uri: str) -> _LazySigner:
        lazy = self._signers.get(uri)
        if lazy is None:
            lazy = self._signers[uri] = _LazySigner(uri)
        return lazy

    @property
    def publications(self) -> StorePublications:
        return StorePublications(self.store)

    def publish_crls(self, ca_id: str | None = None, *, actor: str, delta: bool = False) -> list[CrlRow]:
        """Issue the next CRL of every scope of one CA (or of all CAs); deltas where the policy has them."""
        rows = []
        for ca in [self.ca(ca_id)] if ca_id else self.cas():
            if delta and ca.definition.crl.delta_next_update is None:
                continue
            for scope in ca.scopes():
                if delta and scope == "arl":
                    continue
                rows.append(ca.generate_crl(scope, delta=delta, actor=actor))
        return rows

    def rollover(self, ca_id: str, *, actor: str) -> Rollover:
        """Key rollover of a self-signed CA (RFC 4210 §4.4): a new key and a new self-signed certificate
        under the same name, plus the two link certificates: new-with-old (the old key certifies the new
        key) and old-with-new (the new key certifies the old), so relying parties holding either
        generation as their anchor reach the other. The CA signs with the new key from then on."""
        definition = self.definition.ca(ca_id)
        if definition.issuer is not None:
            raise IssuanceRefused(f"CA {ca_id!r} is subordinate: have its issuer certify a new key instead")
        old = self.ca(ca_id)
        label = f"{ca_id}.{self.clock.now():%Y%m%dT%H%M%S}"
        signer = self._key(label, definition.key)
        profile = self.profiles[definition.profile]
        new_cert = self._self_signed(definition, signer, old.certificate.subject, profile)
        link_profile = self._link_profile(profile)
        link = IssueRequest(link_profile, public_key=signer.public_key, subject=old.certificate.subject)
        new_with_old = old.issue_request(link, actor=actor, for_ca=True)
        successor = CertificateAuthority(
            definition, new_cert, signer, self.store, self.profiles, self.clock, self.definition.base_url
        )
        back = IssueRequest(link_profile, public_key=old.signer.public_key, subject=old.certificate.subject)
        old_with_new = successor.issue_request(back, actor=actor, for_ca=True)
        der = new_cert.public_bytes(serialization.Encoding.DER)
        audit = AuditEntry(actor, "ca.rollover", ca_id, {"new_certificate": f"{new_cert.serial_number:x}"})
        self.store.update_ca(ca_id, self.config.key_uri(label), der, _key_sha1(new_cert), audit)
        self._record_own_certificate(CaId(ca_id), new_cert, profile)
        with self._lock:
            self._cas.pop(ca_id, None)
        return Rollover(new_cert, new_with_old, old_with_new)

    def _link_profile(self, profile: Profile) -> str:
        """The profile of a rollover's link certificates: the CA's own, plus an authorityKeyIdentifier when it
        has none (a root profile like JPKI's omits it, but a link certificate is not self-signed, so RFC 5280
        §4.2.1.1 requires one, and relying parties tell the two same-named generations apart by it)."""
        key = "authority_key_identifier"
        if key in profile.extension_specs:
            return profile.id
        link_id = f"{profile.id}+link"
        with self._lock:
            if link_id not in self.profiles:
                specs = dict(profile.extension_specs)
                ordered: dict[str, ExtensionSpec] = {}
                for name, spec in specs.items():
                    ordered[name] = spec
                    if name == "subject_key_identifier":
                        ordered[key] = AuthorityKeyIdentifierSpec()
                ordered.setdefault(key, AuthorityKeyIdentifierSpec())
                linked = dataclasses.replace(profile, id=ProfileId(link_id), extension_specs=ordered)
                self.profiles[link_id] = linked
        return link_id

    def recover(self, *, grace: dt.timedelta = RECOVERY_GRACE, actor: str = "system:recover") -> int:
        """Mark issuances whose process died between reserving and storing (older than ``grace``) as aborted.

        Their certificates were never handed out; the pending rows keep the TBS digests, so any signature
        the key may have made stays accounted for. Returns how many were aborted."""
        cutoff = self.clock.now() - grace
        total = 0
        for ca in self.definition.cas:
            audit = AuditEntry(actor, "cert.abort_pending", ca.id, {"older_than": cutoff.isoformat()})
            total += self.store.abort_pending(ca.id, cutoff, audit)
        return total

    def after_revocation(self, ca_id: str) -> int:
        """Republish a CA's CRLs after a revocation when its policy says so: deltas where it publishes them
        (cheap at any size), else the complete CRLs. Returns how many CRLs were issued."""
        ca = self.ca(ca_id)
        if not ca.definition.crl.after_revocation:
            return 0
        delta = ca.definition.crl.delta_next_update is not None
        return len(self.publish_crls(ca_id, actor="system:crl", delta=delta))

    # -- audit ---------------------------------------------------------------------------------------------

    def audit_signer(self) -> Signer:
        return self._lazy(self.config.key_uri(AUDIT_KEY)).get()

    def checkpoint(self, *, actor: str) -> Checkpoint:
        """Sign the head of the audit chain with the audit key, and store the checkpoint."""
        head = self.store.audit_head()
        if head is None:
            head = self.store.append_audit(AuditEntry(actor, "audit.start", "audit", {}))
        checkpoint = sign_checkpoint(self.audit_signer(), head.seq, head.record_hash, self.clock.now())
        self.store.add_checkpoint(checkpoint)
        return checkpoint

    def verify_audit(self) -> AuditReport:
        """Recompute the chain and check every checkpoint against the audit key."""
        public_key = self.audit_signer().public_key
        return verify_log(self.store.audit_records(), self.store.checkpoints(), public_key)

    # -- initialisation ------------------------------------------------------------------------------------

    def _create_missing(self) -> None:
        self._key(AUDIT_KEY, self.definition.audit_key)
        known = {row.ca_id for row in self.store.list_cas()}
        for definition in self.definition.cas:
            if definition.id not in known:
                self._create_ca(definition)
        for definition in self.definition.cas:
            for cross in definition.cross:
                if not self._has_cross(definition.id, cross.subject):
                    self._cross_certify(definition.id, cross.subject, cross.profile)
        for ca in self.cas():
            if self.store.latest_crl(ca.id, "full") is None:
                self.publish_crls(ca.id, actor=SYSTEM)
                if ca.definition.crl.delta_next_update is not None:
                    self.publish_crls(ca.id, actor=SYSTEM, delta=True)

    def key(self, label: str, kind: KeyKind) -> Signer:
        """The key with this label in the home's backend (file or token), generated on first use and reused
        afterwards: CA keys, the audit key, OCSP responder keys. It never leaves the backend."""
        return self._key(label, kind)

    def _key(self, label: str, kind: object) -> Signer:
        """The key with this label in the home's backend: generated once, reused on a rerun."""
        uri = self.config.key_uri(label)
        with open_backend(uri) as backend:
            try:
                backend.generate(label, kind)  # type: ignore[arg-type]
            except KeyExists:
                pass
        return self._lazy(uri).get()

    def _create_ca(self, definition: CaDefinition) -> None:
        signer = self._key(definition.id, definition.key)
        subject = build_name(definition.subject)
        profile = self.profiles[definition.profile]
        if definition.issuer is None:
            certificate = self._self_signed(definition, signer, subject, profile)
        else:
            request = IssueRequest(profile=definition.profile, public_key=signer.public_key, subject=subject)
            certificate = self.ca(definition.issuer).issue_request(request, actor=SYSTEM, for_ca=True)
        row = CaRow(
            definition.id,
            subject.public_bytes(),
            self.config.key_uri(definition.id),
            certificate.public_bytes(serialization.Encoding.DER),
            _key_sha1(certificate),
            self.clock.now(),
        )
        self.store.add_ca(
            row, AuditEntry(SYSTEM, "ca.create", definition.id, {"subject": subject.rfc4514_string()})
        )
        if definition.issuer is None:
            self._record_own_certificate(definition.id, certificate, profile)

    def _self_signed(
        self, definition: CaDefinition, signer: Signer, subject: x509.Name, profile: Profile
    ) -> x509.Certificate:
        ctx = IssueContext.self_signed(
            signer.public_key,
            subject,
            self.clock.now(),
            ca_id=definition.id,
            base_url=self.definition.base_url,
        )
        not_before, not_after = profile.validity(ctx)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(signer.public_key)
            .serial_number(new_serial())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        for extension in profile.extensions(ctx):
            builder = builder.add_extension(extension.value, critical=extension.critical)
        return sign_certificate(prepare_tbs(builder.sign, signer), signer)

    def _record_own_certificate(self, ca_id: CaId, certificate: x509.Certificate, profile: Profile) -> None:
        """A root's certificate is signed before its CA row can exist; record it right after, as issued."""
        pending = PendingCert(
            ca_id=ca_id,
            serial=certificate.serial_number,
            subject_der=certificate.subject.public_bytes(),
            subject_text=certificate.subject.rfc4514_string(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            profile=profile.id,
            tbs_sha256=_sha256(certificate.tbs_certificate_bytes),
            is_ca=True,
        )
        obj = f"{ca_id}/{certificate.serial_number:x}"
        cert_id = self.store.reserve_certificate(
            pending, AuditEntry(SYSTEM, "cert.prepare", obj, {"self_signed": True})
        )
        der = certificate.public_bytes(serialization.Encoding.DER)
        self.store.complete_certificate(cert_id, der, AuditEntry(SYSTEM, "cert.signed", obj, {}))

    def _has_cross(self, issuer: str, subject: str) -> bool:
        subject_der = self.store.get_ca(subject).subject_der
        return any(row.subject_der == subject_der and row.is_ca for row in self.store.certificates(issuer))

    def _cross_certify(self, issuer: str, subject: str, profile: str) -> x509.Certificate:
        target = self.ca(subject).certificate
        request = IssueRequest(profile=profile, public_key=target.public_key(), subject=target.subject)  # type: ignore[arg-type]
        return self.ca(issuer).issue_request(request, actor=SYSTEM, for_ca=True)


@dataclass(frozen=True, slots=True)
class Rollover:
    """The certificates a key rollover produced."""

    new_certificate: x509.Certificate
    new_with_old: x509.Certificate
    old_with_new: x509.Certificate


def _key_sha1(certificate: x509.Certificate) -> bytes:
    """SHA-1 of the subjectPublicKey bits: OCSP's issuerKeyHash (RFC 6960 §4.1.1)."""
    digest = hashes.Hash(hashes.SHA1())
    digest.update(public_key_bits(certificate.public_key()))  # type: ignore[arg-type]  # RSA or EC
    return digest.finalize()


def _sha256(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def ensure_pki(home: Path, *, base_url: str | None = None, clock: Clock | None = None) -> Pki:
    """Open the home, initialising it first when it is new (``jlis serve`` on first run, with the URL it
    serves at as the base URL inside certificates)."""
    if (home / "config.toml").exists():
        pki = Pki.open(home, clock=clock)
        pki._create_missing()
        return pki
    return Pki.initialise(home, base_url=base_url, clock=clock)


__all__ = ["Pki", "ensure_pki"]
