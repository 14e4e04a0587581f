"""Shared by the benchmarks: a one-CA PKI definition and throwaway PostgreSQL databases."""

from __future__ import annotations

import uuid

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
