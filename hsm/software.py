"""Software keys (``file:DIR``): encrypted PKCS#8 files, for the embedded default and for tests.

Each key is ``DIR/<label>.key.pem`` (PKCS#8, encrypted with the store passphrase) next to
``DIR/<label>.pub.pem`` (its public key, so listing needs no passphrase). Files are created 0600 with
O_EXCL, written to a temporary name and renamed, so a crash never leaves half a key and a label is
never overwritten. Decrypted keys live only in this process, inside Signers.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsm.algorithms import KeyKind, PublicKey, SignatureAlgorithm
from hsm.backend import KeyInfo, check_new_label
from hsm.errors import (
    BackendFailure,
    HsmError,
    KeyExists,
    KeyNotFound,
    PinIncorrect,
    PinMissing,
    TokenNotFound,
)
from hsm.secrets import KEY_PASSPHRASE_ENV, Secret, resolve_secret
from hsm.software_signer import SoftwareSigner
from hsm.uri import FileKeyUri

_KEY_SUFFIX = ".key.pem"
_PUB_SUFFIX = ".pub.pem"
_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class FileKeyBackend:
    """A directory of passphrase-encrypted software keys."""

    def __init__(self, directory: Path, passphrase: Secret | None) -> None:
        self._dir = directory
        self._passphrase = passphrase
        self._loaded: dict[str, _PrivateKey] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        uri: FileKeyUri,
        *,
        pin_source: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        create: bool = True,
    ) -> FileKeyBackend:
        """Open (and, with ``create``, make) the key store directory of a ``file:`` URI."""
        passphrase = resolve_secret(
            pin_source=pin_source, uri_pin_source=uri.pin_source, env_var=KEY_PASSPHRASE_ENV, environ=environ
        )
        directory = uri.directory
        if not directory.is_dir():
            if not create or directory.exists():
                raise TokenNotFound(f"key store {directory}")
            try:
                directory.mkdir(mode=0o700, parents=True)
            except OSError as exc:
                raise TokenNotFound(f"key store {directory} ({exc.strerror})") from None
        return cls(directory, passphrase)

    @property
    def description(self) -> str:
        return f"key store {self._dir}"

    # -- KeyBackend -------------------------------------------------------------------------------------

    def generate(self, label: str, kind: KeyKind, *, backupable: bool = False) -> SoftwareSigner:
        """Make a key and store it encrypted (``backupable`` changes nothing: the file is the backup)."""
        check_new_label(label)
        passphrase = self._require_passphrase()
        key: _PrivateKey
        if kind.is_rsa:
            key = rsa.generate_private_key(public_exponent=65537, key_size=kind.rsa_bits)
        else:
            key = ec.generate_private_key(kind.curve)
        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.reveal().encode()),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key_path, pub_path = self._paths(label)
        with self._lock:
            if key_path.exists():
                raise KeyExists(label, self.description)
            _write_new(pub_path, public, overwrite=True)
            try:
                _write_new(key_path, encrypted, overwrite=False)
            except FileExistsError:
                raise KeyExists(label, self.description) from None
            self._loaded[label] = key
        return SoftwareSigner(key, label, SignatureAlgorithm.default_for(kind))

    def signer(self, label: str, algorithm: SignatureAlgorithm | None = None) -> SoftwareSigner:
        key = self._load(label)
        kind = KeyKind.of(key.public_key())
        algorithm = algorithm or SignatureAlgorithm.default_for(kind)
        algorithm.check_key(kind)
        return SoftwareSigner(key, label, algorithm)

    def public_key(self, label: str) -> PublicKey:
        key_path, pub_path = self._paths(label)
        if not key_path.exists():
            raise KeyNotFound(label, self.description)
        if pub_path.exists():
            loaded = serialization.load_pem_public_key(pub_path.read_bytes())
            if isinstance(loaded, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
                return loaded
        return self._load(label).public_key()

    def list_keys(self) -> list[KeyInfo]:
        infos = []
        for path in sorted(self._dir.glob(f"*{_KEY_SUFFIX}")):
            label = path.name[: -len(_KEY_SUFFIX)]
            try:
                kind: KeyKind | None = KeyKind.of(self.public_key(label))
            except HsmError:
                kind = None
            infos.append(KeyInfo(label, kind, None, sensitive=False, extractable=True, backupable=True))
        return infos

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
            self._passphrase = None

    def __enter__(self) -> FileKeyBackend:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------------

    def _paths(self, label: str) -> tuple[Path, Path]:
        if "/" in label or "\0" in label or label.startswith(".") or not label:
            raise KeyNotFound(label, self.description)
        return self._dir / f"{label}{_KEY_SUFFIX}", self._dir / f"{label}{_PUB_SUFFIX}"

    def _require_passphrase(self) -> Secret:
        if self._passphrase is None:
            raise PinMissing("passphrase", f"set {KEY_PASSPHRASE_ENV} or give a pin-source file")
        return self._passphrase

    def _load(self, label: str) -> _PrivateKey:
        with self._lock:
            cached = self._loaded.get(label)
        if cached is not None:
            return cached
        key_path, _ = self._paths(label)
        try:
            data = key_path.read_bytes()
        except FileNotFoundError:
            raise KeyNotFound(label, self.description) from None
        except OSError as exc:
            raise BackendFailure(f"reading key {label!r}", exc.strerror or "I/O error") from None
        passphrase = self._require_passphrase()
        try:
            key = serialization.load_pem_private_key(data, password=passphrase.reveal().encode())
        except (ValueError, TypeError):
            raise PinIncorrect(f"key {label!r} in {self.description}") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise HsmError(f"key {label!r} in {self.description} is not an RSA or EC key")
        KeyKind.of(key.public_key())
        with self._lock:
            self._loaded[label] = key
        return key


def _write_new(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write a 0600 file via a temporary name; refuse to replace an existing file unless told to."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and fails with FileExistsError if the label was taken meanwhile
            os.unlink(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
