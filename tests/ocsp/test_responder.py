"""The responder over a real PKI home (SQLite, file keys): statuses, signers, cache, invalidation, policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as pyca_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from ocsp.answer import Outcome, Requester
from ocsp.service import OcspRuntime, OcspSettings
from pki import IssueRequest, Pki, RevocationReason
from pki.clock import FixedClock
from tests.ocsp import support

DEFINITION = """
[pki]
base_url = "http://127.0.0.1:8080"
[[ca]]
id = "pub"
key = "p256"
issues = ["tls-server", "ocsp-responder"]
subject = [{ attr = "C", value = "JP", type = "printable" }, { attr = "CN", value = "Public CA" }]
ocsp = { next_update_minutes = 60, refresh_before_minutes = 10 }
[[ca]]
id = "direct"
key = "p256"
issues = ["tls-server"]
subject = [{ attr = "CN", value = "CA-signed responses CA" }]
ocsp = { nonce = false }
[[ca]]
id = "closed"
key = "p256"
issues = ["tls-server", "ocsp-responder"]
subject = [{ attr = "CN", value = "Registered verifiers only CA" }]
ocsp = { access = "registered" }
"""
ANYONE = Requester()
NOW = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)


class Tokens:
    """A stand-in verifier registry: one token per CA id."""

    def allows(self, requester: Requester, ca_id: str) -> bool:
        return requester.bearer_token == f"token-for-{ca_id}"


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ocsp-home")
    (base / "def.toml").write_text(DEFINITION)
    Pki.initialise(base / "home", definition=base / "def.toml", clock=FixedClock(NOW)).close()
    return base / "home"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def runtime(home: Path, clock: FixedClock) -> Iterator[OcspRuntime]:
    pki = Pki.open(home, clock=clock)
    runtime = OcspRuntime(pki, OcspSettings(presign_at_start=False), verifiers=Tokens())
    try:
        yield runtime
    finally:
        runtime.stop()
        pki.close()


def issue(pki: Pki, ca_id: str, cn: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    request = IssueRequest("tls-server", public_key=key, subject={"CN": cn}, san=(x509.DNSName(cn),))
    return pki.ca(ca_id).issue_request(request, actor="test")


def ocsp_request(
    issuer: x509.Certificate, *certs: x509.Certificate, nonce: bytes | None = None, sha256: bool = False
) -> bytes:
    """A request built by pyca (one certificate; pyca refuses more) or, for several, from pyca's CertIDs."""
    algorithm = hashes.SHA256() if sha256 else hashes.SHA1()
    if len(certs) == 1:
        builder = pyca_ocsp.OCSPRequestBuilder().add_certificate(certs[0], issuer, algorithm)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.build().public_bytes(serialization.Encoding.DER)
    ids = [_cert_id(ocsp_request(issuer, cert, sha256=sha256)) for cert in certs]
    return support.request(ids, extensions=[support.nonce_ext(nonce)] if nonce else [])


def parsed(der: bytes) -> pyca_ocsp.OCSPResponse:
    return pyca_ocsp.load_der_ocsp_response(der)


def check_signature(response: pyca_ocsp.OCSPResponse, ca: x509.Certificate) -> x509.Certificate:
    """The response verifies under its responder: the CA itself, or a delegated responder the CA
    certified for OCSPSigning (RFC 6960 §4.2.2.2); returns the signer's certificate."""
    signer = response.certificates[0] if response.certificates else ca
    if signer is not ca:
        signer.verify_directly_issued_by(ca)
        usages = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.OCSP_SIGNING in usages
        assert signer.extensions.get_extension_for_oid(ExtensionOID.OCSP_NO_CHECK)
    key = signer.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    return signer


