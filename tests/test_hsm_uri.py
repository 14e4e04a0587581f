"""Key URIs (RFC 7512 for pkcs11:) and pin sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsm import FileKeyUri, Pkcs11KeyUri, Secret, parse_key_uri
from hsm.errors import InvalidKeyUri, PinMissing
from hsm.secrets import read_pin_source, resolve_secret


def test_pkcs11_uri_attributes_are_percent_decoded() -> None:
    uri = parse_key_uri(
        "pkcs11:token=JLIS%20CA;object=ca%2D2026;id=%01%02%ff;type=private;x-vendor=1"
        "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/pin"
    )
    assert uri == Pkcs11KeyUri(
        token="JLIS CA",
        object="ca-2026",
        id=b"\x01\x02\xff",
        type="private",
        module_path="/usr/lib/softhsm/libsofthsm2.so",
        pin_source="/run/pin",
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("pkcs11:tokn=ca", "unknown path attribute 'tokn'"),
        ("pkcs11:token=a;token=b", "given twice"),
        ("pkcs11:token", "has no value"),
        ("pkcs11:token=ca?pin-value=1234", "may not be given in the URI"),
        ("pkcs11:token=ca?modul-path=/x", "unknown query attribute"),
        ("pkcs11:slot-id=abc", "slot-id must be a decimal number"),
        ("pkcs11:type=secret", "type must be one of"),
        ("pkcs11:token=%ff%fe", "not UTF-8"),
        ("file://remote.example/keys", "remote host"),
        ("file:", "no directory"),
        ("file:/keys?pin=1", "unknown query attribute"),
        ("softkms:/keys", "scheme must be"),
    ],
)
def test_bad_uris_are_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(InvalidKeyUri) as caught:
        parse_key_uri(text)
    assert why in str(caught.value)
    assert "1234" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "directory"),
    [
        ("file:keys", "keys"),
        ("file:/var/keys", "/var/keys"),
        ("file:///var/keys", "/var/keys"),
        ("file://localhost/var/k%20s", "/var/k s"),
    ],
)
def test_file_uris(text: str, directory: str) -> None:
    assert parse_key_uri(text) == FileKeyUri(Path(directory))


def test_pin_source_file_and_precedence(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("4321\n")
    uri_pin = tmp_path / "uri-pin"
    uri_pin.write_text("8765")
    env = {"JLIS_PKCS11_PIN": "1111"}

    def resolve(
        pin_source: Path | None, uri_pin_source: str | None, environ: dict[str, str]
    ) -> Secret | None:
        return resolve_secret(
            pin_source=pin_source, uri_pin_source=uri_pin_source, env_var="JLIS_PKCS11_PIN", environ=environ
        )

    assert resolve(pin_file, str(uri_pin), env) == Secret("4321")
    assert resolve(None, f"file:{uri_pin}", env) == Secret("8765")
    assert resolve_secret(
        pin_source=None, uri_pin_source=None, env_var="JLIS_PKCS11_PIN", environ=env
    ) == Secret("1111")
    assert resolve_secret(pin_source=None, uri_pin_source=None, env_var="JLIS_PKCS11_PIN", environ={}) is None


def test_bad_pin_sources(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for source in (empty, tmp_path / "missing", "|/bin/echo 1234"):
        with pytest.raises(PinMissing):
            read_pin_source(source)


def test_secret_never_shows_its_value() -> None:
    secret = Secret("s3cret-pin")
    assert "s3cret" not in repr(secret)
    assert "s3cret" not in str(secret)
    assert "s3cret" not in f"{secret}"
    assert secret.reveal() == "s3cret-pin"
