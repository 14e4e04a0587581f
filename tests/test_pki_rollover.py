"""Key rollover with link certificates: relying parties anchored on either generation validate both."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pki.ca import IssueRequest
from pki.errors import IssuanceRefused
from pki.runtime import Pki

pytestmark = pytest.mark.slow

DEFINITION = """
[pki]
base_url = "http://127.0.0.1:8080"
[[ca]]
id = "root"
profile = "root-ca"
key = "p256"
issues = ["tls-server"]
subject = [{ attr = "C", value = "JP", type = "printable" }, { attr = "O", value = "jlis" },
           { attr = "CN", value = "Rolling Root" }]
[[ca]]
id = "sub"
issuer = "root"
key = "p256"
subject = [{ attr = "C", value = "JP", type = "printable" }, { attr = "O", value = "jlis" },
           { attr = "CN", value = "Rolling Sub" }]
"""


def pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def leaf(pki: Pki) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    request = IssueRequest(
        "tls-server",
        public_key=key,
        subject={"CN": "roll.example.jp"},
        san=(x509.DNSName("roll.example.jp"),),
    )
    return pki.ca("root").issue_request(request, actor="test")


def verify(
    tmp: Path, anchor: x509.Certificate, untrusted: list[x509.Certificate], cert: x509.Certificate
) -> str:
    args = ["openssl", "verify", "-CAfile", str(pem(tmp / "anchor.pem", anchor))]
    if untrusted:
        args += ["-untrusted", str(pem(tmp / "untrusted.pem", *untrusted))]
    result = subprocess.run([*args, str(pem(tmp / "leaf.pem", cert))], capture_output=True, text=True)
    return result.stdout + result.stderr if result.returncode else "OK"


def test_rollover_links_both_generations(tmp_path: Path) -> None:
    (tmp_path / "def.toml").write_text(DEFINITION)
    pki = Pki.initialise(tmp_path / "home", definition=tmp_path / "def.toml")
    try:
        old_root = pki.ca("root").certificate
        old_leaf = leaf(pki)
        rolled = pki.rollover("root", actor="test")
        new_root = pki.ca("root").certificate
        assert new_root.serial_number == rolled.new_certificate.serial_number
        assert new_root.subject == old_root.subject and new_root.public_key() != old_root.public_key()
        rolled.new_with_old.verify_directly_issued_by(old_root)
        assert rolled.new_with_old.public_key() == new_root.public_key()
        rolled.old_with_new.verify_directly_issued_by(new_root)
        assert rolled.old_with_new.public_key() == old_root.public_key()
        new_leaf = leaf(pki)
        new_leaf.verify_directly_issued_by(new_root)
        assert verify(tmp_path, new_root, [rolled.old_with_new], old_leaf) == "OK"
        assert verify(tmp_path, old_root, [rolled.new_with_old], new_leaf) == "OK"
        assert "error" in verify(tmp_path, old_root, [], new_leaf)  # without the link it does not chain
        with pytest.raises(IssuanceRefused, match="subordinate"):
            pki.rollover("sub", actor="test")
        assert pki.verify_audit().ok
    finally:
        pki.close()
    reopened = Pki.open(tmp_path / "home")
    try:
        assert reopened.ca("root").certificate.serial_number == new_root.serial_number
        leaf(reopened).verify_directly_issued_by(new_root)
    finally:
        reopened.close()
