"""`jlis cert show` on real JPKI and LGPKI CA certificates."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_jlis


def test_show_json_reports_string_types_of_a_real_jpki_ca(reference: Path) -> None:
    result = run_jlis("cert", "show", str(reference / "jpki" / "sign_ca_2023.pem"), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["subject_attributes"] == [
        {"attr": "C", "value": "JP", "type": "PrintableString"},
        {"attr": "O", "value": "JPKI", "type": "UTF8String"},
        {"attr": "OU", "value": "JPKI for digital signature", "type": "UTF8String"},
        {"attr": "OU", "value": "Japan Agency for Local Authority Information Systems", "type": "UTF8String"},
    ]
    assert info["not_after"] == "2033-07-15T14:59:59Z"
    assert {e["name"] for e in info["extensions"]} >= {
        "keyUsage",
        "basicConstraints",
        "cRLDistributionPoints",
    }


def test_show_text_and_der_input(tmp_path: Path, reference: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = (reference / "lgpki" / "Application-CA-G3-Sub1.pem").read_bytes()
    der = tmp_path / "sub.der"
    der.write_bytes(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER))
    result = run_jlis("cert", "show", str(der))
    assert result.returncode == 0, result.stderr
    assert "CN=Application CA G3 Sub1" in result.stdout and "PrintableString" in result.stdout


def test_garbage_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.der"
    junk.write_bytes(b"\x30\x82\xff\xff not a certificate")
    result = run_jlis("cert", "show", str(junk))
    assert result.returncode == 1
    assert result.stderr.startswith("error: not a certificate") and result.stderr.count("\n") == 1
    assert run_jlis("cert", "show", str(tmp_path / "missing.pem")).returncode == 1
