"""pki.crl against tools we did not write: OpenSSL as a relying party (``openssl crl`` and ``openssl
verify -crl_check``, with deltas and shards) and pkilint (``lint_crl -p PKIX`` at WARNING)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hsm import Signer, builder_arguments
from pki.crl import CrlSpec, IssuingDistributionPoint, RevokedEntry, encode_crl
from pki.model import RevocationReason, shard_of
from tests.test_crl import ISSUER, T0, make_signers

ATTIME = str(int(T0.timestamp()))
"""OpenSSL checks certificates and CRLs at T0, the frozen time of this test PKI."""
BASE_URL = "http://pki.example/crl/test-ca"
LINT_CRL = str(Path(sys.executable).with_name("lint_crl"))
LEAF_KEY = ec.generate_private_key(ec.SECP256R1())
"""One key for every leaf: what is under test is the CA side."""


@dataclass(frozen=True)
class IssuingCa:
    """A self-signed CA whose key is an hsm Signer, and its certificate as a PEM file."""

    signer: Signer
    certificate: x509.Certificate
    pem: Path

    def issue(self, serial: int, crl_uri: str, delta_uri: str | None = None) -> x509.Certificate:
        """A leaf whose cRLDistributionPoints (and freshestCRL) point at ``crl_uri`` (and ``delta_uri``)."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"leaf {serial:x}")]))
            .issuer_name(ISSUER)
            .public_key(LEAF_KEY.public_key())
            .serial_number(serial)
            .not_valid_before(T0 - dt.timedelta(days=10))
            .not_valid_after(T0 + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.signer.public_key), False)
            .add_extension(x509.CRLDistributionPoints([_point(crl_uri)]), critical=False)
        )
        if delta_uri is not None:
            builder = builder.add_extension(x509.FreshestCRL([_point(delta_uri)]), critical=False)
        return builder.sign(**builder_arguments(self.signer))

    def spec(self, crl_number: int, **changes: object) -> CrlSpec:
        fields: dict[str, object] = {
            "issuer": ISSUER,
            "this_update": T0 - dt.timedelta(hours=1),
            "next_update": T0 + dt.timedelta(days=1),
            "crl_number": crl_number,
            "authority_key_id": self.signer.public_key,
        }
        fields.update(changes)
        return CrlSpec(**fields)  # type: ignore[arg-type]


def _point(uri: str) -> x509.DistributionPoint:
    return x509.DistributionPoint([x509.UniformResourceIdentifier(uri)], None, None, None)


def make_ca(signer: Signer, directory: Path) -> IssuingCa:
    certificate = (
        x509.CertificateBuilder()
        .subject_name(ISSUER)
        .issuer_name(ISSUER)
        .public_key(signer.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0 - dt.timedelta(days=30))
        .not_valid_after(T0 + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer.public_key), critical=False)
        .sign(**builder_arguments(signer))
    )
    pem = directory / f"ca-{signer.algorithm.name}.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return IssuingCa(signer, certificate, pem)


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, IssuingCa]]:
    directory = tmp_path_factory.mktemp("crl-interop")
    for signers in make_signers(directory / "keys"):
        yield {name: make_ca(signer, directory) for name, signer in signers.items()}


@pytest.fixture(scope="module")
def ca(cas: dict[str, IssuingCa]) -> IssuingCa:
    return cas["rsa-pkcs1-sha256"]


def revoked(serial: int, reason: RevocationReason | None = RevocationReason.key_compromise) -> RevokedEntry:
    return RevokedEntry(serial, T0 - dt.timedelta(hours=2), reason, None, released=False, change_seq=serial)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_pem(path: Path, certificate: x509.Certificate) -> Path:
    return write(path, certificate.public_bytes(serialization.Encoding.PEM))


