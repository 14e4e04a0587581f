"""My Number Cards whose keys live in a SoftHSM token of their own (token kind ``softhsm``).

The cards' tokens are made in the session's SoftHSM (``tests/conftest.py``), inside this process; reopening
in a fresh process and issuing from another process run children that inherit its SOFTHSM2_CONF.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jpki.card import (
    CardCorrupt,
    CardTokenNotFound,
    JpkiApplet,
    KeySlot,
    MyNumberCard,
    PinNotVerified,
    SignInputInvalid,
    SoftHsmCardToken,
    SoftHsmSettings,
    SoftHsmSetupError,
    TokenSettingsInvalid,
)
from pki.clock import FixedClock

from ..conftest import SoftHsm

NOW = dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC)
BIRTH = dt.date(1990, 6, 15)
ISSUED = dt.date(2026, 4, 1)
SIGN_PIN = "ABC123"
AUTH_PIN = "1234"
CARD_IDS = ("hsm-card-1", "hsm-card-2")
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def digest_info(message: bytes) -> bytes:
    """A SHA-256 DigestInfo as a client builds it (RFC 8017 §9.2 note 1)."""
    return SHA256_PREFIX + hashlib.sha256(message).digest()


def verify(card: MyNumberCard, slot: KeySlot, signature: bytes, message: bytes) -> None:
    public = card.public_key(slot)
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def issue(cards_dir: Path, card_id: str) -> MyNumberCard:
    return MyNumberCard.create(
        cards_dir,
        card_id,
        holder_birth=BIRTH,
        issued_on=ISSUED,
        signing_pin=SIGN_PIN,
        auth_pin=AUTH_PIN,
        clock=FixedClock(NOW),
        token_kind="softhsm",
    )


def token_of(card: MyNumberCard) -> SoftHsmCardToken:
    token = card.token
    assert isinstance(token, SoftHsmCardToken)
    return token


@pytest.fixture(scope="module")
def cards_dir(softhsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two SoftHSM cards, issued once in this process (each makes a token of its own)."""
    root = tmp_path_factory.mktemp("softhsm-cards")
    for card_id in CARD_IDS:
        issue(root, card_id).close()
    return root


@pytest.fixture
def card(cards_dir: Path) -> Iterator[MyNumberCard]:
    with MyNumberCard.open(cards_dir, CARD_IDS[0], clock=FixedClock(NOW)) as opened:
        yield opened


