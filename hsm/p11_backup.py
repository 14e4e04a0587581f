"""Backup without exposure: move a CA key to a second token without it ever being plain outside a token.

Two steps, both inside tokens:

1. **Ceremony** (security officers of both tokens): the target token makes an RSA transport key pair; the
   source token's SO imports the transport public key as *trusted*, generates an AES-256 wrapping key
   marked ``CKA_TRUSTED``, wraps it under the transport key (RSA-OAEP) and then makes it non-extractable;
   the target's SO unwraps it as a trusted key and destroys the transport key. Both tokens now hold the
   same trusted wrapping key, whose value never left a token.
2. **Backup** (users): a key generated *backupable* (sensitive, extractable only under a trusted key,
   ``CKA_WRAP_WITH_TRUSTED``) is wrapped with ``CKM_AES_KEY_WRAP_PAD`` in the source token and unwrapped
   into the target token. Keys generated without ``backupable`` are never extractable: the token refuses.

Only a security officer can set ``CKA_TRUSTED``, so trusted keys are public (non-private) token objects;
they are sensitive and non-extractable, so being visible does not expose their value.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pkcs11
import pkcs11.exceptions as p11e
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass

from hsm.algorithms import KeyKind, PublicKey, verify_signature
from hsm.backend import check_new_label
from hsm.errors import HsmError, KeyExists, KeyNotExtractable, KeyNotFound, PinMissing, TokenBusy
from hsm.p11 import Pkcs11Backend, Pkcs11Signer, find_private_key, find_token, module_for
from hsm.p11_keys import public_key_of, public_template, signing_key_template
from hsm.p11_module import load_module, translate
from hsm.secrets import PKCS11_SO_PIN_ENV, resolve_secret
from hsm.uri import Pkcs11KeyUri, parse_key_uri

WRAP_MECHANISM = Mechanism.AES_KEY_WRAP_PAD
"""RFC 5649 AES key wrap with padding: wraps a PKCS#8 private key inside the token."""
# SoftHSM 2.6 accepts RSA-OAEP for key wrapping only with SHA-1 and MGF1-SHA-1 (adequate for OAEP).
_TRANSPORT = (Mechanism.RSA_PKCS_OAEP, (Mechanism.SHA_1, MGF.SHA1, None))
_FORMAT = "jlis-wrapped-key/1"
# python-pkcs11 adds every capability attribute to an unwrap template; these are invalid on private keys.
_NOT_FOR_PRIVATE = {a: pkcs11.DEFAULT for a in (Attribute.ENCRYPT, Attribute.VERIFY, Attribute.WRAP)}


def _trusted_wrapping_template(*, extractable: bool) -> dict[Attribute, Any]:
    """An AES key the token trusts for wrapping: visible (only an SO can set CKA_TRUSTED, and SO objects are
    public), sensitive, usable only to wrap and unwrap."""
    return {
        Attribute.PRIVATE: False,
        Attribute.TRUSTED: True,
        Attribute.WRAP: True,
        Attribute.UNWRAP: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: extractable,
        Attribute.WRAP_WITH_TRUSTED: True,
        Attribute.ENCRYPT: False,
        Attribute.DECRYPT: False,
        Attribute.SIGN: False,
        Attribute.VERIFY: False,
        Attribute.DERIVE: False,
    }


class InvalidBackup(HsmError):
    """A wrapped-key file that is not ours, is damaged, or does not match its public key."""

    def __init__(self, why: str) -> None:
        super().__init__(f"invalid wrapped key: {why}")
        self.why = why


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A private key wrapped under a token's trusted key, with the public facts needed to restore it."""

    label: str
    kind: KeyKind
    key_id: bytes
    public_key: PublicKey
    wrapping_key: str
    wrapped: bytes

    def to_bytes(self) -> bytes:
        """A JSON document (no secret in clear: the private key is AES-KW-wrapped)."""
        spki = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        doc = {
            "format": _FORMAT,
            "label": self.label,
            "kind": self.kind.value,
            "key_id": self.key_id.hex(),
            "public_key": base64.b64encode(spki).decode(),
            "wrapping_key": self.wrapping_key,
            "mechanism": WRAP_MECHANISM.name,
            "wrapped": base64.b64encode(self.wrapped).decode(),
        }
        return json.dumps(doc, indent=2).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> WrappedKey:
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
                raise InvalidBackup(f"not a {_FORMAT} document")
            if doc.get("mechanism") != WRAP_MECHANISM.name:
                raise InvalidBackup(f"unsupported wrapping mechanism {doc.get('mechanism')!r}")
            public = serialization.load_der_public_key(base64.b64decode(doc["public_key"], validate=True))
            kind = KeyKind(doc["kind"])
            if KeyKind.of(public) is not kind:
                raise InvalidBackup("the public key does not match the key kind")
            return cls(
                label=check_new_label(str(doc["label"])),
                kind=kind,
                key_id=bytes.fromhex(doc["key_id"]),
                public_key=public,  # type: ignore[arg-type]  # KeyKind.of above admits only RSA and EC
                wrapping_key=str(doc["wrapping_key"]),
                wrapped=base64.b64decode(doc["wrapped"], validate=True),
            )
        except InvalidBackup:
            raise
        except (ValueError, KeyError, TypeError, binascii.Error, HsmError) as exc:
            raise InvalidBackup(f"malformed document ({type(exc).__name__})") from None


