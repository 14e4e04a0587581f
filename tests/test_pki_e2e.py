"""The default PKI end to end, as an operator and a relying party see it: `jlis serve` on a real port, CLI
commands, CRLs downloaded over HTTP and checked by openssl and pkilint, shards, deltas, audit tampering."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pki.model import RevocationReason, shard_of

from .conftest import run_jlis
from .test_serve import RunningServer, free_port, jlis, wait_until_healthy

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("served")
    port = free_port()
    server = RunningServer(f"http://127.0.0.1:{port}", tmp / "home", tmp / "out", tmp / "err")
    with server.stdout.open("wb") as out, server.stderr.open("wb") as err:
        proc = subprocess.Popen(
            jlis("serve", "--home", str(server.home), "--port", str(port)), stdout=out, stderr=err
        )
        try:
            wait_until_healthy(proc, server)
            yield server
        finally:
            proc.terminate()
            proc.wait(timeout=20)


_TOKENS: dict[Path, str] = {}


def verifier_token(server: RunningServer) -> str:
    """A registered verifier's token: JPKI's CRLs are for registered verifiers only (jpki-facts §5)."""
    if server.home not in _TOKENS:
        added = run_jlis(
            "jpki",
            "verifier",
            "add",
            "--home",
            str(server.home),
            "--name",
            "E2E Body",
            "--kind",
            "public",
            "--json",
            check=True,
        )
        _TOKENS[server.home] = json.loads(added.stdout)["token"]
    return _TOKENS[server.home]


def fetch(server: RunningServer, path: str, dest: Path) -> Path:
    headers = {"Authorization": f"Bearer {verifier_token(server)}"} if path.startswith("/crl/jpki-") else {}
    response = httpx.get(f"{server.url}{path}", timeout=10, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    dest.write_bytes(response.content)
    return dest


def to_pem(der_file: Path, kind: str) -> Path:
    pem = der_file.with_suffix(".pem")
    if kind == "crl":
        obj = x509.load_der_x509_crl(der_file.read_bytes())
    else:
        obj = x509.load_der_x509_certificate(der_file.read_bytes())  # type: ignore[assignment]
    pem.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    return pem


def csr_file(tmp: Path, cn: str) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp / f"{cn}.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def issue_tls(server: RunningServer, tmp: Path, ca: str, cn: str) -> tuple[Path, str]:
    out = tmp / f"{cn}.pem"
    result = run_jlis(
        "ca",
        "issue",
        "--home",
        str(server.home),
        "--ca",
        ca,
        "--profile",
        "tls-server",
        "--csr",
        str(csr_file(tmp, cn)),
        "--out",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)["serial"]


def openssl_verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "verify", *args], capture_output=True, text=True)


def lint(tool: str, *args: str) -> None:
    result = subprocess.run([str(BIN / tool), "lint", *args], capture_output=True, text=True)
    assert result.returncode == 0, f"{tool} {args}: {result.stdout}{result.stderr}"


def test_every_ca_certificate_and_crl_lints_clean(served: RunningServer, tmp_path: Path) -> None:
    cas = json.loads(run_jlis("ca", "list", "--home", str(served.home), "--json").stdout)
    assert {c["id"] for c in cas} >= {
        "jpki-sign",
        "jpki-auth",
        "lgpki-bridge",
        "lgpki-org",
        "lgpki-app-root",
        "lgpki-app-sub",
        "gpki-bridge",
    }
    for ca in cas:
        cert = to_pem(fetch(served, f"/ca/{ca['id']}.cer", tmp_path / f"{ca['id']}.der"), "cert")
        lint("lint_pkix_cert", "-s", "WARNING", str(cert))
        crl = fetch(served, f"/crl/{ca['id']}.crl", tmp_path / f"{ca['id']}.crl")
        lint("lint_crl", "-t", "CRL", "-p", "PKIX", "-s", "WARNING", str(crl))
    for path, kind in (
        ("/crl/jpki-sign/delta.crl", "CRL"),
        ("/crl/jpki-auth/3.crl", "CRL"),
        ("/crl/lgpki-bridge/arl.crl", "ARL"),
        ("/crl/gpki-bridge/arl.crl", "ARL"),
    ):
        crl = fetch(served, path, tmp_path / path.replace("/", "_"))
        lint("lint_crl", "-t", kind, "-p", "PKIX", "-s", "WARNING", str(crl))


def test_issued_certificates_lint_clean(served: RunningServer, tmp_path: Path) -> None:
    cert, _ = issue_tls(served, tmp_path, "lgpki-app-sub", "lint.example.jp")
    lint("lint_pkix_cert", "-s", "WARNING", str(cert))
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(65537, 2048).public_key()
    pub = tmp_path / "auth.pub.pem"
    pub.write_bytes(
        rsa_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    out = tmp_path / "auth.pem"
    result = run_jlis(
        "ca",
        "issue",
        "--home",
        str(served.home),
        "--ca",
        "jpki-auth",
        "--profile",
        "jpki-auth",
        "--pubkey",
        str(pub),
        "--subject",
        "CN=ABCDEFGHIJ0123456789XYZ,C=JP",
        "--attribute",
        "birth_date=1990-01-02",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    lint("lint_pkix_cert", "-s", "WARNING", str(out))
    # until the holder's 5th birthday after issuance (the JPKI rule), 23:59:59 JST
    issued = x509.load_pem_x509_certificate(out.read_bytes())
    assert issued.not_valid_after_utc.strftime("%m-%d %H:%M:%S") == "01-02 14:59:59"
    refused = run_jlis(
        "ca", "issue", "--home", str(served.home), "--ca", "jpki-auth", "--profile", "jpki-auth",
        "--pubkey", str(pub), "--subject", "CN=ABCDEFGHIJ0123456789XYZ,C=JP", "--out", str(out),
    )  # fmt: skip
    assert refused.returncode != 0 and "birth_date" in refused.stderr
    assert key is not None


def test_openssl_crl_check_good_then_revoked(served: RunningServer, tmp_path: Path) -> None:
    leaf, serial = issue_tls(served, tmp_path, "lgpki-org", "crl-check.example.jp")
    root = to_pem(fetch(served, "/ca/lgpki-bridge.cer", tmp_path / "root.der"), "cert")
    sub = to_pem(fetch(served, "/ca/lgpki-org.cer", tmp_path / "sub.der"), "cert")

    def verify() -> subprocess.CompletedProcess[str]:
        crls = tmp_path / "crls.pem"
        crls.write_bytes(
            b"".join(
                to_pem(fetch(served, f"/crl/{c}.crl", tmp_path / f"{c}.crl"), "crl").read_bytes()
                for c in ("lgpki-bridge", "lgpki-org")
            )
        )
        return openssl_verify(
            "-CAfile", str(root), "-untrusted", str(sub), "-crl_check_all", "-CRLfile", str(crls), str(leaf)
        )

    good = verify()
    assert good.returncode == 0, good.stdout + good.stderr
    revoked = run_jlis(
        "ca",
        "revoke",
        "--home",
        str(served.home),
        "--ca",
        "lgpki-org",
        "--serial",
        serial,
        "--reason",
        "keyCompromise",
    )
    assert revoked.returncode == 0, revoked.stderr
    after = verify()
    assert after.returncode != 0 and "error 23" in after.stdout + after.stderr, after.stdout + after.stderr
    crl = x509.load_der_x509_crl((tmp_path / "lgpki-org.crl").read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        is x509.ReasonFlags.key_compromise
    )


def test_delta_crl_with_openssl_use_deltas(served: RunningServer, tmp_path: Path) -> None:
    leaf, serial = issue_tls(served, tmp_path, "lgpki-app-sub", "delta.example.jp")
    root = to_pem(fetch(served, "/ca/lgpki-app-root.cer", tmp_path / "root.der"), "cert")
    sub = to_pem(fetch(served, "/ca/lgpki-app-sub.cer", tmp_path / "sub.der"), "cert")
    revoked = run_jlis(
        "ca",
        "revoke",
        "--home",
        str(served.home),
        "--ca",
        "lgpki-app-sub",
        "--serial",
        serial,
        "--reason",
        "superseded",
    )
    assert revoked.returncode == 0, revoked.stderr
    base = to_pem(fetch(served, "/crl/lgpki-app-sub.crl", tmp_path / "base.crl"), "crl")
    delta = to_pem(fetch(served, "/crl/lgpki-app-sub/delta.crl", tmp_path / "delta.crl"), "crl")
    root_crl = to_pem(fetch(served, "/crl/lgpki-app-root.crl", tmp_path / "root-crl.crl"), "crl")
    assert (
        x509.load_pem_x509_crl(base.read_bytes()).get_revoked_certificate_by_serial_number(int(serial, 16))
        is None
    )
    common = ["-CAfile", str(root), "-untrusted", str(sub), "-crl_check_all", "-extended_crl", "-use_deltas"]
    both = tmp_path / "both.pem"
    both.write_bytes(base.read_bytes() + delta.read_bytes() + root_crl.read_bytes())
    result = openssl_verify(*common, "-CRLfile", str(both), str(leaf))
    assert result.returncode != 0 and "error 23" in result.stdout + result.stderr, (
        result.stdout + result.stderr
    )
    base_only = tmp_path / "base-only.pem"
    base_only.write_bytes(base.read_bytes() + root_crl.read_bytes())
    assert openssl_verify(*common, "-CRLfile", str(base_only), str(leaf)).returncode == 0


def test_shard_crls_list_exactly_their_revoked_serials(served: RunningServer, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from pki.ca import IssueRequest
    from pki.runtime import Pki

    pki = Pki.open(served.home)
    try:
        ca = pki.ca("jpki-auth")
        key = rsa.generate_private_key(65537, 2048).public_key()
        serials = []
        for n in range(40):
            subject = {"CN": f"SHARDTEST{n:014d}"}
            holder = {"birth_date": "1990-01-02"}
            request = IssueRequest(profile="jpki-auth", public_key=key, subject=subject, attributes=holder)
            serials.append(ca.issue_request(request, actor="test").serial_number)
        revoked = set(serials[::3])
        for serial in revoked:
            ca.revoke(serial, RevocationReason.cessation_of_operation, actor="test")
        pki.publish_crls("jpki-auth", actor="test")
    finally:
        pki.close()
    for shard in range(16):
        crl = x509.load_der_x509_crl(
            fetch(served, f"/crl/jpki-auth/{shard}.crl", tmp_path / f"{shard}.crl").read_bytes()
        )
        listed = {entry.serial_number for entry in crl}
        assert listed == {s for s in revoked if shard_of(s, 16) == shard}, shard
        idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
        assert idp.full_name == [x509.UniformResourceIdentifier(f"{served.url}/crl/jpki-auth/{shard}.crl")]


@pytest.mark.parametrize("tamper", ["update", "delete", "insert", "swap"])
def test_audit_tampering_is_detected(tmp_path: Path, tamper: str) -> None:
    home = tmp_path / "home"
    assert run_jlis("init", "--home", str(home)).returncode == 0
    assert run_jlis("audit", "checkpoint", "--home", str(home)).returncode == 0
    ok = run_jlis("audit", "verify", "--home", str(home))
    assert ok.returncode == 0 and "audit log OK" in ok.stdout, ok.stdout + ok.stderr
    db = sqlite3.connect(home / "pki.db")
    with db:
        if tamper == "update":
            db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")
        elif tamper == "delete":
            db.execute("DELETE FROM audit_log WHERE seq = 7")
        elif tamper == "insert":
            db.execute("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 9")
            db.execute(
                "INSERT INTO audit_log SELECT 9, at, actor, action, object, payload_digest, prev_hash, "
                "record_hash FROM audit_log WHERE seq = 8"
            )
            db.execute("UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1009")
        else:
            rows = db.execute(
                "SELECT seq, actor, action, object, payload_digest FROM audit_log WHERE seq IN (3, 4)"
            )
            (s1, *a), (s2, *b) = rows.fetchall()
            db.execute(
                "UPDATE audit_log SET actor=?, action=?, object=?, payload_digest=? WHERE seq=?", (*b, s1)
            )
            db.execute(
                "UPDATE audit_log SET actor=?, action=?, object=?, payload_digest=? WHERE seq=?", (*a, s2)
            )
    db.close()
    bad = run_jlis("audit", "verify", "--home", str(home), "--json")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    problems = json.loads(bad.stdout)["problems"]
    expected = {
        "update": "record 5 was altered",
        "delete": "record(s) 7 deleted",
        "insert": "record 9 ",
        "swap": "record 3 was altered",
    }[tamper]
    assert any(expected in p for p in problems), problems