def test_good_revoked_unknown_each_signed_by_a_delegated_responder(runtime: OcspRuntime) -> None:
    pki = runtime.pki
    ca = pki.ca("pub").certificate
    good, revoked = issue(pki, "pub", "good.example.jp"), issue(pki, "pub", "revoked.example.jp")
    pki.ca("pub").revoke(revoked.serial_number, RevocationReason.affiliation_changed, actor="test")
    never = issue(pki, "direct", "elsewhere.example.jp")  # right serial shape, wrong CA: unknown here
    unknown = never.serial_number

    answer = runtime.responder.answer(ocsp_request(ca, good), ANYONE)
    response = parsed(answer.der)
    assert (answer.outcome, response.certificate_status) == (Outcome.good, pyca_ocsp.OCSPCertStatus.GOOD)
    responder = check_signature(response, ca)
    assert responder.subject.rfc4514_string() == "CN=pub OCSP responder"
    assert (
        response.responder_key_hash
        == x509.SubjectKeyIdentifier.from_public_key(
            responder.public_key()  # type: ignore[arg-type]
        ).digest
    )
    assert response.next_update_utc - response.this_update_utc == dt.timedelta(minutes=60)
    assert answer.cacheable and answer.signatures == 1

    answer = runtime.responder.answer(ocsp_request(ca, revoked), ANYONE)
    response = parsed(answer.der)
    assert answer.outcome is Outcome.revoked
    assert response.revocation_reason is x509.ReasonFlags.affiliation_changed
    assert response.revocation_time_utc == NOW

    forged = (
        x509.CertificateBuilder()
        .subject_name(good.subject)
        .issuer_name(ca.subject)
        .public_key(good.public_key())  # type: ignore[arg-type]
        .serial_number(unknown)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    answer = runtime.responder.answer(ocsp_request(ca, forged), ANYONE)
    assert answer.outcome is Outcome.unknown
    assert parsed(answer.der).certificate_status is pyca_ocsp.OCSPCertStatus.UNKNOWN
    assert not answer.cacheable


def test_a_ca_signed_responder_has_no_certificates_and_ignores_nonces(runtime: OcspRuntime) -> None:
    pki = runtime.pki
    ca = pki.ca("direct").certificate
    cert = issue(pki, "direct", "direct.example.jp")
    answer = runtime.responder.answer(ocsp_request(ca, cert, nonce=b"n" * 16), ANYONE)
    response = parsed(answer.der)
    assert response.certificates == []
    check_signature(response, ca)
    with pytest.raises(x509.ExtensionNotFound):  # the CA's policy ignores nonces (RFC 8954 §2.2)
        response.extensions.get_extension_for_class(x509.OCSPNonce)
    assert answer.cacheable


def test_nonces_are_echoed_and_never_cached(runtime: OcspRuntime) -> None:
    pki = runtime.pki
    ca = pki.ca("pub").certificate
    cert = issue(pki, "pub", "nonce.example.jp")
    first = runtime.responder.answer(ocsp_request(ca, cert, nonce=b"a" * 32), ANYONE)
    nonce = parsed(first.der).extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert nonce == b"a" * 32 and not first.cacheable and first.signatures == 1
    again = runtime.responder.answer(ocsp_request(ca, cert, nonce=b"b" * 32), ANYONE)
    assert parsed(again.der).extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"b" * 32
    assert runtime.responder.cached(ocsp_request(ca, cert, nonce=b"c" * 8), ANYONE) is None


def test_several_certificates_in_one_request_all_get_answers(runtime: OcspRuntime) -> None:
    pki = runtime.pki
    ca = pki.ca("pub").certificate
    certs = [issue(pki, "pub", f"multi{i}.example.jp") for i in range(3)]
    pki.ca("pub").revoke(certs[1].serial_number, RevocationReason.key_compromise, actor="test")
    answer = runtime.responder.answer(ocsp_request(ca, *certs), ANYONE)
    assert answer.outcome is Outcome.several and answer.certificates == 3
    singles = list(parsed(answer.der).responses)
    assert [s.serial_number for s in singles] == [c.serial_number for c in certs]
    assert [s.certificate_status for s in singles] == [
        pyca_ocsp.OCSPCertStatus.GOOD,
        pyca_ocsp.OCSPCertStatus.REVOKED,
        pyca_ocsp.OCSPCertStatus.GOOD,
    ]
    too_many = ocsp_request(ca, *(certs * 4))  # 12 > the limit of 10
    assert runtime.responder.answer(too_many, ANYONE).outcome is Outcome.malformed


def test_a_sha256_certid_comes_back_byte_for_byte(runtime: OcspRuntime) -> None:
    pki = runtime.pki
    ca = pki.ca("pub").certificate
    cert = issue(pki, "pub", "sha256.example.jp")
    response = parsed(runtime.responder.answer(ocsp_request(ca, cert, sha256=True), ANYONE).der)
    assert isinstance(response.hash_algorithm, hashes.SHA256)
    assert response.serial_number == cert.serial_number
    assert response.certificate_status is pyca_ocsp.OCSPCertStatus.GOOD


def test_unauthorized_for_foreign_issuers_mixed_cas_and_unregistered_requesters(runtime: OcspRuntime) -> None:
    pki = runtime.pki
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    foreign = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Not ours")]))
        .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Not ours")]))
        .public_key(foreign_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(foreign_key, hashes.SHA256())
    )
    assert runtime.responder.answer(ocsp_request(foreign, foreign), ANYONE).outcome is Outcome.unauthorized
    assert runtime.responder.cached(ocsp_request(foreign, foreign), ANYONE) is not None  # no I/O needed

    pub, direct = issue(pki, "pub", "a.example.jp"), issue(pki, "direct", "b.example.jp")
    mixed = support.request(
        [
            _cert_id(ocsp_request(pki.ca("pub").certificate, pub)),
            _cert_id(ocsp_request(pki.ca("direct").certificate, direct)),
        ]
    )
    assert runtime.responder.answer(mixed, ANYONE).outcome is Outcome.unauthorized

    closed = issue(pki, "closed", "c.example.jp")
    request = ocsp_request(pki.ca("closed").certificate, closed)
    assert runtime.responder.answer(request, ANYONE).outcome is Outcome.unauthorized
    assert runtime.responder.answer(request, Requester("token-for-pub")).outcome is Outcome.unauthorized
    assert runtime.responder.answer(request, Requester("token-for-closed")).outcome is Outcome.good
    assert runtime.responder.cached(request, Requester("token-for-closed")) is None  # never from memory


def test_garbage_is_malformed_request(runtime: OcspRuntime) -> None:
    for junk in (b"", b"\x30\x00", b"not der at all", bytes(range(256))):
        assert runtime.responder.answer(junk, ANYONE).outcome is Outcome.malformed
        assert runtime.responder.cached(junk, ANYONE) is not None


def test_presigned_answers_need_no_signature_and_a_revocation_replaces_them(runtime: OcspRuntime) -> None:
    pki = runtime.pki
    ca = pki.ca("pub").certificate
    cert = issue(pki, "pub", "presigned.example.jp")
    report = runtime.presigner.presign("pub")
    assert report.signed["pub"] >= 2  # this certificate and the responder's own
    request = ocsp_request(ca, cert)
    hit = runtime.responder.cached(request, ANYONE)
    assert hit is not None and hit.cache_hit and hit.outcome is Outcome.good and hit.signatures == 0
    assert runtime.responder.answer(request, ANYONE).der == hit.der

    pki.ca("pub").revoke(cert.serial_number, RevocationReason.key_compromise, actor="test")
    # the revocation listener polled at once: nothing stale in memory, nothing stale in the store
    assert runtime.responder.cached(request, ANYONE) is None
    assert pki.store.presigned_response("pub", cert.serial_number, _cert_id(request)) is None
    answer = runtime.responder.answer(request, ANYONE)
    assert answer.outcome is Outcome.revoked and answer.signatures == 1
    assert parsed(answer.der).revocation_reason is x509.ReasonFlags.key_compromise


def test_a_revocation_by_another_process_reaches_the_cache_through_the_watcher(
    runtime: OcspRuntime, home: Path, clock: FixedClock
) -> None:
    pki = runtime.pki
    cert = issue(pki, "pub", "watched.example.jp")
    request = ocsp_request(pki.ca("pub").certificate, cert)
    runtime.watcher.poll()
    assert runtime.responder.answer(request, ANYONE).outcome is Outcome.good
    assert runtime.responder.cached(request, ANYONE) is not None
    other = Pki.open(home, clock=clock)  # another process's view: its revocation notifies nobody here
    try:
        other.ca("pub").revoke(cert.serial_number, RevocationReason.superseded, actor="other")
    finally:
        other.close()
    assert runtime.responder.cached(request, ANYONE) is not None  # not yet seen...
    assert runtime.watcher.poll() == 1  # ...until the watcher's next poll
    assert runtime.responder.cached(request, ANYONE) is None
    assert runtime.responder.answer(request, ANYONE).outcome is Outcome.revoked


def test_the_delegated_responder_certificate_is_renewed_before_it_expires(
    runtime: OcspRuntime, clock: FixedClock
) -> None:
    pki = runtime.pki
    ca = pki.ca("pub").certificate
    cert = issue(pki, "pub", "renew.example.jp")
    first = check_signature(parsed(runtime.responder.answer(ocsp_request(ca, cert), ANYONE).der), ca)
    clock.advance(dt.timedelta(days=4))  # 7-day certificates, renewed when fewer than 2 days are left
    runtime.refresh()
    runtime.responder.cache.clear()
    assert runtime.responder.credentials.for_ca(runtime.responder.index.cas["pub"]).certificate == first
    clock.advance(dt.timedelta(days=1, hours=1))
    assert runtime.responder.credentials.renew_due(list(runtime.responder.index.cas.values())) == ["pub"]
    runtime.responder.cache.clear()
    second = check_signature(parsed(runtime.responder.answer(ocsp_request(ca, cert), ANYONE).der), ca)
    assert second.serial_number != first.serial_number
    assert second.not_valid_after_utc > first.not_valid_after_utc


def _cert_id(request_der: bytes) -> bytes:
    from ocsp.request import parse_request

    return parse_request(request_der, max_certs=1).cert_ids[0].der
