"""Tamper-evident audit log: hash-chained records and signed checkpoints."""
