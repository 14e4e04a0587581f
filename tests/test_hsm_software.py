"""Software keys (file:): encrypted PKCS#8 at rest, 0600 files, typed errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from hsm import KeyKind, open_backend
from hsm.errors import HsmError, KeyExists, KeyNotFound, PinIncorrect, PinMissing

PASS = {"JLIS_KEY_PASSPHRASE": "a long passphrase for tests"}


def test_keys_are_encrypted_pkcs8_with_mode_0600(tmp_path: Path) -> None:
    store = tmp_path / "keys"
    with open_backend(f"file:{store}", environ=PASS) as backend:
        backend.generate("ca", KeyKind.P256)
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    for path in store.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    pem = (store / "ca.key.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    assert not list(store.glob(".*tmp"))


def test_wrong_passphrase_and_missing_passphrase(tmp_path: Path) -> None:
    with open_backend(f"file:{tmp_path}", environ=PASS) as backend:
        backend.generate("ca", KeyKind.RSA2048)
    with open_backend(f"file:{tmp_path}", environ={"JLIS_KEY_PASSPHRASE": "Zq9-not-it"}) as backend:
        with pytest.raises(PinIncorrect) as caught:
            backend.signer("ca")
        assert "Zq9-not-it" not in str(caught.value)
    with open_backend(f"file:{tmp_path}", environ={}) as backend:
        assert backend.public_key("ca") is not None  # public parts need no passphrase
        with pytest.raises(PinMissing):
            backend.signer("ca")


def test_labels_are_checked_and_never_overwritten(tmp_path: Path) -> None:
    with open_backend(f"file:{tmp_path}", environ=PASS) as backend:
        first = backend.generate("ca", KeyKind.P256)
        with pytest.raises(KeyExists):
            backend.generate("ca", KeyKind.P384)
        assert backend.public_key("ca") == first.public_key
        for bad in ("../evil", ".hidden", "", "a/b", "x" * 65):
            with pytest.raises(HsmError):
                backend.generate(bad, KeyKind.P256)
        with pytest.raises(KeyNotFound):
            backend.signer("../ca")
        with pytest.raises(KeyNotFound):
            backend.signer("absent")
        assert [info.label for info in backend.list_keys()] == ["ca"]


def test_reopened_store_signs_with_the_same_key(tmp_path: Path) -> None:
    with open_backend(f"file:{tmp_path}", environ=PASS) as backend:
        public = backend.generate("ca", KeyKind.P384).public_key
    with open_backend(f"file:{tmp_path}", environ=PASS) as backend:
        assert backend.signer("ca").public_key == public


def test_open_signer_and_cli_with_the_key_named_in_the_uri(tmp_path: Path) -> None:
    from hsm import open_signer

    from .conftest import run_jlis

    with open_backend(f"file:{tmp_path}", environ=PASS) as backend:
        made = backend.generate("named", KeyKind.P256)
    assert open_signer(f"file:{tmp_path}?object=named", environ=PASS).public_key == made.public_key
    document = tmp_path / "doc"
    document.write_bytes(b"x")
    signed = run_jlis(
        "hsm",
        "sign",
        "--uri",
        f"file:{tmp_path}?object=named",
        "--in",
        str(document),
        "--out",
        str(tmp_path / "sig"),
        env=PASS,
    )
    assert signed.returncode == 0, signed.stderr
    unnamed = run_jlis("hsm", "pubkey", "--uri", f"file:{tmp_path}", env=PASS)
    assert unnamed.returncode != 0 and "names no key" in unnamed.stderr