def _secret_key(session: pkcs11.Session, label: str, where: str) -> Any:
    try:
        return session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
    except p11e.NoSuchKey:
        raise KeyNotFound(label, where) from None
    except p11e.MultipleObjectsReturned:
        raise HsmError(f"several secret keys are labelled {label!r} in {where}") from None


def wrap_key(backend: Pkcs11Backend, label: str, wrapping_key: str) -> WrappedKey:
    """Wrap a backupable key under the token's trusted wrapping key; the token refuses anything else."""
    pool = backend.pool
    public = backend.public_key(label)
    with pool.session() as pooled:
        session = pooled.session
        priv = find_private_key(session, ("label", label), pool.where)
        try:
            key_id = priv[Attribute.ID] or b""
            wrapper = _secret_key(session, wrapping_key, pool.where)
            wrapped = wrapper.wrap_key(priv, mechanism=WRAP_MECHANISM)
        except p11e.KeyUnextractable:
            raise KeyNotExtractable(label, "it was not generated as backupable (never extractable)") from None
        except p11e.KeyNotWrappable:
            raise KeyNotExtractable(
                label, f"wrapping key {wrapping_key!r} is not trusted by the token"
            ) from None
        except p11e.PKCS11Error as exc:
            raise translate(exc, where=pool.where, operation=f"wrapping {label!r}") from None
    return WrappedKey(label, KeyKind.of(public), bytes(key_id), public, wrapping_key, bytes(wrapped))


def unwrap_key(
    backend: Pkcs11Backend, wrapped: WrappedKey, wrapping_key: str, *, label: str | None = None
) -> Pkcs11Signer:
    """Unwrap a key into this token (still backupable, sensitive, sign-only) and check that it signs for
    its public key; a mismatch removes what was created."""
    new_label = check_new_label(label or wrapped.label)
    pool = backend.pool
    kind = wrapped.kind
    with pool.session() as pooled:
        session = pooled.session
        for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
            if any(True for _ in session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: new_label})):
                raise KeyExists(new_label, pool.where)
        created: list[Any] = []
        try:
            unwrapper = _secret_key(session, wrapping_key, pool.where)
            priv = unwrapper.unwrap_key(
                ObjectClass.PRIVATE_KEY,
                KeyType.RSA if kind.is_rsa else KeyType.EC,
                wrapped.wrapped,
                id=wrapped.key_id or None,
                label=new_label,
                store=True,
                mechanism=WRAP_MECHANISM,
                template={**_NOT_FOR_PRIVATE, **signing_key_template(backupable=True)},
            )
            created.append(priv)
            pub_attrs = {
                Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.VERIFY: True,
                Attribute.LABEL: new_label,
                **public_template(wrapped.public_key),
            }
            if wrapped.key_id:
                pub_attrs[Attribute.ID] = wrapped.key_id
            created.append(session.create_object(pub_attrs))
        except p11e.PKCS11Error as exc:
            _destroy(created)
            raise InvalidBackup(f"the token could not unwrap it ({type(exc).__name__})") from None
    signer = backend.signer(new_label)
    probe = b"jlis-pki unwrap check"
    if not verify_signature(wrapped.public_key, signer.algorithm, probe, signer.sign(probe)):
        with pool.session() as pooled:
            _destroy(
                [
                    pooled.session.get_key(object_class=c, label=new_label)
                    for c in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY)
                ]
            )
        pool.forget(("label", new_label))
        raise InvalidBackup("the unwrapped private key does not match the public key in the file")
    return signer


def _destroy(objects: list[Any]) -> None:
    for obj in objects:
        try:
            obj.destroy()
        except p11e.PKCS11Error:
            continue  # already gone


