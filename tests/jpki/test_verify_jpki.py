"""Relying parties verifying My Number Card signatures (`jpki.verify`, `jlis verify`).

A card is issued by the JPKI lifecycle, signs a document through `CardSigner` and `sign_cms`, and the
signature is verified with the JPKI signing CA as the anchor and the CA's CRLs (`publish_crls`, full and
delta): valid with the holder's basic 4 information; after a move, revoked (affiliationChanged). The OCSP
tests run a local `jlis serve` (slow): good and revoked over HTTP, and `unauthorized` from a CA that
answers registered verifiers only. Times come from a FixedClock except in the served tests, which use the
server's wall clock but assert no time.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki.card import KeySlot
from jpki.card.signer import CardSigner
from jpki.lifecycle import IssuedCard, Jpki
from jpki.registry import EventKind, Resident, ResidentEvent
from jpki.verify import jpki_validator, production_anchors, verify_signature
from pki.clock import FixedClock
from pki.cms import sign_cms
from pki.model import RevocationReason
from pki.runtime import Pki
from pki.verify import Problem, RevinfoSource, RevocationMode, RevocationSettings, Verdict
from tests.jpki.support import JPKI_DEFINITION, START, make_home, open_jpki, resident
from tests.test_verify_path import Ran, run

ACTOR = "test:verify"
DOCUMENT = "確定申告書 令和8年分\n".encode()
NEW_ADDRESS = "大阪府大阪市北区梅田1番"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "jpki"
OFFLINE = RevocationSettings(ocsp=False, fetch_crls=False)
"""Revocation required, from the CRLs given only."""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("jpki-verify"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def jpki(home: Path, clock: FixedClock) -> Iterator[Jpki]:
    opened = open_jpki(home, clock)
    yield opened
    opened.close()


@dataclass(frozen=True)
class Holder:
    person: Resident
    card: IssuedCard

    @property
    def signing(self) -> x509.Certificate:
        assert self.card.signing is not None
        return self.card.signing


def new_holder(jpki: Jpki) -> Holder:
    person = jpki.add_resident(resident(), actor=ACTOR)
    return Holder(person, jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR))


def card_sign(
    jpki: Jpki, holder: Holder, slot: KeySlot = KeySlot.SIGNING, *, signing_time: dt.datetime | None = None
) -> bytes:
    pin, cert = ("ABC123", holder.signing) if slot is KeySlot.SIGNING else ("1234", holder.card.auth)
    with jpki.open_card(holder.card.card_id) as card:
        session = card.session()
        session.verify_pin(slot, pin)
        return sign_cms(DOCUMENT, CardSigner(session, slot), cert, signing_time=signing_time)


def signing_crls(jpki: Jpki) -> list[bytes]:
    """The signing CA's next full CRL and its delta: the full one names the delta (freshestCRL)."""
    full = jpki.pki.publish_crls(jpki.sign_ca.id, actor=ACTOR)
    delta = jpki.pki.publish_crls(jpki.sign_ca.id, actor=ACTOR, delta=True)
    return [row.der for row in (*full, *delta)]


def move(jpki: Jpki, holder: Holder) -> None:
    event = ResidentEvent(
        f"mv-{holder.person.code}", holder.person.code, EventKind.move, jpki.today(), address=NEW_ADDRESS
    )
    jpki.record_event(event, actor="registry")


def pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


# -- the library ---------------------------------------------------------------------------------------------


def test_a_card_signature_is_valid_with_the_holders_four_info(jpki: Jpki, clock: FixedClock) -> None:
    holder = new_holder(jpki)
    der = card_sign(jpki, holder, signing_time=clock.now())
    clock.advance(dt.timedelta(minutes=5))
    validator = jpki_validator([jpki.sign_ca.certificate], revocation=OFFLINE, clock=clock)
    checked = verify_signature(der, validator, content=DOCUMENT, crls=signing_crls(jpki))
    assert checked.verdict is Verdict.valid, checked.reason
    assert checked.four_info == holder.person.info
    assert checked.signer == holder.signing
    assert checked.path == (holder.signing, jpki.sign_ca.certificate)
    assert checked.signing_time == START
    assert checked.result.validation is not None and checked.result.validation.revinfo == ()


def test_after_a_move_the_signature_is_revoked_affiliation_changed(jpki: Jpki, clock: FixedClock) -> None:
    holder = new_holder(jpki)
    signed_at = clock.now()
    der = card_sign(jpki, holder, signing_time=signed_at)
    clock.advance(dt.timedelta(hours=1))
    move(jpki, holder)
    clock.advance(dt.timedelta(minutes=1))
    crls = signing_crls(jpki)
    validator = jpki_validator([jpki.sign_ca.certificate], revocation=OFFLINE, clock=clock)
    checked = verify_signature(der, validator, content=DOCUMENT, crls=crls)
    assert checked.verdict is Verdict.revoked and checked.problem is Problem.revoked
    assert checked.revocation is not None
    assert checked.revocation.reason is RevocationReason.affiliation_changed
    assert checked.revocation.serial == holder.signing.serial_number
    assert signed_at < checked.revocation.time <= clock.now()
    assert "affiliationChanged" in checked.reason
    assert checked.four_info == holder.person.info, (
        "the certificate still says who signed, and where they lived"
    )
    # the signature was made before the move: valid at its signing time, judged with today's CRL
    then = verify_signature(der, validator, content=DOCUMENT, crls=crls, at_signing_time=True)
    assert then.verdict is Verdict.valid, then.reason
    assert then.result.validation_time == signed_at


