"""The PKI definition file: the shipped one loads; every mistake names the file, the key and the fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hsm import KeyKind
from pki.definition import OcspAccess, OcspSigner, load_definition
from pki.errors import ProfileError

REQUIRED = {
    "jpki-sign",
    "jpki-auth",
    "lgpki-bridge",
    "lgpki-org",
    "lgpki-app-root",
    "lgpki-app-sub",
    "gpki-bridge",
}


def test_shipped_definition_declares_the_required_cas_issuers_first() -> None:
    definition = load_definition()
    ids = [ca.id for ca in definition.cas]
    assert set(ids) >= REQUIRED
    for ca in definition.cas:
        if ca.issuer is not None:
            assert ids.index(ca.issuer) < ids.index(ca.id)
    sign = definition.ca("jpki-sign")
    assert [(a.attr, a.string_type.value) for a in sign.subject] == [
        ("C", "printable"),
        ("O", "utf8"),
        ("OU", "utf8"),
        ("OU", "utf8"),
    ]
    assert sign.key is KeyKind.RSA2048 and "jpki-sign" in sign.issues
    assert definition.ca("jpki-auth").crl.shards == 16
    # JPKI's OCSP answers registered verifiers only, refreshed every 15 minutes; LGPKI's is public
    for jpki in ("jpki-sign", "jpki-auth"):
        policy = definition.ca(jpki).ocsp
        assert policy.access is OcspAccess.registered and policy.signer is OcspSigner.delegated
        assert policy.next_update == dt.timedelta(minutes=15)
    assert definition.ca("lgpki-app-sub").ocsp.access is OcspAccess.public
    assert definition.ca("lgpki-org").ocsp.signer is OcspSigner.ca  # it issues no responder certificate


MINIMAL = """
[pki]
base_url = "http://127.0.0.1:8080"
[[ca]]
id = "root"
subject = [{ attr = "CN", value = "Root" }]
"""


@pytest.mark.parametrize(
    ("text", "key", "fix"),
    [
        (MINIMAL.replace("base_url", "base_ulr"), "pki.base_ulr", "did you mean 'base_url'?"),
        (MINIMAL.replace('"http://127.0.0.1:8080"', '"ftp://x"'), "pki.base_url", "http://127.0.0.1:8080"),
        (MINIMAL + 'key = "rsa1024"\n', "ca[0].key", "unknown value 'rsa1024'"),
        (MINIMAL.replace('id = "root"', 'id = "Root CA"'), "ca[0].id", "lowercase"),
        (MINIMAL + 'issuer = "nope"\n', "ca.root", "declare 'nope'"),
        (
            MINIMAL + "crl = { next_update_hours = 24, delta_next_update_hours = 48 }\n",
            "ca[0].crl.delta_next_update_hours",
            "smaller",
        ),
        (MINIMAL + "crl = { shards = -1 }\n", "ca[0].crl.shards", "below the minimum 0"),
        (MINIMAL + "crl = { next_update_hours = true }\n", "ca[0].crl.next_update_hours", "24"),
        (
            MINIMAL.replace(
                '{ attr = "CN", value = "Root" }', '{ attr = "CN", value = "ルート", type = "printable" }'
            ),
            "ca[0].subject[0].attr",
            "PrintableString",
        ),
        (
            MINIMAL.replace(
                '{ attr = "CN", value = "Root" }', '{ attr = "C", value = "JPN", type = "printable" }'
            ),
            "ca[0].subject[0].attr",
            "two-letter",
        ),
        (MINIMAL + MINIMAL.split("\n", 3)[3], "ca", "declared twice"),
        (MINIMAL + 'ocsp = { signer = "delegated" }\n', "ca[0].ocsp.signer", 'add "ocsp-responder"'),
        (MINIMAL + 'ocsp = { access = "everyone" }\n', "ca[0].ocsp.access", "unknown value 'everyone'"),
        (
            MINIMAL + "ocsp = { next_update_minutes = 10, refresh_before_minutes = 10 }\n",
            "ca[0].ocsp.refresh_before_minutes",
            "re-sign before nextUpdate",
        ),
        (MINIMAL + "ocsp = { next_update_minutes = 0 }\n", "ca[0].ocsp.next_update_minutes", "between"),
        (MINIMAL + "ocsp = { nonces = true }\n", "ca[0].ocsp.nonces", "did you mean 'nonce'?"),
        (MINIMAL.replace("[[ca]]", "[ca]"), "ca", "must be an array"),
        ("[pki\n", "(syntax)", "fix the TOML syntax"),
    ],
)
def test_mistakes_name_file_key_and_fix(tmp_path: Path, text: str, key: str, fix: str) -> None:
    path = tmp_path / "pki.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as caught:
        load_definition(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}:"), message
    assert fix in message, message


def test_cycles_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pki.toml"
    path.write_text(
        MINIMAL.replace('id = "root"', 'id = "a"\nissuer = "b"')
        + '[[ca]]\nid = "b"\nissuer = "a"\nsubject = [{ attr = "CN", value = "B" }]\n'
    )
    with pytest.raises(ProfileError, match="cycle"):
        load_definition(path)
