"""`jiedai bench http` and `jiedai bench scale`: the 5-step approval worked over HTTP by
concurrent clients against the app under gunicorn, then the database is checked for what the
clients were told (nothing lost, nothing done twice, the audit chain verifies).

The load generator: one thread per client in this process, each with its own
`http.client.HTTPConnection` and cookie jar (no third-party client; on 2 cores the load
generator competes with the server, and threads blocked on sockets cost it little). A client
signs in as its own user (one role each) and works like a person in a browser: inbox → Claim
(POST) → the task form it is redirected to (GET) → Submit (POST) → the inbox it is redirected
to, whose flash says whether the completion was saved. gunicorn's sync workers close the
connection after each response, so every request opens a new TCP connection, as it would for
SpiffArena under gunicorn.

The approvals are started through the engine before the clock starts: starting is not one of
the three measured kinds, and a queue of work from the first second makes the figure the
steady state of claiming and completing rather than of a pipeline filling up."""

from __future__ import annotations

import os
import random
import re
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sqlalchemy import func, select

from engine import audit_chain
from engine.db import make_engine, make_session_factory
from engine.models import AuditEvent, HumanTask, InstanceStatus, ProcessInstance, TaskStatus

from . import approval5, serving
from .record import append_section

TARGET_P95_MS = 50.0
TARGET_SCALE_RATIO = 1.6
#: SpiffArena over HTTP under gunicorn with 8 clients (the issue's figures).
PEER = "SpiffArena (gunicorn, 8 clients): completion p95 1,015 ms, 18 completions/s"
KINDS = ("inbox", "claim", "form", "complete")
IDLE_SLEEP = 0.05  # seconds a client waits after an empty inbox
TIMER_GRACE = 20.0  # seconds to wait after the load for timers still due
DATA_BY_ROLE = {role: data for _spec, role, data in approval5.STEPS}
SPEC_BY_ROLE = {role: spec for spec, role, _data in approval5.STEPS}
STEP_SPECS = [spec for spec, _role, _data in approval5.STEPS]

_TASK_LINK = re.compile(r'href="/tasks/(\d+)"')
_CSRF = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')
_FLASH = re.compile(r'class="flash flash-(success|error|warning|info)"')


# --- one client -----------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    location: str
    body: str


class Client:
    """One person's browser: a connection to the server and the session cookie."""

    def __init__(self, host: str, port: int, stats: Stats):
        self.connection = HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.stats = stats

    def close(self) -> None:
        self.connection.close()

    def request(self, kind: str | None, method: str, path: str, fields=None) -> Response:
        headers = {"Accept-Language": "zh-CN"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8", errors="replace")
        elapsed = (time.perf_counter() - started) * 1000
        if response.will_close:
            self.connection.close()  # reopened by the next request
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "Max-Age=0" not in header:
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        if kind is not None:
            self.stats.timed(kind, elapsed)
        location = urlsplit(response.headers.get("Location") or "")
        path_only = location.path + (f"?{location.query}" if location.query else "")
        return Response(response.status, path_only, text)

    def sign_in(self, username: str, password: str) -> Response:
        page = self.request(None, "GET", "/login")
        answer = self.request(
            None,
            "POST",
            "/login",
            {"username": username, "password": password, "csrf_token": csrf_token(page.body)},
        )
        if answer.status != 302:
            raise RuntimeError(f"sign-in of {username} answered {answer.status}, not a redirect")
        return self.request("inbox", "GET", answer.location or "/tasks/")


def csrf_token(page: str) -> str:
    match = _CSRF.search(page)
    if match is None:
        raise RuntimeError("no CSRF token on the page (not signed in, or an error page)")
    return match.group(1)


def task_ids(page: str) -> list[int]:
    return list(dict.fromkeys(int(found) for found in _TASK_LINK.findall(page)))


def flash_kinds(page: str) -> set[str]:
    return set(_FLASH.findall(page))


# --- the load -------------------------------------------------------------------------------


@dataclass
class Stats:
    """What every client saw, under one lock."""

    target: int
    deadline: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    completions: int = 0
    conflicts: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, ms: float) -> None:
        with self.lock:
            self.latencies[kind].append(ms)

    def completed(self) -> None:
        with self.lock:
            self.completions += 1

    def conflict(self, where: str) -> None:
        with self.lock:
            self.conflicts[where] += 1

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] += 1

    def done(self) -> bool:
        return self.completions >= self.target or time.monotonic() >= self.deadline

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())


