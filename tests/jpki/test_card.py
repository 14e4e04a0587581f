"""The My Number Card model: on-card keys, PIN policies and counters, certificates, statuses, validity."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import algos, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from hsm import HashName, KeyNotExtractable, Secret, as_private_key
from jpki.card import (
    CardCorrupt,
    CardExists,
    CardNotActive,
    CardNotExpired,
    CardNotFound,
    CardStatus,
    CertificateMissing,
    CertificateRejected,
    InvalidCardDates,
    InvalidCardId,
    InvalidStatusTransition,
    KeySlot,
    MyNumberCard,
    PinFormatInvalid,
    PinIncorrect,
    PinLocked,
    PinNotVerified,
    PinState,
    SignInputInvalid,
    UnknownTokenKind,
    age_on,
    card_expiry,
    digest_info,
)
from jpki.card.validity import jst_date
from pki.clock import FixedClock

CARD_ID = "card-0001"
BIRTH = dt.date(1990, 6, 15)
ISSUED = dt.date(2026, 4, 1)
NOW = dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC)
SIGN_PIN = "ABC123"
AUTH_PIN = "1234"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One card made once (two RSA-2048 keys); every test works on its own copy of the directory."""
    root = tmp_path_factory.mktemp("pristine")
    MyNumberCard.create(
        root,
        CARD_ID,
        holder_birth=BIRTH,
        issued_on=ISSUED,
        signing_pin=SIGN_PIN,
        auth_pin=AUTH_PIN,
        clock=FixedClock(NOW),
    ).close()
    return root


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def cards_dir(pristine: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "cards"
    shutil.copytree(pristine, copy)
    return copy


@pytest.fixture
def card(cards_dir: Path, clock: FixedClock) -> Iterator[MyNumberCard]:
    with MyNumberCard.open(cards_dir, CARD_ID, clock=clock) as opened:
        yield opened


def reopen(card: MyNumberCard, cards_dir: Path) -> MyNumberCard:
    """The same card opened afresh from disk, as after pulling it out and putting it back."""
    card.close()
    return MyNumberCard.open(cards_dir, CARD_ID, clock=FixedClock(NOW))


@pytest.fixture(scope="module")
def ca_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(ca_key: rsa.RSAPrivateKey, public_key: rsa.RSAPublicKey, cn: str = "test") -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=365))
    )
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def rsa_public(card: MyNumberCard, slot: KeySlot) -> rsa.RSAPublicKey:
    key = card.public_key(slot)
    assert isinstance(key, rsa.RSAPublicKey)
    return key


# -- keys -----------------------------------------------------------------------------------------------


def test_two_distinct_rsa_2048_keys_generated_on_the_card(card: MyNumberCard) -> None:
    signing, auth = rsa_public(card, KeySlot.SIGNING), rsa_public(card, KeySlot.AUTH)
    assert signing.key_size == auth.key_size == 2048
    assert signing.public_numbers().e == auth.public_numbers().e == 65537
    assert signing.public_numbers().n != auth.public_numbers().n


def test_the_private_keys_never_leave_the_token(card: MyNumberCard, cards_dir: Path) -> None:
    key = as_private_key(card.token.signer(KeySlot.SIGNING))
    with pytest.raises(KeyNotExtractable):
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    assert isinstance(key, rsa.RSAPrivateKey)
    with pytest.raises(KeyNotExtractable):
        key.private_numbers()
    # at rest, the key files are encrypted PKCS#8, readable by the owner only
    for path in (cards_dir / CARD_ID / "token").glob("*.key.pem"):
        assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(path.read_bytes(), password=None)


# -- PIN policies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["ABC123", "123456", "A" * 16, "Z9Z9Z9Z9"])
def test_signing_pins_in_policy(card: MyNumberCard, pin: str) -> None:
    card.change_pin(KeySlot.SIGNING, SIGN_PIN, pin)
    card.verify_pin(KeySlot.SIGNING, pin)


