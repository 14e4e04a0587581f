"""PKCS#11 backend (``pkcs11:`` URIs) over python-pkcs11: keys generated and used inside the token.

Keys we generate are private, sensitive, sign-only and never extractable; with ``backupable`` they are
extractable only when wrapped under a key the token trusts (``CKA_WRAP_WITH_TRUSTED``), see
:mod:`hsm.p11_backup`. CKA_ID is set to the SHA-1 key identifier of the public key (RFC 5280 §4.2.1.2
method 1), so a certificate's subjectKeyIdentifier finds its key.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pkcs11
import pkcs11.exceptions as p11e
from cryptography import x509
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as P11Lib  # noqa: N812  (a type alias)

from hsm.algorithms import KeyKind, PublicKey, SignatureAlgorithm
from hsm.backend import KeyInfo, check_new_label
from hsm.errors import HsmError, KeyExists, KeyNotFound, PinMissing, TokenNotFound
from hsm.p11_keys import (
    SignPlan,
    ec_params,
    kind_of_object,
    public_key_of,
    raw_pkcs1_plan,
    sign_plan,
    signing_key_template,
)
from hsm.p11_module import default_module, load_module, translate
from hsm.p11_pool import POOLS, SessionPool
from hsm.secrets import PKCS11_PIN_ENV, Secret, resolve_secret
from hsm.signer import check_raw_pkcs1
from hsm.uri import Pkcs11KeyUri

DEFAULT_MAX_SESSIONS = 16
DEFAULT_WAIT_SECONDS = 10.0


def module_for(uri: Pkcs11KeyUri, environ: Mapping[str, str] | None) -> str:
    """The module path: the URI's ``module-path``, else JLIS_PKCS11_MODULE, else SoftHSM's."""
    path = uri.module_path or default_module(environ)
    if path is None:
        raise TokenNotFound(
            f"{uri.display()}: no PKCS#11 module (add module-path to the URI, set JLIS_PKCS11_MODULE, "
            "or install softhsm2)"
        )
    return path


def find_token(lib: P11Lib, uri: Pkcs11KeyUri) -> pkcs11.Token:
    """The one token the URI selects; none or several is an error."""
    matches: list[pkcs11.Token] = []
    try:
        for slot in lib.get_slots(token_present=True):
            if uri.slot_id is not None and slot.slot_id != uri.slot_id:
                continue
            token = slot.get_token()
            wanted = (
                (uri.token, token.label),
                (uri.serial, _text(token.serial)),
                (uri.manufacturer, token.manufacturer_id),
                (uri.model, token.model),
            )
            if all(want is None or want == have.strip() for want, have in wanted):
                matches.append(token)
    except p11e.PKCS11Error as exc:
        raise translate(exc, where=uri.display(), operation="listing tokens") from None
    if not matches:
        raise TokenNotFound(uri.display())
    if len(matches) > 1:
        raise HsmError(f"{uri.display()} matches {len(matches)} tokens: add token= or serial= to the URI")
    return matches[0]


def _text(value: str | bytes) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


class Pkcs11Signer:
    """Signs inside the token, on a session of the pool that no other thread uses meanwhile."""

    __slots__ = ("_algorithm", "_key_ref", "_label", "_plan", "_pool", "_public")

    def __init__(
        self,
        pool: SessionPool,
        label: str,
        key_ref: tuple[str, bytes | str],
        public: PublicKey,
        algorithm: SignatureAlgorithm,
        plan: SignPlan,
    ) -> None:
        self._pool = pool
        self._label = label
        self._key_ref = key_ref
        self._public = public
        self._algorithm = algorithm
        self._plan = plan

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._algorithm

    @property
    def label(self) -> str:
        return self._label

    def sign(self, data: bytes) -> bytes:
        plan = self._plan
        return plan.finish(self._on_token(plan.payload(data), plan))

    def sign_pkcs1_raw(self, payload: bytes) -> bytes:
        """PKCS#1 v1.5 over ``payload`` as given (``CKM_RSA_PKCS``), see :class:`hsm.RawPkcs1Signer`."""
        check_raw_pkcs1(self._public, payload)
        plan = raw_pkcs1_plan(self._pool.mechanisms(), self._pool.where)
        return plan.finish(self._on_token(payload, plan))

    def _on_token(self, payload: bytes, plan: SignPlan) -> bytes:
        """One C_Sign on a session of the pool that no other thread uses meanwhile."""
        pool = self._pool
        pooled = pool.acquire()
        try:
            key = pooled.objects.get(self._key_ref)
            if key is None:
                key = pooled.cached(self._key_ref, self._find_key)
            raw: bytes = key.sign(payload, mechanism=plan.mechanism, mechanism_param=plan.param)
        except p11e.PKCS11Error as exc:
            raise translate(exc, where=pool.where, operation=f"signing with {self._label!r}") from None
        finally:
            pool.release(pooled)
        return raw

    def _find_key(self, session: pkcs11.Session) -> Any:
        return find_private_key(session, self._key_ref, self._pool.where)

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> Pkcs11Signer:
        algorithm.check_key(KeyKind.of(self._public))
        plan = sign_plan(algorithm, self._pool.mechanisms(), self._pool.where)
        return Pkcs11Signer(self._pool, self._label, self._key_ref, self._public, algorithm, plan)

    def __repr__(self) -> str:
        return (
            f"Pkcs11Signer(label={self._label!r}, algorithm={self._algorithm.name}, token={self._pool.where})"
        )


