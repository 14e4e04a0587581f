"""``encode_crl``: a signed CertificateList (RFC 5280 §5.1) from a spec, entries and a Signer.

Check, then sign: the spec and every entry are checked while the whole TBSCertList is assembled, before
the Signer is asked for anything; the signature is verified before the CRL is returned. The two steps are
public too (``tbs_cert_list``, ``sign_crl``) for a caller that records the TBS (its audit record) between
them.
"""

from __future__ import annotations

from collections.abc import Iterable

from hsm import SignatureAlgorithm, Signer, verify_signature
from pki.crl import der
from pki.crl.algorithm import algorithm_identifier
from pki.crl.entries import encode_entries
from pki.crl.entry import RevokedEntry
from pki.crl.errors import CrlError
from pki.crl.extensions import crl_extensions
from pki.crl.spec import CrlSpec

_VERSION_V2 = der.integer(1)
"""RFC 5280 §5.1.2.1: v2, required as soon as there are extensions (a cRLNumber always is)."""


def encode_crl(spec: CrlSpec, entries: Iterable[RevokedEntry], signer: Signer) -> bytes:
    """The DER CertificateList listing ``entries`` (consumed once, streamed), signed by ``signer``."""
    return sign_crl(tbs_cert_list(spec, entries, signer.algorithm), signer)


def tbs_cert_list(spec: CrlSpec, entries: Iterable[RevokedEntry], algorithm: SignatureAlgorithm) -> bytes:
    """The TBSCertList (RFC 5280 §5.1.2): the bytes a Signer using ``algorithm`` will sign."""
    revoked = encode_entries(spec, entries)
    return der.sequence(
        _VERSION_V2,
        algorithm_identifier(algorithm),
        spec.issuer_der,
        der.time(spec.this_update, "this_update"),
        der.time(spec.next_update, "next_update"),
        # RFC 5280 §5.1.2.6: with no entries the field is absent, not an empty SEQUENCE
        der.sequence(revoked) if revoked else b"",
        crl_extensions(spec),
    )


def sign_crl(tbs: bytes, signer: Signer) -> bytes:
    """Sign a TBSCertList made for ``signer``'s algorithm and wrap it as a CertificateList."""
    signature_algorithm = algorithm_identifier(signer.algorithm)
    if _tbs_signature_field(tbs, len(signature_algorithm)) != signature_algorithm:
        raise CrlError(
            "signature",
            f"the TBS names another algorithm than {signer.algorithm.name} (RFC 5280 §5.1.1.2); "
            "build it with the signer's algorithm",
        )
    signature = signer.sign(tbs)
    if not verify_signature(signer.public_key, signer.algorithm, tbs, signature):
        raise CrlError("signature", f"the signature of key {signer.label!r} does not verify; CRL discarded")
    return der.sequence(tbs, signature_algorithm, der.bit_string(signature))


def _tbs_signature_field(tbs: bytes, size: int) -> bytes:
    """The ``signature`` AlgorithmIdentifier of a TBSCertList we built: after its header and version."""
    header = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)
    start = header + len(_VERSION_V2)
    return tbs[start : start + size]
