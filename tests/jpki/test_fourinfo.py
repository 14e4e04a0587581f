"""The basic 4 information (jpki-facts.md §2): the typed value refuses what the real system cannot carry,
encodes as six otherNames ``[0] EXPLICIT UTF8String`` in the real order .1, .4, .3, .5, .2, .6 through the
CA engine's jpki-sign profile, and decodes back from any JPKI signing certificate in any order."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from jpki.fourinfo import (
    ADDRESS_MAX,
    Era,
    FourInfo,
    FourInfoError,
    NoFourInfo,
    Sex,
    decode,
    decode_general_names,
    parse_birth,
)
from pki.ca import IssueRequest
from pki.crl import der
from pki.runtime import Pki

PD = "1.2.392.200149.8.5.5"
REAL_ORDER = [f"{PD}.{n}" for n in (1, 4, 3, 5, 2, 6)]
OID_OF = {
    "name": f"{PD}.1",
    "name_substitutes": f"{PD}.2",
    "sex": f"{PD}.3",
    "birth": f"{PD}.4",
    "era": f"{PD}.4",
    "address": f"{PD}.5",
    "address_substitutes": f"{PD}.6",
}
YAMADA = FourInfo(name="山田　太郎", birth=dt.date(1990, 1, 2), sex=Sex.male, address="東京都千代田区")
LONG = FourInfo(  # a non-BMP character in the name; an address whose UTF-8 needs a long-form length
    name="𠮷田　花子",
    birth=dt.date(1989, 1, 7),
    sex=Sex.female,
    address="北海道" + "札幌市中央区北一条西二丁目" * 15,
    name_substitutes="10000",
    address_substitutes="0" * 150 + "1" * 48,
)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
TEST_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "four info test")])


def san_items(info: FourInfo, order: list[str] = REAL_ORDER) -> list[bytes]:
    """The subjectAltName entries written out by hand: otherName [0] { OID, [0] EXPLICIT UTF8String }."""
    values = info.other_names()
    return [
        der.context(0, der.oid(oid), der.context(0, der.tlv(0x0C, values[oid].encode()))) for oid in order
    ]


def expected_san(info: FourInfo, order: list[str] = REAL_ORDER) -> bytes:
    return der.sequence(*san_items(info, order))


def raw_san(certificate: x509.Certificate) -> bytes:
    """The subjectAltName extnValue exactly as it sits in the certificate (not re-encoded by pyca)."""
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    for extension in parsed["tbs_certificate"]["extensions"]:
        if extension["extn_id"].dotted == ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string:
            return bytes(extension["extn_value"].contents)
    raise AssertionError("no subjectAltName")


def self_signed(*extensions: x509.ExtensionType) -> x509.Certificate:
    """A throwaway certificate with these extensions, reloaded from DER as a relying party would read it."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(TEST_NAME)
        .issuer_name(TEST_NAME)
        .public_key(EC_KEY.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    certificate = builder.sign(EC_KEY, hashes.SHA256())
    return x509.load_der_x509_certificate(certificate.public_bytes(serialization.Encoding.DER))


def with_names(names: list[x509.GeneralName]) -> x509.Certificate:
    return self_signed(x509.SubjectAlternativeName(names))


def with_raw_san(der_bytes: bytes) -> x509.Certificate:
    """A certificate whose subjectAltName holds exactly these bytes, however wrong."""
    return self_signed(x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, der_bytes))


def refused(field: str, fragment: str) -> pytest.RaisesExc[FourInfoError]:
    return pytest.raises(
        FourInfoError, match=rf"^basic 4 information: {field} \({OID_OF[field]}\): .*{fragment}"
    )


# -- encoding through the CA engine ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    opened = Pki.initialise(tmp_path_factory.mktemp("fourinfo") / "home")
    try:
        yield opened
    finally:
        opened.close()


