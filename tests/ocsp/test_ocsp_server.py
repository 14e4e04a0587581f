"""The OCSP responder as relying parties meet it: `jlis serve` on a real port, asked by `openssl ocsp`, curl
and httpx, checked by openssl and pkilint; revocations made with `jlis ca revoke` in another process."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as pyca_ocsp

from pki import IssueRequest, Pki

from ..conftest import run_jlis
from ..test_serve import RunningServer, free_port, jlis, wait_until_healthy

pytestmark = pytest.mark.slow
LINT = Path(sys.executable).parent / "lint_ocsp_response"
CA = "lgpki-app-sub"
OCSP_RESPONSE = "application/ocsp-response"


@contextmanager
def serving(home: Path, logs: Path, *extra: str, port: int | None = None) -> Iterator[RunningServer]:
    """`jlis serve` on a free port (initialising the home on first run), stopped afterwards."""
    port = port or free_port()
    logs.mkdir(parents=True, exist_ok=True)
    server = RunningServer(f"http://127.0.0.1:{port}", home, logs / "out.txt", logs / "err.txt")
    args = jlis("serve", "--home", str(home), "--port", str(port), *extra)
    with server.stdout.open("wb") as out, server.stderr.open("wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err)
    try:
        wait_until_healthy(proc, server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Setup:
    server: RunningServer
    issuer: Path
    """The issuing CA's certificate (PEM)."""
    chain: Path
    """Issuing CA and its root (PEM): openssl's -CAfile."""
    good: Path
    revoked: Path
    unknown: Path
    """A certificate with the CA's name and a serial the CA never issued (signed by another key)."""
    more: tuple[Path, ...]


def pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def issue(pki: Pki, cn: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    request = IssueRequest("tls-server", public_key=key, subject={"CN": cn}, san=(x509.DNSName(cn),))
    return pki.ca(CA).issue_request(request, actor="test")


def revoke(home: Path, cert: x509.Certificate, reason: str) -> None:
    serial = format(cert.serial_number, "x")
    run_jlis(
        "ca", "revoke", "--home", str(home), "--ca", CA, "--serial", serial, "--reason", reason, check=True
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("ocsp-served")
    with serving(tmp / "home", tmp / "logs") as server:
        pki = Pki.open(server.home)
        try:
            ca, root = pki.ca(CA).certificate, pki.ca("lgpki-app-root").certificate
            good, revoked = issue(pki, "good.example.jp"), issue(pki, "revoked.example.jp")
            more = tuple(issue(pki, f"more{i}.example.jp") for i in range(2))
        finally:
            pki.close()
        revoke(server.home, revoked, "keyCompromise")
        stranger = ec.generate_private_key(ec.SECP256R1())
        unknown = (
            x509.CertificateBuilder()
            .subject_name(good.subject)
            .issuer_name(ca.subject)
            .public_key(stranger.public_key())
            .serial_number(0x1234567890ABCDEF)
            .not_valid_before(good.not_valid_before_utc)
            .not_valid_after(good.not_valid_after_utc)
            .sign(stranger, hashes.SHA256())
        )
        yield Setup(
            server,
            pem(tmp / "issuer.pem", ca),
            pem(tmp / "chain.pem", ca, root),
            pem(tmp / "good.pem", good),
            pem(tmp / "revoked.pem", revoked),
            pem(tmp / "unknown.pem", unknown),
            tuple(pem(tmp / f"more{i}.pem", c) for i, c in enumerate(more)),
        )


def openssl_ocsp(setup: Setup, *args: str | Path) -> str:
    """`openssl ocsp` against the server (it always POSTs); its stdout + stderr."""
    command = ["openssl", "ocsp", "-issuer", setup.issuer, *args, "-url", f"{setup.server.url}/ocsp"]
    result = subprocess.run([*command, "-CAfile", setup.chain], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr


def status_lines(output: str) -> dict[str, str]:
    """``<file>: good|revoked|unknown`` lines by file name."""
    return {Path(m[1]).stem: m[2] for m in re.finditer(r"^(\S+\.pem): (good|revoked|unknown)$", output, re.M)}


@pytest.mark.parametrize("digest", [[], ["-sha256"]], ids=["sha1", "sha256"])
@pytest.mark.parametrize("nonce", [["-nonce"], ["-no_nonce"]], ids=["nonce", "no-nonce"])
def test_openssl_verifies_and_reads_each_status(setup: Setup, digest: list[str], nonce: list[str]) -> None:
    for name, expected in (("good", "good"), ("revoked", "revoked"), ("unknown", "unknown")):
        output = openssl_ocsp(setup, *digest, *nonce, "-cert", getattr(setup, name))
        assert "Response verify OK" in output, output
        assert status_lines(output) == {name: expected}, output
        if nonce == ["-nonce"]:
            assert "WARNING: no nonce in response" not in output, output
        if expected == "revoked":
            assert "Reason: keyCompromise" in output, output


def test_several_certificates_in_one_openssl_request(setup: Setup) -> None:
    certs = [setup.good, setup.revoked, setup.unknown, *setup.more]
    output = openssl_ocsp(setup, *(arg for cert in certs for arg in ("-cert", cert)))
    assert "Response verify OK" in output, output
    assert status_lines(output) == {
        "good": "good",
        "revoked": "revoked",
        "unknown": "unknown",
        "more0": "good",
        "more1": "good",
    }


def request_der(setup: Setup, cert: Path, tmp_path: Path) -> bytes:
    out = tmp_path / f"{cert.stem}.req"
    made = subprocess.run(
        ["openssl", "ocsp", "-issuer", setup.issuer, "-cert", cert, "-no_nonce", "-reqout", out],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    return out.read_bytes()


def curl_get(url: str, dest: Path) -> tuple[bytes, str]:
    """GET with curl, as the issue's check does: the body and the response headers."""
    headers = dest.with_suffix(".headers")
    subprocess.run(["curl", "-s", "-D", str(headers), "-o", str(dest), url], check=True, timeout=30)
    return dest.read_bytes(), headers.read_text()


def get_url(setup: Setup, der: bytes) -> str:
    return f"{setup.server.url}/ocsp/{urllib.parse.quote(base64.b64encode(der).decode(), safe='')}"


def test_get_returns_the_bytes_post_does_for_presigned_entries(setup: Setup, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is needed (apt-get install curl)")
    for cert in (setup.good, setup.revoked, *setup.more):
        der = request_der(setup, cert, tmp_path)
        posted = httpx.post(
            f"{setup.server.url}/ocsp", content=der, headers={"Content-Type": "application/ocsp-request"}
        )
        assert posted.status_code == 200 and posted.headers["content-type"] == OCSP_RESPONSE
        body, headers = curl_get(get_url(setup, der), tmp_path / f"{cert.stem}.der")
        assert body == posted.content
        assert re.search(r"(?im)^cache-control: max-age=\d+, public, no-transform, must-revalidate", headers)
        assert re.search(r"(?im)^etag: \"[0-9a-f]{40}\"", headers)
        assert re.search(r"(?im)^last-modified: ", headers) and re.search(r"(?im)^expires: ", headers)
        # unpercent-encoded base64 is accepted too (RFC 5019 §5)
        raw = httpx.get(f"{setup.server.url}/ocsp/{base64.b64encode(der).decode()}")
        assert raw.content == body


def test_responses_lint_clean(setup: Setup, tmp_path: Path) -> None:
    for cert in (setup.good, setup.revoked, setup.unknown):
        der = request_der(setup, cert, tmp_path)
        response = tmp_path / f"{cert.stem}.resp"
        response.write_bytes(httpx.post(f"{setup.server.url}/ocsp", content=der).content)
        linted = subprocess.run([LINT, "lint", "-s", "WARNING", response], capture_output=True, text=True)
        assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_revocation_is_answered_within_a_second_of_jlis_ca_revoke(setup: Setup, tmp_path: Path) -> None:
    pki = Pki.open(setup.server.home)
    try:
        cert = issue(pki, "soon-revoked.example.jp")
    finally:
        pki.close()
    der = (
        pyca_ocsp.OCSPRequestBuilder()
        .add_certificate(cert, x509.load_pem_x509_certificate(setup.issuer.read_bytes()), hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    first = pyca_ocsp.load_der_ocsp_response(httpx.get(get_url(setup, der)).content)
    assert first.certificate_status is pyca_ocsp.OCSPCertStatus.GOOD  # signed on the miss, now cached
    cached = pyca_ocsp.load_der_ocsp_response(httpx.get(get_url(setup, der)).content)
    assert cached.produced_at_utc == first.produced_at_utc  # served from the cache
    revoke(setup.server.home, cert, "superseded")
    deadline = time.monotonic() + 1.0  # the issue's requirement: revoked within 1 s of revoke returning
    while True:
        now = pyca_ocsp.load_der_ocsp_response(httpx.get(get_url(setup, der)).content)
        if now.certificate_status is pyca_ocsp.OCSPCertStatus.REVOKED:
            break
        assert time.monotonic() < deadline, "still good 1 s after jlis ca revoke returned"
        time.sleep(0.02)
    assert now.revocation_reason is x509.ReasonFlags.superseded


def test_jpki_answers_only_registered_verifiers(setup: Setup, tmp_path: Path) -> None:
    pki = Pki.open(setup.server.home)
    try:
        jpki = pem(tmp_path / "jpki-auth.pem", pki.ca("jpki-auth").certificate)
    finally:
        pki.close()
    der = subprocess.run(
        ["openssl", "ocsp", "-issuer", jpki, "-serial", "0x1234", "-no_nonce", "-reqout", tmp_path / "j.req"],
        capture_output=True,
    )
    assert der.returncode == 0
    body = httpx.post(f"{setup.server.url}/ocsp", content=(tmp_path / "j.req").read_bytes()).content
    assert pyca_ocsp.load_der_ocsp_response(body).response_status is pyca_ocsp.OCSPResponseStatus.UNAUTHORIZED


def test_bad_requests_get_ocsp_errors_or_4xx_never_5xx(setup: Setup) -> None:
    url = setup.server.url
    for body in (b"", b"\x30\x00", b"hello", bytes(300)):
        answer = httpx.post(f"{url}/ocsp", content=body)
        assert answer.status_code == 200
        status = pyca_ocsp.load_der_ocsp_response(answer.content).response_status
        assert status is pyca_ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    for path in ("not-base64!!", "%ZZ", "AAAA", "A" * 10):
        answer = httpx.get(f"{url}/ocsp/{path}")
        assert answer.status_code == 200 or 400 <= answer.status_code < 500, (path, answer.status_code)
    assert httpx.post(f"{url}/ocsp", content=bytes(100_000)).status_code == 413
    assert httpx.put(f"{url}/ocsp", content=b"x").status_code == 405


def test_metrics_count_outcomes_and_signatures(setup: Setup) -> None:
    text = httpx.get(f"{setup.server.url}/metrics").text
    assert re.search(r'jlis_ocsp_requests_total\{method="POST",outcome="good"\} [1-9]', text)
    assert re.search(r"jlis_ocsp_signatures_total [1-9]", text)
    assert "jlis_ocsp_request_seconds_bucket" in text and "jlis_ocsp_cache_hit_ratio" in text


@pytest.mark.softhsm
def test_a_softhsm_home_signs_responses_inside_the_token(tmp_path: Path) -> None:
    """The same responder with every key (CA and delegated responder) in a SoftHSM token."""
    from ..conftest import need_softhsm

    softhsm = need_softhsm()
    home = tmp_path / "home"
    # Everything through child processes: opening a SoftHSM home here would point this test process's
    # PKCS#11 module at the home's token instead of the test session's.
    run_jlis("init", "--home", str(home), "--keys", "softhsm", check=True)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "hsm.example.jp")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hsm.example.jp")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "req.pem").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    good = tmp_path / "good.pem"
    issue_args = (
        "--ca",
        CA,
        "--profile",
        "tls-server",
        "--csr",
        str(tmp_path / "req.pem"),
        "--out",
        str(good),
    )
    run_jlis("ca", "issue", "--home", str(home), *issue_args, check=True)
    with serving(home, tmp_path / "logs") as server:
        ca, root = (
            x509.load_der_x509_certificate(httpx.get(f"{server.url}/ca/{name}.cer").content)
            for name in (CA, "lgpki-app-root")
        )
        setup = Setup(
            server,
            pem(tmp_path / "issuer.pem", ca),
            pem(tmp_path / "chain.pem", ca, root),
            good,
            good,
            good,
            (),
        )
        for flags in ([], ["-nonce"], ["-sha256"]):
            output = openssl_ocsp(setup, *flags, "-cert", setup.good)
            assert "Response verify OK" in output and status_lines(output) == {"good": "good"}, output
    tool = shutil.which("pkcs11-tool")
    assert tool is not None, "pkcs11-tool is needed (apt-get install opensc)"
    listing = subprocess.run(
        [tool, "--module", softhsm.module, "--token-label", "jlis-ca", "--login", "--pin",
         (home / "secrets" / "token.pin").read_text().strip(), "--list-objects", "--type", "privkey"],
        capture_output=True,
        text=True,
        check=True,
        env={"SOFTHSM2_CONF": str(home / "softhsm" / "softhsm2.conf")},
    )  # fmt: skip
    blocks = listing.stdout.split("Private Key Object")
    responder = [b for b in blocks if re.search(r"label:\s+lgpki-app-sub\.ocsp\.", b)]
    assert len(responder) == 1 and "never extractable" in responder[0], listing.stdout


def test_several_worker_processes_answer_and_report_metrics_together(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_jlis("init", "--home", str(home), check=True)
    pki = Pki.open(home)
    try:
        cert = issue(pki, "workers.example.jp")
        der = (
            pyca_ocsp.OCSPRequestBuilder()
            .add_certificate(cert, pki.ca(CA).certificate, hashes.SHA1())
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
    finally:
        pki.close()
    with serving(home, tmp_path / "logs", "--workers", "2") as server, httpx.Client() as client:
        for _ in range(20):  # new connections: the kernel spreads them over both workers
            answer = client.post(f"{server.url}/ocsp", content=der, headers={"Connection": "close"})
            assert answer.status_code == 200
            assert pyca_ocsp.load_der_ocsp_response(answer.content).certificate_status.name == "GOOD"
        text = client.get(f"{server.url}/metrics").text
        found = re.search(r'^jlis_ocsp_requests_total\{method="POST",outcome="good"\} (\S+)$', text, re.M)
        assert found is not None and float(found[1]) == 20.0, text  # summed over the workers
    log = (tmp_path / "logs" / "err.txt").read_text()
    assert len(re.findall(r'^\{"time":.*"route":"/ocsp"', log, re.M)) == 20  # one access line each
    assert base64.b64encode(der).decode()[:20] not in log
