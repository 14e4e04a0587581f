"""Scale: issuance rate and status-lookup latency with 10,000 vs 1,000,000 certificates stored.

    .venv/bin/python bench/scale.py [--small 10000] [--large 1000000] [--db sqlite|postgresql]

The stored certificates are synthetic rows bulk-loaded into the schema (issuing a million real ones would
take the whole benchmark budget); issuance then runs through the full engine (prepare, sign, store,
audit) and lookups through ``Store.status`` (the OCSP hot path), for serials that exist. Goal (issue #3):
issuance rate and lookup latency at 1,000,000 within 20 % of those at 10,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # for bench_support, after the package paths

from bench_support import DEFINITION, drop_postgres, new_postgres  # noqa: E402  (path fixed above)

BATCH = 20_000


def fill(pki: object, ca_id: str, count: int) -> list[int]:
    """Bulk-insert ``count`` good certificates for a CA; returns their serials."""
    import sqlalchemy as sa

    from pki.model import new_serial, serial_hex
    from pki.store.schema import SERIAL_KEY_DIGITS, certificate

    store = pki.store  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    serials = []
    with store._engine.begin() as conn:  # a benchmark may reach under the API to bulk-load synthetic rows
        for start in range(0, count, BATCH):
            rows = []
            for _ in range(min(BATCH, count - start)):
                serial = new_serial()
                serials.append(serial)
                text = serial_hex(serial)
                rows.append(
                    {
                        "ca_id": ca_id,
                        "serial_hex": text,
                        "serial_key": text.rjust(SERIAL_KEY_DIGITS, "0"),
                        "status": "good",
                        "subject_der": b"0\x00",
                        "subject_text": "CN=filler",
                        "not_before": now,
                        "not_after": now + dt.timedelta(days=365),
                        "profile": "tls-server",
                        "holder_ref": None,
                        "is_ca": False,
                        "shard": 0,
                        "tbs_sha256": hashlib.sha256(text.encode()).digest(),
                        "der": b"0\x00",
                        "created_at": now,
                        "issued_at": now,
                    }
                )
            conn.execute(sa.insert(certificate), rows)
    return serials


def measure(store_url: str | None, stored: int, lookups: int, seconds: float) -> tuple[float, float, float]:
    """(issuance/s, status p50 µs, status p99 µs) with ``stored`` certificates in the store."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from pki.ca import IssueRequest
    from pki.runtime import Pki

    home = Path(tempfile.mkdtemp(prefix="jlis-scale-"))
    definition = home / "pki.def.toml"
    definition.write_text(DEFINITION.format(key="p256"))
    pki = Pki.initialise(home / "home", store_url=store_url, definition=definition)
    t0 = time.perf_counter()
    serials = fill(pki, "bench-ca", stored)
    print(f"#   loaded {stored:,} rows in {time.perf_counter() - t0:.1f} s")
    ca = pki.ca("bench-ca")
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    request = IssueRequest(
        "tls-server",
        public_key=key,
        subject={"CN": "scale.example.jp"},
        san=(x509.DNSName("scale.example.jp"),),
    )
    ca.issue_request(request, actor="bench")
    start, issued = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        ca.issue_request(request, actor="bench")
        issued += 1
    rate = issued / (time.perf_counter() - start)
    sample = random.sample(serials, min(lookups, len(serials)))
    latencies = []
    for serial in sample:
        t = time.perf_counter()
        row = pki.store.status("bench-ca", serial)
        latencies.append(time.perf_counter() - t)
        assert row is not None
    pki.close()
    quantiles = statistics.quantiles(latencies, n=100)
    return rate, quantiles[49] * 1e6, quantiles[98] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    results = {}
    for count in (args.small, args.large):
        url = new_postgres() if args.db == "postgresql" else None
        try:
            print(f"# {args.db}: {count:,} certificates stored")
            results[count] = measure(url, count, args.lookups, args.seconds)
        finally:
            if url:
                drop_postgres(url)
    (r1, p50a, p99a), (r2, p50b, p99b) = results[args.small], results[args.large]
    print(f"\n{'stored':>10} {'issue/s':>9} {'status p50 µs':>14} {'p99 µs':>9}")
    for count, (rate, p50, p99) in results.items():
        print(f"{count:>10,} {rate:9.0f} {p50:14.1f} {p99:9.1f}")
    print(f"\nissuance at {args.large:,} / at {args.small:,}: {r2 / r1:.2f} (goal >= 0.80)")
    print(f"status p50 at {args.large:,} / at {args.small:,}: {p50b / p50a:.2f} (goal <= 1.20)")
    print(f"status p99 at {args.large:,} / at {args.small:,}: {p99b / p99a:.2f}")


if __name__ == "__main__":
    main()
