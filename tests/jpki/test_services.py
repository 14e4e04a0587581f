"""The verifier-facing services on a real store and real CAs: login with the auth certificate, linkage, and
the latest 4 information with the holder's consent — and every refusal, audited, disclosing nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki.card import CardSigner, KeySlot
from jpki.lifecycle import CertKind, IssuedCard, Jpki
from jpki.registry import EventKind, Resident, ResidentEvent
from jpki.services.access import ServiceRefused, VerifierGate
from jpki.services.consent import ConsentService, consent_document, withdrawal_document
from jpki.services.linkage import LinkageService
from jpki.services.login import LoginChallenges, LoginRefused, LoginVerifier, sign_challenge
from jpki.verifiers import VerifierServices
from pki.clock import FixedClock
from pki.cms import sign_cms
from pki.verify import PathValidator, RevocationSettings
from tests.jpki.support import START, make_home, open_jpki, resident
from tests.pg import fresh_database
from tests.test_store_support import BACKENDS

ACTOR = "test:services"
NEW_ADDRESS = "大阪府大阪市北区梅田一丁目1番"


@dataclass
class World:
    jpki: Jpki
    clock: FixedClock
    verifiers: VerifierServices
    gate: VerifierGate
    pf_token: str
    pf_id: str
    other_token: str
    other_id: str
    sp_token: str


@pytest.fixture(scope="module", params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A JPKI home on SQLite (the embedded default) and on PostgreSQL."""
    root = tmp_path_factory.mktemp("services")
    if request.param == "sqlite":
        yield make_home(root)
        return
    with fresh_database("services") as url:
        yield make_home(root, store_url=url)


@pytest.fixture
def world(home: Path) -> Iterator[World]:
    clock = FixedClock(START)
    jpki = open_jpki(home, clock)
    verifiers = VerifierServices.for_pki(jpki.pki)
    pf = verifiers.registry.add("Platform K.K.", "pf", actor=ACTOR)
    other = verifiers.registry.add("Other Bank", "pf", actor=ACTOR)
    sp = verifiers.registry.add("Small Shop", "sp", actor=ACTOR)  # sp: OCSP only
    yield World(
        jpki,
        clock,
        verifiers,
        VerifierGate(verifiers),
        pf.token,
        pf.verifier.verifier_id,
        other.token,
        other.verifier.verifier_id,
        sp.token,
    )
    jpki.close()


def holder(world: World) -> tuple[Resident, IssuedCard]:
    person = world.jpki.add_resident(resident(), actor=ACTOR)
    card = world.jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    return person, card


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def signed_by_card(world: World, card: IssuedCard, content: bytes, slot: KeySlot = KeySlot.SIGNING) -> bytes:
    cert = card.signing if slot is KeySlot.SIGNING else card.auth
    assert cert is not None
    with world.jpki.open_card(card.card_id) as on_card:
        session = on_card.session()
        session.verify_pin(slot, "ABC123" if slot is KeySlot.SIGNING else "1234")
        return sign_cms(
            content, CardSigner(session, slot), cert, detached=False, signing_time=world.clock.now()
        )


def audited(world: World, action: str) -> int:
    return sum(1 for record in world.jpki.pki.store.audit_records() if record.action == action)


def move(world: World, person: Resident) -> None:
    event = ResidentEvent(
        f"mv-{person.code}", person.code, EventKind.move, world.jpki.today(), address=NEW_ADDRESS
    )
    world.jpki.record_event(event, actor="registry")


# -- login ------------------------------------------------------------------------------------------------


@dataclass
class Login:
    challenges: LoginChallenges
    verifier: LoginVerifier
    crls: list[bytes]

    def verify(self, nonce: bytes, signature: bytes, certificate: x509.Certificate) -> object:
        return self.verifier.verify(nonce, signature, certificate, crls=self.crls)


def login_parts(world: World) -> tuple[LoginChallenges, Login]:
    """The relying party's challenges and verifier, with the auth CA's current CRLs (full and delta)."""
    challenges = LoginChallenges(world.jpki.pki.store, world.clock, ttl=dt.timedelta(minutes=5))
    crls = [row.der for row in world.jpki.pki.publish_crls(world.jpki.auth_ca.id, actor=ACTOR)]
    crls += [row.der for row in world.jpki.pki.publish_crls(world.jpki.auth_ca.id, actor=ACTOR, delta=True)]
    offline = RevocationSettings(ocsp=False, fetch_crls=False)
    validator = PathValidator([world.jpki.auth_ca.certificate], revocation=offline, clock=world.clock)
    return challenges, Login(challenges, LoginVerifier(challenges, validator, world.jpki.pki.store), crls)


