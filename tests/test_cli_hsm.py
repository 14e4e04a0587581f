"""`jlis hsm` as a user runs it: keygen, list, pubkey, sign; signatures checked by openssl."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import SoftHsm, need_softhsm, run_jlis

PASSPHRASE = "cli passphrase 2026"


@pytest.fixture(params=["file", "softhsm"])
def backend_args(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    """(URI, environment, label prefix) for one backend; labels differ per test to share the SoftHSM token."""
    prefix = request.node.name.split("[")[0].removeprefix("test_")[:20]
    if request.param == "file":
        return f"file:{tmp_path / 'keys'}", {"JLIS_KEY_PASSPHRASE": PASSPHRASE}, prefix
    softhsm: SoftHsm = need_softhsm()
    return softhsm.uri("jlis-cli"), {"JLIS_PKCS11_PIN": softhsm.pin_file.read_text().strip()}, prefix


@pytest.mark.parametrize(
    ("algo", "hash_name", "pss"),
    [
        ("rsa2048", "sha256", False),
        ("rsa3072", "sha512", True),
        ("p256", "sha256", False),
        ("p384", "sha384", False),
    ],
)
def test_keygen_pubkey_sign_verify_with_openssl(
    backend_args: tuple[str, dict[str, str], str], algo: str, hash_name: str, pss: bool, tmp_path: Path
) -> None:
    uri, env, prefix = backend_args
    label = f"{prefix}-{algo}-{hash_name}-{int(pss)}"[:64]
    made = run_jlis("hsm", "keygen", "--uri", uri, "--label", label, "--algo", algo, "--json", env=env)
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    assert doc["label"] == label and doc["algo"] == algo
    listed = run_jlis("hsm", "list", "--uri", uri, "--json", env=env)
    assert label in {entry["label"] for entry in json.loads(listed.stdout)}
    pub = run_jlis("hsm", "pubkey", "--uri", uri, "--label", label, env=env)
    assert pub.returncode == 0 and pub.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "pub.pem").write_text(pub.stdout)
    document = tmp_path / "document.bin"
    document.write_bytes(b"a document to sign\n" * 50)
    sig = tmp_path / "document.sig"
    args = [
        "hsm",
        "sign",
        "--uri",
        uri,
        "--label",
        label,
        "--in",
        str(document),
        "--out",
        str(sig),
        "--hash",
        hash_name,
        *(["--pss"] if pss else []),
    ]
    signed = run_jlis(*args, env=env)
    assert signed.returncode == 0, signed.stderr
    cmd = ["openssl", "dgst", f"-{hash_name}", "-verify", str(tmp_path / "pub.pem"), "-signature", str(sig)]
    if pss:
        cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    verified = subprocess.run([*cmd, str(document)], capture_output=True, text=True)
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, verified.stdout + verified.stderr
    document.write_bytes(b"tampered")
    rejected = subprocess.run([*cmd, str(document)], capture_output=True, text=True)
    assert rejected.returncode != 0


def test_errors_are_one_line_with_nonzero_exit(
    backend_args: tuple[str, dict[str, str], str], tmp_path: Path
) -> None:
    uri, env, prefix = backend_args
    label = f"{prefix}-ec"
    assert (
        run_jlis("hsm", "keygen", "--uri", uri, "--label", label, "--algo", "p256", env=env).returncode == 0
    )
    cases = [
        (["hsm", "keygen", "--uri", uri, "--label", label, "--algo", "p256"], "already exists"),
        (["hsm", "keygen", "--uri", uri, "--label", "x", "--algo", "rsa1024"], "unsupported algorithm"),
        (["hsm", "pubkey", "--uri", uri, "--label", "absent"], "not found"),
        (
            [
                "hsm",
                "sign",
                "--uri",
                uri,
                "--label",
                label,
                "--in",
                str(tmp_path / "none"),
                "--out",
                str(tmp_path / "s"),
            ],
            "No such file",
        ),
        (
            [
                "hsm",
                "sign",
                "--uri",
                uri,
                "--label",
                label,
                "--in",
                __file__,
                "--out",
                str(tmp_path / "s"),
                "--pss",
            ],
            "PSS",
        ),
        (
            [
                "hsm",
                "sign",
                "--uri",
                uri,
                "--label",
                label,
                "--in",
                __file__,
                "--out",
                str(tmp_path / "s"),
                "--hash",
                "md5",
            ],
            "unknown hash",
        ),
        (["hsm", "list", "--uri", "nope:x"], "invalid key URI"),
    ]
    for args, expected in cases:
        result = run_jlis(*args, env=env)
        assert result.returncode != 0, args
        line = result.stderr.strip()
        assert "\n" not in line and "Traceback" not in line, line
        assert line.startswith("error: ") and expected in line, (args, line)
        assert PASSPHRASE not in result.stdout + result.stderr


def test_pin_source_option(tmp_path: Path) -> None:
    pass_file = tmp_path / "pass"
    pass_file.write_text(PASSPHRASE + "\n")
    uri = f"file:{tmp_path / 'keys'}"
    made = run_jlis(
        "hsm",
        "keygen",
        "--uri",
        uri,
        "--label",
        "k",
        "--algo",
        "p256",
        "--pin-source",
        str(pass_file),
        env={"JLIS_KEY_PASSPHRASE": ""},
    )
    assert made.returncode == 0, made.stderr
    document = tmp_path / "doc"
    document.write_bytes(b"x")
    signed = run_jlis(
        "hsm",
        "sign",
        "--uri",
        uri,
        "--label",
        "k",
        "--in",
        str(document),
        "--out",
        str(tmp_path / "sig"),
        env={"JLIS_KEY_PASSPHRASE": PASSPHRASE},
    )
    assert signed.returncode == 0, signed.stderr
    missing = run_jlis(
        "hsm",
        "sign",
        "--uri",
        uri,
        "--label",
        "k",
        "--in",
        str(document),
        "--out",
        str(tmp_path / "sig"),
        env={"JLIS_KEY_PASSPHRASE": ""},
    )
    assert missing.returncode != 0 and "no passphrase given" in missing.stderr
