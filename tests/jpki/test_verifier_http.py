"""Registered verifiers against a real `jlis serve` on a JPKI-only home (CAs with access "registered"):
`openssl ocsp` with and without a bearer token, suspension from another process, CRL downloads, the fee
ledger the server keeps, refusals audited, and no token in the server's output."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as pyca_ocsp

from jpki.card.validity import JST
from jpki.verifiers import Ledger, Registered, Service, VerifierRegistry
from pki.clock import FixedClock, SystemClock
from pki.runtime import Pki
from tests.jpki.support import START, make_home, open_jpki, resident
from tests.ocsp.test_ocsp_server import serving
from tests.test_serve import RunningServer

pytestmark = pytest.mark.slow
SIGN, AUTH = "jpki-sign", "jpki-auth"
DEADLINE_S = 30.0
"""Longest wait for what the server does in the background (ledger flush, the token cache's TTL)."""
UNAUTHORIZED = "Responder Error: unauthorized (6)"


@dataclass(frozen=True)
class Card:
    sign: Path
    auth: Path
    sign_ca: Path
    auth_ca: Path
    sign_cert: x509.Certificate
    auth_cert: x509.Certificate
    sign_ca_cert: x509.Certificate
    auth_ca_cert: x509.Certificate


@dataclass(frozen=True)
class Served:
    server: RunningServer
    card: Card
    pki: Pki
    registry: VerifierRegistry
    ledger: Ledger
    tokens: list[str]
    """Every token handed out: none may appear in the server's output."""

    def register(self, name: str, kind: str = "pf", **kwargs: object) -> Registered:
        added = self.registry.add(name, kind, actor="test:operator", **kwargs)  # type: ignore[arg-type]
        self.tokens.append(added.token)
        return added


def pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def issue_card(home: Path, out: Path) -> Card:
    """A My Number Card with both certificates, issued the way the lifecycle tests do."""
    jpki = open_jpki(home, FixedClock(START))
    try:
        person = jpki.add_resident(resident(), actor="test:counter")
        issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor="test:counter")
        assert issued.signing is not None
        sign_ca, auth_ca = jpki.sign_ca.certificate, jpki.auth_ca.certificate
    finally:
        jpki.close()
    return Card(
        pem(out / "sign.pem", issued.signing),
        pem(out / "auth.pem", issued.auth),
        pem(out / "sign-ca.pem", sign_ca),
        pem(out / "auth-ca.pem", auth_ca),
        issued.signing,
        issued.auth,
        sign_ca,
        auth_ca,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("verifiers-served")
    home = make_home(tmp)
    card = issue_card(home, tmp)
    with serving(home, tmp / "logs") as server:
        pki = Pki.open(home, clock=SystemClock())
        try:
            yield Served(
                server, card, pki, VerifierRegistry(pki.store, pki.clock), Ledger(pki.store, pki.clock), []
            )
        finally:
            pki.close()


def openssl_ocsp(served: Served, cert: Path, issuer: Path, token: str | None = None) -> str:
    """`openssl ocsp` against the server (it POSTs), with a bearer token when given; stdout + stderr."""
    header = ["-header", f"Authorization=Bearer {token}"] if token is not None else []
    url = f"{served.server.url}/ocsp"
    command = ["openssl", "ocsp", "-issuer", str(issuer), "-cert", str(cert), *header, "-url", url]
    result = subprocess.run([*command, "-CAfile", str(issuer)], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr


def status_of(output: str, cert: Path) -> str | None:
    found = re.search(rf"^{re.escape(str(cert))}: (good|revoked|unknown)$", output, re.M)
    return found[1] if found else None


def months() -> list[str]:
    """The months in Japan a provision made during this test can be on (two around a month's end)."""
    now = dt.datetime.now(JST)
    return sorted({(now - dt.timedelta(hours=1)).strftime("%Y-%m"), now.strftime("%Y-%m")})


def provisions(ledger: Ledger, verifier_id: str) -> dict[tuple[Service, str], tuple[int, int]]:
    """(service, CA) → (count, amount) of a verifier, as flushed."""
    found: dict[tuple[Service, str], tuple[int, int]] = {}
    for month in months():
        for row in ledger.statement(verifier_id, month).rows:
            count, amount = found.get((row.service, row.ca_id), (0, 0))
            found[row.service, row.ca_id] = (count + row.count, amount + row.amount)
    return found


def wait_for(check: Callable[[], bool], what: str, output: Callable[[], str]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {DEADLINE_S:.0f} s\n{output()}")
        time.sleep(0.1)


# -- OCSP ---------------------------------------------------------------------------------------------------


def test_ocsp_without_a_token_is_unauthorized(served: Served) -> None:
    card = served.card
    for cert, issuer in ((card.sign, card.sign_ca), (card.auth, card.auth_ca)):
        output = openssl_ocsp(served, cert, issuer)
        assert UNAUTHORIZED in output, output
    forged = "jv_0123456789abcdef_" + "A" * 43
    assert UNAUTHORIZED in openssl_ocsp(served, card.sign, card.sign_ca, forged)


def test_ocsp_with_a_token_is_answered_and_billed_per_ca(served: Served) -> None:
    card = served.card
    added = served.register("OCSP Platform")
    vid = added.verifier.verifier_id
    output = openssl_ocsp(served, card.sign, card.sign_ca, added.token)
    assert "Response verify OK" in output and status_of(output, card.sign) == "good", output
    output = openssl_ocsp(served, card.auth, card.auth_ca, added.token)
    assert "Response verify OK" in output and status_of(output, card.auth) == "good", output
    expected = {(Service.ocsp, SIGN): (1, 20), (Service.ocsp, AUTH): (1, 2)}
    wait_for(
        lambda: provisions(served.ledger, vid) == expected,
        f"the ledger shows ¥20 + ¥2 for {vid}",
        lambda: f"{provisions(served.ledger, vid)}\n{served.server.output()}",
    )


def test_a_suspended_verifier_is_unauthorized_again_and_a_resumed_one_answered(served: Served) -> None:
    card = served.card
    added = served.register("Suspended Platform")
    vid = added.verifier.verifier_id
    assert status_of(openssl_ocsp(served, card.sign, card.sign_ca, added.token), card.sign) == "good"
    served.registry.suspend(vid, actor="test:operator")  # this process, as `jlis jpki verifier suspend` would
    wait_for(
        lambda: UNAUTHORIZED in openssl_ocsp(served, card.sign, card.sign_ca, added.token),
        "the suspended verifier is refused",
        served.server.output,
    )
    served.registry.resume(vid, actor="test:operator")
    wait_for(
        lambda: status_of(openssl_ocsp(served, card.sign, card.sign_ca, added.token), card.sign) == "good",
        "the resumed verifier is answered",
        served.server.output,
    )


def test_a_verifier_without_the_ocsp_scope_is_unauthorized(served: Served) -> None:
    added = served.register("CRL-only Body", "public", scopes=["crl"])
    assert UNAUTHORIZED in openssl_ocsp(served, served.card.sign, served.card.sign_ca, added.token)


# -- CRLs ---------------------------------------------------------------------------------------------------


def test_crl_downloads_need_a_verifier_with_the_crl_scope(served: Served) -> None:
    url = served.server.url
    pf = served.register("CRL Platform")
    sp = served.register("OCSP-only Shop", "sp")
    for path in ("/crl/jpki-sign.crl", "/crl/jpki-sign/delta.crl", "/crl/jpki-auth/3.crl"):
        anonymous = httpx.get(url + path)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="jlis-pki"'
        assert anonymous.headers["cache-control"] == "no-store"
    bad = httpx.get(url + "/crl/jpki-sign.crl", headers={"Authorization": "Bearer jv_nonsense"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    scoped = httpx.get(url + "/crl/jpki-sign.crl", headers={"Authorization": f"Bearer {sp.token}"})
    assert scoped.status_code == 403
    assert 'error="insufficient_scope", scope="crl"' in scoped.headers["www-authenticate"]
    got = httpx.get(url + "/crl/jpki-sign.crl", headers={"Authorization": f"Bearer {pf.token}"})
    assert got.status_code == 200 and got.headers["content-type"] == "application/pkix-crl"
    assert got.headers["cache-control"].startswith("private, ")
    crl = x509.load_der_x509_crl(got.content)
    assert crl.issuer == served.card.sign_ca_cert.subject
    assert crl.is_signature_valid(served.card.sign_ca_cert.public_key())  # type: ignore[arg-type]
    # a conditional GET that is answered 304 delivers nothing, and is not billed
    again = httpx.get(
        url + "/crl/jpki-sign.crl",
        headers={"Authorization": f"Bearer {pf.token}", "If-None-Match": got.headers["etag"]},
    )
    assert again.status_code == 304
    shard = httpx.get(url + "/crl/jpki-auth/3.crl", headers={"Authorization": f"Bearer {pf.token}"})
    assert shard.status_code == 200
    # CA certificates stay public
    assert httpx.get(url + "/ca/jpki-sign.cer").status_code == 200
    vid = pf.verifier.verifier_id
    expected = {(Service.crl, SIGN): (1, 0), (Service.crl, AUTH): (1, 0)}
    wait_for(
        lambda: provisions(served.ledger, vid) == expected,
        "the ledger shows the CRL downloads",
        lambda: f"{provisions(served.ledger, vid)}\n{served.server.output()}",
    )


# -- audit and logs -----------------------------------------------------------------------------------------


def test_refusals_are_audited_and_logged_without_tokens(served: Served) -> None:
    def refused() -> list[str]:
        return [r.object for r in served.pki.store.audit_records() if r.action == "jpki.verifier.refused"]

    wait_for(lambda: "verifier/unknown" in refused(), "refusals reach the audit log", served.server.output)
    wait_for(
        lambda: "refused " in served.server.stderr.read_text(),
        "refusals reach the service log",
        served.server.output,
    )


def test_no_token_appears_in_the_server_output(served: Served) -> None:
    assert len(served.tokens) >= 5
    output = served.server.stdout.read_text() + served.server.stderr.read_text()
    assert "jpki-sign" in output  # the output is there to search
    for token in served.tokens:
        secret = token.split("_", 2)[2]
        assert token not in output and secret not in output


# -- several worker processes -------------------------------------------------------------------------------


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    request = pyca_ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    return request.public_bytes(serialization.Encoding.DER)


def test_each_worker_flushes_its_own_counts_and_the_last_at_shutdown(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    card = issue_card(home, tmp_path)
    pki = Pki.open(home)
    try:
        added = VerifierRegistry(pki.store, pki.clock).add("Busy Platform", "pf", actor="test:operator")
        ledger = Ledger(pki.store, pki.clock)
        sign = ocsp_request(card.sign_cert, card.sign_ca_cert)
        auth = ocsp_request(card.auth_cert, card.auth_ca_cert)
        with serving(home, tmp_path / "logs", "--workers", "2") as server:
            with httpx.Client(
                base_url=server.url, headers={"Content-Type": "application/ocsp-request"}
            ) as client:
                bearer = {"Authorization": f"Bearer {added.token}"}
                for der in [sign] * 30 + [auth] * 15:
                    answer = pyca_ocsp.load_der_ocsp_response(
                        client.post("/ocsp", content=der, headers=bearer).content
                    )
                    assert answer.response_status is pyca_ocsp.OCSPResponseStatus.SUCCESSFUL
                for _ in range(10):
                    answer = pyca_ocsp.load_der_ocsp_response(client.post("/ocsp", content=sign).content)
                    assert answer.response_status is pyca_ocsp.OCSPResponseStatus.UNAUTHORIZED
        # the server stopped: every worker flushed what it counted, however recent
        assert provisions(ledger, added.verifier.verifier_id) == {
            (Service.ocsp, SIGN): (30, 600),
            (Service.ocsp, AUTH): (15, 30),
        }, server.output()
    finally:
        pki.close()
