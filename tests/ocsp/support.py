"""A small test PKI for the OCSP codec (CA, delegated responder, leaves; keys behind hsm Signers) and a
DER builder for hand-made OCSP requests, shared by the codec and fuzz tests."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509 import ocsp as pyca_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hsm import HashName, KeyKind, Scheme, SignatureAlgorithm, Signer, builder_arguments, open_backend
from pki.crl import der

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
"""The test PKI's frozen time: now when the tests start, since ``openssl ocsp`` checks thisUpdate and
nextUpdate against the real clock."""
CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "地方公共団体情報システム機構"),
        x509.NameAttribute(NameOID.COMMON_NAME, "jlis-pki OCSP test CA"),
    ]
)
LEAF_KEY = ec.generate_private_key(ec.SECP256R1())
"""One key for every leaf: only the CertIDs matter here."""
SIGNATURE_ALGORITHMS = {
    "rsa-pkcs1-sha256": (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PKCS1V15, HashName.SHA256)),
    "rsa-pkcs1-sha384": (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PKCS1V15, HashName.SHA384)),
    "rsa-pss-sha256": (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA256)),
    "rsa-pss-sha512": (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA512)),
    "ecdsa-p256-sha256": (KeyKind.P256, SignatureAlgorithm(Scheme.ECDSA, HashName.SHA256)),
    "ecdsa-p384-sha384": (KeyKind.P384, SignatureAlgorithm(Scheme.ECDSA, HashName.SHA384)),
}


def make_signers(directory: Path) -> Iterator[dict[str, Signer]]:
    """One software key per key kind, bound to each algorithm of SIGNATURE_ALGORITHMS."""
    with open_backend(f"file:{directory}", environ={"JLIS_KEY_PASSPHRASE": "ocsp tests"}) as backend:
        kinds = {kind for kind, _ in SIGNATURE_ALGORITHMS.values()}
        keys = {kind: backend.generate(f"key-{kind.value}", kind) for kind in kinds}
        yield {name: keys[kind].with_algorithm(alg) for name, (kind, alg) in SIGNATURE_ALGORITHMS.items()}


@dataclass(frozen=True)
class TestPki:
    """A CA, a delegated OCSP responder it certified, and three leaves, each also as a PEM file."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    ca_signer: Signer
    ca: x509.Certificate
    responder_signer: Signer
    responder: x509.Certificate
    leaves: tuple[x509.Certificate, ...]
    directory: Path

    def pem(self, name: str) -> str:
        return str(self.directory / f"{name}.pem")

    def der(self, certificate: x509.Certificate) -> bytes:
        return certificate.public_bytes(serialization.Encoding.DER)


