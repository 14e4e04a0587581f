"""`jlis init --keys softhsm`: every CA key inside a SoftHSM token of the home, never extractable."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .conftest import need_softhsm, run_jlis

pytestmark = [pytest.mark.softhsm, pytest.mark.slow]


def test_softhsm_home_issues_revokes_and_keeps_keys_in_the_token(tmp_path: Path, pkcs11_tool: str) -> None:
    softhsm = need_softhsm()
    home = tmp_path / "home"
    made = run_jlis("init", "--home", str(home), "--keys", "softhsm")
    assert made.returncode == 0, made.stderr
    listing = subprocess.run(
        [
            pkcs11_tool,
            "--module",
            softhsm.module,
            "--token-label",
            "jlis-ca",
            "--login",
            "--pin",
            (home / "secrets" / "token.pin").read_text().strip(),
            "--list-objects",
            "--type",
            "privkey",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"SOFTHSM2_CONF": str(home / "softhsm" / "softhsm2.conf")},
    )
    labels = re.findall(r"label:\s+(\S+)", listing.stdout)
    assert {"jpki-sign", "jpki-auth", "lgpki-app-sub", "audit"} <= set(labels)
    assert listing.stdout.count("never extractable") == len(labels)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "hsm.example.jp")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hsm.example.jp")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "req.pem").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    issued = run_jlis(
        "ca",
        "issue",
        "--home",
        str(home),
        "--ca",
        "lgpki-app-sub",
        "--profile",
        "tls-server",
        "--csr",
        str(tmp_path / "req.pem"),
        "--out",
        str(tmp_path / "cert.pem"),
        "--json",
    )
    assert issued.returncode == 0, issued.stderr
    serial = json.loads(issued.stdout)["serial"]
    revoked = run_jlis(
        "ca",
        "revoke",
        "--home",
        str(home),
        "--ca",
        "lgpki-app-sub",
        "--serial",
        serial,
        "--reason",
        "keyCompromise",
    )
    assert revoked.returncode == 0, revoked.stderr
    assert run_jlis("crl", "generate", "--home", str(home), "--ca", "lgpki-app-sub").returncode == 0
    verified = run_jlis("audit", "verify", "--home", str(home))
    assert verified.returncode == 0, verified.stdout + verified.stderr