def openssl_verify(openssl: str, ca: IssuingCa, leaf: Path, crls: Iterable[Path], *extra: str) -> str:
    """``openssl verify -crl_check`` at T0; returns its output (``<leaf>: OK`` or ``error NN at ...``)."""
    crl_args = [arg for crl in crls for arg in ("-CRLfile", str(crl))]
    command = [openssl, "verify", "-attime", ATTIME, "-CAfile", str(ca.pem), "-crl_check", *extra]
    result = subprocess.run([*command, *crl_args, str(leaf)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert (result.returncode == 0) == output.rstrip().endswith(": OK"), output
    return output


# -- openssl crl: the signature -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["rsa-pkcs1-sha256", "rsa-pss-sha256", "ecdsa-p256-sha256"])
def test_openssl_verifies_the_signature(
    cas: dict[str, IssuingCa], openssl: str, tmp_path: Path, algorithm: str
) -> None:
    ca = cas[algorithm]
    crl = write(tmp_path / "crl.der", encode_crl(ca.spec(1), [revoked(0x1234), revoked(1 << 127)], ca.signer))
    result = subprocess.run(
        [openssl, "crl", "-inform", "DER", "-in", str(crl), "-CAfile", str(ca.pem), "-noout"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stderr


def test_openssl_rejects_a_tampered_crl(ca: IssuingCa, openssl: str, tmp_path: Path) -> None:
    der = bytearray(encode_crl(ca.spec(1), [revoked(0x1234)], ca.signer))
    der[-5] ^= 0x01  # inside the signature
    crl = write(tmp_path / "crl.der", bytes(der))
    result = subprocess.run(
        [openssl, "crl", "-inform", "DER", "-in", str(crl), "-CAfile", str(ca.pem), "-noout"],
        capture_output=True,
        text=True,
    )
    assert "verify OK" not in result.stderr
    assert "verify failure" in result.stderr


# -- openssl verify: complete CRLs, deltas, shards --------------------------------------------------------


def test_openssl_verify_base_and_delta(ca: IssuingCa, openssl: str, tmp_path: Path) -> None:
    """Revoked in the base → 23; revoked after the base, listed only in the delta → OK with the base
    alone, 23 once ``-use_deltas`` reads the delta; never revoked → OK."""
    full, delta_uri = f"{BASE_URL}.crl", f"{BASE_URL}/delta.crl"
    in_base, in_delta, good = 0x1001, 0x1002, 0x1003
    leaves = {
        s: write_pem(tmp_path / f"{s:x}.pem", ca.issue(s, full, delta_uri)) for s in (in_base, in_delta, good)
    }
    base = ca.spec(1, freshest_crl=(delta_uri,))
    delta = ca.spec(2, delta_base=1)
    base_crl = write(tmp_path / "base.der", encode_crl(base, [revoked(in_base)], ca.signer))
    delta_crl = write(tmp_path / "delta.der", encode_crl(delta, [revoked(in_delta)], ca.signer))
    deltas = ("-extended_crl", "-use_deltas")

    assert "error 23" in openssl_verify(openssl, ca, leaves[in_base], [base_crl])
    assert openssl_verify(openssl, ca, leaves[in_delta], [base_crl]).rstrip().endswith(": OK")
    assert "error 23" in openssl_verify(openssl, ca, leaves[in_delta], [base_crl, delta_crl], *deltas)
    assert openssl_verify(openssl, ca, leaves[good], [base_crl, delta_crl], *deltas).rstrip().endswith(": OK")


def test_openssl_verify_sharded_crls(ca: IssuingCa, openssl: str, tmp_path: Path) -> None:
    """Each leaf's CRLDP names its own shard; each shard CRL (IDP = that URL) lists exactly the revoked
    serials of its shard; OpenSSL finds the revoked leaves through their shard and refuses a shard CRL
    whose IDP does not cover a certificate (error 44, different CRL scope)."""
    shards = 4
    serials = range(0x2000, 0x2000 + 24)
    uri = {s: f"{BASE_URL}/{shard_of(s, shards)}.crl" for s in serials}
    leaves = {s: write_pem(tmp_path / f"{s:x}.pem", ca.issue(s, uri[s])) for s in serials}
    revoked_serials = set(serials[::3])
    crls = {}
    for shard in range(shards):
        idp = IssuingDistributionPoint((f"{BASE_URL}/{shard}.crl",))
        entries = [revoked(s) for s in sorted(revoked_serials) if shard_of(s, shards) == shard]
        der = encode_crl(ca.spec(1, issuing_distribution_point=idp), entries, ca.signer)
        listed = {r.serial_number for r in x509.load_der_x509_crl(der)}
        assert listed == {s for s in revoked_serials if shard_of(s, shards) == shard}
        crls[shard] = write(tmp_path / f"shard-{shard}.der", der)

    for serial, leaf in leaves.items():
        output = openssl_verify(openssl, ca, leaf, crls.values(), "-extended_crl")
        assert ("error 23" in output) == (serial in revoked_serials), output
    stranger = next(s for s in serials if shard_of(s, shards) != 0)
    assert "error 44 " in openssl_verify(openssl, ca, leaves[stranger], [crls[0]], "-extended_crl")


# -- pkilint ----------------------------------------------------------------------------------------------


def _lint_cases(ca: IssuingCa) -> dict[str, tuple[str, CrlSpec, list[RevokedEntry]]]:
    """Every kind of CRL we publish, with the pkilint type to lint it as."""
    hold = RevokedEntry(0x3003, T0 - dt.timedelta(days=2), RevocationReason.certificate_hold, None, True, 9)
    with_date = RevokedEntry(
        0x3004,
        T0 - dt.timedelta(hours=3),
        RevocationReason.key_compromise,
        T0 - dt.timedelta(days=5),
        False,
        10,
    )
    entries = [
        revoked(0x3001),
        revoked(0x3002, None),
        with_date,
        revoked(1 << 158, RevocationReason.superseded),
    ]
    shard = IssuingDistributionPoint((f"{BASE_URL}/2.crl",), only_contains_user_certs=True)
    arl = IssuingDistributionPoint((f"{BASE_URL}/arl.crl",), only_contains_ca_certs=True)
    ca_only = IssuingDistributionPoint(only_contains_ca_certs=True)
    return {
        "full": ("CRL", ca.spec(5, freshest_crl=(f"{BASE_URL}/delta.crl",)), entries),
        "empty": ("CRL", ca.spec(5), []),
        "delta": ("CRL", ca.spec(6, delta_base=5), [hold, revoked(0x3005)]),
        "shard": ("CRL", ca.spec(5, issuing_distribution_point=shard), entries[:2]),
        "shard-dirname": (
            "CRL",
            ca.spec(5, issuing_distribution_point=IssuingDistributionPoint((), ISSUER)),
            [],
        ),
        "arl": (
            "ARL",
            ca.spec(5, issuing_distribution_point=arl),
            [revoked(0x3006, RevocationReason.ca_compromise)],
        ),
        "arl-no-uri": ("ARL", ca.spec(5, issuing_distribution_point=ca_only), []),
    }


LINT_KINDS = ["full", "empty", "delta", "shard", "shard-dirname", "arl", "arl-no-uri"]


@pytest.mark.parametrize("kind", LINT_KINDS)
@pytest.mark.parametrize("algorithm", ["rsa-pkcs1-sha256", "rsa-pss-sha256", "ecdsa-p384-sha384"])
def test_pkilint_finds_nothing(cas: dict[str, IssuingCa], tmp_path: Path, algorithm: str, kind: str) -> None:
    ca = cas[algorithm]
    crl_type, crl_spec, entries = _lint_cases(ca)[kind]
    crl = write(tmp_path / f"{kind}.der", encode_crl(crl_spec, entries, ca.signer))
    result = subprocess.run(
        [LINT_CRL, "lint", "-t", crl_type, "-p", "PKIX", "-s", "WARNING", str(crl)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
