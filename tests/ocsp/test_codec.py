"""ocsp codec: requests made by pyca and ``openssl ocsp`` parse field by field, malformed ones are refused
with their reason, and responses we assemble from bytes are read by pyca, verified by ``openssl ocsp``
and linted clean by pkilint."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as pyca_ocsp

from hsm import Signer, builder_arguments, verify_signature
from ocsp.errors import MalformedRequest, ResponseError
from ocsp.request import OcspRequest, parse_request
from ocsp.response import (
    ResponseStatus,
    SingleStatus,
    encode_response_data,
    encode_single,
    error_response,
    nonce_extension,
    responder_key_hash,
    sign_response,
)
from pki.crl import algorithm_identifier, der
from tests.ocsp.support import (
    NONCE,
    SHA256,
    T0,
    TestPki,
    cert_id,
    extension,
    issuer_hashes,
    make_pki,
    make_signers,
    nonce_ext,
    pyca_request,
    request,
    signature_field,
)

LINT_OCSP = str(Path(sys.executable).with_name("lint_ocsp_response"))
FIXED = dt.datetime(2026, 6, 1, 9, 0, 0, tzinfo=dt.UTC)
JST = dt.timezone(dt.timedelta(hours=9), "JST")
DER = serialization.Encoding.DER


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Signer]]:
    yield from make_signers(tmp_path_factory.mktemp("ocsp-keys"))


@pytest.fixture(scope="module")
def pki(signers: dict[str, Signer], tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    directory = tmp_path_factory.mktemp("ocsp-pki")
    return make_pki(signers["rsa-pkcs1-sha256"], signers["ecdsa-p256-sha256"], directory)


# -- requests from tools we did not write -------------------------------------------------------------------


@pytest.mark.parametrize("hash_algorithm", [hashes.SHA1(), hashes.SHA256()], ids=lambda h: h.name)
@pytest.mark.parametrize("nonce", [None, b"\x01" * 16, bytes(range(32))], ids=["no-nonce", "16", "32"])
def test_pyca_request(pki: TestPki, hash_algorithm: hashes.HashAlgorithm, nonce: bytes | None) -> None:
    builder = pyca_request(pki, hash_algorithm=hash_algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    der_request = builder.build().public_bytes(DER)
    parsed = parse_request(der_request, max_certs=1)
    (one,) = parsed.cert_ids
    assert one.hash_algorithm == hash_algorithm.name
    assert (one.issuer_name_hash, one.issuer_key_hash) == issuer_hashes(pki, hash_algorithm.name)
    assert one.serial == pki.leaves[0].serial_number
    assert parsed.nonce == nonce
    assert not parsed.signed
    _same_as_asn1crypto(der_request, parsed)


def _same_as_asn1crypto(der_request: bytes, parsed: OcspRequest) -> None:
    """CertID and nonce Extension DER exactly as asn1crypto finds them in the request."""
    tbs = asn1_ocsp.OCSPRequest.load(der_request)["tbs_request"]
    assert [one.der for one in parsed.cert_ids] == [r["req_cert"].dump() for r in tbs["request_list"]]
    extensions = [e.dump() for e in tbs["request_extensions"]] if tbs["request_extensions"].native else []
    assert ([parsed.nonce_ext_der] if parsed.nonce_ext_der else []) == extensions


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("with_nonce", [True, False], ids=["nonce", "no-nonce"])
def test_openssl_request(pki: TestPki, openssl: str, tmp_path: Path, digest: str, with_nonce: bool) -> None:
    der_request = _openssl_request(pki, openssl, tmp_path / "req.der", digest, with_nonce)
    parsed = parse_request(der_request, max_certs=3)
    assert [one.serial for one in parsed.cert_ids] == [leaf.serial_number for leaf in pki.leaves]
    for one in parsed.cert_ids:
        assert one.hash_algorithm == digest
        assert (one.issuer_name_hash, one.issuer_key_hash) == issuer_hashes(pki, digest)
    assert (parsed.nonce is not None and len(parsed.nonce) == 16) is with_nonce  # OpenSSL's default size
    _same_as_asn1crypto(der_request, parsed)
    with pytest.raises(MalformedRequest, match="too many certificates"):
        parse_request(der_request, max_certs=2)


def _openssl_request(pki: TestPki, openssl: str, out: Path, digest: str, with_nonce: bool = True) -> bytes:
    """``openssl ocsp -reqout`` for the three leaves (the digest option must precede the -cert options)."""
    args = [openssl, "ocsp", f"-{digest}", "-issuer", pki.pem("ca")]
    for index in range(len(pki.leaves)):
        args += ["-cert", pki.pem(f"leaf{index}")]
    args += [] if with_nonce else ["-no_nonce"]
    subprocess.run([*args, "-reqout", str(out)], check=True, capture_output=True)
    return out.read_bytes()


def test_openssl_signed_request(pki: TestPki, openssl: str, tmp_path: Path) -> None:
    """A signed request (with the signer's certificate in ``certs``) is accepted; the signature ignored."""
    from tests.ocsp.support import LEAF_KEY

    key = tmp_path / "requestor.key"
    key.write_bytes(
        LEAF_KEY.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    out = tmp_path / "signed.der"
    subprocess.run(
        [openssl, "ocsp", "-issuer", pki.pem("ca"), "-cert", pki.pem("leaf1"), "-signer", pki.pem("leaf0"),
         "-signkey", str(key), "-reqout", str(out)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    parsed = parse_request(out.read_bytes(), max_certs=1)
    assert parsed.signed
    assert [one.serial for one in parsed.cert_ids] == [pki.leaves[1].serial_number]
    assert parsed.nonce is not None


# -- requests we make by hand: what is accepted, what is refused and why -----------------------------------

BASE = request([cert_id()])
TWENTY_OCTETS = b"\x00\x80" + bytes(19)


ACCEPTED = {
    "minimal": (BASE, 1, None),
    "explicit-v1": (request([cert_id()], version=der.integer(0)), 1, None),
    "hash-params-absent": (request([cert_id(params=b"")]), 1, None),
    "serial-0": (request([cert_id(serial=b"\x00")]), 0, None),
    "serial-20-octets": (request([cert_id(serial=TWENTY_OCTETS)]), 1 << 159, None),
    "requestor-name": (request([cert_id()], requestor=der.context(1, b"")), 1, None),
    "nonce-1-octet": (request([cert_id()], extensions=[nonce_ext(b"n")]), 1, b"n"),
    "nonce-critical": (request([cert_id()], extensions=[nonce_ext(b"n", critical=True)]), 1, b"n"),
    "unknown-noncritical-extension": (
        request([cert_id()], extensions=[extension("1.2.3.4", b"\x05\x00"), nonce_ext(b"xy")]),
        1,
        b"xy",
    ),
    "noncritical-single-extension": (
        request([cert_id()], single_extensions=[extension("1.3.6.1.5.5.7.48.1.7", b"\x30\x00")]),
        1,
        None,
    ),
}


@pytest.mark.parametrize(("der_request", "serial", "nonce"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(der_request: bytes, serial: int, nonce: bytes | None) -> None:
    parsed = parse_request(der_request, max_certs=4)
    assert [one.serial for one in parsed.cert_ids] == [serial]
    assert parsed.nonce == nonce
    assert parsed.cert_ids[0].der in der_request
    assert not parsed.signed
    assert (parsed.nonce_ext_der is not None and parsed.nonce_ext_der in der_request) is (nonce is not None)


@pytest.mark.parametrize("certs", [False, True], ids=["no-certs", "certs"])
def test_signed_shape_accepted(certs: bool) -> None:
    parsed = parse_request(request([cert_id()], signature=signature_field(certs=certs)), max_certs=1)
    assert parsed.signed
    assert [one.serial for one in parsed.cert_ids] == [1]


def _with_empty_extensions() -> bytes:
    tbs = der.sequence(der.sequence(der.sequence(cert_id())), der.context(2, der.sequence()))
    return der.sequence(tbs)


def _replace_length(der_element: bytes, length: bytes) -> bytes:
    """The outer element of ``der_element`` with its (short) length octet replaced by ``length``."""
    return der_element[:1] + length + der_element[2:]


MALFORMED = {
    "empty": (b"", "truncated element"),
    "trailing": (BASE + b"\x00", "trailing bytes after OCSPRequest"),
    "truncated": (BASE[:-1], "length past the end"),
    "indefinite": (_replace_length(BASE, b"\x80") + b"\x00\x00", "indefinite length"),
    "non-minimal-length": (_replace_length(BASE, bytes((0x81, BASE[1]))), "length not minimal"),
    "leading-zero-length": (_replace_length(BASE, bytes((0x82, 0, BASE[1]))), "length not minimal"),
    "five-length-octets": (_replace_length(BASE, b"\x85\x00\x00\x00\x00" + BASE[1:2]), "length past the end"),
    "set-not-sequence": (b"\x31" + BASE[1:], "OCSPRequest: expected tag 0x30, found 0x31"),
    "high-tag": (b"\x3f" + BASE[1:], "high tag number"),
    "version-2": (request([cert_id()], version=der.integer(1)), "version is not v1"),
    "empty-request-list": (request([]), "empty requestList"),
    "requestor-two-names": (
        request([cert_id()], requestor=der.context(1, b"") + der.context(1, b"")),
        "trailing bytes after requestorName",
    ),
    "md5": (request([cert_id(hash_oid="1.2.840.113549.2.5")]), "unknown hash algorithm"),
    "hash-params": (
        request([cert_id(params=der.oid("1.2.3"))]),
        "hash algorithm parameters are neither absent nor NULL",
    ),
    "sha256-oid-sha1-lengths": (
        request([cert_id(hash_oid=SHA256)]),
        "issuer hash length does not match sha256",
    ),
    "short-key-hash": (request([cert_id(key_hash=bytes(19))]), "issuer hash length does not match sha1"),
    "negative-serial": (request([cert_id(serial=b"\xff")]), "negative serial"),
    "empty-serial": (request([cert_id(serial=b"")]), "empty INTEGER"),
    "non-minimal-serial": (request([cert_id(serial=b"\x00\x01")]), "INTEGER not minimal"),
    "serial-21-octets": (request([cert_id(serial=b"\x01" * 21)]), "serial longer than 20 octets"),
    "serial-22-octets": (request([cert_id(serial=b"\x00" + b"\x80" * 21)]), "serial longer than 20 octets"),
    "unknown-critical": (
        request([cert_id()], extensions=[extension("1.2.3.4", b"\x05\x00", critical=True)]),
        "unknown critical extension",
    ),
    "unknown-critical-single": (
        request([cert_id()], single_extensions=[extension("1.2.3.4", b"", critical=True)]),
        "unknown critical extension",
    ),
    "explicit-false": (
        request(
            [cert_id()], extensions=[der.sequence(der.oid(NONCE), der.boolean(False), der.octet_string(b""))]
        ),
        "critical is not DER TRUE",
    ),
    "empty-extensions": (_with_empty_extensions(), "empty Extensions"),
    "duplicate-nonce": (
        request([cert_id()], extensions=[nonce_ext(b"a"), nonce_ext(b"b")]),
        "duplicate extension",
    ),
    "nonce-empty": (request([cert_id()], extensions=[nonce_ext(b"")]), "nonce is not 1 to 32 octets"),
    "nonce-33": (request([cert_id()], extensions=[nonce_ext(bytes(33))]), "nonce is not 1 to 32 octets"),
    "nonce-raw": (
        request([cert_id()], extensions=[extension(NONCE, bytes(16))]),
        "nonce: expected tag 0x04, found 0x00",
    ),
    "nonce-trailing": (
        request([cert_id()], extensions=[extension(NONCE, b"\x04\x01n\x00")]),
        "trailing bytes after nonce",
    ),
    "oid-non-minimal": (
        request([cert_id()], extensions=[der.sequence(der.tlv(6, b"\x2b\x80\x01"), b"\x04\x00")]),
        "object identifier not minimal",
    ),
    "oid-truncated": (
        request([cert_id()], extensions=[der.sequence(der.tlv(6, b"\x2b\x86"), b"\x04\x00")]),
        "object identifier truncated",
    ),
    "signature-garbage": (request([cert_id()], signature=der.sequence(b"\x05\x00")), "signatureAlgorithm"),
    "extension-no-value": (
        request([cert_id()], extensions=[der.sequence(der.oid("1.2.3"))]),
        "truncated element",
    ),
}


@pytest.mark.parametrize(("der_request", "reason"), MALFORMED.values(), ids=MALFORMED.keys())
def test_refused(der_request: bytes, reason: str) -> None:
    with pytest.raises(MalformedRequest) as refused:
        parse_request(der_request, max_certs=4)
    assert refused.value.reason.startswith(reason)
    assert refused.value.message == f"malformed OCSP request: {refused.value.reason}"


def test_too_many_certificates() -> None:
    three = request([cert_id(serial=bytes((n,))) for n in (1, 2, 3)])
    assert len(parse_request(three, max_certs=3).cert_ids) == 3
    with pytest.raises(MalformedRequest) as refused:
        parse_request(three, max_certs=2)
    assert refused.value.reason == "too many certificates"


def test_parse_accepts_bytes_like() -> None:
    parsed = parse_request(bytearray(BASE), max_certs=1)  # type: ignore[arg-type]
    assert type(parsed.cert_ids[0].der) is bytes


# -- responses ----------------------------------------------------------------------------------------------


CERT_ID = cert_id()
"""SHA-1 CertID, NULL parameters, hashes 11…/22…, serial 1 (0x3c octets of content)."""
AT_FIXED = "180f" + b"20260601090000Z".hex()
NEXT_DAY = "a011180f" + b"20260602090000Z".hex()  # nextUpdate [0] EXPLICIT
DAY_BEFORE = "180f" + b"20260531080000Z".hex()


@pytest.mark.parametrize(
    ("status", "revoked_at", "reason", "next_update", "golden"),
    [
        ("good", None, None, FIXED + dt.timedelta(days=1), f"3062<C>8000{AT_FIXED}{NEXT_DAY}"),
        ("unknown", None, None, None, f"304f<C>8200{AT_FIXED}"),
        # revoked [1] IMPLICIT RevokedInfo { revocationTime, revocationReason [0] EXPLICIT keyCompromise }
        ("revoked", FIXED - dt.timedelta(hours=25), 1, FIXED + dt.timedelta(days=1),
         f"3078<C>a116{DAY_BEFORE}a0030a0101{AT_FIXED}{NEXT_DAY}"),
        ("revoked", FIXED - dt.timedelta(hours=25), None, None, f"3060<C>a111{DAY_BEFORE}{AT_FIXED}"),
    ],
    ids=["good", "unknown", "revoked-reason", "revoked-no-reason"],
)  # fmt: skip
def test_golden_single_responses(
    status: str,
    revoked_at: dt.datetime | None,
    reason: int | None,
    next_update: dt.datetime | None,
    golden: str,
) -> None:
    """SingleResponse bytes that must not drift (RFC 6960 §4.2.1)."""
    single = SingleStatus(CERT_ID, status, revoked_at, reason, FIXED, next_update)  # type: ignore[arg-type]
    assert encode_single(single).hex() == golden.replace("<C>", CERT_ID.hex())


def test_golden_response_data_and_errors() -> None:
    single = encode_single(SingleStatus(CERT_ID, "good", None, None, FIXED, None))
    key_hash = bytes(range(20))
    nonce = nonce_extension(b"\xab" * 4)
    assert nonce.hex() == "3013" + "06092b0601050507300102" + "0406" + "0404abababab"  # OID, OCTET{OCTET}
    data = encode_response_data(key_hash, FIXED, [single], [nonce])
    by_key = f"a2160414{key_hash.hex()}"  # responderID byKey [2] EXPLICIT OCTET STRING; no version (v1)
    golden = f"308195{by_key}{AT_FIXED}3051{single.hex()}a1173015{nonce.hex()}"
    assert data.hex() == golden
    without = encode_response_data(key_hash, FIXED, [single])
    assert without.hex() == f"307c{by_key}{AT_FIXED}3051{single.hex()}"
    assert {s.name: error_response(s).hex() for s in ResponseStatus if s} == {
        "malformed_request": "30030a0101",
        "internal_error": "30030a0102",
        "try_later": "30030a0103",
        "sig_required": "30030a0105",
        "unauthorized": "30030a0106",
    }


@pytest.mark.parametrize("status", [s for s in ResponseStatus if s is not ResponseStatus.successful])
def test_error_responses_in_pyca(status: ResponseStatus) -> None:
    parsed = pyca_ocsp.load_der_ocsp_response(error_response(status))
    assert parsed.response_status == pyca_ocsp.OCSPResponseStatus(status.value)


def test_error_response_refuses_successful() -> None:
    with pytest.raises(ResponseError, match="responseStatus"):
        error_response(ResponseStatus.successful)


@pytest.mark.parametrize(
    ("fields", "what"),
    [
        ({"status": "revoked"}, "revocationTime"),
        ({"revocation_time": FIXED}, "revocationTime"),
        ({"revocation_reason": 1}, "revocationReason"),
        ({"status": "revoked", "revocation_time": FIXED, "revocation_reason": 7}, "revocationReason"),
        ({"status": "revoked", "revocation_time": FIXED, "revocation_reason": 8}, "revocationReason"),
        ({"status": "fine"}, "certStatus"),
        ({"cert_id_der": b"\x04\x00"}, "certID"),
        ({"next_update": FIXED - dt.timedelta(seconds=1)}, "nextUpdate"),
        ({"this_update": FIXED.replace(tzinfo=None)}, "time"),
        ({"this_update": FIXED.replace(tzinfo=None), "next_update": None}, "time"),
        ({"status": "revoked", "revocation_time": FIXED.replace(tzinfo=None)}, "time"),
    ],
    ids=str,
)
def test_single_status_invariants(fields: dict[str, object], what: str) -> None:
    base: dict[str, object] = {
        "cert_id_der": cert_id(),
        "status": "good",
        "revocation_time": None,
        "revocation_reason": None,
        "this_update": FIXED,
        "next_update": FIXED,
    }
    with pytest.raises(ResponseError) as refused:
        SingleStatus(**(base | fields))  # type: ignore[arg-type]
    assert refused.value.what == what


def test_encoder_refusals() -> None:
    single = encode_single(SingleStatus(cert_id(), "good", None, None, FIXED, None))
    with pytest.raises(ResponseError, match="responderID"):
        encode_response_data(bytes(32), FIXED, [single])
    with pytest.raises(ResponseError, match="responses"):
        encode_response_data(bytes(20), FIXED, [])
    with pytest.raises(ResponseError, match="naive"):
        encode_response_data(bytes(20), FIXED.replace(tzinfo=None), [single])
    for size in (0, 33):
        with pytest.raises(ResponseError, match="nonce"):
            nonce_extension(bytes(size))


def test_times_are_utc_whole_seconds() -> None:
    in_jst = SingleStatus(cert_id(), "good", None, None, FIXED.astimezone(JST).replace(microsecond=999), None)
    assert encode_single(in_jst) == encode_single(SingleStatus(cert_id(), "good", None, None, FIXED, None))


def test_responder_key_hash(signers: dict[str, Signer]) -> None:
    """RFC 6960 §4.2.1 byKey is RFC 5280 §4.2.1.2 method (1): pyca computes the same SHA-1."""
    for signer in signers.values():
        expected = x509.SubjectKeyIdentifier.from_public_key(signer.public_key).digest
        assert responder_key_hash(signer.public_key) == expected


def _response(
    signer: Signer,
    singles: list[SingleStatus],
    certs: list[bytes] | None = None,
    extensions: list[bytes] | None = None,
) -> bytes:
    data = encode_response_data(
        responder_key_hash(signer.public_key), T0, [encode_single(s) for s in singles], extensions or ()
    )
    return sign_response(signer, data, certs or ())


def _status(cid: bytes, status: str, reason: int | None = None) -> SingleStatus:
    revoked_at = T0 - dt.timedelta(days=3) if status == "revoked" else None
    return SingleStatus(
        cid,
        status,  # type: ignore[arg-type]
        revoked_at,
        reason,
        T0 - dt.timedelta(minutes=1),
        T0 + dt.timedelta(days=1),
    )


def _cert_ids(pki: TestPki, digest: hashes.HashAlgorithm | None = None) -> list[bytes]:
    """Each leaf's CertID as pyca encodes it (SHA-1 unless told)."""
    ids = []
    for leaf in pki.leaves:
        req = pyca_ocsp.OCSPRequestBuilder().add_certificate(leaf, pki.ca, digest or hashes.SHA1()).build()
        ids.append(parse_request(req.public_bytes(DER), max_certs=1).cert_ids[0].der)
    return ids


@pytest.mark.parametrize("name", ["rsa-pkcs1-sha256", "rsa-pkcs1-sha384", "rsa-pss-sha256", "rsa-pss-sha512",
                                  "ecdsa-p256-sha256", "ecdsa-p384-sha384"])  # fmt: skip
def test_signature_algorithms(pki: TestPki, signers: dict[str, Signer], name: str) -> None:
    """The signatureAlgorithm we write is what pyca writes into a certificate for the same key and
    algorithm (PSS parameters included), and the signature verifies over tbs_response_bytes."""
    signer = signers[name]
    resp_der = _response(signer, [_status(_cert_ids(pki)[0], "good")])
    certificate = pki.responder  # any certificate pyca signs with this signer's algorithm
    pyca_signed = (
        x509.CertificateBuilder(
            issuer_name=certificate.issuer,
            subject_name=certificate.subject,
            public_key=certificate.public_key(),
            serial_number=3,
            not_valid_before=certificate.not_valid_before_utc,
            not_valid_after=certificate.not_valid_after_utc,
        )
        .sign(**builder_arguments(signer))
        .public_bytes(DER)
    )
    pyca_algorithm = asn1_x509.Certificate.load(pyca_signed)["signature_algorithm"].dump()
    basic = asn1_ocsp.OCSPResponse.load(resp_der)["response_bytes"]["response"].parsed
    assert basic["signature_algorithm"].dump() == pyca_algorithm == algorithm_identifier(signer.algorithm)
    parsed = pyca_ocsp.load_der_ocsp_response(resp_der)
    assert parsed.response_status is pyca_ocsp.OCSPResponseStatus.SUCCESSFUL
    assert verify_signature(signer.public_key, signer.algorithm, parsed.tbs_response_bytes, parsed.signature)
    assert parsed.responder_key_hash == responder_key_hash(signer.public_key)
    assert parsed.responder_name is None
    assert parsed.certificates == []


def test_multiple_single_responses_in_pyca(pki: TestPki) -> None:
    ids = _cert_ids(pki)
    unknown_id = cert_id(name_hash=bytes(20), key_hash=bytes(20), serial=b"\x00\x99")
    statuses = [
        _status(ids[0], "good"),
        _status(ids[1], "revoked", 1),
        _status(ids[2], "revoked"),
        _status(unknown_id, "unknown"),
    ]
    nonce = bytes(range(32))
    signer = pki.responder_signer
    resp_der = _response(signer, statuses, [pki.der(pki.responder)], [nonce_extension(nonce)])
    parsed = pyca_ocsp.load_der_ocsp_response(resp_der)
    assert parsed.produced_at_utc == T0
    assert parsed.certificates == [pki.responder]
    assert parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    singles = list(parsed.responses)
    assert len(singles) == 4
    expected = [
        (pki.leaves[0].serial_number, pyca_ocsp.OCSPCertStatus.GOOD, None),
        (pki.leaves[1].serial_number, pyca_ocsp.OCSPCertStatus.REVOKED, x509.ReasonFlags.key_compromise),
        (pki.leaves[2].serial_number, pyca_ocsp.OCSPCertStatus.REVOKED, None),
        (0x99, pyca_ocsp.OCSPCertStatus.UNKNOWN, None),
    ]
    for single, (serial, status, reason) in zip(singles, expected, strict=True):
        found = (single.serial_number, single.certificate_status, single.revocation_reason)
        assert found == (serial, status, reason)
        assert single.this_update_utc == T0 - dt.timedelta(minutes=1)
        assert single.next_update_utc == T0 + dt.timedelta(days=1)
        revoked = status is pyca_ocsp.OCSPCertStatus.REVOKED
        assert single.revocation_time_utc == (T0 - dt.timedelta(days=3) if revoked else None)
        assert isinstance(single.hash_algorithm, hashes.SHA1)
    name_hash, key_hash = issuer_hashes(pki, "sha1")
    assert (singles[0].issuer_name_hash, singles[0].issuer_key_hash) == (name_hash, key_hash)
    assert verify_signature(signer.public_key, signer.algorithm, parsed.tbs_response_bytes, parsed.signature)


def test_sha256_cert_id_echoed(pki: TestPki) -> None:
    """A SHA-256 CertID comes back byte for byte (pyca reads it as SHA-256)."""
    (one,) = _cert_ids(pki, hashes.SHA256())[:1]
    resp_der = _response(pki.ca_signer, [_status(one, "good")])
    single = next(iter(pyca_ocsp.load_der_ocsp_response(resp_der).responses))
    assert isinstance(single.hash_algorithm, hashes.SHA256)
    assert one in resp_der


# -- responses against OpenSSL and pkilint -----------------------------------------------------------------


@pytest.mark.parametrize("delegated", [True, False], ids=["delegated-responder", "ca-signed"])
@pytest.mark.parametrize("digest", ["sha1", "sha256"])
def test_openssl_verifies(pki: TestPki, openssl: str, tmp_path: Path, delegated: bool, digest: str) -> None:
    """openssl builds the request, we parse it and answer every CertID; openssl verifies the signature,
    the nonce and the responder, then reads each status."""
    req = _openssl_request(pki, openssl, tmp_path / "req.der", digest)
    parsed = parse_request(req, max_certs=3)
    assert parsed.nonce_ext_der is not None
    statuses = [_status(parsed.cert_ids[0].der, "good"), _status(parsed.cert_ids[1].der, "revoked", 1)]
    statuses.append(_status(parsed.cert_ids[2].der, "unknown"))
    signer = pki.responder_signer if delegated else pki.ca_signer
    certs = [pki.der(pki.responder)] if delegated else []
    resp = tmp_path / "resp.der"
    resp.write_bytes(_response(signer, statuses, certs, [parsed.nonce_ext_der]))
    trust = ["-CAfile", pki.pem("ca")] + ([] if delegated else ["-VAfile", pki.pem("ca")])
    checked = _run([openssl, "ocsp", "-reqin", str(tmp_path / "req.der"), "-respin", str(resp), *trust])
    assert "Response verify OK" in checked.stderr
    assert "WARNING" not in checked.stdout + checked.stderr
    leaves = [arg for i in range(3) for arg in ("-cert", pki.pem(f"leaf{i}"))]
    lookup = [openssl, "ocsp", f"-{digest}", "-issuer", pki.pem("ca"), *leaves, "-no_nonce"]
    shown = _run([*lookup, "-respin", str(resp), *trust, "-resp_text"])
    assert f"{pki.pem('leaf0')}: good" in shown.stdout
    assert f"{pki.pem('leaf1')}: revoked" in shown.stdout
    assert "Reason: keyCompromise" in shown.stdout
    assert f"{pki.pem('leaf2')}: unknown" in shown.stdout
    assert "WARNING" not in shown.stdout + shown.stderr


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{args[:2]} failed: {result.stdout}\n{result.stderr}"
    return result


@pytest.mark.parametrize(
    "statuses",
    [["good"], ["revoked-1"], ["revoked"], ["unknown"], ["good", "revoked-4", "unknown"]],
    ids=lambda s: "+".join(s),
)
def test_pkilint_clean(pki: TestPki, tmp_path: Path, statuses: list[str]) -> None:
    """pkilint's RFC 6960 linter finds nothing, not even a warning, in responses a delegated responder
    signed with its certificate included."""
    ids = _cert_ids(pki)
    singles = []
    for cid, status in zip(ids, statuses, strict=False):
        name, _, reason = status.partition("-")
        singles.append(_status(cid, name, int(reason) if reason else None))
    path = tmp_path / "resp.der"
    nonce = [nonce_extension(b"\x5a" * 16)]
    path.write_bytes(_response(pki.responder_signer, singles, [pki.der(pki.responder)], nonce))
    result = subprocess.run([LINT_OCSP, "lint", "-s", "WARNING", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pkilint_ca_signed(pki: TestPki, tmp_path: Path) -> None:
    """Signed by the CA itself: no certs field at all (pkilint warns on an empty one)."""
    singles = [_status(cid, "good") for cid in _cert_ids(pki)]
    path = tmp_path / "resp.der"
    path.write_bytes(_response(pki.ca_signer, singles))
    result = subprocess.run([LINT_OCSP, "lint", "-s", "WARNING", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pkilint_error_response(tmp_path: Path) -> None:
    path = tmp_path / "error.der"
    path.write_bytes(error_response(ResponseStatus.malformed_request))
    result = subprocess.run([LINT_OCSP, "lint", "-s", "WARNING", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- speed ---------------------------------------------------------------------------------------------------