@pytest.mark.parametrize("info", [YAMADA, LONG], ids=["short", "long-form-lengths"])
def test_a_certificate_issued_by_the_jpki_sign_ca_carries_the_real_encoding(pki: Pki, info: FourInfo) -> None:
    key = rsa.generate_private_key(65537, 2048).public_key()
    request = IssueRequest(
        "jpki-sign",
        public_key=key,
        subject={"L": ["Tokyo-to", "Chiyoda-ku"], "CN": "ABCDEFGHIJ0123456789XYZ"},
        other_names=info.other_names(),
        attributes={"birth_date": info.birth.isoformat()},
    )
    certificate = pki.ca("jpki-sign").issue_request(request, actor="tester")

    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [n.type_id.dotted_string for n in san if isinstance(n, x509.OtherName)] == REAL_ORDER
    assert raw_san(certificate) == expected_san(info)  # every value A0 len 0C len <utf8>, nothing else
    assert decode(certificate) == info


def test_the_encoding_matches_golden_bytes() -> None:
    # sex '1': [0] { 06 0a 1.2.392.200149.8.5.5.3, [0] EXPLICIT { 0c 01 "1" } }, hand-encoded:
    # 1.2 = 0x2a, 392 = 0x83 0x08, 200149 = 0x8c 0x9b 0x55, then 8, 5, 5, 3
    sex = bytes.fromhex("a011 060a 2a83088c9b5508050503 a003 0c01 31")
    assert x509.SubjectAlternativeName([YAMADA.general_names()[2]]).public_bytes() == der.sequence(sex)
    assert x509.SubjectAlternativeName(YAMADA.general_names()).public_bytes() == expected_san(YAMADA)
    assert x509.SubjectAlternativeName(LONG.general_names()).public_bytes() == expected_san(LONG)


def test_other_names_is_the_mapping_issue_requests_take_in_the_real_order() -> None:
    assert YAMADA.other_names() == {
        f"{PD}.1": "山田　太郎",
        f"{PD}.4": "419900102",
        f"{PD}.3": "1",
        f"{PD}.5": "東京都千代田区",
        f"{PD}.2": "00000",
        f"{PD}.6": "0000000",
    }
    assert list(YAMADA.other_names()) == REAL_ORDER
    assert [n.type_id.dotted_string for n in YAMADA.general_names()] == REAL_ORDER


# -- the property: any valid value round-trips -------------------------------------------------------------

JAPANESE = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK unified ideographs
    st.characters(min_codepoint=0x3041, max_codepoint=0x3096),  # hiragana
    st.characters(min_codepoint=0x30A1, max_codepoint=0x30FA),  # katakana
)
ADDRESS_CHARS = st.one_of(JAPANESE, st.sampled_from("０１２３４５６７８９－ー丁目番地号　"))


@st.composite
def four_infos(draw: st.DrawFn) -> FourInfo:
    family = draw(st.text(JAPANESE, min_size=1, max_size=8))
    given_name = draw(st.text(JAPANESE, max_size=8))
    name = f"{family}　{given_name}" if given_name else family
    address = draw(st.text(ADDRESS_CHARS, min_size=1, max_size=ADDRESS_MAX).filter(lambda a: not a.isspace()))
    birth = draw(st.dates(dt.date(1868, 1, 25), dt.date(2030, 12, 31)))
    return FourInfo(
        name=name,
        birth=birth,
        era=draw(st.sampled_from([Era.of(birth), Era.unknown])),
        sex=draw(st.sampled_from(Sex)),
        address=address,
        name_substitutes=draw(st.text(st.sampled_from("01"), min_size=len(name), max_size=len(name))),
        address_substitutes=draw(
            st.text(st.sampled_from("01"), min_size=len(address), max_size=len(address))
        ),
    )


@settings(deadline=None)
@given(four_infos())
def test_any_valid_four_info_round_trips_through_a_certificate(info: FourInfo) -> None:
    certificate = with_names(list(info.general_names()))
    assert raw_san(certificate) == expected_san(info)
    assert decode(certificate) == info