def find_private_key(session: pkcs11.Session, key_ref: tuple[str, bytes | str], where: str) -> Any:
    """The private key object with this CKA_ID (``("id", b"...")``) or label (``("label", "...")``)."""
    field, value = key_ref
    try:
        if isinstance(value, bytes):
            return session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=value)
        return session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=value)
    except p11e.NoSuchKey:
        raise KeyNotFound(value if isinstance(value, str) else f"id {value.hex()}", where) from None
    except p11e.MultipleObjectsReturned:
        raise HsmError(f"several private keys match {field} {value!r} in {where}") from None


class Pkcs11Backend:
    """Keys in one PKCS#11 token."""

    def __init__(self, uri: Pkcs11KeyUri, pool: SessionPool, pool_key: tuple[str, str]) -> None:
        self._uri = uri
        self._pool = pool
        self._pool_key = pool_key
        self._closed = False

    @classmethod
    def open(
        cls,
        uri: Pkcs11KeyUri,
        *,
        pin_source: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        wait: float = DEFAULT_WAIT_SECONDS,
    ) -> Pkcs11Backend:
        """Find the token, log in (or join this process's logged-in pool for it) and return the backend."""
        module = module_for(uri, environ)
        lib = load_module(module)
        token = find_token(lib, uri)
        pin = _require_pin(
            resolve_secret(
                pin_source=pin_source, uri_pin_source=uri.pin_source, env_var=PKCS11_PIN_ENV, environ=environ
            )
        )
        where = f"token {token.label!r}"
        key = (module, _text(token.serial))
        pool = POOLS.open(
            key, lambda: SessionPool(token, pin, where, max_sessions=max_sessions, wait=wait), pin
        )
        return cls(uri, pool, key)

    @property
    def description(self) -> str:
        return self._pool.where

    @property
    def pool(self) -> SessionPool:
        """The session pool (for :mod:`hsm.p11_backup`)."""
        return self._pool

    # -- KeyBackend -------------------------------------------------------------------------------------

    def generate(self, label: str, kind: KeyKind, *, backupable: bool = False) -> Pkcs11Signer:
        """Generate a key pair in the token: sensitive, sign-only; never extractable unless ``backupable``,
        and then only under a trusted wrapping key."""
        check_new_label(label)
        with self._pool.session() as pooled:
            session = pooled.session
            if _exists(session, label):
                raise KeyExists(label, self.description)
            temp_id = secrets.token_bytes(20)
            public_template: dict[Attribute, Any] = {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.VERIFY: True,
                Attribute.ENCRYPT: False,
                Attribute.WRAP: False,
            }
            if kind.is_rsa:
                public_template[Attribute.PUBLIC_EXPONENT] = b"\x01\x00\x01"
            else:
                public_template[Attribute.EC_PARAMS] = ec_params(kind)
            try:
                pub, priv = session.generate_keypair(
                    KeyType.RSA if kind.is_rsa else KeyType.EC,
                    kind.rsa_bits if kind.is_rsa else None,
                    id=temp_id,
                    label=label,
                    store=True,
                    capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                    public_template=public_template,
                    private_template={Attribute.TOKEN: True, **signing_key_template(backupable=backupable)},
                )
                public = public_key_of(pub)
                key_id = x509.SubjectKeyIdentifier.from_public_key(public).digest
                pub[Attribute.ID] = key_id
                priv[Attribute.ID] = key_id
            except p11e.PKCS11Error as exc:
                raise translate(
                    exc, where=self.description, operation=f"generating {kind.value} key"
                ) from None
        return self._make_signer(label, ("id", key_id), public, SignatureAlgorithm.default_for(kind))

    def signer(self, label: str, algorithm: SignatureAlgorithm | None = None) -> Pkcs11Signer:
        return self._signer_for(("label", label), algorithm)

    def signer_by_id(self, key_id: bytes, algorithm: SignatureAlgorithm | None = None) -> Pkcs11Signer:
        """The Signer of the key whose CKA_ID is ``key_id`` (our keys: the SHA-1 key identifier)."""
        return self._signer_for(("id", key_id), algorithm)

    def _signer_for(self, ref: tuple[str, bytes | str], algorithm: SignatureAlgorithm | None) -> Pkcs11Signer:
        key_ref, public, label = self._locate(ref)
        kind = KeyKind.of(public)
        algorithm = algorithm or SignatureAlgorithm.default_for(kind)
        algorithm.check_key(kind)
        return self._make_signer(label, key_ref, public, algorithm)

    def public_key(self, label: str) -> PublicKey:
        return self._locate(("label", label))[1]

    def list_keys(self) -> list[KeyInfo]:
        infos = []
        with self._pool.session() as pooled:
            try:
                for obj in pooled.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
                    infos.append(
                        KeyInfo(
                            label=obj[Attribute.LABEL],
                            kind=kind_of_object(obj),
                            key_id=obj[Attribute.ID] or None,
                            sensitive=bool(obj[Attribute.SENSITIVE]),
                            extractable=bool(obj[Attribute.EXTRACTABLE]),
                            backupable=bool(obj[Attribute.EXTRACTABLE])
                            and bool(obj[Attribute.WRAP_WITH_TRUSTED]),
                        )
                    )
            except p11e.PKCS11Error as exc:
                raise translate(exc, where=self.description, operation="listing keys") from None
        return sorted(infos, key=lambda info: info.label)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            POOLS.release(self._pool_key, self._pool)

    def __enter__(self) -> Pkcs11Backend:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------------

    def _make_signer(
        self, label: str, key_ref: tuple[str, bytes | str], public: PublicKey, algorithm: SignatureAlgorithm
    ) -> Pkcs11Signer:
        plan = sign_plan(algorithm, self._pool.mechanisms(), self.description)
        return Pkcs11Signer(self._pool, label, key_ref, public, algorithm, plan)

    def _locate(self, ref: tuple[str, bytes | str]) -> tuple[tuple[str, bytes | str], PublicKey, str]:
        """The private key's reference (by CKA_ID when it has one), its public key and its label."""
        with self._pool.session() as pooled:
            session = pooled.session
            priv = find_private_key(session, ref, self.description)
            try:
                key_id: bytes = priv[Attribute.ID] or b""
                label: str = priv[Attribute.LABEL] or ""
                public = _public_for(session, priv, key_id, label)
            except p11e.PKCS11Error as exc:
                raise translate(exc, where=self.description, operation=f"reading key {ref[1]!r}") from None
        return (("id", key_id) if key_id else ("label", label)), public, label


def _public_for(session: pkcs11.Session, priv: Any, key_id: bytes, label: str) -> PublicKey:
    """The public key from the matching public-key object, or from the RSA private key's public parts."""
    query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
    query.update({Attribute.ID: key_id} if key_id else {Attribute.LABEL: label})
    for obj in session.get_objects(query):
        return public_key_of(obj)
    if priv[Attribute.KEY_TYPE] == KeyType.RSA:
        return public_key_of(priv)
    raise KeyNotFound(f"{label} (public key)", "the token")


def _exists(session: pkcs11.Session, label: str) -> bool:
    for cls in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY):
        for _ in session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: label}):
            return True
    return False


def _require_pin(pin: Secret | None) -> Secret:
    if pin is None:
        raise PinMissing("PIN", "give --pin-source FILE or set JLIS_PKCS11_PIN")
    return pin
