"""`jiedai bench memory`: resident memory of one gunicorn web worker and one `jiedai worker`
timer process while N approvals are completed over HTTP and N timers fired.

The work comes in batches (one per sample): start a batch of approvals and of timer instances
through the engine, let five clients (one per role, the `bench http` clients) complete every
task of the batch (inbox → form → Submit → inbox), wait until the timers have fired, then read
`VmRSS` of both processes. A process that caches only what is bounded levels off after the
first batches; one that keeps something per instance grows with every batch."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from . import approval5, serving
from .http import Bookkeeping, check_bookkeeping, client_users, run_load, wait_for_timers
from .record import append_section

#: RSS at the end may exceed RSS half-way by at most this share: it has levelled off.
MAX_SECOND_HALF_GROWTH = 0.10
BATCH_SECONDS = 600.0  # a batch that takes longer than this is stuck, not slow


@dataclass
class Sample:
    instances: int  # approvals completed so far
    web_kib: int
    timer_kib: int


@dataclass
class MemoryReport:
    instances: int
    samples: list[Sample]
    books: Bookkeeping
    seconds: float

    def at(self, fraction: float) -> Sample:
        """The first sample taken with at least `fraction` of the instances done."""
        wanted = fraction * self.instances
        return next(s for s in self.samples if s.instances >= wanted - 1e-9)

    def growth(self, process: str) -> float:
        """RSS growth over the second half, as a share of RSS half-way."""
        half, end = self.at(0.5), self.at(1.0)
        before, after = getattr(half, f"{process}_kib"), getattr(end, f"{process}_kib")
        return (after - before) / before

    @property
    def levelled_off(self) -> bool:
        return all(self.growth(p) < MAX_SECOND_HALF_GROWTH for p in ("web", "timer"))

    def table(self) -> str:
        rows = [
            "| process | at 10 % | at 50 % | at 100 % | growth, 2nd half |",
            "|---|---|---|---|---|",
        ]
        points = [self.at(0.1), self.at(0.5), self.at(1.0)]
        for process, label in (("web", "gunicorn web worker"), ("timer", "`jiedai worker`")):
            values = " | ".join(f"{getattr(p, f'{process}_kib') / 1024:.1f} MiB" for p in points)
            rows.append(f"| {label} | {values} | {self.growth(process) * 100:+.1f} % |")
        verdict = "PASS" if self.levelled_off else "FAIL"
        rows += [
            "",
            f"{self.instances} approvals completed over HTTP ({self.books.saved_completions} "
            f"task completions) and {self.books.timers_fired} timers fired in "
            f"{self.seconds:.0f} s; {len(self.samples)} samples.",
            f"{self.books.describe()}",
            "",
            f"Levels off (2nd-half growth < {MAX_SECOND_HALF_GROWTH * 100:.0f} % for both): "
            f"{verdict}; nothing lost: {'PASS' if self.books.ok else 'FAIL'}",
        ]
        return "\n".join(rows)

    def record(self, description: str) -> None:
        append_section("memory", "SQLite file (WAL)", description, self.table())


def run_memory_benchmark(instances: int = 10_000, samples: int = 20) -> MemoryReport:
    if instances < 1 or samples < 1:
        raise ValueError("instances and samples must be at least 1")
    samples = min(samples, instances)
    users = client_users(len(serving.ROLES))
    starter = users[0].username
    with ExitStack() as stack:
        url = stack.enter_context(serving.sqlite_database())
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jiedai-bench-")))
        serving.prepare_database(url, users)
        server = stack.enter_context(serving.gunicorn(url, 1, log_dir=logs))
        (web_pid,) = server.workers()
        (timer_process,) = stack.enter_context(
            serving.timer_workers(url, 1, log_dir=logs, poll=0.2)
        )
        taken: list[Sample] = []
        approval_ids: list[int] = []
        timer_ids: list[int] = []
        told = 0
        seconds = 0.0
        for number in range(samples):
            batch = instances * (number + 1) // samples - len(approval_ids)
            approval_ids += serving.start_approvals(url, batch, starter)
            batch_timers = serving.start_timers(url, batch, starter, spread=0.0)
            timer_ids += batch_timers
            # No separate claim: one client per role has nobody to race, and the completion
            # claims the task itself; three requests per completion instead of four.
            load = run_load(server, users, batch * len(approval5.STEPS), BATCH_SECONDS, claim=False)
            told += load.stats.completions
            seconds += load.seconds
            if load.stats.completions < batch * len(approval5.STEPS):
                raise RuntimeError(
                    f"batch {number + 1} ended with {load.stats.completions} of "
                    f"{batch * len(approval5.STEPS)} completions "
                    f"(errors: {dict(load.stats.errors)})"
                )
            wait_for_timers(url, batch_timers, 60.0)
            taken.append(
                Sample(
                    len(approval_ids), serving.rss_kib(web_pid), serving.rss_kib(timer_process.pid)
                )
            )
        books = check_bookkeeping(url, approval_ids, told, timer_ids)
    return MemoryReport(instances, taken, books, seconds)