def make_pki(ca_signer: Signer, responder_signer: Signer, directory: Path) -> TestPki:
    ca = _certificate(ca_signer, CA_NAME, ca_signer.public_key, 1, _ca_extensions(ca_signer))
    responder = _certificate(ca_signer, _cn("OCSP responder"), responder_signer.public_key, 2, _responder())
    serials = (0x10, 0x7F_FFFF_FFFF_FFFF_FFFF, (1 << 159) - 1)  # short, 9 octets, 20 octets
    leaves = tuple(_certificate(ca_signer, _cn(f"leaf {n:x}"), LEAF_KEY.public_key(), n, []) for n in serials)
    directory.mkdir(parents=True, exist_ok=True)
    named = {"ca": ca, "responder": responder} | {f"leaf{i}": leaf for i, leaf in enumerate(leaves)}
    for name, certificate in named.items():
        (directory / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return TestPki(ca_signer, ca, responder_signer, responder, leaves, directory)


def _cn(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _certificate(
    issuer: Signer,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    serial: int,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(CA_NAME)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(T0 - dt.timedelta(days=1))
        .not_valid_after(T0 + dt.timedelta(days=365))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key), False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(**builder_arguments(issuer))


def _key_usage(*, digital_signature: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_extensions(signer: Signer) -> list[tuple[x509.ExtensionType, bool]]:
    return [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (_key_usage(digital_signature=False, cert_sign=True), True),
        (x509.SubjectKeyIdentifier.from_public_key(signer.public_key), False),
    ]


def _responder() -> list[tuple[x509.ExtensionType, bool]]:
    """RFC 6960 §4.2.2.2: a delegated responder has id-kp-OCSPSigning; id-pkix-ocsp-nocheck (§4.2.2.2.1)."""
    return [
        (_key_usage(digital_signature=True, cert_sign=False), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
        (x509.OCSPNoCheck(), False),
    ]


# -- requests ---------------------------------------------------------------------------------------------

SHA1 = "1.3.14.3.2.26"
SHA256 = "2.16.840.1.101.3.4.2.1"
NONCE = "1.3.6.1.5.5.7.48.1.2"


def pyca_request(
    pki: TestPki, leaves: Sequence[int] = (0,), hash_algorithm: hashes.HashAlgorithm | None = None
) -> pyca_ocsp.OCSPRequestBuilder:
    """pyca's builder (one certificate only: pyca refuses more) for leaf ``leaves[0]``."""
    builder = pyca_ocsp.OCSPRequestBuilder()
    for index in leaves:
        builder = builder.add_certificate(pki.leaves[index], pki.ca, hash_algorithm or hashes.SHA1())
    return builder


def issuer_hashes(pki: TestPki, hash_name: str) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of the test CA computed here, independently of any library."""
    name = pki.ca.subject.public_bytes()
    spki = pki.ca.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = _bit_string_value(spki)
    return hashlib.new(hash_name, name).digest(), hashlib.new(hash_name, key).digest()


def _bit_string_value(spki: bytes) -> bytes:
    """The subjectPublicKey octets after the unused-bits octet, read with asn1crypto."""
    from asn1crypto import keys

    return bytes(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])


def cert_id(
    *,
    hash_oid: str = SHA1,
    name_hash: bytes = b"\x11" * 20,
    key_hash: bytes = b"\x22" * 20,
    serial: bytes = b"\x01",
    params: bytes = der.NULL,
) -> bytes:
    """A CertID with ``serial`` as raw INTEGER content octets (so malformed ones can be made)."""
    algorithm = der.sequence(der.oid(hash_oid), params)
    return der.sequence(
        algorithm, der.octet_string(name_hash), der.octet_string(key_hash), der.tlv(2, serial)
    )


def extension(oid: str, value: bytes, *, critical: bool = False) -> bytes:
    """An Extension with ``value`` as the extnValue content octets."""
    return der.sequence(der.oid(oid), der.boolean(True) if critical else b"", der.octet_string(value))


def nonce_ext(nonce: bytes, *, critical: bool = False) -> bytes:
    return extension(NONCE, der.octet_string(nonce), critical=critical)


def request(
    cert_ids: Sequence[bytes] = (),
    *,
    single_extensions: Sequence[bytes | None] = (),
    extensions: Sequence[bytes] = (),
    version: bytes | None = None,
    requestor: bytes | None = None,
    signature: bytes | None = None,
) -> bytes:
    """An OCSPRequest; ``single_extensions[i]`` (Extension DERs joined) goes with ``cert_ids[i]``."""
    requests = []
    for index, one in enumerate(cert_ids):
        single = single_extensions[index] if index < len(single_extensions) else None
        requests.append(der.sequence(one, der.context(0, der.sequence(single)) if single else b""))
    tbs = der.sequence(
        der.context(0, version) if version is not None else b"",
        der.context(1, requestor) if requestor is not None else b"",
        der.sequence(*requests),
        der.context(2, der.sequence(*extensions)) if extensions else b"",
    )
    return der.sequence(tbs, der.context(0, signature) if signature is not None else b"")


def signature_field(*, certs: bool = False) -> bytes:
    """A Signature (RFC 6960 §4.1.1) with a dummy signature value."""
    algorithm = der.sequence(der.oid("1.2.840.10045.4.3.2"))
    extra = der.context(0, der.sequence(der.sequence(b""))) if certs else b""
    return der.sequence(algorithm, der.bit_string(b"\x30\x06\x02\x01\x01\x02\x01\x01"), extra)
