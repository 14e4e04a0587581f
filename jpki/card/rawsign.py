"""Stopgap: raw PKCS#1 v1.5 signatures (the card's SIGN) with software keys, until ``hsm`` offers them.

The JPKI-AP signs the bytes it is sent (a DigestInfo) with PKCS#1 v1.5 padding and no hashing of its own:
PKCS#11 ``CKM_RSA_PKCS``. ``hsm``'s Signer only signs *data*, which it hashes itself, and its pyca adapter
refuses ``Prehashed``/``NoDigestInfo``. Until ``hsm`` grows such an operation (a Signer method like
``sign_pkcs1_raw(payload)``, ``CKM_RSA_PKCS`` on tokens), this module reads the key from the software key
store's documented layout (``DIR/<label>.key.pem``, encrypted PKCS#8, see ``hsm.software``) and signs with
pyca's ``NoDigestInfo``. Nothing else in ``jpki`` touches a private key; the key object stays inside
:class:`RawPkcs1Key` and is never handed out.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import NoDigestInfo

from hsm import HsmError, KeyNotFound, PinIncorrect, Secret
from jpki.card.errors import SignInputInvalid

PKCS1_OVERHEAD = 11
"""RFC 8017 §9.2: EMSA-PKCS1-v1_5 needs at least 11 octets besides the payload."""


class RawPkcs1Key:
    """An RSA key from a software key store that signs payloads as they are (PKCS#1 v1.5, no hashing)."""

    __slots__ = ("_key", "label")

    def __init__(self, key: rsa.RSAPrivateKey, label: str) -> None:
        self._key = key
        self.label = label

    @classmethod
    def load(cls, key_dir: Path, label: str, passphrase: Secret) -> RawPkcs1Key:
        """Decrypt ``<key_dir>/<label>.key.pem``; a wrong passphrase is hsm's PinIncorrect."""
        path = key_dir / f"{label}.key.pem"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyNotFound(label, f"key store {key_dir}") from None
        try:
            key = serialization.load_pem_private_key(data, password=passphrase.reveal().encode())
        except (ValueError, TypeError):
            raise PinIncorrect(f"key {label!r} in key store {key_dir}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise HsmError(f"key {label!r} in key store {key_dir} is not an RSA key")
        return cls(key, label)

    @property
    def max_payload(self) -> int:
        return (self._key.key_size + 7) // 8 - PKCS1_OVERHEAD

    def sign(self, payload: bytes) -> bytes:
        """EMSA-PKCS1-v1_5 padding around ``payload`` as it is, then RSASP1 (RFC 8017 §8.2.1)."""
        if not 1 <= len(payload) <= self.max_payload:
            raise SignInputInvalid(len(payload), self.max_payload)
        return self._key.sign(payload, padding.PKCS1v15(), NoDigestInfo())

    def __repr__(self) -> str:
        return f"RawPkcs1Key(label={self.label!r})"
