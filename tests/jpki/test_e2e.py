"""JPKI end to end: `jlis serve` answers `openssl ocsp` while registry events revoke; pkilint and
`openssl cms -verify` check what the card and the CAs make.

The CAs here answer OCSP publicly (``access = "public"``): the registered-verifier gate is the relying-party
issue's, tested there. Everything else is the shipped JPKI setup.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki.card import KeySlot
from jpki.card.signer import CardSigner
from jpki.lifecycle import CertKind, Jpki
from jpki.registry import EventKind, ResidentEvent
from pki.cms import sign_cms
from tests.jpki.support import make_home, resident
from tests.ocsp.test_ocsp_server import serving
from tests.test_serve import RunningServer

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
ACTOR = "test:e2e"


@dataclass(frozen=True)
class Served:
    server: RunningServer
    jpki: Jpki
    dir: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("jpki-e2e")
    home = make_home(tmp, access="public")
    with serving(home, tmp / "logs") as server:
        jpki = Jpki.open(home)
        try:
            yield Served(server, jpki, tmp)
        finally:
            jpki.close()


def pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def ocsp(served: Served, kind: CertKind, cert: x509.Certificate) -> str:
    ca = served.jpki.ca_for(kind).certificate
    issuer = pem(served.dir / f"{kind.value}-ca.pem", ca)
    target = pem(served.dir / f"{cert.serial_number:x}.pem", cert)
    command = ["openssl", "ocsp", "-sha256", "-issuer", issuer, "-cert", target, "-CAfile", issuer, "-nonce"]
    result = subprocess.run(
        [*command, "-url", f"{served.server.url}/ocsp"], capture_output=True, text=True, timeout=30
    )
    output = result.stdout + result.stderr
    assert "Response verify OK" in output, output
    return output


def ocsp_until(served: Served, kind: CertKind, cert: x509.Certificate, wanted: str) -> str:
    """The responder learns of a revocation from the store within a second; allow a few."""
    deadline = time.monotonic() + 5
    while True:
        output = ocsp(served, kind, cert)
        if f": {wanted}" in output or time.monotonic() > deadline:
            return output
        time.sleep(0.2)


def lint(tool: str, *args: str | Path) -> None:
    result = subprocess.run([str(BIN / tool), "lint", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, f"{tool} {args}: {result.stdout}{result.stderr}"


def test_a_move_revokes_signing_only_a_reissue_links_and_death_revokes_both(served: Served) -> None:
    jpki = served.jpki
    person = jpki.add_resident(resident(), actor=ACTOR)
    card = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert card.signing is not None
    assert ": good" in ocsp(served, CertKind.signing, card.signing)
    assert ": good" in ocsp(served, CertKind.auth, card.auth)

    move = ResidentEvent(
        f"move-{person.code}", person.code, EventKind.move, jpki.today(), address="大阪府大阪市北区梅田1番"
    )
    jpki.record_event(move, actor="registry")
    moved = ocsp_until(served, CertKind.signing, card.signing, "revoked")
    assert ": revoked" in moved and "Reason: affiliationChanged" in moved, moved
    assert ": good" in ocsp(served, CertKind.auth, card.auth)

    new = jpki.reissue_signing(card.card_id, actor=ACTOR)
    assert ": good" in ocsp(served, CertKind.signing, new)
    line = jpki.chain(jpki.sign_ca.id, card.signing.serial_number)
    assert [h.serial for h in line] == [card.signing.serial_number, new.serial_number]

    death = ResidentEvent(f"death-{person.code}", person.code, EventKind.death, jpki.today())
    jpki.record_event(death, actor="registry")
    for kind, cert in ((CertKind.signing, new), (CertKind.auth, card.auth)):
        output = ocsp_until(served, kind, cert, "revoked")
        assert "Reason: cessationOfOperation" in output, output


def test_pkilint_finds_nothing_in_jpki_certificates_and_crls(served: Served) -> None:
    jpki = served.jpki
    person = jpki.add_resident(resident(), actor=ACTOR)
    card = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert card.signing is not None
    jpki.report_lost(card.card_id, actor=ACTOR)
    for name, cert in (("sign", card.signing), ("auth", card.auth)):
        lint("lint_pkix_cert", "-s", "WARNING", pem(served.dir / f"lint-{name}.pem", cert))
    for row in jpki.pki.publish_crls(actor=ACTOR):
        path = served.dir / f"{row.ca_id}-{row.crl_number}.crl"
        path.write_bytes(row.der)
        lint("lint_crl", "-t", "CRL", "-p", "PKIX", "-s", "WARNING", path)


def test_openssl_verifies_a_card_signature_and_rejects_a_tampered_document(served: Served) -> None:
    jpki = served.jpki
    person = jpki.add_resident(resident(), actor=ACTOR)
    issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert issued.signing is not None
    document = served.dir / "application.txt"
    document.write_text("確定申告書 令和8年分\n", encoding="utf-8")
    with jpki.open_card(issued.card_id) as card:
        session = card.session()
        session.verify_pin(KeySlot.SIGNING, "ABC123")
        der = sign_cms(document.read_bytes(), CardSigner(session, KeySlot.SIGNING), issued.signing)
    signature = served.dir / "application.p7s"
    signature.write_bytes(der)
    anchor = pem(served.dir / "sign-anchor.pem", jpki.sign_ca.certificate)
    verify = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", signature, "-CAfile", anchor]
    ok = subprocess.run(
        [*verify, "-content", document, "-purpose", "any", "-out", "/dev/null"], capture_output=True
    )
    assert ok.returncode == 0, ok.stderr.decode()
    tampered = served.dir / "tampered.txt"
    tampered.write_text("確定申告書 令和9年分\n", encoding="utf-8")
    bad = subprocess.run(
        [*verify, "-content", tampered, "-purpose", "any", "-out", "/dev/null"], capture_output=True
    )
    assert bad.returncode != 0