def card_signs(world: World, card: IssuedCard, nonce: bytes, pin: str = "1234") -> bytes:
    with world.jpki.open_card(card.card_id) as on_card:
        session = on_card.session()
        session.verify_pin(KeySlot.AUTH, pin)
        return sign_challenge(session, nonce)


def test_login_with_the_auth_certificate_and_a_single_use_challenge(world: World) -> None:
    _, card = holder(world)
    challenges, verifier = login_parts(world)
    challenge = challenges.issue("myna-portal")
    signature = card_signs(world, card, challenge.nonce)
    result = verifier.verify(challenge.nonce, signature, card.auth)
    assert result.serial == card.auth.serial_number
    refused_before = audited(world, "jpki.login.refused")
    with pytest.raises(LoginRefused) as replay:
        verifier.verify(challenge.nonce, signature, card.auth)
    assert replay.value.reason == "replayed"
    assert audited(world, "jpki.login.refused") == refused_before + 1
    with pytest.raises(LoginRefused) as unknown:
        verifier.verify(b"\x00" * 32, signature, card.auth)
    assert unknown.value.reason == "unknown-challenge"


def test_login_refuses_a_wrong_signature_a_late_answer_and_a_revoked_certificate(world: World) -> None:
    person, card = holder(world)
    challenges, verifier = login_parts(world)
    other = challenges.issue()
    with pytest.raises(LoginRefused) as wrong:
        verifier.verify(other.nonce, card_signs(world, card, b"something else"), card.auth)
    assert wrong.value.reason == "bad-signature"
    late = challenges.issue()
    signature = card_signs(world, card, late.nonce)
    world.clock.advance(dt.timedelta(minutes=6))
    with pytest.raises(LoginRefused) as expired:
        verifier.verify(late.nonce, signature, card.auth)
    assert expired.value.reason == "expired"
    world.jpki.report_lost(card.card_id, actor=ACTOR)
    world.clock.advance(dt.timedelta(seconds=1))
    challenges, verifier = login_parts(world)  # the relying party's next CRLs
    fresh = challenges.issue()
    with pytest.raises(LoginRefused) as revoked:
        verifier.verify(fresh.nonce, card_signs(world, card, fresh.nonce), card.auth)
    assert revoked.value.reason == "certificate" and revoked.value.validation is not None
    assert revoked.value.validation.verdict.value == "revoked"
    assert person.code not in str(revoked.value)


# -- linkage ----------------------------------------------------------------------------------------------


def test_linkage_leads_from_the_old_certificate_to_the_new_one_and_its_partner(world: World) -> None:
    person, card = holder(world)
    assert card.signing is not None
    move(world, person)
    new = world.jpki.reissue_signing(card.card_id, actor=ACTOR)
    service = LinkageService(world.jpki, world.gate)
    found = service.linkage(world.pf_token, der(card.signing))
    assert [c.serial for c in found.line] == [card.signing.serial_number, new.serial_number]
    assert found.latest.serial == new.serial_number and found.latest.state.value == "current"
    assert found.presented.state.value == "revoked"
    assert found.partner is not None and found.partner.serial == card.auth.serial_number
    from_auth = service.linkage(world.pf_token, card.auth.public_bytes(serialization.Encoding.PEM))
    assert from_auth.partner is not None and from_auth.partner.serial == new.serial_number
    world.verifiers.flusher.flush(everything=True)
    statement = world.verifiers.ledger.statement(world.pf_id, world.clock.now().strftime("%Y-%m"))
    assert sum(r.count for r in statement.rows if r.service.value == "linkage") == 2


def test_linkage_refusals(world: World) -> None:
    _, card = holder(world)
    assert card.signing is not None
    service = LinkageService(world.jpki, world.gate)
    cases = [
        (None, der(card.signing), 401, "unauthenticated"),
        ("jv_0000000000000000_nope", der(card.signing), 401, "unauthenticated"),
        (world.sp_token, der(card.signing), 403, "forbidden"),
        (world.pf_token, b"not a certificate", 400, "bad-certificate"),
        (world.pf_token, der(world.jpki.sign_ca.certificate), 404, "unknown-certificate"),
    ]
    for token, body, status, code in cases:
        with pytest.raises(ServiceRefused) as refused:
            service.linkage(token, body)
        assert (refused.value.status, refused.value.code) == (status, code)
    # same issuer and serial, another key and signature: not ours byte for byte
    forged = forge(card.signing)
    with pytest.raises(ServiceRefused) as refused:
        service.linkage(world.pf_token, der(forged))
    assert refused.value.status == 404