def run_child(code: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env if env is not None else dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# -- where the keys are ---------------------------------------------------------------------------------


@pytest.mark.softhsm
def test_the_keys_are_sensitive_and_never_extractable_in_the_cards_token(
    card: MyNumberCard, cards_dir: Path, softhsm: SoftHsm, pkcs11_tool: str
) -> None:
    token = token_of(card)
    directory = cards_dir / card.card_id
    assert json.loads((directory / "state.json").read_text())["token"]["kind"] == "softhsm"
    assert not (directory / "token").exists()  # no software key store
    assert (directory / "token.secret").stat().st_mode & 0o777 == 0o600
    listing = subprocess.run(
        [
            pkcs11_tool,
            "--module",
            softhsm.module,
            "--token-label",
            token.record.label,
            "--login",
            "--pin",
            (directory / "token.secret").read_text(),
            "--list-objects",
            "--type",
            "privkey",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    blocks = {
        m.group(1): m.group(0)
        for m in re.finditer(r"Private Key Object.*?label:\s+(\S+).*?(?=\n\S|\Z)", listing.stdout, re.S)
    }
    assert set(blocks) == {"jpki-signing", "jpki-auth"}
    for block in blocks.values():
        access = re.search(r"Access:\s+(.*)", block)
        assert access is not None, block
        flags = {flag.strip() for flag in access.group(1).split(",")}
        assert {"sensitive", "always sensitive", "never extractable", "local"} <= flags, block


@pytest.mark.softhsm
def test_two_cards_get_two_tokens(cards_dir: Path, softhsm: SoftHsm, pkcs11_tool: str) -> None:
    cards = [MyNumberCard.open(cards_dir, card_id) for card_id in CARD_IDS]
    try:
        records = [token_of(card).record for card in cards]
        assert records[0].label != records[1].label
        assert records[0].serial != records[1].serial
        assert cards[0].public_key(KeySlot.AUTH) != cards[1].public_key(KeySlot.AUTH)
    finally:
        for card in cards:
            card.close()
    slots = subprocess.run(
        [pkcs11_tool, "--module", softhsm.module, "--list-token-slots"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for record in records:
        assert re.search(rf"token label\s*:\s*{record.label}\s", slots), slots
        assert re.search(rf"serial num\s*:\s*{record.serial}\s", slots), slots


# -- signing --------------------------------------------------------------------------------------------


@pytest.mark.softhsm
def test_sign_after_pin_verify(card: MyNumberCard) -> None:
    session = card.session()
    with pytest.raises(PinNotVerified):
        session.sign(KeySlot.SIGNING, digest_info(b"x"))
    session.verify_pin(KeySlot.SIGNING, SIGN_PIN)
    message = b"an application for a residence certificate"
    signature = session.sign(KeySlot.SIGNING, digest_info(message))
    assert len(signature) == 256
    verify(card, KeySlot.SIGNING, signature, message)
    with pytest.raises(SignInputInvalid) as excinfo:
        session.sign(KeySlot.SIGNING, b"\x01" * 246)
    assert excinfo.value.maximum == 245


@pytest.mark.softhsm
def test_reopened_in_a_fresh_object_the_card_signs_again(cards_dir: Path) -> None:
    with MyNumberCard.open(cards_dir, CARD_IDS[1]) as first:
        public = first.public_key(KeySlot.AUTH)
        verify(first, KeySlot.AUTH, first.sign(KeySlot.AUTH, digest_info(b"one"), AUTH_PIN), b"one")
    with MyNumberCard.open(cards_dir, CARD_IDS[1]) as again:
        assert again.public_key(KeySlot.AUTH) == public
        verify(again, KeySlot.AUTH, again.sign(KeySlot.AUTH, digest_info(b"two"), AUTH_PIN), b"two")


@pytest.mark.softhsm
def test_reopened_in_a_fresh_process_the_card_signs_again(cards_dir: Path) -> None:
    """The child has no SOFTHSM2_CONF of its own: the card's record tells it which SoftHSM store to use."""
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    signature = run_child(
        f"""
        from pathlib import Path
        from jpki.card import KeySlot, MyNumberCard
        payload = bytes.fromhex({digest_info(b"from a child").hex()!r})
        with MyNumberCard.open(Path({str(cards_dir)!r}), {CARD_IDS[0]!r}) as card:
            print(card.sign(KeySlot.SIGNING, payload, {SIGN_PIN!r}).hex())
        """,
        env,
    )
    with MyNumberCard.open(cards_dir, CARD_IDS[0]) as card:
        verify(card, KeySlot.SIGNING, bytes.fromhex(signature), b"from a child")


@pytest.mark.softhsm
def test_the_apdu_interface_signs_with_a_softhsm_card(card: MyNumberCard) -> None:
    applet = JpkiApplet(card)
    aid = bytes.fromhex("D392F000260100000001")
    assert applet.transmit(bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid) == b"\x90\x00"
    assert applet.transmit(bytes.fromhex("00A4020C020018")) == b"\x90\x00"  # the auth PIN EF
    pin = AUTH_PIN.encode("ascii")
    assert applet.transmit(bytes([0x00, 0x20, 0x00, 0x80, len(pin)]) + pin) == b"\x90\x00"
    assert applet.transmit(bytes.fromhex("00A4020C020017")) == b"\x90\x00"  # the auth key EF
    payload = digest_info(b"login challenge 0123")
    response = applet.transmit(bytes([0x80, 0x2A, 0x00, 0x80, len(payload)]) + payload + b"\x00")
    assert (len(response), response[-2:]) == (258, b"\x90\x00")
    verify(card, KeySlot.AUTH, response[:-2], b"login challenge 0123")


# -- making and finding tokens --------------------------------------------------------------------------


@pytest.mark.softhsm
def test_a_token_made_by_another_process_is_reported_then_opened_by_a_new_one(
    cards_dir: Path, tmp_path: Path
) -> None:
    """SoftHSM shows a process only the tokens that existed when it initialised (plus its own).

    ``cards_dir`` is asked for so that this process has initialised SoftHSM (issuing the module's cards).
    """
    run_child(
        f"""
        import datetime as dt
        from pathlib import Path
        from jpki.card import MyNumberCard
        MyNumberCard.create(Path({str(tmp_path)!r}), "elsewhere", holder_birth=dt.date(1990, 6, 15),
                            issued_on=dt.date(2026, 4, 1), signing_pin="ABC123", auth_pin="1234",
                            token_kind="softhsm").close()
        """
    )
    with pytest.raises(CardTokenNotFound, match="open the card in a new process"):
        MyNumberCard.open(tmp_path, "elsewhere")
    signature = run_child(
        f"""
        from pathlib import Path
        from jpki.card import KeySlot, MyNumberCard
        with MyNumberCard.open(Path({str(tmp_path)!r}), "elsewhere") as card:
            print(card.sign(KeySlot.AUTH, bytes.fromhex({digest_info(b"m").hex()!r}), "1234").hex())
        """
    )
    assert len(bytes.fromhex(signature)) == 256


@pytest.mark.softhsm
def test_another_softhsm_configuration_is_refused_once_softhsm_runs(cards_dir: Path, tmp_path: Path) -> None:
    """``cards_dir`` is asked for so that SoftHSM is initialised here: SOFTHSM2_CONF stays as it is."""
    before = os.environ["SOFTHSM2_CONF"]
    with pytest.raises(SoftHsmSetupError, match="reads it once per process"):
        MyNumberCard.create(
            tmp_path,
            "other-store",
            holder_birth=BIRTH,
            issued_on=ISSUED,
            signing_pin=SIGN_PIN,
            auth_pin=AUTH_PIN,
            token_kind="softhsm",
            token_settings=SoftHsmSettings(conf=tmp_path / "softhsm2.conf"),
        )
    assert os.environ["SOFTHSM2_CONF"] == before
    assert not (tmp_path / "other-store").exists()


@pytest.mark.softhsm
def test_a_card_without_its_token_record_is_corrupt(cards_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(cards_dir / CARD_IDS[0], tmp_path / CARD_IDS[0])
    (tmp_path / CARD_IDS[0] / "softhsm.json").unlink()
    with pytest.raises(CardCorrupt, match=r"softhsm\.json"):
        MyNumberCard.open(tmp_path, CARD_IDS[0])


def test_settings_for_another_token_kind_are_refused_before_anything_is_made(tmp_path: Path) -> None:
    with pytest.raises(TokenSettingsInvalid, match="'softhsm'"):
        MyNumberCard.create(
            tmp_path,
            "card-0001",
            holder_birth=BIRTH,
            issued_on=ISSUED,
            signing_pin=SIGN_PIN,
            auth_pin=AUTH_PIN,
            token_settings=SoftHsmSettings(),
        )
    assert not (tmp_path / "card-0001").exists()
