"""The holder's latest basic 4 information, with the holder's consent (本人同意に基づく基本4情報の提供).

The holder signs a consent with the card's signing key: an attached CMS SignedData over a consent document
(:func:`consent_document`: canonical JSON naming the verifier, the purpose, an expiry and a consent id).
The verifier submits it; :meth:`ConsentService.provide` then checks, in order:

1. the verifier is registered, active and has the ``four-info`` scope;
2. the signature (CMS: content digest, signature, key usage) and the signer certificate's path to a JPKI
   signing CA generation, at the signing time the consent claims;
3. the signer certificate is one of ours, and was not revoked before the consent was signed. A revocation
   *after* signing for a 4-information change (affiliationChanged: a move, a new name) does not void the
   consent — the service exists to tell the verifier the new data. Any other revocation (lost card, death)
   does;
4. the consent names this verifier, has not expired, and was not withdrawn by its holder.

Then it returns the holder's **current** 4 information from the registry. Every provision is audited and
recorded in the fee ledger; every refusal is audited with its reason and discloses nothing about anyone.

A holder withdraws a consent by signing a withdrawal document (:func:`withdrawal_document`) with any of
their current card certificates: :meth:`ConsentService.withdraw`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from jpki.lifecycle import CertKind, CertState, HeldCert, Jpki
from jpki.services import tables
from jpki.services.access import ServiceRefused, VerifierGate
from jpki.services.linkage import find_held
from jpki.verifiers import Scope
from pki.model import CertStatus, RevocationReason
from pki.store import AuditEntry
from pki.verify import MalformedInput, PathValidator, RevocationMode, RevocationSettings, Verdict
from pki.verify.cms import SignatureVerification, verify_cms

SCOPE = Scope.four_info
CONSENT_TYPE = "jpki-four-info-consent/1"
WITHDRAWAL_TYPE = "jpki-four-info-consent-withdrawal/1"
_CONSENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
W = tables.consent_withdrawal


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def consent_document(
    verifier_id: str,
    purpose: str,
    expires_at: dt.datetime,
    *,
    consent_id: str | None = None,
) -> bytes:
    """The document a holder signs to let ``verifier_id`` have their current 4 information until
    ``expires_at`` (an aware time)."""
    if expires_at.tzinfo is None:
        raise ValueError("give the expiry with its time zone")
    return _canonical(
        {
            "type": CONSENT_TYPE,
            "consent_id": consent_id or uuid.uuid4().hex,
            "verifier": verifier_id,
            "purpose": purpose,
            "expires_at": expires_at.isoformat(),
        }
    )


def withdrawal_document(consent_id: str) -> bytes:
    return _canonical({"type": WITHDRAWAL_TYPE, "consent_id": consent_id})


@dataclass(frozen=True, slots=True)
class Consent:
    consent_id: str
    verifier: str
    purpose: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Provision:
    consent_id: str
    four_info: dict[str, str]
    status: str
    """The holder's registry status now: resident, abroad or deceased."""
    as_of: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "consent_id": self.consent_id,
            "four_info": self.four_info,
            "status": self.status,
            "as_of": self.as_of.isoformat(),
        }


def _parse_json(content: bytes, expected: str) -> dict[str, Any]:
    try:
        doc = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ServiceRefused(422, "bad-consent", "the signed content is not a consent document") from None
    if not isinstance(doc, dict) or doc.get("type") != expected:
        raise ServiceRefused(422, "bad-consent", "the signed content is not a consent document")
    consent_id = doc.get("consent_id")
    if not isinstance(consent_id, str) or not _CONSENT_ID.fullmatch(consent_id):
        raise ServiceRefused(422, "bad-consent", "the consent id is missing or malformed")
    return doc


def parse_consent(content: bytes) -> Consent:
    doc = _parse_json(content, CONSENT_TYPE)
    try:
        expires = dt.datetime.fromisoformat(str(doc["expires_at"]))
        verifier, purpose = str(doc["verifier"]), str(doc["purpose"])
    except (KeyError, ValueError):
        raise ServiceRefused(
            422, "bad-consent", "the consent lacks a verifier, a purpose or a valid expiry"
        ) from None
    if expires.tzinfo is None:
        raise ServiceRefused(422, "bad-consent", "the consent's expiry has no time zone")
    return Consent(doc["consent_id"], verifier, purpose, expires)


