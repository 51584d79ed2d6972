"""PostgreSQL for tests: a database of the test's own, dropped afterwards.

The server is `JIEDAI_TEST_PG_URL`, else 127.0.0.1:5432 as user root or postgres. Without a
reachable server the test skips with the reason; with `CI=true` it fails instead. Creating and
dropping is `engine.pg_admin`'s (the benchmarks use it too)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from engine import pg_admin
from engine.bundles import DEFAULT_BPMN_DIR, collect_bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import deploy_bundle
from engine.schema import migrate
from workflows.demo import DemoResult, create_demo_users
from workflows.procedures import register_procedures

PASSWORD = "test-pass-2026"
SERVER_URLS = (
    [os.environ["JIEDAI_TEST_PG_URL"]]
    if os.environ.get("JIEDAI_TEST_PG_URL")
    else [
        "postgresql+psycopg://root@127.0.0.1:5432/postgres",
        pg_admin.DEFAULT_SERVER_URL,
    ]
)


def server_url() -> str:
    """A reachable server, else skip with the reasons (fail when `CI=true`)."""
    reasons = []
    for url in SERVER_URLS:
        try:
            pg_admin.server_version(url)
            return url
        except pg_admin.ServerUnavailable as exc:
            reasons.append(str(exc))
    reason = "no PostgreSQL server reachable (" + "; ".join(reasons) + ")"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def pg_database(prefix: str = "jiedai_test") -> Iterator[str]:
    """An empty database `<prefix>_<random>`: yields its URL, drops it afterwards."""
    with pg_admin.temporary_database(server_url(), f"{prefix}_{uuid.uuid4().hex[:12]}") as url:
        yield url


def prepare_p3(url: str) -> None:
    """Migrate `url`, deploy P3 and add the demo users (password `PASSWORD`)."""
    register_procedures()
    engine = make_engine(url)
    migrate(engine)
    session = make_session_factory(engine)()
    bundle = collect_bundle(DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn")
    perform(session, lambda s: deploy_bundle(s, bundle, "system:test"))
    perform(session, lambda s: create_demo_users(s, PASSWORD, DemoResult()))
    session.close()
    engine.dispose()


@contextmanager
def p3_database(prefix: str = "jiedai_test") -> Iterator[str]:
    """A fresh database with P3 deployed and the demo users: yields its URL."""
    with pg_database(prefix) as url:
        prepare_p3(url)
        yield url
