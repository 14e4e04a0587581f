"""JPKI CA generations: a new key under the same DN, link certificates both ways, and certificates whose
issuer is found by key identifier (and signature), never by name alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pki.clock import FixedClock
from tests.jpki.support import START, make_home, open_jpki, resident


def _pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def _ski(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _aki(cert: x509.Certificate) -> bytes | None:
    return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier


def test_a_new_generation_keeps_the_dn_and_certificates_name_their_issuers_key(tmp_path: Path) -> None:
    clock = FixedClock(START)
    jpki = open_jpki(make_home(tmp_path), clock)
    try:
        person = jpki.add_resident(resident(), actor="test")
        before = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor="test")
        old_ca = jpki.sign_ca.certificate
        rollover = jpki.pki.rollover("jpki-sign", actor="test")
        new_ca = jpki.sign_ca.certificate
        after = jpki.issue_card(
            jpki.add_resident(resident(), actor="test").code,
            signing_pin="ABC123",
            auth_pin="1234",
            actor="test",
        )
    finally:
        jpki.close()
    assert before.signing is not None and after.signing is not None
    assert new_ca.subject == old_ca.subject and _ski(new_ca) != _ski(old_ca)
    assert after.signing.issuer == before.signing.issuer  # one DN for every generation
    assert _aki(before.signing) == _ski(old_ca) and _aki(after.signing) == _ski(new_ca)
    after.signing.verify_directly_issued_by(new_ca)
    before.signing.verify_directly_issued_by(old_ca)
    # openssl: each generation's certificates verify against their own anchor; with the old anchor and
    # the new-with-old link certificate, a relying party also reaches the new generation's certificates.
    verify = ["openssl", "verify", "-attime", str(int(START.timestamp()) + 3600)]
    old_anchor, new_anchor = _pem(tmp_path / "old.pem", old_ca), _pem(tmp_path / "new.pem", new_ca)
    link = _pem(tmp_path / "link.pem", rollover.new_with_old)
    leaf_new, leaf_old = _pem(tmp_path / "a.pem", after.signing), _pem(tmp_path / "b.pem", before.signing)
    for args in (
        ["-CAfile", new_anchor, leaf_new],
        ["-CAfile", old_anchor, leaf_old],
        ["-CAfile", old_anchor, "-untrusted", link, leaf_new],
    ):
        result = subprocess.run([*verify, *map(str, args)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    wrong = subprocess.run(
        [*verify, "-CAfile", str(new_anchor), str(leaf_old)], capture_output=True, text=True
    )
    assert wrong.returncode != 0  # same name, other key: not its issuer
