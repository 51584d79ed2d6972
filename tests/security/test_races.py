"""Races (issue 8): 50 people complete the same task at the same moment through the HTTP app
on PostgreSQL: exactly one wins, the 49 others are told clearly that nothing of theirs was
saved, and the state, the task projection and the audit chain stay consistent."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from engine import audit_chain
from engine.db import make_engine, make_session_factory, perform
from engine.identity import get_user
from engine.models import AuditEvent, HumanTask, ProcessInstance, Role, TaskStatus, User
from web.app import create_app
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

from .conftest import signed_csrf

PEOPLE = 50


def _clerks(session, count: int) -> list[int]:
    """`count` front clerks (sharing one password hash: no scrypt per user needed here)."""
    template = get_user(session, "front_clerk")
    role = session.scalar(select(Role).where(Role.code == "front_clerk"))

    def add(s):
        users = [
            User(
                username=f"race_clerk_{n}",
                display_name=f"Clerk {n}",
                password_hash=template.password_hash,
                department="customer_service",
                active=True,
                roles=[s.merge(role)],
            )
            for n in range(count)
        ]
        s.add_all(users)
        s.flush()  # why: the ids are returned
        return [user.id for user in users]

    return perform(session, add)


def test_fifty_simultaneous_completions_one_wins(pg_url):
    engine = make_engine(pg_url)
    session = make_session_factory(engine)()
    instance = scenarios.start(session, P3, "front_clerk")
    task_id = scenarios.open_task(session, instance.id, "record_contact").id
    user_ids = _clerks(session, PEOPLE)
    head_before = audit_chain.head(session)
    version_before = session.get(ProcessInstance, instance.id).lock_version
    session.close()

    app = create_app({"TESTING": True, "DATABASE_URL": pg_url, "SECRET_KEY": "race-key"})
    token = signed_csrf(app.secret_key)
    data = {k: str(v) for k, v in samples.contact("complaint")[1].items()}
    barrier = threading.Barrier(PEOPLE)
    outcomes: list[tuple[int, str, str]] = [None] * PEOPLE  # type: ignore[list-item]

    def complete(index: int) -> None:
        client = app.test_client()
        with client.session_transaction() as cookie:
            cookie["_user_id"] = str(user_ids[index])
            cookie["_fresh"] = True
            cookie["csrf_token"] = "c" * 40
        barrier.wait()
        response = client.post(f"/tasks/{task_id}", data={**data, "csrf_token": token})
        with client.session_transaction() as cookie:
            flashes = cookie.get("_flashes", [])
        category, message = flashes[-1] if flashes else ("", "")
        outcomes[index] = (response.status_code, category, message)

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(PEOPLE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    app.extensions["jiedai"].engine.dispose()

    assert all(outcome is not None for outcome in outcomes), "a request did not finish"
    assert all(status == 302 for status, _c, _m in outcomes), outcomes
    winners = [o for o in outcomes if o[1] == "success"]
    losers = [o for o in outcomes if o[1] != "success"]
    assert len(winners) == 1, outcomes
    assert len(losers) == PEOPLE - 1
    for _status, category, message in losers:
        assert category == "error"
        # zh_CN is the default: "已被他人完成"/"已由…认领" or the stale-instance message.
        assert any(word in message for word in ("他人", "认领", "已完成", "其他人", "重新")), (
            message
        )

    session = make_session_factory(engine)()
    try:
        row = session.get(HumanTask, task_id)
        assert row.status == TaskStatus.COMPLETED
        assert row.completed_by_id in user_ids
        assert session.get(ProcessInstance, instance.id).lock_version == version_before + 1
        completions = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.kind == "task:complete", AuditEvent.instance_id == instance.id)
        )
        assert completions == 1
        assert scenarios.open_task(session, instance.id, "record_complaint") is not None
        result = audit_chain.verify(session)
        assert result.ok, result.describe()
        assert audit_chain.head(session)[0] > head_before[0]
    finally:
        session.close()
        engine.dispose()