class ConsentService:
    """Checks consents and hands out current 4 information (see the module docstring)."""

    def __init__(self, jpki: Jpki, gate: VerifierGate) -> None:
        jpki.pki.store.ensure_domain(tables.SCHEMA)
        self._jpki = jpki
        self._gate = gate

    def _validator(self, *kinds: CertKind) -> PathValidator:
        """Every generation of the CAs of ``kinds`` as anchors; status comes from our own store instead of
        CRL/OCSP (we are the CA), so revocation checking is off here and done by the caller."""
        anchors = [
            generation.certificate
            for kind in kinds
            for generation in self._jpki.pki.generations(self._jpki.ca_for(kind).id)
        ]
        return PathValidator(
            anchors, revocation=RevocationSettings(mode=RevocationMode.off), clock=self._jpki.clock
        )

    def _verify(self, signed: bytes) -> tuple[SignatureVerification, HeldCert]:
        if not signed:
            raise ServiceRefused(400, "no-consent", "send the holder's signed consent (CMS SignedData)")
        try:
            verification = verify_cms(signed, self._validator(CertKind.signing), at_signing_time=True)
        except (MalformedInput, ValueError, TypeError, KeyError, IndexError):  # whatever the bytes were
            raise ServiceRefused(
                422, "bad-consent", "the body is not a CMS SignedData with attached content"
            ) from None
        if verification.verdict is not Verdict.valid or verification.signer is None:
            raise ServiceRefused(
                422, "bad-signature", f"the consent's signature does not verify: {verification.reason}"
            )
        return verification, find_held(self._jpki, verification.signer)

    def _check_status(self, held: HeldCert, signed_at: dt.datetime | None) -> None:
        status = self._jpki.pki.store.status(held.ca_id, held.serial)
        if status is None or status.status is CertStatus.good:
            return
        revoked_at = status.revoked_at
        moved_after = (
            status.reason is RevocationReason.affiliation_changed
            and signed_at is not None
            and revoked_at is not None
            and signed_at <= revoked_at  # times are whole seconds: the same second counts as before
        )
        if not moved_after:
            raise ServiceRefused(403, "certificate-revoked", "the consent's signing certificate was revoked")

    def provide(self, bearer_token: str | None, signed: bytes, client: str | None = None) -> Provision:
        verifier_id = self._gate.require(bearer_token, SCOPE, self._jpki.settings.sign_ca, client)
        try:
            verification, held = self._verify(signed)
            consent = parse_consent(verification.content)
            self._check_status(held, verification.signing_time)
            self._check_consent(consent, verifier_id, held)
        except ServiceRefused as refused:
            self._audit(verifier_id, "jpki.fourinfo.refused", "-", {"why": refused.code})
            raise
        resident = self._jpki.registry.get(held.code)
        now = self._jpki.clock.now()
        self._gate.record_provision(verifier_id, SCOPE, held.ca_id, ref=consent.consent_id)
        details = {"consent": consent.consent_id, "certificate": f"{held.serial:x}"}
        self._audit(verifier_id, "jpki.fourinfo.provide", f"resident/{held.code}", details)
        info = resident.info.as_dict()
        return Provision(consent.consent_id, info, resident.status.value, now)

    def _check_consent(self, consent: Consent, verifier_id: str, held: HeldCert) -> None:
        if consent.verifier != verifier_id:
            raise ServiceRefused(403, "not-your-consent", "the consent names another verifier")
        if consent.expires_at <= self._jpki.clock.now():
            raise ServiceRefused(403, "consent-expired", "the consent has expired")
        if self._withdrawn(consent.consent_id, held.code):
            raise ServiceRefused(403, "consent-withdrawn", "the holder withdrew this consent")

    def _withdrawn(self, consent_id: str, code: str) -> bool:
        query = sa.select(W.c.consent_id).where(W.c.consent_id == consent_id, W.c.code == code)
        with self._jpki.pki.store.domain_read() as conn:
            return conn.execute(query).first() is not None

    def withdraw(self, signed: bytes) -> str:
        """Record a holder's withdrawal, signed with one of their current card certificates; returns the
        consent id. Withdrawing twice is harmless."""
        if not signed:
            raise ServiceRefused(400, "no-withdrawal", "send the holder's signed withdrawal (CMS SignedData)")
        try:
            verification = verify_cms(
                signed, self._validator(CertKind.signing, CertKind.auth), at=self._jpki.clock.now()
            )
        except (MalformedInput, ValueError, TypeError, KeyError, IndexError):  # whatever the bytes were
            raise ServiceRefused(
                422, "bad-withdrawal", "the body is not a CMS SignedData with attached content"
            ) from None
        if verification.verdict is not Verdict.valid or verification.signer is None:
            raise ServiceRefused(
                422, "bad-signature", f"the withdrawal's signature does not verify: {verification.reason}"
            )
        held = find_held(self._jpki, verification.signer)
        if held.state is not CertState.current:
            raise ServiceRefused(
                403, "certificate-revoked", "sign the withdrawal with a current card certificate"
            )
        consent_id = str(_parse_json(verification.content, WITHDRAWAL_TYPE)["consent_id"])
        with self._jpki.pki.store.domain_write() as tx:
            if (
                tx.conn.execute(
                    sa.select(W.c.consent_id).where(W.c.consent_id == consent_id, W.c.code == held.code)
                ).first()
                is None
            ):
                tx.conn.execute(
                    sa.insert(W).values(
                        consent_id=consent_id, code=held.code, withdrawn_at=self._jpki.clock.now()
                    )
                )
            tx.audit(AuditEntry(f"holder:{held.code}", "jpki.consent.withdraw", f"consent/{consent_id}", {}))
        return consent_id

    def _audit(self, verifier_id: str, action: str, obj: str, details: dict[str, Any]) -> None:
        self._jpki.pki.store.append_audit(AuditEntry(f"verifier:{verifier_id}", action, obj, details))


__all__ = [
    "CONSENT_TYPE",
    "Consent",
    "ConsentService",
    "Provision",
    "consent_document",
    "parse_consent",
    "withdrawal_document",
]
