"""Timers: firing due timers (`firing`) and the long-running worker (`worker`)."""

from __future__ import annotations

from .firing import (
    ACTOR,
    DEFAULT_MAX_ATTEMPTS,
    FireResult,
    backoff,
    fire_due_timers,
    fire_next,
    fire_timer,
    next_due_at,
)
from .worker import TimerWorker, run_worker, start_worker_thread

__all__ = [
    "ACTOR",
    "DEFAULT_MAX_ATTEMPTS",
    "FireResult",
    "TimerWorker",
    "backoff",
    "fire_due_timers",
    "fire_next",
    "fire_timer",
    "next_due_at",
    "run_worker",
    "start_worker_thread",
]
