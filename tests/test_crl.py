"""pki.crl: CRLs we assemble from bytes equal, byte for byte, the TBS pyca's builder makes from the same
input; specs and entries RFC 5280 forbids are refused before anything is signed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsm import HashName, KeyKind, Scheme, SignatureAlgorithm, Signer, builder_arguments, open_backend
from pki.crl import (
    MAX_SERIAL,
    CrlError,
    CrlSpec,
    IssuingDistributionPoint,
    RevokedEntry,
    encode_crl,
    key_identifier,
    sign_crl,
    tbs_cert_list,
)
from pki.errors import PkiError
from pki.model import RevocationReason

T0 = dt.datetime(2026, 6, 1, 9, 0, 0, tzinfo=dt.UTC)
JST = dt.timezone(dt.timedelta(hours=9), "JST")
ISSUER = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "地方公共団体情報システム機構"),
        x509.NameAttribute(NameOID.COMMON_NAME, "jlis-pki test CA"),
    ]
)
ALGORITHMS = {
    "rsa-pkcs1-sha256": (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PKCS1V15, HashName.SHA256)),
    "rsa-pkcs1-sha512": (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PKCS1V15, HashName.SHA512)),
    "rsa-pss-sha256": (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA256)),
    "rsa-pss-sha384": (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA384)),
    "ecdsa-p256-sha256": (KeyKind.P256, SignatureAlgorithm(Scheme.ECDSA, HashName.SHA256)),
    "ecdsa-p384-sha384": (KeyKind.P384, SignatureAlgorithm(Scheme.ECDSA, HashName.SHA384)),
}
"""Every signature form the CRL must name: PKCS#1 (NULL params), PSS (RFC 4055 params), ECDSA (none)."""


def make_signers(directory: Path) -> Iterator[dict[str, Signer]]:
    """One key per key kind in a fresh file: key store, bound to each algorithm of ALGORITHMS."""
    with open_backend(f"file:{directory}", environ={"JLIS_KEY_PASSPHRASE": "crl tests"}) as backend:
        keys = {
            kind: backend.generate(f"ca-{kind.value}", kind) for kind in {k for k, _ in ALGORITHMS.values()}
        }
        yield {name: keys[kind].with_algorithm(algorithm) for name, (kind, algorithm) in ALGORITHMS.items()}


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Signer]]:
    yield from make_signers(tmp_path_factory.mktemp("crl-keys"))


@pytest.fixture(scope="module")
def rsa(signers: dict[str, Signer]) -> Signer:
    return signers["rsa-pkcs1-sha256"]


def spec(signer: Signer, **changes: object) -> CrlSpec:
    """A complete CRL's spec at T0, with ``changes`` applied."""
    fields: dict[str, object] = {
        "issuer": ISSUER,
        "this_update": T0,
        "next_update": T0 + dt.timedelta(days=1),
        "crl_number": 7,
        "authority_key_id": signer.public_key,
    }
    fields.update(changes)
    return CrlSpec(**fields)  # type: ignore[arg-type]


def entry(serial: int = 5, **changes: object) -> RevokedEntry:
    fields: dict[str, object] = {
        "serial": serial,
        "revoked_at": T0 - dt.timedelta(hours=1),
        "reason": RevocationReason.key_compromise,
        "invalidity_date": None,
        "released": False,
        "change_seq": 1,
    }
    fields.update(changes)
    return RevokedEntry(**fields)  # type: ignore[arg-type]


def tlv_children(der: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) of each element inside one constructed DER element (a test-side reader)."""
    return elements(_tlv(der, 0)[1])


def elements(content: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) of each element in a run of DER elements."""
    found, offset = [], 0
    while offset < len(content):
        tag, value, offset = _tlv(content, offset)
        found.append((tag, value))
    return found


def _tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    tag, first = data[offset], data[offset + 1]
    offset += 2
    size = first
    if first & 0x80:
        count = first & 0x7F
        size = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    return tag, data[offset : offset + size], offset + size


