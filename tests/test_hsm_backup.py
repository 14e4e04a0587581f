"""Backup without exposure: a backupable key moves between two SoftHSM tokens, wrapped all the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType

from hsm import KeyKind, open_backend, verify_signature
from hsm.errors import KeyExists, KeyNotExtractable, TokenBusy
from hsm.p11 import Pkcs11Backend
from hsm.p11_backup import InvalidBackup, TokenAdmin, WrappedKey, unwrap_key, wrap_key

from .conftest import SoftHsm, run_jlis

pytestmark = pytest.mark.softhsm
WRAP = "site-wrap"


@pytest.fixture(scope="module")
def tokens(softhsm: SoftHsm) -> Iterator[tuple[Pkcs11Backend, Pkcs11Backend]]:
    """The ceremony first (security officers, no user logged in), then both tokens opened as users."""
    result = run_jlis(
        "hsm",
        "share-wrapping-key",
        "--source",
        softhsm.uri("wrap-src"),
        "--target",
        softhsm.uri("wrap-dst"),
        "--label",
        WRAP,
        "--source-so-pin-source",
        str(softhsm.so_pin_file),
        "--target-so-pin-source",
        str(softhsm.so_pin_file),
    )
    assert result.returncode == 0, result.stderr
    src = open_backend(softhsm.uri("wrap-src"), pin_source=softhsm.pin_file)
    dst = open_backend(softhsm.uri("wrap-dst"), pin_source=softhsm.pin_file)
    assert isinstance(src, Pkcs11Backend) and isinstance(dst, Pkcs11Backend)
    with src, dst:
        yield src, dst


@pytest.mark.parametrize("kind", [KeyKind.P384, KeyKind.RSA2048], ids=lambda k: k.value)
def test_backupable_key_moves_to_second_token(
    tokens: tuple[Pkcs11Backend, Pkcs11Backend], kind: KeyKind
) -> None:
    src, dst = tokens
    original = src.generate(f"ca-{kind.value}", kind, backupable=True)
    wrapped = WrappedKey.from_bytes(wrap_key(src, original.label, WRAP).to_bytes())
    restored = unwrap_key(dst, wrapped, WRAP)
    data = b"signed at the second site"
    assert verify_signature(original.public_key, restored.algorithm, data, restored.sign(data))
    info = {i.label: i for i in dst.list_keys()}[original.label]
    assert info.sensitive and info.backupable


def test_wrapped_file_holds_no_plain_key(tokens: tuple[Pkcs11Backend, Pkcs11Backend]) -> None:
    src, _ = tokens
    signer = src.generate("ca-secret", KeyKind.P256, backupable=True)
    blob = wrap_key(src, signer.label, WRAP).to_bytes()
    assert b"PRIVATE KEY" not in blob
    assert WrappedKey.from_bytes(blob).wrapped != b""


def test_non_backupable_key_is_refused(tokens: tuple[Pkcs11Backend, Pkcs11Backend]) -> None:
    src, _ = tokens
    src.generate("ca-plain", KeyKind.P256)
    with pytest.raises(KeyNotExtractable) as caught:
        wrap_key(src, "ca-plain", WRAP)
    assert "backupable" in str(caught.value)


def test_untrusted_wrapping_key_is_refused(tokens: tuple[Pkcs11Backend, Pkcs11Backend]) -> None:
    src, _ = tokens
    src.generate("ca-untrusted-test", KeyKind.P256, backupable=True)
    with src.pool.session() as pooled:  # a user-made AES key: the token cannot mark it trusted
        pooled.session.generate_key(
            KeyType.AES,
            256,
            label="user-wrap",
            store=True,
            template={Attribute.WRAP: True, Attribute.UNWRAP: True, Attribute.SENSITIVE: True},
        )
    with pytest.raises(KeyNotExtractable) as caught:
        wrap_key(src, "ca-untrusted-test", "user-wrap")
    assert "not trusted" in str(caught.value)


def test_a_user_cannot_make_a_trusted_key(tokens: tuple[Pkcs11Backend, Pkcs11Backend]) -> None:
    src, _ = tokens
    with src.pool.session() as pooled, pytest.raises(pkcs11.PKCS11Error):
        pooled.session.generate_key(
            KeyType.AES, 256, label="fake-trusted", template={Attribute.TRUSTED: True}
        )


def test_unwrap_refuses_existing_label_and_tampering(tokens: tuple[Pkcs11Backend, Pkcs11Backend]) -> None:
    src, dst = tokens
    signer = src.generate("ca-tamper", KeyKind.P256, backupable=True)
    wrapped = wrap_key(src, signer.label, WRAP)
    unwrap_key(dst, wrapped, WRAP)
    with pytest.raises(KeyExists):
        unwrap_key(dst, wrapped, WRAP)
    damaged = WrappedKey(
        wrapped.label,
        wrapped.kind,
        wrapped.key_id,
        wrapped.public_key,
        WRAP,
        wrapped.wrapped[:-1] + bytes([wrapped.wrapped[-1] ^ 1]),
    )
    with pytest.raises(InvalidBackup):
        unwrap_key(dst, damaged, WRAP, label="ca-tamper-2")
    assert "ca-tamper-2" not in {i.label for i in dst.list_keys()}
    other = src.generate("ca-other", KeyKind.P256, backupable=True)
    swapped = WrappedKey(wrapped.label, wrapped.kind, wrapped.key_id, other.public_key, WRAP, wrapped.wrapped)
    with pytest.raises(InvalidBackup):
        unwrap_key(dst, swapped, WRAP, label="ca-tamper-3")
    assert "ca-tamper-3" not in {i.label for i in dst.list_keys()}
    for junk in (b"", b"{}", b"not json", b'{"format": "jlis-wrapped-key/1"}'):
        with pytest.raises(InvalidBackup):
            WrappedKey.from_bytes(junk)


def test_cli_wrap_and_unwrap(
    tokens: tuple[Pkcs11Backend, Pkcs11Backend], softhsm: SoftHsm, tmp_path: Path
) -> None:
    src, dst = tokens
    src.generate("ca-cli", KeyKind.P256, backupable=True)
    src.generate("ca-cli-plain", KeyKind.P256)
    out = tmp_path / "ca-cli.wrapped.json"
    pin = ("--pin-source", str(softhsm.pin_file))
    wrapped = run_jlis(
        "hsm",
        "wrap",
        "--uri",
        softhsm.uri("wrap-src"),
        "--label",
        "ca-cli",
        "--wrapping-key",
        WRAP,
        "--out",
        str(out),
        *pin,
    )
    assert wrapped.returncode == 0, wrapped.stderr
    restored = run_jlis(
        "hsm",
        "unwrap",
        "--uri",
        softhsm.uri("wrap-dst"),
        "--in",
        str(out),
        "--wrapping-key",
        WRAP,
        "--label",
        "ca-cli-copy",
        *pin,
    )
    assert restored.returncode == 0, restored.stderr
    assert dst.public_key("ca-cli-copy") == src.public_key("ca-cli")
    refused = run_jlis(
        "hsm",
        "wrap",
        "--uri",
        softhsm.uri("wrap-src"),
        "--label",
        "ca-cli-plain",
        "--wrapping-key",
        WRAP,
        "--out",
        str(tmp_path / "x.json"),
        *pin,
    )
    assert refused.returncode != 0 and refused.stderr.startswith(
        "error: key 'ca-cli-plain' cannot be wrapped"
    )


def test_ceremony_refused_while_users_are_logged_in(
    tokens: tuple[Pkcs11Backend, Pkcs11Backend], softhsm: SoftHsm
) -> None:
    with pytest.raises(TokenBusy):
        TokenAdmin.open(softhsm.uri("wrap-src"), so_pin_source=softhsm.so_pin_file)