def _work(client: Client, role: str, stats: Stats, rng: random.Random, claim: bool) -> None:
    """Claim (unless not `claim`: completing claims too) and complete tasks of `role` until
    the target or the deadline is reached."""
    data = {key: str(value) for key, value in DATA_BY_ROLE[role].items()}
    page = client.request("inbox", "GET", "/tasks/")
    while not stats.done():
        ids = task_ids(page.body)
        if not ids:
            time.sleep(IDLE_SLEEP)
            page = client.request("inbox", "GET", "/tasks/")
            continue
        task_id = rng.choice(ids)
        token = csrf_token(page.body)
        if claim:
            claimed = client.request(
                "claim", "POST", f"/tasks/{task_id}/claim", {"csrf_token": token}
            )
        else:
            claimed = Response(302, f"/tasks/{task_id}", "")
        if claimed.status != 302:
            stats.error(f"claim answered {claimed.status}")
            page = client.request("inbox", "GET", "/tasks/")
            continue
        if claimed.location != f"/tasks/{task_id}":  # someone of the same role was quicker
            stats.conflict("claim")
            page = client.request("inbox", "GET", claimed.location or "/tasks/")
            continue
        form = client.request("form", "GET", claimed.location)
        if form.status != 200:
            if form.status == 302:  # done by someone else meanwhile: "already done"
                stats.conflict("form")
            else:
                stats.error(f"form answered {form.status}")
            page = client.request("inbox", "GET", "/tasks/")
            continue
        answer = client.request(
            "complete", "POST", f"/tasks/{task_id}", {**data, "csrf_token": csrf_token(form.body)}
        )
        if answer.status != 302:
            stats.error(f"completion answered {answer.status}")
            page = client.request("inbox", "GET", "/tasks/")
            continue
        # A person's next page tells them whether it was saved: the flash on it. It is the
        # inbox (the next step is another role's), or the next task form if it were theirs.
        target = answer.location or "/tasks/"
        page = client.request("inbox" if target == "/tasks/" else "form", "GET", target)
        kinds = flash_kinds(page.body)
        if "success" in kinds and "error" not in kinds:
            stats.completed()
        elif "error" in kinds:
            stats.conflict("complete")
        else:
            stats.error("completion without a message")
        if target != "/tasks/":
            page = client.request("inbox", "GET", "/tasks/")


@dataclass
class Load:
    clients: int
    seconds: float
    stats: Stats
    web_cpu: float  # CPU seconds the gunicorn workers used during the load
    client_cpu: float  # CPU seconds of this process (the load generator) during the load
    machine_cpu: float  # CPU seconds of the whole machine (every process) during the load

    def percentile(self, kind: str, fraction: float) -> float | None:
        values = sorted(self.stats.latencies.get(kind, []))
        if not values:
            return None
        rank = max(int(round(fraction * len(values) + 0.5)) - 1, 0)  # nearest rank
        return values[min(rank, len(values) - 1)]

    @property
    def completions_per_s(self) -> float:
        return self.stats.completions / self.seconds if self.seconds else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.stats.requests / self.seconds if self.seconds else 0.0


