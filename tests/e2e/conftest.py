"""Real-browser tests: a live jiedai server and Debian's Chromium driven by Playwright.

Fixtures
    live_server  (session) base URL of `jiedai serve` on a free port, against a fresh SQLite
                 database in a temporary directory, initialised with `jiedai init` and
                 `jiedai demo --password E2E_PASSWORD`.
    browser      (session) Chromium at /usr/bin/chromium, headless (Playwright never
                 downloads a browser here).
    page         a new page in a new context: locale zh-CN, 1280x800, base_url = live_server,
                 so `page.goto("/login")` works.
    login        the helper `login(page, username, password=E2E_PASSWORD)`.
    screenshot   the helper `screenshot(page, name)` -> tests/e2e/artifacts/<name>.png.

Without /usr/bin/chromium the tests fail when CI=true and are skipped otherwise.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
E2E_PASSWORD = "e2e-pass-2026"
SERVER_START_TIMEOUT = 30.0
LOG_TAIL_LINES = 60


def _jiedai() -> str:
    """The `jiedai` console script of the virtualenv running pytest."""
    exe = Path(sys.executable).parent / "jiedai"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: run `make setup` (pip install -e '.[dev]') first")
    return str(exe)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _run_cli(args: list[str], env: dict[str, str], log: Path) -> None:
    """Run `jiedai ARGS...`, output appended to LOG; on failure fail with the log tail."""
    cmd = [_jiedai(), *args]
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        try:
            result = subprocess.run(
                cmd,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"`jiedai {' '.join(args)}` timed out; log {log}:\n{_tail(log)}")
    if result.returncode != 0:
        pytest.fail(
            f"`jiedai {' '.join(args)}` exited with {result.returncode}; log {log}:\n{_tail(log)}"
        )


def _wait_for_login(base_url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"`jiedai serve` exited with {proc.returncode} before {base_url}/login answered; "
                f"log {log}:\n{_tail(log)}"
            )
        try:
            with urllib.request.urlopen(f"{base_url}/login", timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.2)
    pytest.fail(
        f"{base_url}/login did not answer 200 within {SERVER_START_TIMEOUT:.0f} s "
        f"(last: {last_error}); log {log}:\n{_tail(log)}"
    )


@pytest.fixture(scope="session")
def live_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The live server's database, for tests that prepare or check data through the engine."""
    # Next to the server's log: test_p2_meeting finds it there.
    return f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.sqlite3'}"


@pytest.fixture(scope="session")
def live_server(live_database_url: str) -> Iterator[str]:
    tmp = Path(live_database_url.removeprefix("sqlite:///")).parent
    log = tmp / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": live_database_url,
        "JIEDAI_SECRET_KEY": "e2e",
        "PYTHONUNBUFFERED": "1",
    }
    _run_cli(["init"], env, log)
    _run_cli(["demo", "--password", E2E_PASSWORD], env, log)

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    cmd = [_jiedai(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_login(base_url, proc, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(make setup installs it: apt-get install chromium fonts-noto-cjk)"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)

    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser, live_server: str):
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 1280, "height": 800},
        base_url=live_server,
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def login(page, username: str, password: str = E2E_PASSWORD) -> None:
    """Log in through the login form and wait for the page that follows it."""
    page.goto("/login")
    page.locator("input[name='username']").fill(username)
    page.locator("input[name='password']").fill(password)
    submit = page.locator("form button[type='submit'], form input[type='submit']").first
    with page.expect_navigation():
        submit.click()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as tests/e2e/artifacts/<name>.png and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(name="login")
def login_fixture():
    return login


@pytest.fixture(name="screenshot")
def screenshot_fixture():
    return screenshot
