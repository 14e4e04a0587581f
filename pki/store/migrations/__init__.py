"""Alembic migrations of the store schema (run by ``Store.open``; ``env.py`` is Alembic's entry point)."""
