"""The OCSP responder as a library: answer RFC 6960 requests for a PKI's CAs without any HTTP server.

The same Responder runs behind ``jlis serve`` (POST /ocsp, GET /ocsp/{request}); here it is called directly.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as pyca_ocsp

from ocsp import OcspRuntime, OcspSettings, Requester
from pki import IssueRequest, Pki, RevocationReason

pki = Pki.initialise(Path(tempfile.mkdtemp(prefix="jlis-home-")) / "home")
ca = pki.ca("lgpki-app-sub")  # answers with a delegated responder certificate, renewed automatically
key = ec.generate_private_key(ec.SECP256R1()).public_key()
cert = ca.issue_request(
    IssueRequest(
        "tls-server",
        public_key=key,
        subject={"CN": "ocsp.example.jp"},
        san=(x509.DNSName("ocsp.example.jp"),),
    ),
    actor="example",
)

runtime = OcspRuntime(pki, OcspSettings(presign_at_start=False))  # add redis_url=... to share a cache
report = runtime.presigner.presign(ca.id)  # what `jlis ocsp presign` does
print("pre-signed", report.signed[ca.id], "responses for", ca.id)

request = (
    pyca_ocsp.OCSPRequestBuilder()
    .add_certificate(cert, ca.certificate, hashes.SHA1())
    .build()
    .public_bytes(serialization.Encoding.DER)
)
answer = runtime.responder.cached(request, Requester())  # from memory: no signature, no I/O
assert answer is not None and answer.cache_hit
response = pyca_ocsp.load_der_ocsp_response(answer.der)
print(
    "status:",
    response.certificate_status.name,
    "signed by",
    response.certificates[0].subject.rfc4514_string(),
)

ca.revoke(cert.serial_number, RevocationReason.key_compromise, actor="example")  # drops the cached answer
answer = runtime.responder.answer(request, Requester())
response = pyca_ocsp.load_der_ocsp_response(answer.der)
assert response.certificate_status is pyca_ocsp.OCSPCertStatus.REVOKED
print("after revocation:", response.certificate_status.name, response.revocation_reason)

runtime.stop()
pki.close()
