"""CMS (RFC 5652): SignedData signing through an :class:`hsm.Signer`.

::

    der = sign_cms(document, signer, certificate, chain=[issuing_ca])   # detached, SHA-256
    pem = to_pem(der)   # -----BEGIN CMS-----, as openssl cms writes it

Verify with ``openssl cms -verify -binary -inform DER -in doc.p7s -content doc -CAfile root.pem``.
"""

from pki.cms.errors import CertificateKeyMismatch, CmsError, InvalidSigningTime, UnsupportedAlgorithm
from pki.cms.sign import check_certificate_key, sign_cms, to_pem

__all__ = [
    "CertificateKeyMismatch",
    "CmsError",
    "InvalidSigningTime",
    "UnsupportedAlgorithm",
    "check_certificate_key",
    "sign_cms",
    "to_pem",
]
