"""Shared by the benchmarks: a one-CA PKI definition and throwaway PostgreSQL databases."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

DEFINITION = """
[pki]
base_url = "http://127.0.0.1:8080"
[[ca]]
id = "bench-ca"
profile = "root-ca"
key = "{key}"
issues = ["tls-server"]
subject = [{{ attr = "C", value = "JP", type = "printable" }}, {{ attr = "O", value = "jlis-pki bench" }},
           {{ attr = "CN", value = "Bench CA" }}]
crl = {{ next_update_hours = 24 }}
"""
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def new_postgres() -> str:
    """A fresh database on the local PostgreSQL (SQLAlchemy URL)."""
    import psycopg

    name = f"jlis_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def threaded_rate(fn: Callable[[], object], threads: int, seconds: float) -> float:
    """Total calls per second of ``threads`` threads each calling ``fn`` for about ``seconds``."""
    counts = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        barrier.wait()
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            for _ in range(10):
                fn()
            n += 10
        counts[i] = n

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)
