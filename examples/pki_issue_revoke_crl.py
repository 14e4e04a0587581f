"""The PKI core as a library: set up the default PKI, issue (one, then a batch), revoke, publish a CRL, audit.

Everything lands in a throw-away home (SQLite + software keys, as ``jlis init`` makes them).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from pki import IssueRequest, Pki, RevocationReason

home = Path(tempfile.mkdtemp(prefix="jlis-home-")) / "home"
pki = Pki.initialise(home, base_url="http://127.0.0.1:8080")  # every CA of the default definition
ca = pki.ca("lgpki-app-sub")

# One certificate from a CSR: the CSR's signature is checked, its SAN taken as the profile allows.
key = ec.generate_private_key(ec.SECP256R1())
csr = (
    x509.CertificateSigningRequestBuilder()
    .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "www.example.jp")]))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName("www.example.jp")]), critical=False)
    .sign(key, hashes.SHA256())
)
cert = ca.issue_request(IssueRequest("tls-server", csr=csr), actor="example")
print("issued", cert.subject.rfc4514_string(), f"serial {cert.serial_number:x}")

# A batch from bare public keys: committed in chunks, each certificate reserved and audited before signing.
requests = [
    IssueRequest(
        "tls-server",
        public_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        subject={"CN": f"host{i}.example.jp"},
        san=(x509.DNSName(f"host{i}.example.jp"),),
    )
    for i in range(50)
]
batch = ca.issue_requests(requests, actor="example", chunk=20)
print("batch issued", len(batch), "certificates")

# Revoke, then publish the CRL: it lists the serial with its reason.
ca.revoke(cert.serial_number, RevocationReason.key_compromise, actor="example")
row = ca.generate_crl(actor="example")
crl = x509.load_der_x509_crl(row.der)
entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
assert entry is not None
print(f"CRL #{row.crl_number} lists {cert.serial_number:x}:", entry.extensions[0].value.reason.value)
assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]

# The audit log is a hash chain: every step above is a record, and the chain verifies.
report = pki.verify_audit()
assert report.ok, report.problems
print("audit chain verified:", report.records, "records")
pki.close()
