"""CRL encoding: complete, delta, sharded CRLs and ARLs (RFC 5280 §5), fast at 10⁶ entries.

::

    spec = CrlSpec(issuer=ca_name, this_update=now, next_update=now + week, crl_number=n,
                   authority_key_id=signer.public_key)
    der = encode_crl(spec, store.revoked_entries(ca_id), signer)

The TBSCertList is assembled from bytes (``pki.crl.der``) and signed through an :class:`hsm.Signer`.
"""

from pki.crl.algorithm import algorithm_identifier
from pki.crl.encode import encode_crl, sign_crl, tbs_cert_list
from pki.crl.entry import MAX_SERIAL, RevokedEntry
from pki.crl.errors import CrlError
from pki.crl.spec import CrlSpec, IssuingDistributionPoint, key_identifier

__all__ = [
    "MAX_SERIAL",
    "CrlError",
    "CrlSpec",
    "IssuingDistributionPoint",
    "RevokedEntry",
    "algorithm_identifier",
    "encode_crl",
    "key_identifier",
    "sign_crl",
    "tbs_cert_list",
]
