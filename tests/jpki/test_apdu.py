"""The JPKI-AP over APDUs, driven by a small client written the way card-reading code talks to the card."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import algos, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jpki.card import JpkiApplet, KeySlot, MyNumberCard, PinIncorrect, PinLocked
from pki.clock import FixedClock

CARD_ID = "card-apdu"
NOW = dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC)
SIGN_PIN = "ABC123"
AUTH_PIN = "1234"

AID = bytes.fromhex("D392F000260100000001")
EF_SIGN_CERT, EF_SIGN_CA, EF_TOKEN, EF_AVAILABLE = 0x0001, 0x0002, 0x0006, 0x0008
EF_AUTH_CERT, EF_AUTH_CA = 0x000A, 0x000B
EF_AUTH_KEY, EF_AUTH_PIN, EF_SIGN_KEY, EF_SIGN_PIN = 0x0017, 0x0018, 0x001A, 0x001B


class Reader:
    """A JPKI client as readers write it: raw APDUs out, (data, SW) back."""

    def __init__(self, applet: JpkiApplet) -> None:
        self.applet = applet

    def send(self, apdu: bytes) -> tuple[bytes, int]:
        response = self.applet.transmit(apdu)
        assert len(response) >= 2
        return response[:-2], int.from_bytes(response[-2:], "big")

    def select_ap(self, aid: bytes = AID) -> int:
        return self.send(bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid)[1]

    def select_ef(self, fid: int) -> int:
        return self.send(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02]) + fid.to_bytes(2, "big"))[1]

    def read_binary(self, offset: int, le: int) -> tuple[bytes, int]:
        return self.send(bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, le & 0xFF]))

    def read_certificate(self, fid: int) -> bytes:
        """SELECT the EF, read the 4-byte DER header for the length, then the rest in chunks."""
        assert self.select_ef(fid) == 0x9000
        header, sw = self.read_binary(0, 4)
        assert sw == 0x9000 and header[:2] == b"\x30\x82"
        size = int.from_bytes(header[2:4], "big") + 4
        body = bytearray(header)
        while len(body) < size:
            chunk, sw = self.read_binary(len(body), min(0xFF, size - len(body)))
            assert sw == 0x9000
            body += chunk
        return bytes(body)

    def retries(self, pin_fid: int) -> int:
        self.select_ef(pin_fid)
        return self.send(bytes([0x00, 0x20, 0x00, 0x80]))[1]

    def verify(self, pin_fid: int, pin: str) -> int:
        self.select_ef(pin_fid)
        data = pin.upper().encode("ascii")
        return self.send(bytes([0x00, 0x20, 0x00, 0x80, len(data)]) + data)[1]

    def change_pin(self, new: str) -> int:
        data = new.encode("ascii")
        return self.send(bytes([0x00, 0x24, 0x01, 0x80, len(data)]) + data)[1]

    def sign(self, key_fid: int, digest_info: bytes) -> tuple[bytes, int]:
        self.select_ef(key_fid)
        return self.send(bytes([0x80, 0x2A, 0x00, 0x80, len(digest_info)]) + digest_info + b"\x00")


def sha256_digest_info(message: bytes) -> bytes:
    """The client builds its DigestInfo with its own ASN.1 library."""
    encoded: bytes = algos.DigestInfo(
        {
            "digest_algorithm": {"algorithm": "sha256", "parameters": core.Null()},
            "digest": hashlib.sha256(message).digest(),
        }
    ).dump()
    return encoded


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    MyNumberCard.create(
        root,
        CARD_ID,
        holder_birth=dt.date(1990, 6, 15),
        issued_on=dt.date(2026, 4, 1),
        signing_pin=SIGN_PIN,
        auth_pin=AUTH_PIN,
        clock=FixedClock(NOW),
    ).close()
    return root


@pytest.fixture(scope="module")
def ca_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def open_copy(pristine: Path, target: Path) -> MyNumberCard:
    shutil.copytree(pristine, target)
    return MyNumberCard.open(target, CARD_ID, clock=FixedClock(NOW))


@pytest.fixture
def card(pristine: Path, tmp_path: Path) -> Iterator[MyNumberCard]:
    with open_copy(pristine, tmp_path / "cards") as opened:
        yield opened


@pytest.fixture
def reader(card: MyNumberCard) -> Reader:
    reader = Reader(JpkiApplet(card))
    assert reader.select_ap() == 0x9000
    return reader


def certificate(ca_key: rsa.RSAPrivateKey, public_key: object, cn: str) -> bytes:
    assert isinstance(public_key, rsa.RSAPublicKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=365))
    )
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def write_certificates(card: MyNumberCard, ca_key: rsa.RSAPrivateKey) -> dict[int, bytes]:
    ca_der = certificate(ca_key, ca_key.public_key(), "test CA")
    written = {EF_SIGN_CA: ca_der, EF_AUTH_CA: ca_der}
    for slot, fid in ((KeySlot.SIGNING, EF_SIGN_CERT), (KeySlot.AUTH, EF_AUTH_CERT)):
        written[fid] = certificate(ca_key, card.public_key(slot), f"{slot.value} holder")
        card.write_certificate(slot, written[fid])
        card.write_ca_certificate(slot, ca_der)
    return written


# -- reading --------------------------------------------------------------------------------------------


def test_token_info_names_a_my_number_card(reader: Reader) -> None:
    assert reader.select_ef(EF_TOKEN) == 0x9000
    data, sw = reader.read_binary(0, 0x20)
    assert (data, sw) == (b"JPKIAPICCTOKEN2" + b" " * 17, 0x9000)
    assert data.rstrip(b" ").decode() == "JPKIAPICCTOKEN2"
    data, sw = reader.read_binary(0, 0x00)  # Le=00 asks for 256: what is there, with 6282
    assert (len(data), sw) == (32, 0x6282)


def test_availability_tells_which_certificates_are_written(
    reader: Reader, card: MyNumberCard, ca_key: rsa.RSAPrivateKey
) -> None:
    reader.select_ef(EF_AVAILABLE)
    assert reader.read_binary(0, 3) == (b"\x00\x00\x00", 0x9000)
    card.write_certificate(KeySlot.AUTH, certificate(ca_key, card.public_key(KeySlot.AUTH), "auth"))
    assert reader.read_binary(0, 3) == (b"\x00\x8f\x00", 0x9000)
    card.write_certificate(KeySlot.SIGNING, certificate(ca_key, card.public_key(KeySlot.SIGNING), "sign"))
    assert reader.read_binary(0, 3) == (b"\x8f\x8f\x00", 0x9000)


def test_certificates_read_as_clients_read_them(
    reader: Reader, card: MyNumberCard, ca_key: rsa.RSAPrivateKey
) -> None:
    written = write_certificates(card, ca_key)
    for fid in (EF_AUTH_CERT, EF_AUTH_CA, EF_SIGN_CA):  # free to read
        assert reader.read_certificate(fid) == written[fid]
    assert x509.load_der_x509_certificate(
        reader.read_certificate(EF_AUTH_CERT)
    ).public_key() == card.public_key(KeySlot.AUTH)
    reader.select_ef(EF_SIGN_CERT)
    assert reader.read_binary(0, 4) == (b"", 0x6982)  # the signing certificate needs the signing PIN
    assert reader.verify(EF_SIGN_PIN, SIGN_PIN) == 0x9000
    assert reader.read_certificate(EF_SIGN_CERT) == written[EF_SIGN_CERT]


def test_reading_past_the_end(reader: Reader, card: MyNumberCard, ca_key: rsa.RSAPrivateKey) -> None:
    der = write_certificates(card, ca_key)[EF_AUTH_CERT]
    reader.select_ef(EF_AUTH_CERT)
    tail, sw = reader.read_binary(len(der) - 10, 0xFF)
    assert (tail, sw) == (der[-10:], 0x6282)
    assert reader.read_binary(len(der) + 1, 1) == (b"", 0x6B00)


# -- PINs -----------------------------------------------------------------------------------------------


def test_wrong_signing_pins_count_down_then_lock(reader: Reader) -> None:
    assert reader.retries(EF_SIGN_PIN) == 0x63C5
    answers = [reader.verify(EF_SIGN_PIN, "WRONG1") for _ in range(5)]
    assert answers == [0x63C4, 0x63C3, 0x63C2, 0x63C1, 0x63C0]
    assert reader.verify(EF_SIGN_PIN, SIGN_PIN) == 0x6983  # even the right PIN
    assert reader.retries(EF_SIGN_PIN) == 0x6983
    assert reader.retries(EF_AUTH_PIN) == 0x63C3


def test_the_auth_pin_locks_after_three(reader: Reader) -> None:
    assert reader.retries(EF_AUTH_PIN) == 0x63C3
    assert [reader.verify(EF_AUTH_PIN, "0000") for _ in range(3)] == [0x63C2, 0x63C1, 0x63C0]
    assert reader.verify(EF_AUTH_PIN, AUTH_PIN) == 0x6983


def test_a_right_pin_restores_the_count(reader: Reader) -> None:
    reader.verify(EF_AUTH_PIN, "0000")
    assert reader.retries(EF_AUTH_PIN) == 0x63C2
    assert reader.verify(EF_AUTH_PIN, AUTH_PIN) == 0x9000
    assert reader.retries(EF_AUTH_PIN) == 0x63C3  # OpenSC reads SW1 63 even after a VERIFY


def test_api_and_apdu_share_one_pin_state(reader: Reader, card: MyNumberCard) -> None:
    with pytest.raises(PinIncorrect):
        card.verify_pin(KeySlot.SIGNING, "WRONG1")
    assert reader.retries(EF_SIGN_PIN) == 0x63C4
    assert reader.verify(EF_SIGN_PIN, "WRONG2") == 0x63C3
    assert card.pin_tries_left(KeySlot.SIGNING) == 3
    for _ in range(3):
        reader.verify(EF_AUTH_PIN, "0000")
    with pytest.raises(PinLocked):
        card.verify_pin(KeySlot.AUTH, AUTH_PIN)


def test_change_pin_after_verify(reader: Reader, card: MyNumberCard) -> None:
    reader.select_ef(EF_SIGN_PIN)
    assert reader.change_pin("NEWPIN7") == 0x6982
    assert reader.verify(EF_SIGN_PIN, SIGN_PIN) == 0x9000
    assert reader.change_pin("bad") == 0x6A80
    assert reader.send(bytes.fromhex("00240080") + bytes([7]) + b"NEWPIN7")[1] == 0x6A86
    assert reader.change_pin("NEWPIN7") == 0x9000
    card.verify_pin(KeySlot.SIGNING, "NEWPIN7")
    assert reader.verify(EF_SIGN_PIN, SIGN_PIN) == 0x63C4


# -- signing --------------------------------------------------------------------------------------------


def test_sign_after_verify(reader: Reader, card: MyNumberCard) -> None:
    message = b"login challenge 0123"
    assert reader.verify(EF_AUTH_PIN, AUTH_PIN) == 0x9000
    signature, sw = reader.sign(EF_AUTH_KEY, sha256_digest_info(message))
    assert (len(signature), sw) == (256, 0x9000)
    public = card.public_key(KeySlot.AUTH)
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    # the signing key, with its own PIN
    assert reader.verify(EF_SIGN_PIN, SIGN_PIN) == 0x9000
    signature, sw = reader.sign(EF_SIGN_KEY, sha256_digest_info(message))
    assert sw == 0x9000
    public = card.public_key(KeySlot.SIGNING)
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_sign_without_verify_is_refused(reader: Reader) -> None:
    assert reader.sign(EF_SIGN_KEY, sha256_digest_info(b"x")) == (b"", 0x6982)
    assert reader.verify(EF_AUTH_PIN, AUTH_PIN) == 0x9000  # the other PIN does not unlock this key
    assert reader.sign(EF_SIGN_KEY, sha256_digest_info(b"x")) == (b"", 0x6982)


def test_reselecting_the_application_forgets_verified_pins(reader: Reader) -> None:
    assert reader.verify(EF_AUTH_PIN, AUTH_PIN) == 0x9000
    assert reader.select_ap() == 0x9000
    assert reader.sign(EF_AUTH_KEY, sha256_digest_info(b"x"))[1] == 0x6982


def test_sign_checks_key_and_lengths(reader: Reader) -> None:
    reader.verify(EF_AUTH_PIN, AUTH_PIN)
    payload = sha256_digest_info(b"x")
    reader.select_ef(EF_AUTH_PIN)  # a PIN EF is no key
    assert reader.send(bytes([0x80, 0x2A, 0x00, 0x80, len(payload)]) + payload + b"\x00")[1] == 0x6A88
    reader.select_ef(EF_AUTH_KEY)
    assert reader.send(bytes([0x80, 0x2A, 0x00, 0x80, len(payload)]) + payload + b"\x10")[1] == 0x6C00
    too_long = b"\x01" * 246
    assert reader.send(bytes([0x80, 0x2A, 0x00, 0x80, len(too_long)]) + too_long + b"\x00")[1] == 0x6700
    assert reader.send(bytes([0x80, 0x2A, 0x00, 0x81, len(payload)]) + payload + b"\x00")[1] == 0x6A86


# -- whatever a client sends ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("", 0x6700),
        ("00", 0x6700),
        ("00A404", 0x6700),
        ("FFA4040C0AD392F000260100000001", 0x6E00),
        ("00FF0000", 0x6D00),
        ("80A4040C0AD392F000260100000001", 0x6D00),
        ("002A0080", 0x6D00),
        ("00A4040C05D392F00026", 0x6A82),  # another AID
        ("00A4040C", 0x6700),
        ("00A4010C020006", 0x6A86),
        ("00A4020C03000600", 0x6700),
        ("00A4020C021234", 0x6A82),
        ("00A4020C05000600", 0x6700),  # Lc says 5, 3 bytes follow
        ("00B0000004", 0x6986),  # no EF selected
        ("00200080", 0x6A88),  # no PIN EF selected
        ("00B0860004", 0x6A81),  # short EF identifier
        ("00B00000", 0x6700),  # no Le
        ("00B000000100", 0x6700),  # data in a READ BINARY
        ("000000000000", 0x6700),  # an extended-length marker with nothing after it
        ("00A4040C00000A", 0x6700),  # extended Lc of 10 with no data
    ],
)
def test_bad_commands_get_status_words(reader: Reader, apdu: str, sw: int) -> None:
    assert reader.send(bytes.fromhex(apdu))[1] == sw


@pytest.mark.parametrize(("fid", "sw"), [(EF_SIGN_KEY, 0x6981), (EF_AUTH_KEY, 0x6981), (EF_AUTH_PIN, 0x6981)])
def test_keys_and_pins_cannot_be_read(reader: Reader, fid: int, sw: int) -> None:
    assert reader.select_ef(fid) == 0x9000
    assert reader.read_binary(0, 0) == (b"", sw)


def test_files_are_reached_only_through_the_application(card: MyNumberCard) -> None:
    reader = Reader(JpkiApplet(card))
    assert reader.select_ef(EF_TOKEN) == 0x6A82
    assert reader.select_ap() == 0x9000
    assert reader.select_ef(EF_TOKEN) == 0x9000


def test_extended_length_read(reader: Reader) -> None:
    reader.select_ef(EF_TOKEN)
    assert reader.send(bytes.fromhex("00B00000000004")) == (b"JPKI", 0x9000)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(apdu=st.binary(max_size=300) | st.binary(min_size=4, max_size=12).map(lambda b: b"\x00\xa4" + b))
def test_garbage_never_raises(reader: Reader, apdu: bytes) -> None:
    _, sw = reader.send(apdu)
    assert sw >> 8 in (0x90, 0x62, 0x63, 0x67, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E)
