"""`jlis ocsp presign`: signs and keeps a response for every valid certificate; refuses unknown CAs."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as pyca_ocsp

from ocsp.issuers import ServedCa
from pki import Pki

from ..conftest import run_jlis
from .test_ocsp_server import CA, issue


def test_presign_keeps_a_response_per_valid_certificate(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_jlis("init", "--home", str(home), check=True)
    pki = Pki.open(home)
    try:
        certs = [issue(pki, f"presign{i}.example.jp") for i in range(3)]
    finally:
        pki.close()
    result = run_jlis("ocsp", "presign", "--home", str(home), "--ca", CA, "--json", check=True)
    report = json.loads(result.stdout)
    assert report["signed"] == {CA: 4}  # three certificates and the delegated responder's own
    assert report["kept"] == 4
    pki = Pki.open(home)
    try:
        ca = pki.ca(CA)
        served = ServedCa.of(CA, ca.certificate, ca.definition.ocsp)
        for cert in certs:
            kept = pki.store.presigned_response(
                CA, cert.serial_number, served.sha1_cert_id(cert.serial_number)
            )
            assert kept is not None
            response = pyca_ocsp.load_der_ocsp_response(kept.der)
            assert response.certificate_status is pyca_ocsp.OCSPCertStatus.GOOD
            assert response.serial_number == cert.serial_number
            # the kept CertID is the one clients build with SHA-1
            request = (
                pyca_ocsp.OCSPRequestBuilder().add_certificate(cert, ca.certificate, hashes.SHA1()).build()
            )
            assert request.issuer_key_hash in kept.cert_id_der
            assert request.public_bytes(serialization.Encoding.DER).find(kept.cert_id_der) > 0
    finally:
        pki.close()
    text = run_jlis("ocsp", "presign", "--home", str(home), check=True).stdout
    assert "responses signed" in text and "kept in the store" in text


def test_presign_refuses_an_unknown_ca_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_jlis("init", "--home", str(home), check=True)
    result = run_jlis("ocsp", "presign", "--home", str(home), "--ca", "no-such-ca")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "no-such-ca" in result.stderr
