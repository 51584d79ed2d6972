"""Recurring duties the timer worker runs besides timers (starting a monthly report...).

A duty is registered by procedure code and must be idempotent: several workers may run it,
and the first to commit wins (a duty guards itself with a unique row, as the monthly report
register does)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .db import perform

log = logging.getLogger("jiedai.duties")

#: duty(session) -> a short description of what it did, or None when nothing was due.
Duty = Callable[[Session], str | None]


@dataclass
class _Registered:
    run: Duty
    every_seconds: float
    last_run: float = 0.0


_duties: dict[str, _Registered] = {}


def periodic_duty(name: str, *, every_seconds: float) -> Callable[[Duty], Duty]:
    """Decorator: run the function at most every `every_seconds` in each worker."""

    def register(duty: Duty) -> Duty:
        _duties.setdefault(name, _Registered(duty, every_seconds))
        return duty

    return register


def run_due_duties(
    session_factory: sessionmaker[Session], *, now: float | None = None
) -> list[str]:
    """Run every duty whose interval has passed, each in its own transaction."""
    now = time.monotonic() if now is None else now
    done = []
    for name, duty in _duties.items():
        if duty.last_run and now - duty.last_run < duty.every_seconds:
            continue
        duty.last_run = now
        with session_factory() as session:
            try:
                outcome = perform(session, duty.run)
            except IntegrityError:
                log.info("duty %s: another worker did it first", name)
                continue
            except Exception:  # noqa: BLE001 — one failing duty must not stop timers firing
                log.exception("duty %s failed; trying again in %.0f s", name, duty.every_seconds)
                continue
        if outcome:
            log.info("duty %s: %s", name, outcome)
            done.append(f"{name}: {outcome}")
    return done
