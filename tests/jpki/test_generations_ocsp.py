"""OCSP across CA generations: after a key rollover made while `jlis serve` runs, the responder answers for
certificates of both generations, each answer signed under the generation that issued the certificate (a
responder certificate from that key), and a revocation of an old-generation certificate shows."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from jpki.lifecycle import Jpki
from pki.clock import SystemClock
from pki.verify import PathValidator, RevocationSettings, Verdict
from tests.conftest import run_jlis
from tests.jpki.support import make_home, resident
from tests.ocsp.test_ocsp_server import serving

pytestmark = pytest.mark.slow
ACTOR = "test:generations"


def pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def ocsp(url: str, issuer: Path, cert: Path) -> str:
    command = ["openssl", "ocsp", "-issuer", str(issuer), "-cert", str(cert), "-CAfile", str(issuer)]
    result = subprocess.run([*command, "-url", f"{url}/ocsp"], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr


def until(url: str, issuer: Path, cert: Path, wanted: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        output = ocsp(url, issuer, cert)
        if (f": {wanted}" in output and "Response verify OK" in output) or time.monotonic() > deadline:
            return output
        time.sleep(0.3)


def test_both_generations_answer_after_a_rollover(tmp_path: Path) -> None:
    home = make_home(tmp_path, access="public")
    with serving(home, tmp_path / "logs") as server:
        jpki = Jpki.open(home, clock=SystemClock())
        try:
            first = jpki.issue_card(
                jpki.add_resident(resident(), actor=ACTOR).code,
                signing_pin="ABC123",
                auth_pin="1234",
                actor=ACTOR,
            )
            assert first.signing is not None
            old_anchor = pem(tmp_path / "gen1.pem", jpki.sign_ca.certificate)
            old_leaf = pem(tmp_path / "old.pem", first.signing)
            assert ": good" in until(server.url, old_anchor, old_leaf, "good")
            rolled = run_jlis(
                "ca", "rollover", "--home", str(home), "--ca", "jpki-sign", "--json", check=True
            )
            assert json.loads(rolled.stdout)["ca"] == "jpki-sign"
            jpki.pki.forget_cas()  # the rollover happened in another process
            second = jpki.issue_card(
                jpki.add_resident(resident(), actor=ACTOR).code,
                signing_pin="ABC123",
                auth_pin="1234",
                actor=ACTOR,
            )
            assert second.signing is not None
            new_anchor = pem(tmp_path / "gen2.pem", jpki.sign_ca.certificate)
            new_leaf = pem(tmp_path / "new.pem", second.signing)
            assert (
                jpki.sign_ca.certificate.subject.public_bytes()
                == x509.load_pem_x509_certificate(old_anchor.read_bytes()).subject.public_bytes()
            )
            fresh = until(server.url, new_anchor, new_leaf, "good")
            assert "Response verify OK" in fresh and ": good" in fresh, fresh
            old = ocsp(server.url, old_anchor, old_leaf)
            assert "Response verify OK" in old and ": good" in old, old
            jpki.report_lost(first.card_id, actor=ACTOR)
            revoked = until(server.url, old_anchor, old_leaf, "revoked")
            assert "Reason: keyCompromise" in revoked, revoked
            crls_and_links(server.url, jpki, old_anchor, old_leaf, tmp_path)
        finally:
            jpki.close()


def crls_and_links(url: str, jpki: Jpki, old_anchor: Path, old_leaf: Path, tmp_path: Path) -> None:
    """CRLs after a rollover are signed with the new key (RFC 4210 §4.4): a relying party that trusts only the
    old generation follows the new-with-old link certificate, published with every generation at
    /ca/{id}/generations.p7c, to check an old certificate against them."""
    time.sleep(1.1)  # a revocation at exactly the validation time does not count
    jpki.pki.publish_crls("jpki-sign", actor=ACTOR)
    jpki.pki.publish_crls("jpki-sign", actor=ACTOR, delta=True)
    bundle = httpx.get(f"{url}/ca/jpki-sign/generations.p7c", timeout=10)
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/pkcs7-mime"
    published = pkcs7.load_der_pkcs7_certificates(bundle.content)
    assert len(published) == 4  # two generations, new-with-old, old-with-new
    crls = [httpx.get(f"{url}/crl/jpki-sign{suffix}.crl", timeout=10).content for suffix in ("", "/delta")]
    old = x509.load_pem_x509_certificate(old_anchor.read_bytes())
    leaf = x509.load_pem_x509_certificate(old_leaf.read_bytes())
    offline = RevocationSettings(ocsp=False, fetch_crls=False)
    result = PathValidator([old], revocation=offline).validate(leaf, intermediates=published, crls=crls)
    assert result.verdict is Verdict.revoked and result.revocation is not None
    assert result.revocation.reason.value == "keyCompromise"
    # openssl: the new key certified by the old one (new-with-old) is what leads it from its anchor to the CRL
    crl = x509.load_der_x509_crl(crls[0])
    crl_key = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    new_with_old = [c for c in published if _ski(c) == crl_key and _signed_by(c, old)]
    assert len(new_with_old) == 1
    links = tmp_path / "links.pem"
    links.write_bytes(new_with_old[0].public_bytes(serialization.Encoding.PEM))
    crl_pem = tmp_path / "crl.pem"
    crl_pem.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    command = ["openssl", "verify", "-crl_check", "-extended_crl", "-CAfile", str(old_anchor)]
    checked = subprocess.run(
        [*command, "-untrusted", str(links), "-CRLfile", str(crl_pem), str(old_leaf)],
        capture_output=True,
        text=True,
    )
    assert "certificate revoked" in checked.stdout + checked.stderr, checked.stdout + checked.stderr


def _ski(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
