"""`jlis ca` refusals and holds: clear one-line errors that change nothing, releases where policy allows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from pki.ca import IssueRequest
from pki.runtime import Pki

from .conftest import run_jlis

pytestmark = pytest.mark.slow

DEFINITION = """
[pki]
base_url = "http://127.0.0.1:8080"
[[ca]]
id = "holding-ca"
profile = "root-ca"
key = "p256"
issues = ["tls-server"]
hold_release = true
subject = [{ attr = "C", value = "JP", type = "printable" }, { attr = "CN", value = "Holding CA" }]
crl = { next_update_hours = 24, delta_next_update_hours = 1 }
[[ca]]
id = "strict-ca"
profile = "root-ca"
key = "p256"
issues = ["tls-server"]
subject = [{ attr = "C", value = "JP", type = "printable" }, { attr = "CN", value = "Strict CA" }]
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "def.toml").write_text(DEFINITION)
    Pki.initialise(tmp / "home", definition=tmp / "def.toml").close()
    return tmp / "home"


def issue(home: Path, ca_id: str) -> int:
    pki = Pki.open(home)
    try:
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        request = IssueRequest(
            "tls-server",
            public_key=key,
            subject={"CN": "hold.example.jp"},
            san=(x509.DNSName("hold.example.jp"),),
        )
        return pki.ca(ca_id).issue_request(request, actor="test").serial_number
    finally:
        pki.close()


def audit_length(home: Path) -> int:
    pki = Pki.open(home)
    try:
        return sum(1 for _ in pki.store.audit_records())
    finally:
        pki.close()


def test_hold_then_release_shows_remove_from_crl_in_the_delta(home: Path) -> None:
    serial = issue(home, "holding-ca")
    held = run_jlis(
        "ca",
        "revoke",
        "--home",
        str(home),
        "--ca",
        "holding-ca",
        "--serial",
        f"{serial:x}",
        "--reason",
        "certificateHold",
    )
    assert held.returncode == 0, held.stderr
    released = run_jlis("ca", "release", "--home", str(home), "--ca", "holding-ca", "--serial", f"{serial:x}")
    assert released.returncode == 0, released.stderr
    pki = Pki.open(home)
    try:
        delta = pki.store.latest_crl("holding-ca", "full", delta=True)
        assert delta is not None
        entry = x509.load_der_x509_crl(delta.der).get_revoked_certificate_by_serial_number(serial)
        assert entry is not None
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert reason is x509.ReasonFlags.remove_from_crl
        assert pki.store.status("holding-ca", serial).status.value == "good"  # type: ignore[union-attr]
    finally:
        pki.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--ca", "holding-ca", "--serial", "abcdef", "--reason", "keyCompromise"],
            "has not issued serial abcdef",
        ),
        (["--ca", "holding-ca", "--serial", "zz", "--reason", "keyCompromise"], "is not hexadecimal"),
        (["--ca", "nope", "--serial", "01", "--reason", "keyCompromise"], "unknown CA 'nope'"),
        (["--ca", "holding-ca", "--serial", "SERIAL", "--reason", "stolen"], "unknown reason 'stolen'"),
        (
            ["--ca", "holding-ca", "--serial", "SERIAL", "--reason", "removeFromCRL"],
            "not a revocation reason",
        ),
    ],
)
def test_bad_revocations_are_one_line_and_change_nothing(home: Path, args: list[str], message: str) -> None:
    serial = issue(home, "holding-ca")
    args = [a.replace("SERIAL", f"{serial:x}") for a in args]
    before = audit_length(home)
    result = run_jlis("ca", "revoke", "--home", str(home), *args)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert audit_length(home) == before


def test_revoking_twice_and_forbidden_release(home: Path) -> None:
    serial = f"{issue(home, 'strict-ca'):x}"
    first = run_jlis(
        "ca",
        "revoke",
        "--home",
        str(home),
        "--ca",
        "strict-ca",
        "--serial",
        serial,
        "--reason",
        "certificateHold",
    )
    assert first.returncode == 0, first.stderr
    before = audit_length(home)
    release = run_jlis("ca", "release", "--home", str(home), "--ca", "strict-ca", "--serial", serial)
    assert release.returncode == 1 and "does not release holds" in release.stderr
    final = run_jlis(
        "ca",
        "revoke",
        "--home",
        str(home),
        "--ca",
        "strict-ca",
        "--serial",
        serial,
        "--reason",
        "keyCompromise",
    )
    assert final.returncode == 0, final.stderr  # a hold may become a permanent revocation (RFC 5280 §5.3.1)
    again = run_jlis(
        "ca",
        "revoke",
        "--home",
        str(home),
        "--ca",
        "strict-ca",
        "--serial",
        serial,
        "--reason",
        "keyCompromise",
    )
    assert again.returncode == 1 and "already revoked" in again.stderr
    assert audit_length(home) > before
    listed = json.loads(run_jlis("ca", "list", "--home", str(home), "--json").stdout)
    assert {c["id"] for c in listed} == {"holding-ca", "strict-ca"}
