"""Registering every procedure's listeners and service-task handlers with the engine."""

from __future__ import annotations


def register_procedures() -> None:
    """Import the modules whose decorators register with the engine (idempotent)."""
    from engine import notifications  # noqa: F401 — tells people about the tasks that open

    from .p1 import register  # noqa: F401
    from .p2 import register as p2_register  # noqa: F401
    from .p3 import ledger, monthly  # noqa: F401
    from .p4 import registry, service_handlers  # noqa: F401
