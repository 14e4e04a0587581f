"""Issuance throughput: certificates/s end to end (prepare + sign + store, audited) vs raw pyca build + sign.

    .venv/bin/python bench/issuance.py [--seconds 3] [--key rsa2048|p256] [--no-postgres]

One CA with a software key issues tls-server certificates, one at a time (``issue_request``: two commits per
certificate) and in batches (``issue_requests`` over 1,000 requests: two commits per chunk of 200, every
certificate still reserved and audited before it is signed, a chunk's storing overlapping the next
chunk's signing); the raw reference builds the same certificate
(same subject, extensions and validity) with pyca's CertificateBuilder and signs it with the same key
object, without checks or storage. Both run interleaved in short batches in one process. Goal (issue #3):
ours >= 0.7 of raw, on SQLite (embedded default) and on PostgreSQL (127.0.0.1:5432, user postgres).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # for bench_support, after the package paths

from bench_support import DEFINITION, drop_postgres, new_postgres  # noqa: E402  (path fixed above)


def interleaved(pairs: dict[str, Callable[[], int]], seconds: float) -> dict[str, float]:
    """Rates measured in alternating ~50 ms batches, so machine noise hits every side alike; each call
    returns how many certificates it made."""
    spent = dict.fromkeys(pairs, 0.0)
    calls = dict.fromkeys(pairs, 0)
    deadline = time.perf_counter() + seconds * len(pairs)
    while time.perf_counter() < deadline:
        for name, fn in pairs.items():
            start = time.perf_counter()
            n = 0
            while time.perf_counter() - start < 0.05:
                n += fn()
            spent[name] += time.perf_counter() - start
            calls[name] += n
    return {name: calls[name] / spent[name] for name in pairs}


def postgres_url() -> str | None:
    """A fresh database on the local PostgreSQL, or None when it is not reachable."""
    try:
        return new_postgres()
    except Exception as exc:  # a benchmark reports why and runs without PostgreSQL
        print(f"# PostgreSQL not used: {exc}")
        return None


BATCH = 1000
"""Certificates per ``issue_requests`` call in the batch measurement: chunks of ``pki.ca.ISSUE_CHUNK``, two
commits per chunk, the storing of one chunk overlapping the signing of the next."""


def run(label: str, store_url: str | None, key: str, seconds: float) -> tuple[str, float, float, float]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from pki.ca import IssueRequest
    from pki.model import new_serial
    from pki.profile import IssueContext
    from pki.runtime import Pki

    home = Path(tempfile.mkdtemp(prefix="jlis-bench-"))
    definition = home.parent / f"{home.name}.toml"
    definition.write_text(DEFINITION.format(key=key))
    pki = Pki.initialise(home / "home", store_url=store_url, definition=definition)
    ca = pki.ca("bench-ca")
    subject_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    san = (x509.DNSName("www.example.jp"),)
    request = IssueRequest(
        profile="tls-server", public_key=subject_key, subject={"CN": "www.example.jp"}, san=san
    )
    ca.issue_request(request, actor="bench")  # warm up: opens the key, compiles statements
    passphrase = pki.config.secret_file.read_text().strip().encode()
    raw_key = serialization.load_pem_private_key(
        (home / "home" / "keys" / "bench-ca.key.pem").read_bytes(), passphrase
    )
    profile = pki.profiles["tls-server"]
    subject = profile.subject({"CN": "www.example.jp"})
    ctx = IssueContext(
        subject_key,
        ca.certificate.public_key(),
        ca.certificate.subject,
        pki.clock.now(),  # type: ignore[arg-type]
        ca_id=ca.id,
        base_url=ca.base_url,
        issuer_not_after=ca.certificate.not_valid_after_utc,
        san=san,
    )
    extensions = profile.extensions(ctx)
    not_before, not_after = profile.validity(ctx)
    algorithm = ca.signer.algorithm.hash.pyca()

    def raw() -> int:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca.certificate.subject)
            .public_key(subject_key)
            .serial_number(new_serial())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        for ext in extensions:
            builder = builder.add_extension(ext.value, ext.critical)
        builder.sign(raw_key, algorithm)  # type: ignore[arg-type]
        return 1

    def ours() -> int:
        ca.issue_request(request, actor="bench")
        return 1

    batch = [request] * BATCH

    def ours_batch() -> int:
        return len(ca.issue_requests(batch, actor="bench"))

    rates = interleaved({"raw": raw, "ours": ours, "batch": ours_batch}, seconds)
    pki.close()
    return label, rates["raw"], rates["ours"], rates["batch"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--key", default="rsa2048", choices=["rsa2048", "p256", "p384"])
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"# issuance benchmark: CA key {args.key}, {args.seconds:g} s per side, cpus={os.cpu_count()}")
    results = [run("sqlite", None, args.key, args.seconds)]
    url = None if args.no_postgres else postgres_url()
    if url:
        try:
            results.append(run("postgresql", url, args.key, args.seconds))
        finally:
            drop_postgres(url)
    print(f"\n{'store':11} {'mode':18} {'raw pyca/s':>11} {'ours/s':>9} {'ratio':>7}  goal")
    for label, raw, ours, batch in results:
        for mode, rate in ((f"batch of {BATCH}", batch), ("one at a time", ours)):
            verdict = "ok" if rate / raw >= 0.7 else "BELOW"
            print(f"{label:11} {mode:18} {raw:11.0f} {rate:9.0f} {rate / raw:7.3f}  >= 0.70 {verdict}")


if __name__ == "__main__":
    main()
