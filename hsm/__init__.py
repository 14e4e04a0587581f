"""Key custody: one Signer protocol over software keys and PKCS#11 tokens.

Everything above this package signs through a :class:`Signer`; nothing above it knows where a key lives::

    from hsm import open_backend, KeyKind
    with open_backend("pkcs11:token=ca", pin_source="pin.txt") as backend:
        signer = backend.generate("ca-2026", KeyKind.P256)
        signature = signer.sign(b"tbs bytes")

pyca/cryptography's builders sign through :func:`as_private_key` (or :func:`builder_arguments`). Code that
signs a payload it built itself (a card's DigestInfo) uses raw PKCS#1 v1.5 on RSA keys, which both backends'
Signers offer: ``raw_pkcs1(signer).sign_pkcs1_raw(digest_info)`` (:class:`RawPkcs1Signer`).
"""

from hsm.adapter import as_private_key, builder_arguments
from hsm.algorithms import HashName, KeyKind, PublicKey, Scheme, SignatureAlgorithm, verify_signature
from hsm.backend import KeyBackend, KeyInfo, key_label, open_backend, open_signer
from hsm.errors import (
    BackendFailure,
    HsmError,
    InvalidKeyUri,
    KeyExists,
    KeyNotExtractable,
    KeyNotFound,
    MechanismUnsupported,
    PayloadLengthInvalid,
    PinIncorrect,
    PinLocked,
    PinMissing,
    TokenBusy,
    TokenNotFound,
)
from hsm.secrets import Secret
from hsm.signer import RawPkcs1Signer, Signer, raw_pkcs1
from hsm.uri import FileKeyUri, KeyUri, Pkcs11KeyUri, parse_key_uri

__all__ = [
    "BackendFailure",
    "FileKeyUri",
    "HashName",
    "HsmError",
    "InvalidKeyUri",
    "KeyBackend",
    "KeyExists",
    "KeyInfo",
    "KeyKind",
    "KeyNotExtractable",
    "KeyNotFound",
    "KeyUri",
    "MechanismUnsupported",
    "PayloadLengthInvalid",
    "PinIncorrect",
    "PinLocked",
    "PinMissing",
    "Pkcs11KeyUri",
    "PublicKey",
    "RawPkcs1Signer",
    "Scheme",
    "Secret",
    "SignatureAlgorithm",
    "Signer",
    "TokenBusy",
    "TokenNotFound",
    "as_private_key",
    "builder_arguments",
    "key_label",
    "open_backend",
    "open_signer",
    "parse_key_uri",
    "raw_pkcs1",
    "verify_signature",
]
