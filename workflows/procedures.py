"""Registering every procedure's listeners and service-task handlers with the engine."""

from __future__ import annotations


def register_procedures() -> None:
    """Import the modules whose decorators register with the engine (idempotent)."""
    from .p3 import ledger  # noqa: F401
