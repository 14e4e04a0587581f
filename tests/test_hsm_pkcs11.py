"""PKCS#11 backend against a real SoftHSM: protection attributes, concurrency, and typed errors."""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hsm import HashName, KeyKind, Scheme, SignatureAlgorithm, open_backend, verify_signature
from hsm.errors import (
    HsmError,
    InvalidKeyUri,
    KeyExists,
    KeyNotFound,
    MechanismUnsupported,
    PinIncorrect,
    PinMissing,
    TokenBusy,
    TokenNotFound,
)
from hsm.p11 import Pkcs11Backend

from .conftest import USER_PIN, SoftHsm, run_jlis

pytestmark = pytest.mark.softhsm
WRONG_PIN = "918273"


@pytest.fixture(scope="module")
def backend(softhsm: SoftHsm) -> Iterator[Pkcs11Backend]:
    opened = open_backend(softhsm.uri("jlis-cli"), pin_source=softhsm.pin_file)
    assert isinstance(opened, Pkcs11Backend)
    with opened:
        yield opened


def test_keygen_keys_are_private_sensitive_never_extractable(softhsm: SoftHsm, pkcs11_tool: str) -> None:
    for label, algo in (("cli-rsa", "rsa2048"), ("cli-ec", "p256")):
        result = run_jlis(
            "hsm",
            "keygen",
            "--uri",
            softhsm.uri("jlis-cli"),
            "--label",
            label,
            "--algo",
            algo,
            "--pin-source",
            str(softhsm.pin_file),
        )
        assert result.returncode == 0, result.stderr
        assert label in result.stdout
    listing = subprocess.run(
        [
            pkcs11_tool,
            "--module",
            softhsm.module,
            "--token-label",
            "jlis-cli",
            "--login",
            "--pin",
            USER_PIN,
            "--list-objects",
            "--type",
            "privkey",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    blocks = {
        m.group(1): m.group(0)
        for m in re.finditer(r"Private Key Object.*?label:\s+(\S+).*?(?=\n\S|\Z)", listing.stdout, re.S)
    }
    for label in ("cli-rsa", "cli-ec"):
        block = blocks[label]
        assert "Access:" in block
        access = re.search(r"Access:\s+(.*)", block)
        assert access is not None
        flags = {flag.strip() for flag in access.group(1).split(",")}
        assert {"sensitive", "always sensitive", "never extractable", "local"} <= flags, block
        usage = re.search(r"Usage:\s+(.*)", block)
        assert usage is not None and usage.group(1).strip() == "sign", block


def test_eight_threads_sign_on_one_key(backend: Pkcs11Backend) -> None:
    signer = backend.generate("threads-p256", KeyKind.P256)
    rsa_signer = backend.generate("threads-rsa", KeyKind.RSA2048)
    failures: list[str] = []

    def work(worker: int) -> None:
        for i in range(200):
            use = rsa_signer if i % 10 == 0 else signer
            data = f"thread {worker} message {i}".encode()
            try:
                if not verify_signature(use.public_key, use.algorithm, data, use.sign(data)):
                    failures.append(f"{worker}/{i}: invalid signature")
            except HsmError as exc:
                failures.append(f"{worker}/{i}: {exc}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_pool_reports_busy_instead_of_sharing_a_session(softhsm: SoftHsm) -> None:
    from hsm.uri import parse_key_uri

    uri = parse_key_uri(softhsm.uri("bench"))
    assert not isinstance(uri, str)
    tight = Pkcs11Backend.open(uri, pin_source=softhsm.pin_file, max_sessions=1, wait=0.05)  # type: ignore[arg-type]
    with tight:
        held = tight.pool.acquire()
        try:
            with pytest.raises(TokenBusy):
                tight.pool.acquire()
        finally:
            tight.pool.release(held)
        assert tight.pool.acquire() is held


def test_wrong_pin(
    softhsm: SoftHsm, tmp_path: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PinIncorrect) as caught:
        open_backend(softhsm.uri("pin-test"), environ={"JLIS_PKCS11_PIN": WRONG_PIN})
    assert WRONG_PIN not in str(caught.value)
    assert WRONG_PIN not in caplog.text
    assert "pin-test" in str(caught.value)


def test_wrong_pin_cli_is_one_line_without_the_pin(softhsm: SoftHsm, tmp_path: object) -> None:
    result = run_jlis("hsm", "list", "--uri", softhsm.uri("pin-test"), env={"JLIS_PKCS11_PIN": WRONG_PIN})
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: incorrect PIN")
    assert WRONG_PIN not in result.stdout + result.stderr


def test_second_opener_must_know_the_pin(backend: Pkcs11Backend, softhsm: SoftHsm) -> None:
    with pytest.raises(PinIncorrect):
        open_backend(softhsm.uri("jlis-cli"), environ={"JLIS_PKCS11_PIN": WRONG_PIN})
    with open_backend(softhsm.uri("jlis-cli"), pin_source=softhsm.pin_file) as again:
        assert {k.label for k in again.list_keys()} == {k.label for k in backend.list_keys()}


def test_missing_token(softhsm: SoftHsm) -> None:
    with pytest.raises(TokenNotFound) as caught:
        open_backend(softhsm.uri("no-such-token"), pin_source=softhsm.pin_file)
    assert "no-such-token" in str(caught.value)
    result = run_jlis(
        "hsm", "list", "--uri", softhsm.uri("no-such-token"), "--pin-source", str(softhsm.pin_file)
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "error: token not found: token 'no-such-token'"


def test_missing_module() -> None:
    with pytest.raises(TokenNotFound):
        open_backend("pkcs11:token=x?module-path=/nonexistent/libp11.so", environ={"JLIS_PKCS11_PIN": "1"})


def test_missing_pin(softhsm: SoftHsm) -> None:
    with pytest.raises(PinMissing):
        open_backend(softhsm.uri("jlis-cli"), environ={})


def test_unknown_label(backend: Pkcs11Backend, softhsm: SoftHsm) -> None:
    with pytest.raises(KeyNotFound) as caught:
        backend.signer("no-such-key")
    assert caught.value.label == "no-such-key"
    result = run_jlis(
        "hsm",
        "pubkey",
        "--uri",
        softhsm.uri("jlis-cli"),
        "--label",
        "no-such-key",
        "--pin-source",
        str(softhsm.pin_file),
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "error: key 'no-such-key' not found in token 'jlis-cli'"


def test_existing_label_is_never_overwritten(backend: Pkcs11Backend) -> None:
    first = backend.generate("unique-label", KeyKind.P256)
    with pytest.raises(KeyExists):
        backend.generate("unique-label", KeyKind.P384)
    assert backend.public_key("unique-label") == first.public_key


def test_unsupported_algorithm(backend: Pkcs11Backend, softhsm: SoftHsm, tmp_path: object) -> None:
    with pytest.raises(MechanismUnsupported):
        backend.generate("unsupported-p256", KeyKind.P256).with_algorithm(
            SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA256)
        )
    result = run_jlis(
        "hsm",
        "keygen",
        "--uri",
        softhsm.uri("jlis-cli"),
        "--label",
        "ed",
        "--algo",
        "ed25519",
        "--pin-source",
        str(softhsm.pin_file),
    )
    assert result.returncode != 0
    assert result.stderr.strip().startswith("error: unsupported algorithm or mechanism ed25519")
    assert result.stderr.strip().count("\n") == 0


def test_pin_in_uri_is_refused() -> None:
    with pytest.raises(InvalidKeyUri) as caught:
        open_backend("pkcs11:token=x?pin-value=123456")
    assert "123456" not in str(caught.value)
    assert "pin-source" in str(caught.value)
    result = run_jlis("hsm", "list", "--uri", "pkcs11:token=x?module-name=y&pin-value=123456")
    assert result.returncode != 0
    assert "123456" not in result.stdout + result.stderr


def test_rsa_public_key_is_exact(backend: Pkcs11Backend) -> None:
    signer = backend.generate("rsa-e", KeyKind.RSA3072)
    public = signer.public_key
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 3072
    assert public.public_numbers().e == 65537


def test_open_signer_by_object_and_by_id(backend: Pkcs11Backend, softhsm: SoftHsm) -> None:
    from urllib.parse import quote_from_bytes

    from hsm import open_signer

    made = backend.generate("named-by-uri", KeyKind.P256)
    token_uri = softhsm.uri("jlis-cli")
    by_object = open_signer(token_uri.replace("?", ";object=named-by-uri?"), pin_source=softhsm.pin_file)
    assert by_object.public_key == made.public_key
    key_id = next(i.key_id for i in backend.list_keys() if i.label == "named-by-uri")
    assert key_id is not None
    by_id = open_signer(
        token_uri.replace("?", f";id={quote_from_bytes(key_id, safe='')}?"), pin_source=softhsm.pin_file
    )
    assert by_id.public_key == made.public_key and by_id.label == "named-by-uri"
    with pytest.raises(InvalidKeyUri):
        open_signer(token_uri, pin_source=softhsm.pin_file)  # names no key
    with pytest.raises(InvalidKeyUri):
        open_signer(token_uri.replace("?", ";object=a?"), label="b", pin_source=softhsm.pin_file)
    with pytest.raises(KeyNotFound):
        open_signer(token_uri.replace("?", ";id=%00%01?"), pin_source=softhsm.pin_file)