def client_users(clients: int) -> list[serving.BenchUser]:
    """Client i works as role i mod 5, each client a different user."""
    per_role = -(-clients // len(serving.ROLES))
    by_role = {
        role: [u for u in serving.bench_users(per_role) if u.role == role] for role in serving.ROLES
    }
    return [
        by_role[serving.ROLES[i % len(serving.ROLES)]][i // len(serving.ROLES)]
        for i in range(clients)
    ]


def run_load(
    server: serving.Server,
    users: list[serving.BenchUser],
    target: int,
    seconds: float,
    *,
    claim: bool = True,
) -> Load:
    """Sign every user in (before the clock), then let them work until `target` completions
    or `seconds` have passed."""
    stats = Stats(target=target, deadline=float("inf"))
    clients = [Client(server.host, server.port, stats) for _ in users]
    try:
        for client, user in zip(clients, users, strict=True):
            client.sign_in(user.username, serving.PASSWORD)
        stats.latencies.clear()
        failures: list[BaseException] = []

        def worker(client: Client, user: serving.BenchUser, seed: int) -> None:
            try:
                _work(client, user.role, stats, random.Random(seed), claim)
            except BaseException as exc:  # noqa: BLE001 — reported after the join
                failures.append(exc)
                stats.deadline = 0.0  # stop the others: the run is void

        threads = [
            threading.Thread(target=worker, args=(c, u, n), name=f"bench-client-{n}")
            for n, (c, u) in enumerate(zip(clients, users, strict=True))
        ]
        web_before, cpu_before = _cpu_seconds(server.workers()), time.process_time()
        machine_before = _machine_busy_seconds()
        started = time.monotonic()
        stats.deadline = started + seconds
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        web_cpu = _cpu_seconds(server.workers()) - web_before
        client_cpu = time.process_time() - cpu_before
        machine_cpu = _machine_busy_seconds() - machine_before
        if failures:
            raise RuntimeError(f"a client failed: {failures[0]!r}") from failures[0]
        return Load(len(users), elapsed, stats, web_cpu, client_cpu, machine_cpu)
    finally:
        for client in clients:
            client.close()


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (the first line of /proc/stat:
    user nice system idle iowait irq softirq steal …; guest time is inside user)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- bookkeeping ----------------------------------------------------------------------------


@dataclass
class Bookkeeping:
    started: int
    completed: int
    waiting: dict[str, int]
    unaccounted: list[int]
    saved_completions: int  # completed task rows of these instances
    told_completed: int  # completions the clients were told were saved
    completed_twice: int  # task rows with more than one `task:complete` event
    audit: str
    audit_ok: bool
    timers_started: int = 0
    timers_fired: int = 0  # by a worker (a `timer:fire` event)
    timers_waiting: int = 0  # instances still waiting on their timer at the end
    double_timers: int = 0

    @property
    def lost(self) -> int:
        """Instances not accounted for, plus completions the clients were told of but the
        database does not hold (a lost update)."""
        return len(self.unaccounted) + max(self.told_completed - self.saved_completions, 0)

    @property
    def timers_at_start(self) -> int:
        """Timer instances that ended without a worker: due before their start committed."""
        return self.timers_started - self.timers_fired - self.timers_waiting

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.completed_twice == 0
            and self.double_timers == 0
            and self.timers_waiting == 0
            and self.audit_ok
            and self.saved_completions == self.told_completed
        )

    def describe(self) -> str:
        waiting = ", ".join(f"{spec} {n}" for spec, n in self.waiting.items() if n) or "none"
        text = (
            f"{self.started} started: {self.completed} completed, waiting at a step: {waiting}; "
            f"unaccounted {len(self.unaccounted)}. Completions saved {self.saved_completions}, "
            f"told {self.told_completed}; completed twice {self.completed_twice}. "
            f"Audit chain: {self.audit}."
        )
        if self.timers_started:
            text += (
                f" Timers: {self.timers_started} started, {self.timers_fired} fired by a "
                f"worker, {self.timers_at_start} already due when their start committed, "
                f"{self.timers_waiting} still waiting; {self.double_timers} fired twice."
            )
        return text


def check_bookkeeping(
    url: str, approval_ids: list[int], told_completed: int, timer_ids: list[int] = ()
) -> Bookkeeping:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            instances = {
                row.id: row
                for row in session.scalars(
                    select(ProcessInstance).where(ProcessInstance.id.in_(approval_ids))
                )
            }
            open_tasks: dict[int, list[str]] = defaultdict(list)
            for instance_id, spec in session.execute(
                select(HumanTask.instance_id, HumanTask.task_spec).where(
                    HumanTask.instance_id.in_(approval_ids), HumanTask.status == TaskStatus.OPEN
                )
            ):
                open_tasks[instance_id].append(spec)
            completed, waiting, unaccounted = 0, dict.fromkeys(STEP_SPECS, 0), []
            for instance_id in approval_ids:
                row, specs = instances.get(instance_id), open_tasks.get(instance_id, [])
                if row is not None and row.status == InstanceStatus.COMPLETED and not specs:
                    completed += 1
                elif (
                    row is not None
                    and row.status == InstanceStatus.RUNNING
                    and len(specs) == 1
                    and specs[0] in waiting
                ):
                    waiting[specs[0]] += 1
                else:
                    unaccounted.append(instance_id)
            saved = session.scalar(
                select(func.count(HumanTask.id)).where(
                    HumanTask.instance_id.in_(approval_ids),
                    HumanTask.status == TaskStatus.COMPLETED,
                )
            )
            per_task = Counter(
                payload.get("human_task")
                for (payload,) in session.execute(
                    select(AuditEvent.payload).where(
                        AuditEvent.kind == "task:complete", AuditEvent.instance_id.in_(approval_ids)
                    )
                )
            )
            fired = Counter(
                (instance_id, payload.get("task_guid"))
                for instance_id, payload in session.execute(
                    select(AuditEvent.instance_id, AuditEvent.payload).where(
                        AuditEvent.kind == "timer:fire", AuditEvent.instance_id.in_(timer_ids)
                    )
                )
            )
            timers_waiting = session.scalar(
                select(func.count(ProcessInstance.id)).where(
                    ProcessInstance.id.in_(timer_ids),
                    ProcessInstance.status == InstanceStatus.RUNNING,
                )
            )
            verification = audit_chain.verify(session)
            session.rollback()
            return Bookkeeping(
                started=len(approval_ids),
                completed=completed,
                waiting=waiting,
                unaccounted=unaccounted,
                saved_completions=saved,
                told_completed=told_completed,
                completed_twice=sum(1 for n in per_task.values() if n > 1),
                audit=verification.describe(),
                audit_ok=verification.ok and verification.complete,
                timers_started=len(timer_ids),
                timers_fired=len(fired),
                timers_waiting=timers_waiting,
                double_timers=sum(1 for n in fired.values() if n > 1),
            )
    finally:
        engine.dispose()


def wait_for_timers(url: str, timer_ids: list[int], timeout: float) -> None:
    """Until every timer instance has ended (or `timeout` seconds)."""
    if not timer_ids:
        return
    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    try:
        with make_session_factory(engine)() as session:
            while time.monotonic() < deadline:
                running = session.scalar(
                    select(func.count(ProcessInstance.id)).where(
                        ProcessInstance.id.in_(timer_ids),
                        ProcessInstance.status == InstanceStatus.RUNNING,
                    )
                )
                session.rollback()
                if not running:
                    return
                time.sleep(0.5)
    finally:
        engine.dispose()


# --- reports --------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


@dataclass
class Run:
    """One load against one server set-up, and what the database says afterwards."""

    name: str
    load: Load
    books: Bookkeeping

    def latency_rows(self) -> list[str]:
        rows = []
        for kind in KINDS:
            values = self.load.stats.latencies.get(kind, [])
            rows.append(
                f"| {self.name} | {kind} | {len(values)} | {_ms(self.load.percentile(kind, 0.5))} "
                f"| {_ms(self.load.percentile(kind, 0.95))} "
                f"| {_ms(self.load.percentile(kind, 0.99))} |"
            )
        return rows

    def summary(self) -> str:
        stats = self.load.stats
        conflicts = ", ".join(f"{k} {v}" for k, v in sorted(stats.conflicts.items())) or "0"
        errors = ", ".join(f"{k} ×{v}" for k, v in sorted(stats.errors.items())) or "0"
        return (
            f"| {self.name} | {self.load.clients} | {self.load.seconds:.1f} | {stats.requests} | "
            f"{self.load.requests_per_s:.1f} | {stats.completions} | "
            f"{self.load.completions_per_s:.1f} | {conflicts} | {errors} | "
            f"{self.load.web_cpu / self.load.seconds:.2f} | "
            f"{self.load.client_cpu / self.load.seconds:.2f} | "
            f"{self.load.machine_cpu / self.load.seconds:.2f} |"
        )


_SUMMARY_HEAD = [
    "| set-up | clients | seconds | requests | requests/s | completions | completions/s "
    "| conflicts | errors | web CPU (cores) | clients CPU (cores) | machine busy (cores) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]
_LATENCY_HEAD = [
    "| set-up | request | count | p50 ms | p95 ms | p99 ms |",
    "|---|---|---|---|---|---|",
]


@dataclass
class HttpReport:
    runs: list[Run]
    database: str
    scale: bool = False

    def table(self) -> str:
        rows = [*_SUMMARY_HEAD, *(run.summary() for run in self.runs), ""]
        rows += [*_LATENCY_HEAD, *(line for run in self.runs for line in run.latency_rows()), ""]
        for run in self.runs:
            rows.append(f"{run.name}: {run.books.describe()}")
            rows.append("")
        rows += self.verdicts()
        return "\n".join(rows)

    def verdicts(self) -> list[str]:
        lines = []
        books = "PASS" if all(run.books.ok for run in self.runs) else "FAIL"
        lost = sum(run.books.lost for run in self.runs)
        doubles = sum(run.books.completed_twice + run.books.double_timers for run in self.runs)
        lines.append(
            f"Nothing lost: {lost} lost updates, {doubles} done twice, every audit chain "
            f"verifies: {books}"
        )
        if not self.scale:
            p95 = self.runs[0].load.percentile("complete", 0.95)
            verdict = "PASS" if p95 is not None and p95 < TARGET_P95_MS else "FAIL"
            lines.append(
                f"Completion p95 {_ms(p95)} ms (target < {TARGET_P95_MS:.0f} ms with 8 clients: "
                f"{verdict}); peer: {PEER}"
            )
            return lines
        one, many = self.runs
        ratio = many.load.completions_per_s / one.load.completions_per_s
        verdict = "PASS" if ratio >= TARGET_SCALE_RATIO else "FAIL"
        lines.append(
            f"{many.name} / {one.name} throughput = {ratio:.2f} (target ≥ {TARGET_SCALE_RATIO} "
            f"where the CPU allows: {verdict}). {self.cpu_note()}"
        )
        return lines

    def cpu_note(self) -> str:
        one = self.runs[0].load
        cores = os.cpu_count() or 1
        busy = one.machine_cpu / one.seconds
        return (
            f"The machine has {cores} cores; during the one-process run they were "
            f"{busy:.2f} cores busy in all (web, clients, PostgreSQL and any other work), so "
            f"more processes could add at most about {cores / max(busy, 0.01):.1f}x."
        )

    def record(self, description: str) -> None:
        title = "scale" if self.scale else "http"
        append_section(title, self.database, description, self.table())


# --- the benchmarks -------------------------------------------------------------------------


def run_http_benchmark(
    instances: int = 100,
    clients: int = 8,
    seconds: float = 120.0,
    workers: int | None = None,
    url: str | None = None,
) -> HttpReport:
    """`instances` approvals worked by `clients` against gunicorn with `workers` (default
    2 × cores) on `url` (default: a temporary SQLite file)."""
    workers = workers or 2 * (os.cpu_count() or 1)
    with ExitStack() as stack:
        url = url or stack.enter_context(serving.sqlite_database())
        name = f"{workers} web workers"
        run = _run(stack, url, name, instances, clients, seconds, workers, timer_workers=0)
    return HttpReport([run], "SQLite file (WAL)" if url.startswith("sqlite") else "PostgreSQL")


def run_scale_benchmark(
    instances: int = 400,
    clients: int = 8,
    seconds: float = 60.0,
    timers: int = 50,
    admin_url: str = serving.DEFAULT_PG_ADMIN_URL,
) -> HttpReport:
    """The same load against 1 web process + 1 timer worker, then 2 + 2, each on a fresh
    PostgreSQL database with `timers` timer instances due during the load.

    Throughput is compared over a fixed time with more work than it allows: when the queues
    run dry, the last steps are worked by the one deputy-director and one director client in
    turn, and the run's length says how fast one client goes, not how much the server does."""
    runs = []
    for web, timer_workers in ((1, 1), (2, 2)):
        with ExitStack() as stack:
            url = stack.enter_context(serving.postgres_database(admin_url))
            name = f"{web} web + {timer_workers} timer"
            runs.append(
                _run(stack, url, name, instances, clients, seconds, web, timer_workers, timers)
            )
    return HttpReport(runs, "PostgreSQL", scale=True)


def _run(
    stack: ExitStack,
    url: str,
    name: str,
    instances: int,
    clients: int,
    seconds: float,
    workers: int,
    timer_workers: int,
    timers: int = 0,
) -> Run:
    if clients < len(serving.ROLES):
        raise ValueError(
            f"{clients} clients cannot work the approval: each client has one of its "
            f"{len(serving.ROLES)} roles, so at least {len(serving.ROLES)} are needed"
        )
    users = client_users(clients)
    serving.prepare_database(url, users)
    starter = users[0].username
    approval_ids = serving.start_approvals(url, instances, starter)
    logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jiedai-bench-logs-")))
    server = stack.enter_context(serving.gunicorn(url, workers, log_dir=logs))
    timer_ids: list[int] = []
    if timer_workers:
        # Due over the expected length of the load, so the workers fire while it runs.
        spread = min(seconds, max(instances / 5.0, 2.0))
        timer_ids = serving.start_timers(url, timers, starter, spread)
        stack.enter_context(serving.timer_workers(url, timer_workers, log_dir=logs, poll=0.5))
    load = run_load(server, users, instances * len(approval5.STEPS), seconds)
    wait_for_timers(url, timer_ids, TIMER_GRACE)
    books = check_bookkeeping(url, approval_ids, load.stats.completions, timer_ids)
    return Run(name, load, books)
