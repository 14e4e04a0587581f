"""OCSP across CA generations: after a key rollover made while `jlis serve` runs, the responder answers for
certificates of both generations, each answer signed under the generation that issued the certificate (a
responder certificate from that key), and a revocation of an old-generation certificate shows."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki.lifecycle import Jpki
from pki.clock import SystemClock
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
            jpki.pki.rollover("jpki-sign", actor=ACTOR)
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
        finally:
            jpki.close()
