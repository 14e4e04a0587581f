"""The KeyBackend protocol, key labels, and ``open_backend``: a key URI in, a backend out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from hsm.algorithms import KeyKind, PublicKey, SignatureAlgorithm
from hsm.errors import HsmError, InvalidKeyUri, KeyNotFound
from hsm.signer import Signer
from hsm.uri import FileKeyUri, Pkcs11KeyUri, parse_key_uri

_NEW_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_new_label(label: str) -> str:
    """Labels of keys we create: 1–64 of ``A–Z a–z 0–9 . _ -``, not starting with a dot or dash.

    The rule keeps labels safe as file names and unambiguous on every token.
    """
    if not _NEW_LABEL.fullmatch(label):
        raise HsmError(
            f"invalid key label {label!r}: use 1-64 characters of A-Z a-z 0-9 . _ - (first a letter or digit)"
        )
    return label


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a backend tells about one private key, without touching its secret."""

    label: str
    kind: KeyKind | None
    """None when the backend holds a key of a type we do not support."""
    key_id: bytes | None
    sensitive: bool
    extractable: bool
    backupable: bool
    """Extractable only under a trusted wrapping key (PKCS#11 ``CKA_WRAP_WITH_TRUSTED``)."""


class KeyBackend(Protocol):
    """Where keys live. Generates keys inside itself and hands out Signers; never hands out a private key."""

    @property
    def description(self) -> str:
        """How messages name this backend (a token label or a directory), never with a secret."""
        ...

    def generate(self, label: str, kind: KeyKind, *, backupable: bool = False) -> Signer:
        """Make a new key pair inside the backend and return its Signer; an existing label is KeyExists."""
        ...

    def signer(self, label: str, algorithm: SignatureAlgorithm | None = None) -> Signer:
        """The Signer of an existing key, with the key kind's default algorithm unless one is given."""
        ...

    def public_key(self, label: str) -> PublicKey:
        """The public key of an existing key pair."""
        ...

    def list_keys(self) -> list[KeyInfo]:
        """Every private key in the backend, sorted by label."""
        ...

    def close(self) -> None:
        """Release sessions and forget secrets; Signers made by this backend stop working."""
        ...

    def __enter__(self) -> KeyBackend: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def open_backend(
    uri: str,
    *,
    pin_source: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> KeyBackend:
    """Open the backend a key URI names.

    The PIN (PKCS#11) or passphrase (``file:``) comes from ``pin_source``, else the URI's ``pin-source``
    attribute, else ``JLIS_PKCS11_PIN`` / ``JLIS_KEY_PASSPHRASE`` in ``environ`` (default: the process
    environment).
    """
    parsed = parse_key_uri(uri)
    if isinstance(parsed, FileKeyUri):
        from hsm.software import FileKeyBackend

        return FileKeyBackend.open(parsed, pin_source=pin_source, environ=environ)
    from hsm.p11 import Pkcs11Backend

    return Pkcs11Backend.open(parsed, pin_source=pin_source, environ=environ)


def key_label(uri: str, label: str | None = None) -> str:
    """The label of the key a URI names (``object=``), or the one given; both must agree when both are set."""
    parsed = parse_key_uri(uri)
    named = parsed.object
    if label is not None and named is not None and label != named:
        raise InvalidKeyUri(uri, f"names key {named!r} but label {label!r} was asked for")
    chosen = label or named
    if chosen is None:
        raise InvalidKeyUri(uri, "names no key: add object=LABEL to the URI or give a label")
    return chosen


def open_signer(
    uri: str,
    *,
    label: str | None = None,
    algorithm: SignatureAlgorithm | None = None,
    pin_source: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Signer:
    """The Signer of the one key a URI names: ``pkcs11:token=T;object=L`` (or ``;id=%..``) or
    ``file:DIR?object=L``. The backend stays open for as long as the Signer is used."""
    parsed = parse_key_uri(uri)
    backend = open_backend(uri, pin_source=pin_source, environ=environ)
    try:
        if (
            isinstance(parsed, Pkcs11KeyUri)
            and parsed.id is not None
            and label is None
            and parsed.object is None
        ):
            from hsm.p11 import Pkcs11Backend

            if not isinstance(backend, Pkcs11Backend):
                raise KeyNotFound(f"id {parsed.id.hex()}", backend.description)
            return backend.signer_by_id(parsed.id, algorithm)
        return backend.signer(key_label(uri, label), algorithm)
    except BaseException:
        backend.close()
        raise