def test_without_the_crl_revocation_is_indeterminate(jpki: Jpki, clock: FixedClock) -> None:
    holder = new_holder(jpki)
    der = card_sign(jpki, holder, signing_time=clock.now())
    validator = jpki_validator([jpki.sign_ca.certificate], revocation=OFFLINE, clock=clock)
    checked = verify_signature(der, validator, content=DOCUMENT)
    assert checked.verdict is Verdict.indeterminate and checked.problem is Problem.revocation_unavailable
    full_only = [jpki.pki.publish_crls(jpki.sign_ca.id, actor=ACTOR)[0].der]
    checked = verify_signature(der, validator, content=DOCUMENT, crls=full_only)
    assert checked.verdict is Verdict.indeterminate, "the full CRL names a delta CRL that is missing"
    assert "Delta CRL" in checked.reason


def test_an_authentication_signature_carries_no_four_info(jpki: Jpki, clock: FixedClock) -> None:
    holder = new_holder(jpki)
    der = card_sign(jpki, holder, KeySlot.AUTH, signing_time=clock.now())
    off = RevocationSettings(mode=RevocationMode.off)
    validator = jpki_validator([jpki.auth_ca.certificate], revocation=off, clock=clock)
    checked = verify_signature(der, validator, content=DOCUMENT)
    assert checked.verdict is Verdict.valid, checked.reason
    assert checked.four_info is None and checked.four_info_problem is not None
    assert "not a JPKI signing certificate" in checked.four_info_problem


def test_untrusted_signer_gets_no_four_info(jpki: Jpki, clock: FixedClock) -> None:
    holder = new_holder(jpki)
    der = card_sign(jpki, holder, signing_time=clock.now())
    validator = jpki_validator([jpki.auth_ca.certificate], revocation=OFFLINE, clock=clock)
    checked = verify_signature(der, validator, content=DOCUMENT)
    assert checked.verdict is Verdict.invalid and checked.problem is Problem.untrusted
    assert checked.four_info is None


# -- production anchors: every generation shares the DN of our test CA ---------------------------------------


def test_production_anchors_are_the_real_generations() -> None:
    anchors = production_anchors("signing")
    assert len(anchors) == 2
    assert anchors[0].subject == anchors[1].subject and anchors[0].public_key() != anchors[1].public_key()
    assert {c.not_valid_before_utc.year for c in anchors} == {2015, 2023}
    assert len(production_anchors("auth")) == 2
    if REFERENCE.is_dir():  # the embedded copies are the published files
        published = {x509.load_pem_x509_certificate(p.read_bytes()) for p in REFERENCE.glob("*.pem")}
        assert set(anchors) | set(production_anchors("auth")) == published
    with pytest.raises(ValueError, match="signing or auth"):
        production_anchors("root")


def test_same_dn_as_the_real_cas_is_not_trust(jpki: Jpki, clock: FixedClock) -> None:
    """Our test signing CA has the real CAs' DN: with all three pinned, the path is chosen by key."""
    holder = new_holder(jpki)
    der = card_sign(jpki, holder, signing_time=clock.now())
    ours = jpki.sign_ca.certificate
    assert all(real.subject == ours.subject for real in production_anchors("signing"))
    off = RevocationSettings(mode=RevocationMode.off)
    real_only = verify_signature(
        der, jpki_validator(production=True, revocation=off, clock=clock), content=DOCUMENT
    )
    assert real_only.verdict is Verdict.invalid and real_only.problem in {
        Problem.untrusted,
        Problem.bad_signature,
    }
    all_three = jpki_validator([ours], production=True, revocation=off, clock=clock)
    checked = verify_signature(der, all_three, content=DOCUMENT)
    assert checked.verdict is Verdict.valid
    assert checked.result.validation is not None and checked.result.validation.anchor == ours


# -- jlis verify ---------------------------------------------------------------------------------------------


def cli_verify(tmp: Path, jpki: Jpki, der: bytes, crls: list[bytes], at: dt.datetime, *extra: str) -> Ran:
    signature = tmp / "application.p7s"
    signature.write_bytes(der)
    document = tmp / "application.txt"
    document.write_bytes(DOCUMENT)
    anchor = pem(tmp / "sign-ca.pem", jpki.sign_ca.certificate)
    args: list[str | Path] = [
        "verify",
        signature,
        "--content",
        document,
        "--anchors",
        anchor,
        "--at",
        at.isoformat(),
    ]
    for n, der_crl in enumerate(crls):
        (tmp / f"{n}.crl").write_bytes(der_crl)
        args += ["--crl", tmp / f"{n}.crl"]
    return run(*args, *extra)


