"""P1 demo data: a liaison per university office and visits of each tier in several states."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db import perform
from engine.identity import UNIVERSITY_OFFICES, create_user, ensure_roles
from engine.models import ProcessInstance, ProcessModel, User

from .. import scenarios
from . import PROCESS_ID, samples


def liaison_users() -> list[tuple[str, str, list[str], str]]:
    """(username, display name, roles, department): one dept_liaison per university office."""
    return [
        (f"liaison_{code}", f"{label}联络人（演示）", ["dept_liaison"], code)
        for code, (label, _en) in UNIVERSITY_OFFICES.items()
    ]


def create_liaisons(session: Session, password: str | None, passwords: dict[str, str]) -> None:
    """Idempotent: users that exist are left as they are."""
    ensure_roles(session)
    existing = set(session.scalars(select(User.username)))
    for username, display_name, roles, department in liaison_users():
        if username in existing:
            continue
        pw = password or secrets.token_urlsafe(9)
        create_user(session, username, display_name, pw, roles, department=department)
        passwords[username] = pw


def load_p1_demo(
    session: Session, password: str | None = None, passwords: dict[str, str] | None = None
) -> int:
    """Liaison users, then sample visits once (only if P1 is deployed and has no instances).
    Returns the number of visits created."""
    perform(session, lambda s: create_liaisons(s, password, {} if passwords is None else passwords))
    deployed = session.scalar(select(ProcessModel.id).where(ProcessModel.process_id == PROCESS_ID))
    started = session.scalar(
        select(func.count())
        .select_from(ProcessInstance)
        .where(ProcessInstance.process_id == PROCESS_ID)
    )
    if deployed is None or started:
        return 0
    return _create_visits(session)


def _visit(session: Session, level: str, organisation: str, start: date, **kwargs) -> int:
    instance = scenarios.start(session, PROCESS_ID, "reception_officer")
    step = samples.registration(level, organisation=organisation, visit_from=start, **kwargs)
    scenarios.complete_step(session, instance.id, *step)
    return instance.id


def _create_visits(session: Session) -> int:
    today = date.today()
    run = scenarios.run_steps
    # Archived routine visit, last month.
    archived = _visit(session, "routine", "南京大学党委办公室", today - timedelta(days=30))
    run(session, archived, samples.path_to_preparation("routine")[1:])
    for _ in samples.DEPARTMENTS:
        scenarios.complete_step(session, archived, *samples.CONFIRM)
    start = (today - timedelta(days=30)).isoformat()
    run(session, archived, [samples.execution(start, start), samples.ARCHIVE])
    # Important visit: the director approved, the university leader has yet to.
    important = _visit(
        session, "important", "教育部高等教育司调研组", today + timedelta(days=12), rank="bureau"
    )
    run(
        session, important, [samples.LEADER, samples.plan(), samples.approve("approve_by_director")]
    )
    # Important visit sent back by the director: the plan is being revised.
    revised = _visit(session, "important", "浙江大学", today + timedelta(days=20), headcount=12)
    run(session, revised, [samples.LEADER, samples.plan(), samples.reject("approve_by_director")])
    # Major visit waiting for the coordination meeting.
    major = _visit(
        session,
        "major",
        "江苏省人民政府",
        today + timedelta(days=15),
        headcount=25,
        rank="ministerial",
        days=2,
    )
    run(session, major, [samples.LEADER, samples.plan()])
    # Routine visit in preparation: one of three departments has confirmed.
    preparing = _visit(session, "routine", "苏州科技大学", today + timedelta(days=5))
    run(session, preparing, samples.path_to_preparation("routine")[1:])
    scenarios.complete_step(session, preparing, *samples.CONFIRM)
    # Just registered, waiting for the leader's instructions.
    _visit(session, "routine", "扬州大学研究生院", today + timedelta(days=25), headcount=4)
    return 6
