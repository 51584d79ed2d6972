"""Real processes for the HTTP benchmarks: a database made ready for the approval workload,
the web app under gunicorn on a free 127.0.0.1 port, and `jiedai worker` timer processes.

Everything started here is stopped by the context managers, also when the benchmark fails:
each process runs in its own process group, which gets SIGTERM, then SIGKILL."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path

from engine import pg_admin, runtime
from engine.bundles import collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import deploy_bundle
from engine.identity import create_user, get_user
from engine.schema import migrate

from . import approval5

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PG_ADMIN_URL = pg_admin.DEFAULT_SERVER_URL
#: Every benchmark user's password (the users live only in the benchmark's own database).
PASSWORD = "bench-pass-2026"
TIMER_PROCESS_ID = "bench_timer"
TIMER_BPMN = approval5.DIAGRAMS / f"{TIMER_PROCESS_ID}.bpmn"
ROLES = [role for _spec, role, _data in approval5.STEPS]
TIMER_LEAD = 3.0
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class BenchUser:
    username: str
    role: str


def bench_users(per_role: int) -> list[BenchUser]:
    """`per_role` users for each role of the approval, e.g. `bench_director_2`."""
    return [
        BenchUser(f"bench_{role}_{number}", role)
        for role in ROLES
        for number in range(1, per_role + 1)
    ]


# --- databases ------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="jiedai-bench-") as folder:
        yield f"sqlite:///{folder}/bench.sqlite3"


@contextmanager
def postgres_database(server_url: str = DEFAULT_PG_ADMIN_URL) -> Iterator[str]:
    """A fresh database `jiedai_bench_<random>` on the server of `server_url`, always dropped
    (`engine.pg_admin`: WITH FORCE, so a process left connected cannot keep it alive).
    Raises `pg_admin.ServerUnavailable` with one line saying why it cannot be made."""
    name = f"jiedai_bench_{uuid.uuid4().hex[:12]}"
    with pg_admin.temporary_database(server_url, name) as url:
        yield url


def prepare_database(url: str, users: list[BenchUser]) -> None:
    """Migrate, deploy the approval (and the timer process) and create `users`."""
    engine = make_engine(url)
    try:
        migrate(engine)
        with make_session_factory(engine)() as session:
            perform(session, lambda s: deploy_bundle(s, approval5.bundle(), "system:bench"))
            perform(session, lambda s: deploy_bundle(s, collect_bundle(TIMER_BPMN), "system:bench"))

            def add_users(s) -> None:
                for user in users:
                    create_user(s, user.username, user.username, PASSWORD, [user.role])

            perform(session, add_users)
    finally:
        engine.dispose()


def start_approvals(url: str, count: int, username: str) -> list[int]:
    """Start `count` approvals through the engine as `username`; their ids."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            user = get_user(session, username)
            ids = []
            for _ in range(count):
                instance = perform(
                    session, lambda s: runtime.start_instance(s, approval5.PROCESS_ID, user)
                )
                ids.append(instance.id)
            return ids
    finally:
        engine.dispose()


def start_timers(url: str, count: int, username: str, spread: float) -> list[int]:
    """Start `count` timer instances due over the next `spread` seconds; their ids.

    Each is due at least `TIMER_LEAD` seconds after its own start begins: a time already past
    when the start commits fires during the start, and no worker sees it (on SQLite a start
    may wait for the write lock behind the web's completions)."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            user = get_user(session, username)
            first = datetime.now(UTC) + timedelta(seconds=TIMER_LEAD)
            ids = []
            for number in range(count):
                planned = first + timedelta(seconds=spread * number / max(count, 1))
                due = max(planned, datetime.now(UTC) + timedelta(seconds=TIMER_LEAD))
                instance = perform(
                    session,
                    lambda s, d=due: runtime.start_instance(
                        s, TIMER_PROCESS_ID, user, {"due": d.isoformat()}
                    ),
                )
                ids.append(instance.id)
            return ids
    finally:
        engine.dispose()


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(url: str, secret_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        JIEDAI_SECRET_KEY=secret_key,
        # Production mode (no JIEDAI_DEVELOPMENT), but plain HTTP on the loopback.
        JIEDAI_INSECURE_COOKIES="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    env.pop("JIEDAI_DEVELOPMENT", None)
    return env


def _spawn(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with log_path.open("ab") as log:
        # A new session: the process and everything it forks form one group to signal.
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
    try:  # whatever is left in the group (a worker that ignored SIGTERM)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    """The ids of the processes whose parent is `pid` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # `pid (comm) state ppid ...`: comm may hold spaces, so split after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` in KiB (`VmRSS` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"process {pid} has no VmRSS (a zombie?)")


@dataclass
class Server:
    """A running gunicorn; `workers()` lists its worker processes."""

    process: subprocess.Popen
    port: int
    secret_key: str
    log_path: Path

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def workers(self) -> list[int]:
        return children(self.process.pid)


@contextmanager
def gunicorn(
    url: str, workers: int, *, log_dir: Path, options: tuple[str, ...] = ()
) -> Iterator[Server]:
    """The web app under gunicorn with `workers` sync workers, ready to answer; `options`
    are more gunicorn arguments (e.g. `--config` with hooks that profile a worker)."""
    secret_key = secrets.token_hex(32)
    port = free_port()
    log_path = log_dir / f"gunicorn-{port}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        *options,
        "web.app:create_app()",
    ]
    process = _spawn(command, _environment(url, secret_key), log_path)
    try:
        server = Server(process, port, secret_key, log_path)
        _wait_ready(server, workers)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: Server, workers: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with status {server.process.returncode}:\n"
                + _tail(server.log_path)
            )
        if len(server.workers()) >= workers and _answers(server):
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"gunicorn did not answer on port {server.port} within {READY_TIMEOUT:.0f} s:\n"
        + _tail(server.log_path)
    )


def _answers(server: Server) -> bool:
    connection = HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request("GET", "/login")
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def timer_workers(url: str, count: int, *, log_dir: Path, poll: float = 0.5):
    """`count` `jiedai worker` processes; yields their `Popen`s."""
    env = _environment(url, "unused-by-the-worker")
    command = [
        sys.executable,
        "-c",
        "from web.cli import main; main()",
        "worker",
        "--poll",
        str(poll),
    ]
    processes: list[subprocess.Popen] = []
    try:
        for number in range(count):
            processes.append(_spawn(command, env, log_dir / f"worker-{number}.log"))
        yield processes
    finally:
        for process in processes:
            _stop(process)