# -- the value refuses what cannot be carried --------------------------------------------------------------

VALID: Mapping[str, object] = {
    "name": "山田　太郎",
    "birth": dt.date(1990, 1, 2),
    "sex": Sex.male,
    "address": "東京都千代田区",
}
REFUSALS: dict[str, tuple[dict[str, object], str, str]] = {
    "empty name": ({"name": ""}, "name", "must not be empty"),
    "blank name": ({"name": "　"}, "name", "must not be empty or only spaces"),
    "control in name": ({"name": "山田\t太郎"}, "name", r"character 3 is a control character \(U\+0009\)"),
    "line separator in name": ({"name": "山田\u2028太郎"}, "name", r"control character \(U\+2028\)"),
    "lone surrogate in name": ({"name": "山田\ud842"}, "name", r"control character \(U\+D842\)"),
    "name positions not 0/1": ({"name_substitutes": "00200"}, "name_substitutes", "only '0' and '1'"),
    "name positions too short": ({"name_substitutes": "0000"}, "name_substitutes", "name: 5, not 4"),
    "name positions too long": ({"name_substitutes": "000000"}, "name_substitutes", "name: 5, not 6"),
    "positions count code points": (
        {"name": "𠮷田", "name_substitutes": "100"},
        "name_substitutes",
        "name: 2, not 3",
    ),
    "empty address": ({"address": ""}, "address", "must not be empty"),
    "address over 200": ({"address": "東" * 201}, "address", "at most 200 characters, not 201"),
    "control in address": ({"address": "東京都\n千代田区"}, "address", r"control character \(U\+000A\)"),
    "address positions": ({"address_substitutes": "000000"}, "address_substitutes", "address: 7, not 6"),
    "address positions not 0/1": ({"address_substitutes": "000000x"}, "address_substitutes", "only '0'"),
    "heisei date, showa era": ({"era": Era.showa}, "era", r"not in era 3 \(Showa\) but in Heisei"),
    "showa date, heisei era": (
        {"birth": dt.date(1989, 1, 7), "era": Era.heisei},
        "era",
        r"not in era 4 \(Heisei\) but in Showa",
    ),
    "before meiji": ({"birth": dt.date(1868, 1, 24), "era": Era.meiji}, "era", "but before Meiji"),
    "a datetime": ({"birth": dt.datetime(1990, 1, 2, tzinfo=dt.UTC)}, "birth", "must be a datetime.date"),
    "era as int": ({"era": 4}, "era", "must be an Era"),
    "sex as code": ({"sex": "1"}, "sex", "must be a Sex"),
}


@pytest.mark.parametrize(("changes", "field", "fragment"), REFUSALS.values(), ids=REFUSALS.keys())
def test_the_value_refuses(changes: dict[str, object], field: str, fragment: str) -> None:
    with refused(field, fragment) as caught:
        FourInfo(**{**VALID, **changes})  # type: ignore[arg-type]
    assert caught.value.field == field
    assert caught.value.oid == OID_OF[field]


def test_messages_never_repeat_the_personal_data() -> None:
    for changes, _, _ in REFUSALS.values():
        given = {**VALID, **changes}
        birth = given["birth"]
        personal = [given["name"], given["address"]]
        if isinstance(birth, dt.date):
            personal += [birth.isoformat(), f"{birth:%Y%m%d}", str(birth.year)]
        with pytest.raises(FourInfoError) as caught:
            FourInfo(**given)  # type: ignore[arg-type]
        assert not [p for p in personal if isinstance(p, str) and p and p in caught.value.message], changes
    with pytest.raises(FourInfoError) as caught:
        parse_birth("420230230")
    assert "2023" not in caught.value.message


