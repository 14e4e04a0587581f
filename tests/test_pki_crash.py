"""Crash safety: SIGKILL a process in the middle of a batch of issuances, again and again.

Afterwards every certificate the process handed out is recorded as good with its DER, no row is half
written, at most the issuance in flight is left pending (and ``recover`` aborts it), the audit chain still
verifies, and the CA keeps issuing.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509

from pki.model import CertStatus
from pki.runtime import Pki

pytestmark = pytest.mark.slow

DEFINITION = """
[pki]
base_url = "http://127.0.0.1:8080"
[[ca]]
id = "crash-ca"
profile = "root-ca"
key = "p256"
issues = ["tls-server"]
subject = [{ attr = "C", value = "JP", type = "printable" }, { attr = "CN", value = "Crash CA" }]
"""

CHILD = r"""
import os, sys
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from pki.ca import IssueRequest
from pki.runtime import Pki

pki = Pki.open(Path(sys.argv[1]))
ca = pki.ca("crash-ca")
key = ec.generate_private_key(ec.SECP256R1()).public_key()
request = IssueRequest("tls-server", public_key=key, subject={"CN": "crash.example.jp"},
                       san=(x509.DNSName("crash.example.jp"),))
out = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
print("ready", flush=True)
batch = int(sys.argv[3])
while True:
    if batch == 1:
        certs = [ca.issue_request(request, actor="crash-test")]
    else:
        certs = ca.issue_requests([request] * batch, actor="crash-test", chunk=batch // 4)
    # handed out: the caller has them now
    os.write(out, "".join(f"{cert.serial_number:x}\n" for cert in certs).encode())
"""
BATCH = 20


@pytest.mark.parametrize("batch", [1, BATCH], ids=["one-at-a-time", "batches"])
def test_sigkill_during_issuance_leaves_nothing_unrecorded(tmp_path: Path, batch: int) -> None:
    definition = tmp_path / "def.toml"
    definition.write_text(DEFINITION)
    home = tmp_path / "home"
    Pki.initialise(home, definition=definition).close()
    delivered = tmp_path / "delivered.txt"
    rng = random.Random(20261126)
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home), str(delivered), str(batch)], stdout=subprocess.PIPE
        )
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.05, 0.8))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        check_store(home, delivered, batch)
    pki = Pki.open(home)
    try:
        assert pki.verify_audit().ok, pki.verify_audit().problems
    finally:
        pki.close()


def check_store(home: Path, delivered: Path, in_flight: int) -> None:
    pki = Pki.open(home)
    try:
        handed_out = [int(line, 16) for line in delivered.read_text().split()] if delivered.exists() else []
        for serial in handed_out:
            row = pki.store.get_certificate("crash-ca", serial)
            assert row.status is CertStatus.good and row.der is not None, serial
            assert x509.load_der_x509_certificate(row.der).serial_number == serial
        rows = pki.store.certificates("crash-ca", limit=100_000)
        for row in rows:
            if row.status is CertStatus.good:
                assert row.der is not None and row.issued_at is not None, row.serial
            else:
                assert row.status in (CertStatus.pending, CertStatus.aborted) and row.der is None, row
        assert sum(1 for r in rows if r.status is CertStatus.pending) <= in_flight  # only what was in flight
        pki.recover(
            grace=dt.timedelta(seconds=-2)
        )  # every issuer is dead: abort all pending, even this second
        assert not [
            r for r in pki.store.certificates("crash-ca", limit=100_000) if r.status is CertStatus.pending
        ]
        report = pki.verify_audit()
        assert report.ok, report.problems
        from cryptography.hazmat.primitives.asymmetric import ec

        from pki.ca import IssueRequest

        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        request = IssueRequest(
            "tls-server",
            public_key=key,
            subject={"CN": "after.example.jp"},
            san=(x509.DNSName("after.example.jp"),),
        )
        assert pki.ca("crash-ca").issue_request(request, actor="crash-test").serial_number > 0
    finally:
        pki.close()