def forge(cert: x509.Certificate) -> x509.Certificate:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(65537, 2048)
    return (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(key.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )


# -- the latest 4 information with consent -----------------------------------------------------------------


def consent(world: World, verifier_id: str, *, days: int = 30, consent_id: str | None = None) -> bytes:
    expires = world.clock.now() + dt.timedelta(days=days)
    return consent_document(verifier_id, "account opening (口座開設)", expires, consent_id=consent_id)


def test_consent_gives_the_current_address_after_a_move(world: World) -> None:
    person, card = holder(world)
    service = ConsentService(world.jpki, world.gate)
    signed = signed_by_card(world, card, consent(world, world.pf_id))
    before = service.provide(world.pf_token, signed)
    assert before.four_info["address"] == person.info.address and before.status == "resident"
    world.clock.advance(dt.timedelta(hours=1))
    move(world, person)  # revokes the signing certificate (affiliationChanged) after the consent was signed
    after = service.provide(world.pf_token, signed)
    assert after.four_info["address"] == NEW_ADDRESS
    assert after.four_info["name"] == person.info.name
    assert audited(world, "jpki.fourinfo.provide") >= 2
    world.verifiers.flusher.flush(everything=True)
    statement = world.verifiers.ledger.statement(world.pf_id, world.clock.now().strftime("%Y-%m"))
    rows = [r for r in statement.rows if r.service.value == "four-info"]
    assert sum(r.count for r in rows) >= 2 and all(r.unit_fee == 20 for r in rows)


def test_consent_refusals_disclose_nothing_and_are_audited(world: World) -> None:
    person, card = holder(world)
    service = ConsentService(world.jpki, world.gate)
    good = signed_by_card(world, card, consent(world, world.pf_id, days=1, consent_id="c-1"))
    tampered = bytearray(good)
    at = tampered.find(b"account")
    tampered[at] ^= 0x01
    withdrawn = signed_by_card(world, card, consent(world, world.pf_id, consent_id="c-withdrawn"))
    service.withdraw(signed_by_card(world, card, withdrawal_document("c-withdrawn"), KeySlot.AUTH))
    not_json = signed_by_card(world, card, b"I agree")
    cases = [
        ("jv_0000000000000000_nope", good, 401, "unauthenticated"),
        (world.sp_token, good, 403, "forbidden"),
        (world.pf_token, b"", 400, "no-consent"),
        (world.pf_token, b"\x30\x03\x02\x01\x00", 422, "bad-consent"),
        (world.pf_token, bytes(tampered), 422, "bad-signature"),
        (world.other_token, good, 403, "not-your-consent"),
        (world.pf_token, withdrawn, 403, "consent-withdrawn"),
        (world.pf_token, not_json, 422, "bad-consent"),
    ]
    refused_before = audited(world, "jpki.fourinfo.refused")
    for token, body, status, code in cases:
        with pytest.raises(ServiceRefused) as refused:
            service.provide(token, body)
        assert (refused.value.status, refused.value.code) == (status, code), code
        assert person.info.address not in refused.value.message and person.code not in refused.value.message
    assert audited(world, "jpki.fourinfo.refused") == refused_before + 6  # the 6 from known verifiers
    unregistered_before = audited(world, "jpki.verifier.refused")
    world.verifiers.flusher.flush(everything=True)  # refusals without a known verifier, aggregated
    assert audited(world, "jpki.verifier.refused") > unregistered_before
    world.clock.advance(dt.timedelta(days=2))
    with pytest.raises(ServiceRefused) as expired:
        service.provide(world.pf_token, good)
    assert expired.value.code == "consent-expired"


def test_a_lost_card_voids_its_consents(world: World) -> None:
    _, card = holder(world)
    service = ConsentService(world.jpki, world.gate)
    signed = signed_by_card(world, card, consent(world, world.pf_id))
    world.clock.advance(dt.timedelta(minutes=1))
    world.jpki.report_lost(card.card_id, actor=ACTOR)
    with pytest.raises(ServiceRefused) as refused:
        service.provide(world.pf_token, signed)
    assert refused.value.code == "certificate-revoked"


def test_a_withdrawal_counts_only_for_its_own_holder(world: World) -> None:
    _, card = holder(world)
    _, stranger = holder(world)
    service = ConsentService(world.jpki, world.gate)
    signed = signed_by_card(world, card, consent(world, world.pf_id, consent_id="shared-id"))
    service.withdraw(signed_by_card(world, stranger, withdrawal_document("shared-id")))
    assert service.provide(world.pf_token, signed).consent_id == "shared-id"
    assert json.loads(withdrawal_document("x"))["consent_id"] == "x"
    assert CertKind.signing.value == "signing"