def test_defaults_and_shape() -> None:
    assert YAMADA.era is Era.heisei
    assert (YAMADA.name_substitutes, YAMADA.address_substitutes) == ("00000", "0000000")
    assert YAMADA.birth_code == "419900102"
    no_given_name = FourInfo(**{**VALID, "name": "山田"})  # type: ignore[arg-type]
    assert no_given_name.name_substitutes == "00"
    unknown = FourInfo(**{**VALID, "birth": dt.date(1700, 1, 1), "era": Era.unknown})  # type: ignore[arg-type]
    assert unknown.birth_code == "017000101"
    assert FourInfo(**{**VALID, "address": "東" * ADDRESS_MAX}).address_substitutes == "0" * 200  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        YAMADA.name = "田中　一郎"  # type: ignore[misc]
    with pytest.raises(TypeError):
        FourInfo("山田　太郎", dt.date(1990, 1, 2), Sex.male, "東京都")  # type: ignore[call-arg]
    with refused("name_substitutes", "name: 2, not 5"):
        dataclasses.replace(YAMADA, name="山田")  # positions belong to the old name


def test_as_dict_describes_for_display() -> None:
    assert YAMADA.as_dict() == {
        "name": "山田　太郎",
        "sex": "male",
        "sex_code": "1",
        "birth": "1990-01-02",
        "birth_code": "419900102",
        "era": "Heisei",
        "era_ja": "平成",
        "address": "東京都千代田区",
        "name_substitutes": "00000",
        "address_substitutes": "0000000",
    }


# -- the date of birth EYYYYMMDD ---------------------------------------------------------------------------

BAD_BIRTHS = {
    "empty": ("", "birth", "9 characters EYYYYMMDD, not 0"),
    "8 chars": ("41990010", "birth", "9 characters EYYYYMMDD, not 8"),
    "10 chars": ("4199001020", "birth", "9 characters EYYYYMMDD, not 10"),
    "letter O": ("4199O0102", "birth", "ASCII digits only"),
    "full-width digit": ("４19900102", "birth", "ASCII digits only"),
    "sign": ("4+1990010", "birth", "ASCII digits only"),
    "era 6": ("619900102", "birth", "era digit must be 0"),
    "era 9": ("919900102", "birth", "era digit must be 0"),
    "30 February": ("520230230", "birth", "day does not exist"),
    "29 February 2023": ("520230229", "birth", "day does not exist"),
    "29 February 1900": ("119000229", "birth", "day does not exist"),
    "31 April": ("419900431", "birth", "day does not exist"),
    "day 0": ("419900100", "birth", "day does not exist"),
    "month 13": ("419901302", "birth", "month must be 01 to 12"),
    "month 0": ("419900002", "birth", "month must be 01 to 12"),
    "year 0": ("000000101", "birth", "no year 0000"),
    "heisei date, showa era": ("319900102", "era", r"not in era 3 \(Showa\) but in Heisei"),
    "reiwa date, taisho era": ("220200101", "era", r"not in era 2 \(Taisho\) but in Reiwa"),
}


@pytest.mark.parametrize(("text", "field", "fragment"), BAD_BIRTHS.values(), ids=BAD_BIRTHS.keys())
def test_parse_birth_refuses(text: str, field: str, fragment: str) -> None:
    with refused(field, fragment):
        parse_birth(text)


def test_parse_birth_reads_era_and_gregorian_date() -> None:
    assert parse_birth("419900102") == (Era.heisei, dt.date(1990, 1, 2))
    assert parse_birth("019900102") == (Era.unknown, dt.date(1990, 1, 2))
    assert parse_birth("018000101") == (Era.unknown, dt.date(1800, 1, 1))


