"""Batch issuance (``CertificateAuthority.issue_requests``): one commit before the signing and one after, with
every certificate still reserved, audited and checked like a single issuance."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID

from pki.ca import IssueRequest
from pki.errors import IssuanceRefused
from pki.model import CertStatus, shard_of
from pki.runtime import Pki

from .test_store_support import BACKENDS, backend_url

pytestmark = pytest.mark.slow


@pytest.fixture(params=BACKENDS)
def pki(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pki]:
    with backend_url(request.param, tmp_path, "batch") as url:
        opened = Pki.initialise(tmp_path / "home", store_url=url)
        try:
            yield opened
        finally:
            opened.close()


def csr_request(cn: str) -> IssueRequest:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return IssueRequest("tls-server", csr=csr)


def test_a_batch_issues_verifiable_certificates_each_audited(pki: Pki, tmp_path: Path) -> None:
    ca = pki.ca("lgpki-app-sub")
    head = pki.store.audit_head()
    assert head is not None
    certs = ca.issue_requests([csr_request(f"host{i}.example.jp") for i in range(12)], actor="tester")

    assert [c.subject.rfc4514_string() for c in certs] == [f"CN=host{i}.example.jp" for i in range(12)]
    assert len({c.serial_number for c in certs}) == 12
    chain = tmp_path / "chain.pem"
    chain.write_bytes(
        b"".join(
            pki.ca(ca_id).certificate.public_bytes(serialization.Encoding.PEM)
            for ca_id in ("lgpki-app-sub", "lgpki-app-root")
        )
    )
    leaves = tmp_path / "leaves.pem"
    for cert in certs:
        leaves.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        checked = subprocess.run(
            ["openssl", "verify", "-CAfile", str(chain), str(leaves)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        row = pki.store.get_certificate(ca.id, cert.serial_number)
        assert row.status is CertStatus.good
        assert row.der == cert.public_bytes(serialization.Encoding.DER)

    added = [(r.action, r.object) for r in pki.store.audit_records(head.seq + 1)]
    objects = [f"{ca.id}/{c.serial_number:x}" for c in certs]
    # every serial reserved and its TBS recorded before the key signs anything; then each signature
    assert added == [("cert.prepare", o) for o in objects] + [("cert.signed", o) for o in objects]
    report = pki.verify_audit()
    assert report.ok, report.problems


def test_each_certificate_of_a_sharded_batch_points_at_its_own_shard(pki: Pki) -> None:
    ca = pki.ca("jpki-auth")
    shards = ca.definition.crl.shards
    assert shards > 1
    key = rsa.generate_private_key(65537, 2048).public_key()  # JPKI card keys are RSA-2048
    holder = {"birth_date": "1990-01-02"}  # the birthday validity rule needs it
    requests = [
        IssueRequest("jpki-auth", public_key=key, subject={"CN": f"OPAQUE{i:04d}"}, attributes=holder)
        for i in range(20)
    ]
    for cert in ca.issue_requests(requests, actor="tester"):
        points = cert.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
        uris = [
            n.value
            for p in points
            for n in p.full_name or ()
            if isinstance(n, x509.UniformResourceIdentifier)
        ]
        shard = shard_of(cert.serial_number, shards)
        assert uris == [ca.crl_url(f"shard:{shard}")], (hex(cert.serial_number), shard)
        assert pki.store.get_certificate(ca.id, cert.serial_number).shard == shard


def test_one_refused_request_refuses_the_batch_and_changes_nothing(pki: Pki) -> None:
    ca = pki.ca("lgpki-app-sub")
    before = (len(pki.store.certificates(ca.id, limit=1000)), pki.store.audit_head())
    bad = IssueRequest("tls-server", public_key=ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(IssuanceRefused):
        ca.issue_requests([csr_request("ok.example.jp"), bad], actor="tester")  # no subject given
    with pytest.raises(IssuanceRefused, match="does not issue"):
        ca.issue_requests([csr_request("ok.example.jp"), IssueRequest("jpki-sign")], actor="tester")
    assert (len(pki.store.certificates(ca.id, limit=1000)), pki.store.audit_head()) == before
    assert ca.issue_requests([], actor="tester") == []


def test_chunks_are_pipelined_and_each_is_reserved_before_it_is_signed(pki: Pki) -> None:
    ca = pki.ca("lgpki-app-sub")
    head = pki.store.audit_head()
    assert head is not None
    certs = ca.issue_requests([csr_request(f"c{i}.example.jp") for i in range(11)], actor="tester", chunk=4)
    assert [c.subject.rfc4514_string() for c in certs] == [f"CN=c{i}.example.jp" for i in range(11)]
    seq = {(r.action, r.object): r.seq for r in pki.store.audit_records(head.seq + 1)}
    assert len(seq) == 22
    for cert in certs:
        obj = f"{ca.id}/{cert.serial_number:x}"
        assert seq[("cert.prepare", obj)] < seq[("cert.signed", obj)]
        assert pki.store.get_certificate(ca.id, cert.serial_number).status is CertStatus.good
    report = pki.verify_audit()
    assert report.ok, report.problems
    with pytest.raises(ValueError):
        ca.issue_requests([csr_request("x.example.jp")], actor="tester", chunk=0)