# -- golden: the same input through pyca's CertificateRevocationListBuilder ------------------------------


def pyca_tbs(crl_spec: CrlSpec, entries: list[RevokedEntry], signer: Signer) -> bytes:
    """The TBSCertList pyca's builder makes for the same CRL, extensions added in our order."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ISSUER)
        .last_update(crl_spec.this_update)
        .next_update(crl_spec.next_update)
    )
    for extension, critical in pyca_extensions(crl_spec):
        builder = builder.add_extension(extension, critical)
    for item in entries:
        builder = builder.add_revoked_certificate(pyca_revoked(item, crl_spec.entry_extensions))
    return builder.sign(**builder_arguments(signer)).tbs_certlist_bytes


def pyca_extensions(crl_spec: CrlSpec) -> list[tuple[x509.ExtensionType, bool]]:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.AuthorityKeyIdentifier(crl_spec.key_id, None, None), False),
        (x509.CRLNumber(crl_spec.crl_number), False),
    ]
    if crl_spec.delta_base is not None:
        extensions.append((x509.DeltaCRLIndicator(crl_spec.delta_base), True))
    idp = crl_spec.issuing_distribution_point
    if idp is not None:
        extensions.append((pyca_idp(idp), True))
    if crl_spec.freshest_crl:
        names = [x509.UniformResourceIdentifier(u) for u in crl_spec.freshest_crl]
        extensions.append((x509.FreshestCRL([x509.DistributionPoint(names, None, None, None)]), False))
    return extensions


def pyca_idp(idp: IssuingDistributionPoint) -> x509.IssuingDistributionPoint:
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in idp.uris]
    if idp.directory_name is not None:
        names.append(x509.DirectoryName(idp.directory_name))
    return x509.IssuingDistributionPoint(
        full_name=names or None,
        relative_name=None,
        only_contains_user_certs=idp.only_contains_user_certs,
        only_contains_ca_certs=idp.only_contains_ca_certs,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )


def pyca_revoked(item: RevokedEntry, with_extensions: bool) -> x509.RevokedCertificate:
    builder = x509.RevokedCertificateBuilder().serial_number(item.serial).revocation_date(item.revoked_at)
    reason = RevocationReason.remove_from_crl if item.released else item.reason
    if with_extensions and reason not in (None, RevocationReason.unspecified):
        builder = builder.add_extension(x509.CRLReason(reason.to_x509()), False)
    if with_extensions and item.invalidity_date is not None and not item.released:
        builder = builder.add_extension(x509.InvalidityDate(item.invalidity_date), False)
    return builder.build()


ZONES = st.sampled_from([dt.UTC, JST, dt.timezone(dt.timedelta(hours=-5, minutes=-30))])
TIMES = st.datetimes(min_value=dt.datetime(1950, 1, 2), max_value=dt.datetime(2099, 12, 30), timezones=ZONES)
"""Both sides of 2050 (UTCTime / GeneralizedTime), other zones, microseconds (dropped by both)."""
SERIALS = st.one_of(
    st.integers(1, 0xFF),
    st.integers(0x80, 0xFFFF),
    st.integers(1 << 126, (1 << 127) - 1),
    st.integers(1, MAX_SERIAL),
    st.just(MAX_SERIAL),
)
"""Small serials, serials whose top bit forces a 0x00 octet, our 16-octet serials, 20-octet serials."""
REASONS = st.sampled_from([None, *(r for r in RevocationReason if r is not RevocationReason.remove_from_crl)])
URIS = st.from_regex(r"http://[a-z]{1,12}\.example/crl/[a-z0-9]{1,8}\.crl", fullmatch=True)


@st.composite
def entry_lists(draw: st.DrawFn, releases: bool) -> list[RevokedEntry]:
    serials = draw(st.lists(SERIALS, unique=True, max_size=8))
    return [
        RevokedEntry(
            serial=serial,
            revoked_at=draw(TIMES),
            reason=draw(REASONS),
            invalidity_date=draw(st.none() | TIMES),
            released=releases and draw(st.booleans()),
            change_seq=seq,
        )
        for seq, serial in enumerate(serials)
    ]


@st.composite
def idps(draw: st.DrawFn) -> IssuingDistributionPoint | None:
    uris = tuple(draw(st.lists(URIS, max_size=2)))
    directory = draw(st.sampled_from([None, ISSUER]))
    scope = draw(st.sampled_from(["all", "user", "ca"]))
    if not uris and directory is None and scope == "all":
        return None
    return IssuingDistributionPoint(uris, directory, scope == "user", scope == "ca")


@st.composite
def crl_cases(draw: st.DrawFn, key_id: bytes) -> tuple[CrlSpec, list[RevokedEntry]]:
    this_update = draw(TIMES)
    crl_number = draw(st.integers(1, MAX_SERIAL))
    delta_base = draw(st.none() | st.integers(0, crl_number - 1))
    crl_spec = CrlSpec(
        issuer=draw(st.just(ISSUER) | st.just(ISSUER.public_bytes())),
        this_update=this_update,
        next_update=this_update + draw(st.timedeltas(dt.timedelta(seconds=1), dt.timedelta(days=400))),
        crl_number=crl_number,
        authority_key_id=key_id,
        delta_base=delta_base,
        issuing_distribution_point=draw(idps()),
        freshest_crl=() if delta_base is not None else tuple(draw(st.lists(URIS, max_size=2))),
        entry_extensions=draw(st.booleans()),
    )
    releases = delta_base is not None and crl_spec.entry_extensions
    return crl_spec, draw(entry_lists(releases))


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_tbs_equals_pycas_builder(signers: dict[str, Signer], algorithm: str) -> None:
    signer = signers[algorithm]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(crl_cases(key_identifier(signer.public_key)))
    def check(case: tuple[CrlSpec, list[RevokedEntry]]) -> None:
        crl_spec, entries = case
        crl = x509.load_der_x509_crl(encode_crl(crl_spec, entries, signer))
        assert crl.tbs_certlist_bytes == pyca_tbs(crl_spec, entries, signer)
        assert crl.is_signature_valid(signer.public_key)

    check()


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_signature_algorithm_matches_the_signer(signers: dict[str, Signer], algorithm: str) -> None:
    """RFC 5280 §5.1.1.2: ``signature`` in the TBS equals ``signatureAlgorithm``; PKCS#1 carries NULL
    parameters, ECDSA none (RFC 5758 §3.2), PSS its RSASSA-PSS-params (RFC 4055 §3.1)."""
    signer = signers[algorithm]
    der = encode_crl(spec(signer), [entry(1)], signer)
    (_, tbs), (_, algorithm_identifier), _ = tlv_children(der)
    assert elements(tbs)[1] == (0x30, algorithm_identifier)
    parameters = [tag for tag, _ in elements(algorithm_identifier)[1:]]
    expected = {Scheme.RSA_PKCS1V15: [0x05], Scheme.RSA_PSS: [0x30], Scheme.ECDSA: []}
    assert parameters == expected[signer.algorithm.scheme]
    assert x509.load_der_x509_crl(der).is_signature_valid(signer.public_key)


# -- structure --------------------------------------------------------------------------------------------


def test_entries_match_what_was_given(rsa: Signer) -> None:
    entries = [
        entry(5, reason=None),
        entry(1 << 127, reason=RevocationReason.superseded, invalidity_date=T0 - dt.timedelta(days=2)),
        entry(MAX_SERIAL, reason=RevocationReason.certificate_hold, revoked_at=T0.astimezone(JST)),
    ]
    crl = x509.load_der_x509_crl(encode_crl(spec(rsa), iter(entries), rsa))
    assert [r.serial_number for r in crl] == [e.serial for e in entries]
    assert [r.revocation_date_utc for r in crl] == [e.revoked_at for e in entries]
    first, second, third = crl
    assert len(first.extensions) == 0
    assert second.extensions.get_extension_for_class(x509.CRLReason).value.reason.name == "superseded"
    assert second.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc == (
        T0 - dt.timedelta(days=2)
    )
    assert third.extensions.get_extension_for_class(x509.CRLReason).value.reason.name == "certificate_hold"


def test_unspecified_reason_writes_no_reason_code(rsa: Signer) -> None:
    """RFC 5280 §5.3.1: the reasonCode SHOULD be absent rather than unspecified."""
    crl = x509.load_der_x509_crl(encode_crl(spec(rsa), [entry(9, reason=RevocationReason.unspecified)], rsa))
    assert len(crl[0].extensions) == 0


def test_crl_extensions_and_criticality(rsa: Signer) -> None:
    crl_spec = spec(
        rsa,
        crl_number=12,
        delta_base=10,
        issuing_distribution_point=IssuingDistributionPoint(("http://a.example/crl/3.crl",)),
    )
    crl = x509.load_der_x509_crl(encode_crl(crl_spec, [], rsa))
    critical = {ext.oid.dotted_string: ext.critical for ext in crl.extensions}
    assert critical == {"2.5.29.35": False, "2.5.29.20": False, "2.5.29.27": True, "2.5.29.28": True}
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 12
    assert crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value.crl_number == 10
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == key_identifier(rsa.public_key)


def test_empty_crl_omits_revoked_certificates(rsa: Signer) -> None:
    """RFC 5280 §5.1.2.6: no entries means no revokedCertificates field, not an empty SEQUENCE."""
    der = encode_crl(spec(rsa), [], rsa)
    crl = x509.load_der_x509_crl(der)
    assert len(crl) == 0
    tags = [tag for tag, _ in tlv_children(crl.tbs_certlist_bytes)]
    assert tags == [0x02, 0x30, 0x30, 0x17, 0x17, 0xA0]


def test_times_from_2050_are_generalized_time(rsa: Signer) -> None:
    later = dt.datetime(2050, 1, 1, tzinfo=dt.UTC)
    crl_spec = spec(rsa, this_update=later - dt.timedelta(seconds=1), next_update=later)
    crl = x509.load_der_x509_crl(encode_crl(crl_spec, [entry(3, revoked_at=later)], rsa))
    tags = [tag for tag, _ in tlv_children(crl.tbs_certlist_bytes)]
    assert tags[3:5] == [0x17, 0x18]
    assert crl[0].revocation_date_utc == later


def test_issuer_as_der_and_key_id_as_bytes_give_the_same_crl(rsa: Signer) -> None:
    by_objects = spec(rsa)
    by_bytes = spec(rsa, issuer=ISSUER.public_bytes(), authority_key_id=key_identifier(rsa.public_key))
    first = x509.load_der_x509_crl(encode_crl(by_objects, [entry(4)], rsa))
    second = x509.load_der_x509_crl(encode_crl(by_bytes, [entry(4)], rsa))
    assert first.tbs_certlist_bytes == second.tbs_certlist_bytes


def test_entry_extensions_off(rsa: Signer) -> None:
    entries = [entry(4, invalidity_date=T0 - dt.timedelta(days=1)), entry(5)]
    crl = x509.load_der_x509_crl(encode_crl(spec(rsa, entry_extensions=False), entries, rsa))
    assert [len(r.extensions) for r in crl] == [0, 0]


def test_delta_lists_released_hold_as_remove_from_crl(rsa: Signer) -> None:
    delta = spec(rsa, crl_number=8, delta_base=7)
    entries = [entry(6, reason=RevocationReason.certificate_hold, released=True), entry(7)]
    crl = x509.load_der_x509_crl(encode_crl(delta, entries, rsa))
    reasons = [r.extensions.get_extension_for_class(x509.CRLReason).value.reason.name for r in crl]
    assert reasons == ["remove_from_crl", "key_compromise"]


def test_shard_crl_names_its_distribution_point(rsa: Signer) -> None:
    idp = IssuingDistributionPoint(
        ("http://pki.example/crl/ca/3.crl",), ISSUER, only_contains_user_certs=True
    )
    crl = x509.load_der_x509_crl(encode_crl(spec(rsa, issuing_distribution_point=idp), [entry(11)], rsa))
    value = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    assert value.full_name == [
        x509.UniformResourceIdentifier("http://pki.example/crl/ca/3.crl"),
        x509.DirectoryName(ISSUER),
    ]
    assert value.only_contains_user_certs and not value.only_contains_ca_certs


def test_complete_crl_with_freshest_crl(rsa: Signer) -> None:
    crl_spec = spec(rsa, freshest_crl=["http://pki.example/crl/ca/delta.crl"])
    crl = x509.load_der_x509_crl(encode_crl(crl_spec, [], rsa))
    point = crl.extensions.get_extension_for_class(x509.FreshestCRL).value[0]
    assert point.full_name == [x509.UniformResourceIdentifier("http://pki.example/crl/ca/delta.crl")]


def test_many_entries_stream_and_parse(rsa: Signer) -> None:
    count = 20_000
    stream = (
        entry(0x1000 + i * 7919, revoked_at=T0 - dt.timedelta(seconds=i), reason=_cycle(i))
        for i in range(count)
    )
    crl = x509.load_der_x509_crl(encode_crl(spec(rsa), stream, rsa))
    assert len(crl) == count
    assert crl.get_revoked_certificate_by_serial_number(0x1000 + 1234 * 7919) is not None
    assert crl.is_signature_valid(rsa.public_key)


@pytest.mark.slow
def test_encoding_is_linear_at_scale(rsa: Signer) -> None:
    """200,000 entries in well under the time a quadratic encoder would need (about 0.5 s here)."""
    count = 200_000
    entries = [entry(i + 1, revoked_at=T0 - dt.timedelta(seconds=i), reason=_cycle(i)) for i in range(count)]
    start = time.perf_counter()
    der = encode_crl(spec(rsa), entries, rsa)
    elapsed = time.perf_counter() - start
    assert elapsed < 10, f"{count:,} entries took {elapsed:.1f} s"
    assert len(x509.load_der_x509_crl(der)) == count


def _cycle(i: int) -> RevocationReason | None:
    choices = [
        None,
        RevocationReason.key_compromise,
        RevocationReason.superseded,
        RevocationReason.certificate_hold,
    ]
    return choices[i % len(choices)]


# -- refusals ---------------------------------------------------------------------------------------------


class NeverSigns:
    """A Signer stand-in that fails the test if the encoder asks it to sign (check, then sign)."""

    def __init__(self, real: Signer) -> None:
        self.algorithm = real.algorithm
        self.public_key = real.public_key
        self.label = "never"

    def sign(self, data: bytes) -> bytes:
        raise AssertionError("signed a CRL that should have been refused")

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> Signer:
        raise AssertionError("not used")


def test_released_hold_in_complete_crl_is_refused_before_signing(rsa: Signer) -> None:
    released = entry(6, reason=RevocationReason.certificate_hold, released=True)
    with pytest.raises(CrlError, match="only be listed in a delta CRL"):
        encode_crl(spec(rsa), [entry(5), released], NeverSigns(rsa))


def test_two_steps_equal_encode_crl(rsa: Signer) -> None:
    """tbs_cert_list then sign_crl (a caller audits the TBS between them) gives encode_crl's bytes."""
    tbs = tbs_cert_list(spec(rsa), [entry(5)], rsa.algorithm)
    assert sign_crl(tbs, rsa) == encode_crl(spec(rsa), [entry(5)], rsa)  # PKCS#1 v1.5 is deterministic