@pytest.mark.parametrize(
    ("text", "era"),
    [
        ("319890107", Era.showa),  # 昭和64年1月7日, the last day of Showa
        ("419890108", Era.heisei),  # 平成元年1月8日 (翌日改元)
        ("420190430", Era.heisei),  # 平成31年4月30日
        ("520190501", Era.reiwa),  # 令和元年5月1日
        ("118680125", Era.meiji),  # 慶応4年1月1日, renamed 明治元年
        ("119120730", Era.meiji),  # 即日改元: 明治45年7月30日 and 大正元年7月30日 both exist
        ("219120730", Era.taisho),
        ("219261225", Era.taisho),  # 大正15年12月25日 and 昭和元年12月25日 both exist
        ("319261225", Era.showa),
        ("420000229", Era.heisei),  # 29 February in leap years, 2000 included
        ("520240229", Era.reiwa),
        ("319840229", Era.showa),
    ],
)
def test_era_boundaries_accepted(text: str, era: Era) -> None:
    assert parse_birth(text)[0] is era


@pytest.mark.parametrize(
    "text", ["419890107", "319890108", "520190430", "420190501", "118680124", "119120731", "219261226"]
)
def test_era_boundaries_refused(text: str) -> None:
    with refused("era", "not in era"):
        parse_birth(text)


def test_era_of_a_date() -> None:
    assert Era.of(dt.date(1989, 1, 7)) is Era.showa
    assert Era.of(dt.date(1989, 1, 8)) is Era.heisei
    assert Era.of(dt.date(2019, 4, 30)) is Era.heisei
    assert Era.of(dt.date(2019, 5, 1)) is Era.reiwa
    assert Era.of(dt.date(1912, 7, 30)) is Era.taisho  # the newer era on a shared day
    assert Era.of(dt.date(1926, 12, 25)) is Era.showa
    assert Era.of(dt.date(1868, 1, 25)) is Era.meiji
    assert Era.of(dt.date(1868, 1, 24)) is Era.unknown  # JPKI has no digit for Keio
    assert [(e.code, e.kanji, e.romaji) for e in Era][1:] == [
        ("1", "明治", "Meiji"),
        ("2", "大正", "Taisho"),
        ("3", "昭和", "Showa"),
        ("4", "平成", "Heisei"),
        ("5", "令和", "Reiwa"),
    ]


@pytest.mark.parametrize("code", ["0", "4", "", "11", "M", "１"])
def test_sex_codes(code: str) -> None:
    assert [Sex.from_code(c) for c in "123"] == [Sex.male, Sex.female, Sex.not_known]
    with refused("sex", r"must be '1' \(male\), '2' \(female\) or '3' \(not known\)"):
        Sex.from_code(code)


# -- the decoder -------------------------------------------------------------------------------------------


def swapped_5_6(info: FourInfo) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = list(info.general_names())
    names[3], names[5] = names[5], names[3]  # .1 .4 .3 .6 .2 .5, as one public test file has it
    return names


def test_the_decoder_reads_any_order() -> None:
    certificate = with_names(swapped_5_6(YAMADA))
    assert raw_san(certificate) == expected_san(YAMADA, [f"{PD}.{n}" for n in (1, 4, 3, 6, 2, 5)])
    assert decode(certificate) == YAMADA
    assert decode_general_names(reversed(LONG.general_names())) == LONG


def test_the_decoder_ignores_other_names() -> None:
    extra: list[x509.GeneralName] = [
        x509.DNSName("example.jp"),
        x509.OtherName(x509.ObjectIdentifier(f"{PD}.7"), b"\x0c\x01x"),
        x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x01x"),
    ]
    assert decode(with_names([extra[0], *YAMADA.general_names(), *extra[1:]])) == YAMADA


@pytest.mark.parametrize(
    "field", ["name", "birth", "sex", "address", "name_substitutes", "address_substitutes"]
)
def test_the_decoder_refuses_a_missing_or_duplicated_item(field: str) -> None:
    names = YAMADA.general_names()
    index = REAL_ORDER.index(OID_OF[field])
    with refused(field, "missing"):
        decode(with_names([n for i, n in enumerate(names) if i != index]))
    with refused(field, "appears 2 times"):
        decode(with_names([*names, names[index]]))


