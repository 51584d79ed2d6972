"""The long-running timer worker: `jiedai worker` runs one per process, `jiedai serve` one
in a daemon thread when the database is SQLite (several are safe only on PostgreSQL)."""

from __future__ import annotations

import logging
import signal
import threading
import weakref
from collections.abc import Callable

from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..db import database_url, make_engine, make_session_factory
from ..duties import run_due_duties
from ..models import utcnow
from ..projection import TIMERS_CHANGED
from .firing import DEFAULT_MAX_ATTEMPTS, FireResult, fire_due_timers, next_due_at

log = logging.getLogger("jiedai.worker")


class TimerWorker:
    """Fires due timers in a loop: fire what is due, then sleep until the next due time or at
    most `poll` seconds. `stop()` (from a signal handler or another thread) ends the loop after
    the current firing; `wake()` cuts a sleep short (a new timer was committed)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        poll: float = 5.0,
        batch: int = 100,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        report: Callable[[FireResult], None] | None = None,
    ):
        self.session_factory = session_factory
        self.poll = poll
        self.batch = batch
        self.max_attempts = max_attempts
        self.report = report or (lambda result: log.info("%s", result.describe()))
        self._stop = threading.Event()
        self._wake = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_once(self) -> list[FireResult]:
        """Run the recurring duties that are due, fire every timer due now (in batches),
        then return."""
        run_due_duties(self.session_factory)
        results: list[FireResult] = []
        while not self.stopping:
            batch = fire_due_timers(
                self.session_factory,
                limit=self.batch,
                max_attempts=self.max_attempts,
                should_stop=self._stop.is_set,
                on_result=self.report,
            )
            results += batch
            if len(batch) < self.batch:
                break
        return results

    def run(self) -> None:
        """Loop until `stop()`; database hiccups are logged and retried after a poll."""
        _local_workers.add(self)
        try:
            while not self.stopping:
                self._wake.clear()
                try:
                    self.run_once()
                    pause = self._pause()
                except Exception:  # noqa: BLE001 — a worker outlives a lost connection
                    log.exception("timer worker pass failed; trying again in %.0f s", self.poll)
                    pause = self.poll
                if not self.stopping:
                    self._wake.wait(pause)
        finally:
            _local_workers.discard(self)

    def _pause(self) -> float:
        with self.session_factory() as session:
            due = next_due_at(session)
        if due is None:
            return self.poll
        return min(max((due - utcnow()).total_seconds(), 0.05), self.poll)


_local_workers: weakref.WeakSet[TimerWorker] = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _wake_local_workers(session: Session) -> None:
    # An in-process worker (`jiedai serve` on SQLite) sleeps up to `poll`; a timer committed
    # in this process may be due sooner, so let it look again at once.
    if session.info.pop(TIMERS_CHANGED, False):
        for worker in list(_local_workers):
            worker.wake()


def start_worker_thread(session_factory: sessionmaker[Session], **options) -> TimerWorker:
    """Run a worker in a daemon thread (the development server on SQLite)."""
    worker = TimerWorker(session_factory, **options)
    thread = threading.Thread(target=worker.run, name="jiedai-timer-worker", daemon=True)
    thread.start()
    return worker


def run_worker(
    *,
    url: str | None = None,
    once: bool = False,
    poll: float = 5.0,
    batch: int = 100,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """The `jiedai worker` command: returns the exit status.

    SIGTERM and SIGINT stop the loop after the current firing (its transaction commits)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    url = url or database_url()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        log.error("cannot reach the database %s: %s", engine.url.render_as_string(), reason)
        return 1
    worker = TimerWorker(
        make_session_factory(engine), poll=poll, batch=batch, max_attempts=max_attempts
    )
    if once:
        results = worker.run_once()
        log.info("fired %d timer(s)", sum(r.outcome == "fired" for r in results))
        return 0
    previous = {sig: signal.signal(sig, lambda *_: worker.stop()) for sig in _STOP_SIGNALS}
    log.info("timer worker started (poll %.1f s) on %s", poll, engine.url.render_as_string())
    try:
        worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.dispose()
    log.info("timer worker stopped")
    return 0


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