def test_tbs_for_another_algorithm_is_refused_before_signing(signers: dict[str, Signer]) -> None:
    pss, pkcs1 = signers["rsa-pss-sha256"], signers["rsa-pkcs1-sha256"]
    tbs = tbs_cert_list(spec(pss), [entry(5)], pss.algorithm)
    with pytest.raises(CrlError, match="another algorithm"):
        sign_crl(tbs, NeverSigns(pkcs1))


def test_released_hold_needs_entry_extensions(rsa: Signer) -> None:
    delta = spec(rsa, crl_number=8, delta_base=7, entry_extensions=False)
    with pytest.raises(CrlError, match="removeFromCRL"):
        encode_crl(delta, [entry(6, released=True)], NeverSigns(rsa))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"this_update": T0.replace(tzinfo=None)}, "this_update: naive"),
        ({"next_update": T0.replace(tzinfo=None)}, "next_update: naive"),
        ({"next_update": T0 - dt.timedelta(seconds=1)}, "is not after this_update"),
        ({"next_update": T0 + dt.timedelta(microseconds=10)}, "is not after this_update"),
        ({"crl_number": -1}, "crl_number"),
        ({"crl_number": MAX_SERIAL + 1}, "crl_number"),
        ({"delta_base": 7}, "must be below"),
        ({"delta_base": 3, "freshest_crl": ("http://a.example/d.crl",)}, "must not appear in a delta"),
        ({"freshest_crl": "http://a.example/d.crl"}, "not the string"),
        ({"freshest_crl": ("http://例え.example/d.crl",)}, "not an absolute ASCII URI"),
        ({"issuer": b"\x30\x03\x02\x01\x01"}, "not the DER of a Name"),
        ({"issuer": b"\x30\x00"}, "empty Name"),
        ({"issuer": x509.Name([])}, "empty Name"),
        ({"issuer": ISSUER.public_bytes() + b"\x00"}, "not the DER of a Name"),
        ({"issuer": "CN=x"}, "give an x509.Name or its DER"),
        ({"authority_key_id": "ab:cd"}, "give key identifier bytes or a public key"),
        ({"authority_key_id": b""}, "authority_key_id"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_spec_is_refused(rsa: Signer, changes: dict[str, object], message: str) -> None:
    with pytest.raises(CrlError, match=message) as caught:
        spec(rsa, **changes)
    assert isinstance(caught.value, PkiError)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "is empty"),
        ({"only_contains_user_certs": True, "only_contains_ca_certs": True}, "cannot both be set"),
        ({"uris": ("no-scheme",)}, "absolute ASCII URI"),
    ],
)
def test_bad_issuing_distribution_point_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(CrlError, match=message):
        IssuingDistributionPoint(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"serial": -5}, "positive"),
        ({"serial": 0}, "positive"),
        ({"serial": MAX_SERIAL + 1}, "20 octets"),
        ({"serial": True}, "not an integer"),
        ({"revoked_at": T0.replace(tzinfo=None)}, "revoked_at .* is naive"),
        ({"revoked_at": "2026-06-01T00:00:00Z"}, "revoked_at .* is not a datetime"),
        ({"revoked_at": T0.astimezone(JST).replace(tzinfo=None)}, "is naive"),
        ({"invalidity_date": T0.replace(tzinfo=None)}, "invalidity_date .* is naive"),
        ({"reason": RevocationReason.remove_from_crl}, "released=True"),
        ({"change_seq": -1}, "change_seq"),
    ],
)
def test_bad_entry_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(CrlError, match=message):
        entry(**changes)


def test_entry_is_a_frozen_value() -> None:
    item = entry(5)
    with pytest.raises(AttributeError):
        item.serial = 6  # type: ignore[misc]
    assert item == entry(5) and hash(item) == hash(entry(5))
    assert dataclasses.replace(item, released=True).released
    assert "serial=5" in repr(item)
    with pytest.raises(CrlError, match="naive"):
        dataclasses.replace(item, revoked_at=T0.replace(tzinfo=None))
