"""Sign a file as detached CMS SignedData (RFC 5652) through a Signer, and verify it with openssl.

Run it as it is: it makes a throw-away CA and signing certificate with software keys in a temporary
directory, writes ``contract.txt.p7s`` (DER) and ``contract.txt.pem`` (PEM) beside the document, and
verifies the signature with ``openssl cms -verify`` (or, without openssl, by parsing it back).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from hsm import KeyKind, PublicKey, Signer, builder_arguments, open_backend, verify_signature
from pki.cms import sign_cms, to_pem


def name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def certificate(subject: str, public_key: PublicKey, ca: Signer, *, is_ca: bool) -> x509.Certificate:
    """A certificate issued by "Example CA" (signed through the CA's Signer), valid for 30 days."""
    return (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name("Example CA"))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(**builder_arguments(ca))
    )


work = Path(tempfile.mkdtemp(prefix="jlis-cms-"))
document = work / "contract.txt"
document.write_text("甲と乙は、以下のとおり契約を締結する。\n")
now = dt.datetime.now(dt.UTC)

with open_backend(f"file:{work / 'keys'}", environ={"JLIS_KEY_PASSPHRASE": "example passphrase"}) as backend:
    ca = backend.generate("example-ca", KeyKind.P256)
    signer = backend.generate("contract-signing", KeyKind.RSA2048)
    ca_certificate = certificate("Example CA", ca.public_key, ca, is_ca=True)
    signing_certificate = certificate("Example signer", signer.public_key, ca, is_ca=False)
    der = sign_cms(document.read_bytes(), signer, signing_certificate, chain=[ca_certificate])

(work / "contract.txt.p7s").write_bytes(der)
(work / "contract.txt.pem").write_bytes(to_pem(der))
(work / "ca.pem").write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
print(f"signed {document.name} with {signer.label!r} ({signer.algorithm.name}): {len(der)} bytes of CMS")

openssl = shutil.which("openssl")
if openssl:
    p7s, ca_pem = str(work / "contract.txt.p7s"), str(work / "ca.pem")
    verify = [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", str(document)]
    verify += ["-CAfile", ca_pem, "-purpose", "any", "-out", "/dev/null"]
    result = subprocess.run(verify, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    print("openssl:", result.stderr.strip())
else:  # parse it back: the digest of the document, and the signature over the DER SET of attributes
    info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    attributes = {a["type"].native: a["values"][0].native for a in info["signed_attrs"]}
    assert attributes["message_digest"] == hashlib.sha256(document.read_bytes()).digest()
    signed = b"\x31" + info["signed_attrs"].dump()[1:]  # RFC 5652 §5.4: signed as a SET OF, stored [0]
    assert verify_signature(signer.public_key, signer.algorithm, signed, info["signature"].native)
    print("signature verified by parsing it back (openssl not found)")