@pytest.mark.parametrize(
    ("slot", "pin"),
    [
        (KeySlot.SIGNING, "ABC12"),
        (KeySlot.SIGNING, "A" * 17),
        (KeySlot.SIGNING, "abc123"),
        (KeySlot.SIGNING, "ABC-123"),
        (KeySlot.SIGNING, "ＡＢＣ１２３"),
        (KeySlot.SIGNING, ""),
        (KeySlot.AUTH, "123"),
        (KeySlot.AUTH, "12345"),
        (KeySlot.AUTH, "12a4"),
        (KeySlot.AUTH, "١٢٣٤"),
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else v.value,
)
def test_malformed_pins_are_refused_without_spending_a_try(
    card: MyNumberCard, slot: KeySlot, pin: str
) -> None:
    before = card.pin_tries_left(slot)
    with pytest.raises(PinFormatInvalid) as caught:
        card.verify_pin(slot, pin)
    assert caught.value.slot is slot
    if pin:
        assert pin not in str(caught.value)
    assert card.pin_tries_left(slot) == before


def test_the_fifth_wrong_signing_pin_locks_the_key(card: MyNumberCard) -> None:
    for expected in (4, 3, 2, 1):
        with pytest.raises(PinIncorrect) as caught:
            card.verify_pin(KeySlot.SIGNING, "WRONG1")
        assert caught.value.remaining == expected and not caught.value.locked
    with pytest.raises(PinIncorrect) as caught:
        card.verify_pin(KeySlot.SIGNING, "WRONG1")
    assert caught.value.remaining == 0 and caught.value.locked
    assert card.pin_locked(KeySlot.SIGNING)
    with pytest.raises(PinLocked):  # the right PIN no longer helps
        card.verify_pin(KeySlot.SIGNING, SIGN_PIN)
    with pytest.raises(PinLocked):
        card.sign(KeySlot.SIGNING, b"\x00" * 51, SIGN_PIN)
    assert not card.pin_locked(KeySlot.AUTH)  # the other PIN is unaffected


def test_the_auth_pin_locks_after_three(card: MyNumberCard) -> None:
    remaining = []
    for _ in range(3):
        with pytest.raises(PinIncorrect) as caught:
            card.verify_pin(KeySlot.AUTH, "0000")
        remaining.append(caught.value.remaining)
    assert remaining == [2, 1, 0]
    with pytest.raises(PinLocked):
        card.verify_pin(KeySlot.AUTH, AUTH_PIN)


def test_a_correct_pin_gives_every_try_back(card: MyNumberCard) -> None:
    for _ in range(4):
        with pytest.raises(PinIncorrect):
            card.verify_pin(KeySlot.SIGNING, "WRONG1")
    assert card.pin_tries_left(KeySlot.SIGNING) == 1
    card.verify_pin(KeySlot.SIGNING, Secret(SIGN_PIN))
    assert card.pin_tries_left(KeySlot.SIGNING) == 5


def test_change_pin_needs_the_old_one(card: MyNumberCard) -> None:
    with pytest.raises(PinIncorrect):
        card.change_pin(KeySlot.AUTH, "9999", "5678")
    card.verify_pin(KeySlot.AUTH, AUTH_PIN)  # unchanged
    with pytest.raises(PinFormatInvalid):  # checked before the old PIN: no try spent
        card.change_pin(KeySlot.AUTH, "9999", "56789")
    assert card.pin_tries_left(KeySlot.AUTH) == 3
    card.change_pin(KeySlot.AUTH, AUTH_PIN, "5678")
    card.verify_pin(KeySlot.AUTH, "5678")
    with pytest.raises(PinIncorrect):
        card.verify_pin(KeySlot.AUTH, AUTH_PIN)


def test_a_session_changes_a_pin_only_after_verifying_it(card: MyNumberCard) -> None:
    session = card.session()
    with pytest.raises(PinNotVerified):
        session.change_pin(KeySlot.SIGNING, "NEWPIN1")
    session.verify_pin(KeySlot.SIGNING, SIGN_PIN)
    session.change_pin(KeySlot.SIGNING, "NEWPIN1")
    card.verify_pin(KeySlot.SIGNING, "NEWPIN1")


def test_pin_state_survives_reopening(card: MyNumberCard, cards_dir: Path) -> None:
    for _ in range(2):
        with pytest.raises(PinIncorrect):
            card.verify_pin(KeySlot.SIGNING, "WRONG1")
    with pytest.raises(PinIncorrect):
        card.verify_pin(KeySlot.AUTH, "0000")
    with reopen(card, cards_dir) as again:
        assert again.pin_tries_left(KeySlot.SIGNING) == 3
        assert again.pin_tries_left(KeySlot.AUTH) == 2


def test_a_pulled_card_keeps_the_spent_try(
    card: MyNumberCard, cards_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class PowerCut(BaseException):
        pass

    def cut(self: PinState, pin: bytes) -> bool:
        raise PowerCut

    monkeypatch.setattr(PinState, "matches", cut)
    with pytest.raises(PowerCut):
        card.verify_pin(KeySlot.SIGNING, SIGN_PIN)  # even the right PIN: the try was spent before comparing
    monkeypatch.undo()
    with reopen(card, cards_dir) as again:
        assert again.pin_tries_left(KeySlot.SIGNING) == 4
        again.verify_pin(KeySlot.SIGNING, SIGN_PIN)
        assert again.pin_tries_left(KeySlot.SIGNING) == 5


def test_pins_are_stored_hashed_in_a_private_file(card: MyNumberCard, cards_dir: Path) -> None:
    path = cards_dir / CARD_ID / "state.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    assert SIGN_PIN.encode() not in raw
    for record in json.loads(raw)["pins"].values():
        assert set(record) == {"kdf", "n", "r", "p", "salt", "hash", "remaining", "max_tries"}
        assert record["kdf"] == "scrypt"
    assert "ABC123" not in repr(card.state())


def test_concurrent_wrong_pins_each_spend_one_try(cards_dir: Path) -> None:
    cards = [MyNumberCard.open(cards_dir, CARD_ID, clock=FixedClock(NOW)) for _ in range(4)]
    barrier = threading.Barrier(len(cards))
    failures: list[int] = []

    def attempt(card: MyNumberCard) -> None:
        barrier.wait()
        try:
            card.verify_pin(KeySlot.SIGNING, "WRONG1")
        except PinIncorrect as exc:
            failures.append(exc.remaining)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in cards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(failures) == [1, 2, 3, 4]
    assert cards[0].pin_tries_left(KeySlot.SIGNING) == 1
    for c in cards:
        c.close()


# -- signing --------------------------------------------------------------------------------------------


def test_signatures_verify_with_pyca_over_the_message(card: MyNumberCard) -> None:
    message = "電子申請の本文".encode()
    for slot, pin in ((KeySlot.SIGNING, SIGN_PIN), (KeySlot.AUTH, AUTH_PIN)):
        signature = card.sign(slot, digest_info(HashName.SHA256, hashlib.sha256(message).digest()), pin)
        assert len(signature) == 256
        rsa_public(card, slot).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_digest_info_matches_an_independent_encoder() -> None:
    digest = hashlib.sha384(b"x").digest()
    independent = algos.DigestInfo(
        {"digest_algorithm": {"algorithm": "sha384", "parameters": core.Null()}, "digest": digest}
    ).dump()
    assert digest_info(HashName.SHA384, digest) == independent


def test_sign_needs_a_verified_pin_in_the_session(card: MyNumberCard) -> None:
    session = card.session()
    payload = digest_info(HashName.SHA256, hashlib.sha256(b"m").digest())
    with pytest.raises(PinNotVerified):
        session.sign(KeySlot.AUTH, payload)
    session.verify_pin(KeySlot.AUTH, AUTH_PIN)
    with pytest.raises(PinNotVerified):  # the other slot's PIN is separate
        session.sign(KeySlot.SIGNING, payload)
    first, second = session.sign(KeySlot.AUTH, payload), session.sign(KeySlot.AUTH, payload)
    assert first == second  # PKCS#1 v1.5 is deterministic
    assert not card.session().is_verified(KeySlot.AUTH)  # a new session starts unverified
    with pytest.raises(PinIncorrect):  # a failed verification ends the verified state
        session.verify_pin(KeySlot.AUTH, "0000")
    with pytest.raises(PinNotVerified):
        session.sign(KeySlot.AUTH, payload)


def test_a_pin_locked_elsewhere_stops_a_verified_session(card: MyNumberCard) -> None:
    session = card.session()
    session.verify_pin(KeySlot.AUTH, AUTH_PIN)
    for _ in range(3):
        with pytest.raises(PinIncorrect):
            card.verify_pin(KeySlot.AUTH, "0000")
    with pytest.raises(PinLocked):
        session.sign(KeySlot.AUTH, b"\x01" * 51)


@pytest.mark.parametrize("length", [0, 246])
def test_sign_refuses_what_pkcs1_cannot_hold(card: MyNumberCard, length: int) -> None:
    with pytest.raises(SignInputInvalid) as caught:
        card.sign(KeySlot.AUTH, b"\x01" * length, AUTH_PIN)
    assert caught.value.maximum == 245


# -- certificates ---------------------------------------------------------------------------------------


def test_certificates_are_written_for_the_slot_key(
    card: MyNumberCard, cards_dir: Path, ca_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(CertificateMissing):
        card.certificate_der(KeySlot.AUTH)
    der = issue(ca_key, rsa_public(card, KeySlot.AUTH))
    with pytest.raises(CertificateRejected, match="not the card's key"):
        card.write_certificate(KeySlot.SIGNING, der)
    with pytest.raises(CertificateRejected, match="DER"):
        card.write_certificate(KeySlot.AUTH, b"\x30\x03\x02\x01\x01")
    card.write_certificate(KeySlot.AUTH, der)
    assert card.has_certificate(KeySlot.AUTH) and not card.has_certificate(KeySlot.SIGNING)
    with reopen(card, cards_dir) as again:
        assert again.certificate_der(KeySlot.AUTH) == der
        assert again.certificate(KeySlot.AUTH).subject.rfc4514_string() == "CN=test"


def test_no_certificate_is_written_to_a_card_that_is_not_active(
    card: MyNumberCard, ca_key: rsa.RSAPrivateKey
) -> None:
    card.report_lost()
    with pytest.raises(CardNotActive) as caught:
        card.write_certificate(KeySlot.AUTH, issue(ca_key, rsa_public(card, KeySlot.AUTH)))
    assert caught.value.status is CardStatus.LOST


# -- statuses -------------------------------------------------------------------------------------------


def test_suspend_and_resume(card: MyNumberCard, clock: FixedClock) -> None:
    change = card.suspend()
    assert (change.previous, change.status, change.at) == (CardStatus.ACTIVE, CardStatus.SUSPENDED, NOW)
    clock.advance(dt.timedelta(days=2))
    card.resume()
    assert card.status is CardStatus.ACTIVE
    assert [c.status for c in card.status_history()] == [
        CardStatus.ACTIVE,
        CardStatus.SUSPENDED,
        CardStatus.ACTIVE,
    ]
    assert card.status_history()[-1].at == NOW + dt.timedelta(days=2)


def test_lost_is_final_but_for_a_return(card: MyNumberCard) -> None:
    card.report_lost()
    for forbidden in (card.resume, card.suspend, card.report_lost):
        with pytest.raises(InvalidStatusTransition) as caught:
            forbidden()
        assert caught.value.current is CardStatus.LOST
    card.mark_returned()
    with pytest.raises(InvalidStatusTransition, match="returned is final"):
        card.suspend()
    with pytest.raises(InvalidStatusTransition, match="already returned"):
        card.mark_returned()


def test_a_suspended_card_can_be_reported_lost(card: MyNumberCard) -> None:
    card.suspend()
    assert card.report_lost().previous is CardStatus.SUSPENDED


def test_resume_needs_a_suspended_card(card: MyNumberCard) -> None:
    with pytest.raises(InvalidStatusTransition, match="already active"):
        card.resume()


def test_expiry_follows_the_clock(card: MyNumberCard, clock: FixedClock) -> None:
    assert card.expires_on == dt.date(2035, 6, 15)
    with pytest.raises(CardNotExpired):
        card.mark_expired()
    clock.at = dt.datetime(2035, 6, 15, 14, 59, 59, tzinfo=dt.UTC)  # 23:59:59 JST on the last day
    assert not card.is_past_expiry()
    with pytest.raises(CardNotExpired):
        card.mark_expired()
    card.suspend()
    clock.advance(dt.timedelta(seconds=1))  # 00:00 JST the day after
    assert card.is_past_expiry()
    with pytest.raises(InvalidStatusTransition, match="expired"):
        card.resume()
    card.mark_expired()
    assert card.status is CardStatus.EXPIRED
    card.mark_returned()


def test_the_chip_still_signs_for_a_lost_card(card: MyNumberCard) -> None:
    """Revocation, not the chip, stops a lost card: verifiers must see its signatures fail."""
    card.report_lost()
    assert len(card.sign(KeySlot.AUTH, b"\x01" * 51, AUTH_PIN)) == 256


# -- validity -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "issued", "expires"),
    [
        # issued at 17, the day before the 18th birthday: 5th birthday after issuance
        (dt.date(2008, 5, 10), dt.date(2026, 5, 9), dt.date(2030, 5, 10)),
        # issued on the 18th birthday: that birthday does not count, 10th after it
        (dt.date(2008, 5, 10), dt.date(2026, 5, 10), dt.date(2036, 5, 10)),
        # adult issued the day before a birthday: that birthday is the first of ten
        (dt.date(1980, 5, 10), dt.date(2026, 5, 9), dt.date(2035, 5, 10)),
        (dt.date(1980, 5, 10), dt.date(2026, 5, 11), dt.date(2036, 5, 10)),
        # a child
        (dt.date(2020, 1, 1), dt.date(2026, 4, 1), dt.date(2031, 1, 1)),
        # 29 February: 1 March in common years, 29 February in leap years
        (dt.date(1988, 2, 29), dt.date(2026, 4, 1), dt.date(2036, 2, 29)),
        (dt.date(1988, 2, 29), dt.date(2027, 4, 1), dt.date(2037, 3, 1)),
        (dt.date(1988, 2, 29), dt.date(2026, 3, 1), dt.date(2036, 2, 29)),
        (dt.date(1988, 2, 29), dt.date(2026, 2, 28), dt.date(2035, 3, 1)),
    ],
    ids=str,
)
def test_card_expiry(birth: dt.date, issued: dt.date, expires: dt.date) -> None:
    assert card_expiry(birth, issued) == expires


def test_age_on_29_february_birth() -> None:
    birth = dt.date(2008, 2, 29)
    assert age_on(birth, dt.date(2026, 2, 28)) == 17
    assert age_on(birth, dt.date(2026, 3, 1)) == 18
    assert card_expiry(birth, dt.date(2026, 2, 28)) == dt.date(2030, 3, 1)  # 17: five birthdays
    assert card_expiry(birth, dt.date(2026, 3, 1)) == dt.date(2036, 2, 29)  # 18 that day: ten


def test_dates_are_japanese_calendar_dates() -> None:
    assert jst_date(dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC)) == dt.date(2026, 4, 1)
    assert jst_date(dt.datetime(2026, 3, 31, 14, 59, 59, tzinfo=dt.UTC)) == dt.date(2026, 3, 31)
    with pytest.raises(ValueError, match="naive"):
        jst_date(dt.datetime(2026, 3, 31))


# -- creating and opening -------------------------------------------------------------------------------


def make(root: Path, card_id: str = "c2", **overrides: object) -> MyNumberCard:
    args: dict[str, object] = {
        "holder_birth": BIRTH,
        "issued_on": ISSUED,
        "signing_pin": SIGN_PIN,
        "auth_pin": AUTH_PIN,
        "clock": FixedClock(NOW),
    }
    args.update(overrides)
    return MyNumberCard.create(root, card_id, **args)  # type: ignore[arg-type]


def test_create_checks_everything_before_making_the_card(tmp_path: Path) -> None:
    with pytest.raises(PinFormatInvalid):
        make(tmp_path, auth_pin="12345")
    with pytest.raises(InvalidCardDates):
        make(tmp_path, issued_on=BIRTH - dt.timedelta(days=1))
    with pytest.raises(InvalidCardId):
        make(tmp_path, "../escape")
    with pytest.raises(UnknownTokenKind):
        make(tmp_path, token_kind="smartcard")
    assert not (tmp_path / "c2").exists()


def test_a_failed_creation_leaves_no_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jpki.card.token import FileCardToken

    def broken(self: FileCardToken, slot: KeySlot) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FileCardToken, "generate", broken)
    with pytest.raises(OSError, match="No space"):
        make(tmp_path)
    monkeypatch.undo()
    assert not (tmp_path / "c2").exists()
    make(tmp_path).close()  # the id is free again


def test_cards_are_never_overwritten(cards_dir: Path) -> None:
    with pytest.raises(CardExists):
        make(cards_dir, CARD_ID)


def test_opening_a_missing_or_damaged_card(cards_dir: Path) -> None:
    with pytest.raises(CardNotFound):
        MyNumberCard.open(cards_dir, "card-9999")
    state = cards_dir / CARD_ID / "state.json"
    state.write_text(state.read_text().replace('"remaining": 5', '"remaining": 9'))
    with pytest.raises(CardCorrupt, match="out of range"):
        MyNumberCard.open(cards_dir, CARD_ID)
    state.write_text("{}")
    with pytest.raises(CardCorrupt, match="format"):
        MyNumberCard.open(cards_dir, CARD_ID)


def test_card_directory_is_private(cards_dir: Path) -> None:
    assert stat.S_IMODE(os.stat(cards_dir / CARD_ID).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cards_dir / CARD_ID / "token.secret").st_mode) == 0o600