class TokenAdmin:
    """A security-officer session on one token, for key ceremonies. No user may be logged in meanwhile."""

    def __init__(self, session: pkcs11.Session, where: str) -> None:
        self._session = session
        self.where = where

    @classmethod
    def open(
        cls, uri: str, *, so_pin_source: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> TokenAdmin:
        parsed = parse_key_uri(uri)
        if not isinstance(parsed, Pkcs11KeyUri):
            raise HsmError("key ceremonies need a pkcs11: token")
        module = module_for(parsed, environ)
        token = find_token(load_module(module), parsed)
        where = f"token {token.label!r}"
        from hsm.p11_pool import POOLS

        serial = token.serial.decode("ascii", "replace") if isinstance(token.serial, bytes) else token.serial
        if POOLS.in_use((module, serial)):
            raise TokenBusy(where, "a user is logged in on it in this process; close those backends first")
        so_pin = resolve_secret(
            pin_source=so_pin_source, uri_pin_source=None, env_var=PKCS11_SO_PIN_ENV, environ=environ
        )
        if so_pin is None:
            raise PinMissing("SO PIN", f"give an SO pin-source file or set {PKCS11_SO_PIN_ENV}")
        try:
            session = token.open(rw=True, so_pin=so_pin.reveal())
        except p11e.PKCS11Error as exc:
            raise translate(exc, where=f"{where} (security officer)", operation="SO login") from None
        return cls(session, where)

    def create_wrapping_key(self, label: str, *, exportable: bool = False) -> None:
        """A trusted AES-256 wrapping key; ``exportable`` lets :meth:`export_wrapping_key` send it once."""
        check_new_label(label)
        self._refuse_existing(ObjectClass.SECRET_KEY, label)
        try:
            self._session.generate_key(
                KeyType.AES,
                256,
                label=label,
                store=True,
                template=_trusted_wrapping_template(extractable=exportable),
            )
        except p11e.PKCS11Error as exc:
            raise translate(exc, where=self.where, operation="creating the wrapping key") from None

    def create_transport_key(self, label: str) -> rsa.RSAPublicKey:
        """An RSA-3072 key pair that can only unwrap; its public key goes to the source token's SO."""
        check_new_label(label)
        self._refuse_existing(ObjectClass.PRIVATE_KEY, label)
        try:
            pub, _ = self._session.generate_keypair(
                KeyType.RSA,
                3072,
                label=label,
                store=True,
                public_template={
                    Attribute.PRIVATE: False,
                    Attribute.WRAP: True,
                    Attribute.ENCRYPT: False,
                    Attribute.VERIFY: False,
                },
                private_template={
                    Attribute.PRIVATE: False,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.UNWRAP: True,
                    Attribute.DECRYPT: False,
                    Attribute.SIGN: False,
                    Attribute.DERIVE: False,
                },
            )
            public = public_key_of(pub)
        except p11e.PKCS11Error as exc:
            raise translate(exc, where=self.where, operation="creating the transport key") from None
        if not isinstance(public, rsa.RSAPublicKey):
            raise HsmError("the transport key is not RSA")
        return public

    def export_wrapping_key(self, label: str, recipient: rsa.RSAPublicKey) -> bytes:
        """Wrap the exportable wrapping key for the recipient's transport key, then lock it in this token."""
        try:
            transport: Any = self._session.create_object(
                {
                    Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                    Attribute.TOKEN: False,
                    Attribute.PRIVATE: False,
                    Attribute.WRAP: True,
                    Attribute.TRUSTED: True,
                    **public_template(recipient),
                }
            )
            key = _secret_key(self._session, label, self.where)
            blob = transport.wrap_key(key, mechanism=_TRANSPORT[0], mechanism_param=_TRANSPORT[1])
            key[Attribute.EXTRACTABLE] = False
            transport.destroy()
        except p11e.PKCS11Error as exc:
            raise translate(exc, where=self.where, operation=f"exporting wrapping key {label!r}") from None
        return bytes(blob)

    def import_wrapping_key(self, label: str, blob: bytes, transport_label: str) -> None:
        """Unwrap the wrapping key as a trusted key of this token, then destroy the transport key."""
        check_new_label(label)
        self._refuse_existing(ObjectClass.SECRET_KEY, label)
        try:
            transport: Any = self._session.get_key(
                object_class=ObjectClass.PRIVATE_KEY, label=transport_label
            )
            transport.unwrap_key(
                ObjectClass.SECRET_KEY,
                KeyType.AES,
                blob,
                label=label,
                store=True,
                mechanism=_TRANSPORT[0],
                mechanism_param=_TRANSPORT[1],
                template=_trusted_wrapping_template(extractable=False),
            )
            for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
                _destroy(
                    list(self._session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: transport_label}))
                )
        except p11e.NoSuchKey:
            raise KeyNotFound(transport_label, self.where) from None
        except p11e.PKCS11Error as exc:
            raise translate(exc, where=self.where, operation=f"importing wrapping key {label!r}") from None

    def _refuse_existing(self, cls: ObjectClass, label: str) -> None:
        if any(True for _ in self._session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: label})):
            raise KeyExists(label, self.where)

    def close(self) -> None:
        try:
            self._session.close()
        except p11e.PKCS11Error:
            return  # the token dropped the session already

    def __enter__(self) -> TokenAdmin:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def share_wrapping_key(source: TokenAdmin, target: TokenAdmin, label: str) -> None:
    """The whole ceremony: the same trusted wrapping key in both tokens, never plain outside them."""
    transport_label = f"{label}-transport"
    recipient = target.create_transport_key(transport_label)
    source.create_wrapping_key(label, exportable=True)
    blob = source.export_wrapping_key(label, recipient)
    target.import_wrapping_key(label, blob, transport_label)