def test_jlis_verify_prints_four_info_then_revoked_after_a_move(
    jpki: Jpki, clock: FixedClock, tmp_path: Path
) -> None:
    holder = new_holder(jpki)
    der = card_sign(jpki, holder, signing_time=clock.now())
    clock.advance(dt.timedelta(minutes=5))
    ran = cli_verify(tmp_path, jpki, der, signing_crls(jpki), clock.now(), "--json")
    assert ran.code == 0, ran.out + ran.err
    document = ran.json
    assert document["verdict"] == "valid"
    assert document["four_info"] == holder.person.info.as_dict()
    assert document["signer"]["serial"] == format(holder.signing.serial_number, "x")
    assert document["revocation"]["checked"] == []
    text = cli_verify(tmp_path, jpki, der, signing_crls(jpki), clock.now())
    assert text.code == 0 and f"4 information: {holder.person.info.name}" in text.out

    clock.advance(dt.timedelta(hours=1))
    move(jpki, holder)
    clock.advance(dt.timedelta(minutes=1))  # revoked *before* the validation time, not at it
    ran = cli_verify(tmp_path, jpki, der, signing_crls(jpki), clock.now(), "--json")
    assert ran.code == 1
    assert ran.json["verdict"] == "revoked"
    assert ran.json["revocation"]["revoked"]["reason"] == "affiliationChanged"
    assert ran.json["four_info"]["address"] == holder.person.info.address != NEW_ADDRESS


# -- OCSP over HTTP: a local `jlis serve` --------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    url: str
    jpki: Jpki
    dir: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The signing CA answers OCSP publicly, the authentication CA registered verifiers only."""
    from tests.ocsp.test_ocsp_server import serving

    tmp = tmp_path_factory.mktemp("jpki-verify-served")
    definition = tmp / "jpki.toml"
    definition.write_text(JPKI_DEFINITION.replace("ACCESS", "public", 1).replace("ACCESS", "registered", 1))
    Pki.initialise(tmp / "home", definition=definition).close()
    with serving(tmp / "home", tmp / "logs") as server:
        jpki = Jpki.open(tmp / "home")
        try:
            yield Served(server.url, jpki, tmp)
        finally:
            jpki.close()


def served_verify(served: Served, der: bytes, anchor: x509.Certificate, *extra: str) -> Ran:
    signature = served.dir / "signed.p7s"
    signature.write_bytes(der)
    document = served.dir / "document.txt"
    document.write_bytes(DOCUMENT)
    anchor_file = pem(served.dir / "anchor.pem", anchor)
    args = [
        "verify",
        signature,
        "--content",
        document,
        "--anchors",
        anchor_file,
        "--ocsp",
        f"{served.url}/ocsp",
    ]
    return run(*args, "--json", *extra)


@pytest.mark.slow
def test_ocsp_good_then_revoked_over_http(served: Served) -> None:
    jpki = served.jpki
    holder = new_holder(jpki)
    der = card_sign(jpki, holder)
    ran = served_verify(served, der, jpki.sign_ca.certificate)
    assert ran.code == 0, ran.out + ran.err
    assert ran.json["revocation"]["checked"] == [
        {"source": RevinfoSource.ocsp.value, "location": f"{served.url}/ocsp", "outcome": "fetched"}
    ]
    assert ran.json["four_info"] == holder.person.info.as_dict()
    move(jpki, holder)
    deadline = time.monotonic() + 5  # the responder learns of a revocation from the store within a second
    while (
        ran := served_verify(served, der, jpki.sign_ca.certificate)
    ).code == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ran.code == 1, ran.out + ran.err
    assert ran.json["verdict"] == "revoked"
    assert ran.json["revocation"]["revoked"]["reason"] == "affiliationChanged"


@pytest.mark.slow
def test_a_registered_only_responder_is_unauthorized_and_indeterminate(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    jpki = served.jpki
    holder = new_holder(jpki)
    der = card_sign(jpki, holder, KeySlot.AUTH)
    ran = served_verify(served, der, jpki.auth_ca.certificate)
    assert ran.code == 2, ran.out + ran.err
    assert ran.json["verdict"] == "indeterminate" and "unauthorized" in ran.json["reason"]
    assert ran.json["revocation"]["checked"][0]["outcome"] == "unauthorized"
    monkeypatch.setenv("JLIS_VERIFIER_TOKEN", "not-a-registered-token")
    assert served_verify(served, der, jpki.auth_ca.certificate).code == 2
    token = tmp_path / "token"
    token.write_text("another-unknown-token\n")
    assert served_verify(served, der, jpki.auth_ca.certificate, "--token-file", str(token)).code == 2