def test_a_certificate_without_the_four_info_is_not_a_signing_certificate() -> None:
    with pytest.raises(NoFourInfo, match=r"^not a JPKI signing certificate: no subjectAltName$"):
        decode(self_signed())
    with pytest.raises(
        NoFourInfo, match=r"^not a JPKI signing certificate: no basic 4 information$"
    ) as caught:
        decode(with_names([x509.DNSName("example.jp")]))
    assert caught.value.field == "subjectAltName"


NOT_UTF8STRING = {
    "IA5String": (b"\x16\x011", "not tag 0x16"),
    "BMPString": (b"\x1e\x02\x00\x31", "not tag 0x1E"),
    "PrintableString": (b"\x13\x011", "not tag 0x13"),
    "double [0] wrapper": (b"\xa0\x03\x0c\x011", "not tag 0xA0"),
    "constructed UTF8String": (b"\x2c\x03\x0c\x011", "not tag 0x2C"),
    "empty": (b"", "not an empty value"),
    "trailing bytes": (b"\x0c\x011\x00\x00", r"not a DER UTF8String \(Extra data"),
    "truncated": (b"\x0c\x05\x31", r"not a DER UTF8String \(Insufficient data"),
    "indefinite length": (b"\x0c\x80\x31\x00\x00", "not a DER UTF8String"),
    "long-form length for 1": (b"\x0c\x81\x011", r"length not in its shortest form"),
    "invalid UTF-8": (b"\x0c\x02\xc3\x28", r"not a DER UTF8String \('utf-8' codec"),
}


@pytest.mark.parametrize(("value", "fragment"), NOT_UTF8STRING.values(), ids=NOT_UTF8STRING.keys())
def test_the_decoder_refuses_a_value_that_is_not_a_der_utf8string(value: bytes, fragment: str) -> None:
    names = YAMADA.general_names()
    names[2] = x509.OtherName(names[2].type_id, value)  # the sex item
    with refused("sex", fragment):
        decode_general_names(names)


@pytest.mark.parametrize(
    ("explicit", "refusal"),
    [
        ("a0 05 0c 01 31 00 00", "subjectAltName: .*ExtraData"),  # trailing bytes inside [0] EXPLICIT
        ("80 03 0c 01 31", "subjectAltName: .*UnexpectedTag"),  # [0] IMPLICIT instead of EXPLICIT
        ("a0 04 0c 81 01 31", "subjectAltName: .*InvalidLength"),  # BER length
        ("a0 80 0c 01 31 00 00", "subjectAltName: .*InvalidLength"),  # indefinite length
        ("a0 03 16 01 31", rf"sex \({PD}.3\): .*not tag 0x16"),  # IA5String inside
        ("a0 04 1e 02 00 31", rf"sex \({PD}.3\): .*not tag 0x1E"),  # BMPString inside
    ],
)
def test_a_certificate_with_a_malformed_value_is_refused(explicit: str, refusal: str) -> None:
    items = san_items(YAMADA)
    items[2] = der.context(0, der.oid(f"{PD}.3"), bytes.fromhex(explicit))  # the sex item, as bytes
    with pytest.raises(FourInfoError, match=rf"^basic 4 information: {refusal}"):
        decode(with_raw_san(der.sequence(*items)))


def test_a_certificate_with_two_subject_alt_names_is_refused() -> None:
    # pyca's builder refuses a second SAN: add one under 2.5.29.99, then patch that OID to 2.5.29.17
    # (the signature no longer verifies; decoding does not look at it)
    other = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), expected_san(YAMADA))
    der_bytes = self_signed(x509.SubjectAlternativeName(YAMADA.general_names()), other).public_bytes(
        serialization.Encoding.DER
    )
    assert der_bytes.count(bytes.fromhex("0603551d63")) == 1
    patched = der_bytes.replace(bytes.fromhex("0603551d63"), bytes.fromhex("0603551d11"))
    with pytest.raises(FourInfoError, match=r"^basic 4 information: subjectAltName: .* 2\.5\.29\.17 twice"):
        decode(x509.load_der_x509_certificate(patched))
