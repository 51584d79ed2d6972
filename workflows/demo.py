"""Demo users (one per role, plus one supervisor per department) and sample records."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db import perform
from engine.identity import DEPARTMENTS, ROLE_LABELS, create_user, ensure_roles
from engine.models import ProcessInstance, User

from . import scenarios
from .p1.demo import load_p1_demo
from .p2.demo import load_p2_demo
from .p3 import PROCESS_ID as P3
from .p3 import samples
from .p4.demo import load_p4_demo

#: Role codes with one demo user each, named by the code; dept_supervisor gets one per department.
DEMO_ROLE_USERS = [code for code in ROLE_LABELS if code != "dept_supervisor"]
#: Demo users' e-mail addresses are `<username>@` this (a reserved domain: nothing leaves).
DEMO_MAIL_DOMAIN = "jiedai.example"


@dataclass
class DemoResult:
    passwords: dict[str, str] = field(default_factory=dict)
    instances: int = 0


def demo_users() -> list[tuple[str, str, list[str], str | None]]:
    """(username, display name, roles, department) of every demo user."""
    users = [
        (code, f"{ROLE_LABELS[code][0]}（演示）", [code], _department_of(code))
        for code in DEMO_ROLE_USERS
    ]
    users += [
        (f"sup_{dept}", f"{label}主管（演示）", ["dept_supervisor"], dept)
        for dept, (label, _en) in DEPARTMENTS.items()
    ]
    return users


def _department_of(code: str) -> str | None:
    return {
        "front_clerk": "customer_service",
        "manager_assistant": "management",
        "project_manager": "management",
        "maintenance": "engineering",
    }.get(code)


def load_demo(session: Session, password: str | None = None) -> DemoResult:
    """Idempotent: users that exist keep their passwords; samples are made once."""
    result = DemoResult()
    perform(session, lambda s: create_demo_users(s, password, result))
    if not session.scalar(select(func.count()).select_from(ProcessInstance)):
        result.instances = _create_samples(session)
    result.instances += load_p1_demo(session, password, result.passwords)
    result.instances += load_p2_demo(session)
    return result


def create_demo_users(session: Session, password: str | None, result: DemoResult) -> None:
    ensure_roles(session)
    existing = set(session.scalars(select(User.username)))
    for username, display_name, roles, department in demo_users():
        if username in existing:
            continue
        pw = password or secrets.token_urlsafe(9)
        user = create_user(session, username, display_name, pw, roles, department=department)
        user.email = f"{username}@{DEMO_MAIL_DOMAIN}"  # reminders are e-mailed when SMTP is set
        result.passwords[username] = pw


def _create_samples(session: Session) -> int:
    """P3 records in several states, so the inbox, the ledger and the report are not empty."""
    count = 0

    def new_contact(step):
        nonlocal count
        count += 1
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.complete_step(session, instance.id, *step)
        return instance

    # A complaint waiting for the security supervisor (within its 2 working days).
    first = new_contact(samples.contact("complaint"))
    scenarios.complete_step(session, first.id, *samples.complaint_record("security"))
    # A serious cleaning complaint waiting for the manager's acknowledgement.
    serious = new_contact(
        samples.contact(
            "complaint", owner="陈丽", unit="5栋801", content="楼道垃圾三天未清运，异味严重。"
        )
    )
    scenarios.complete_step(
        session,
        serious.id,
        *samples.complaint_record("cleaning", serious=True, complaint_class="cleaning"),
    )
    # A handled complaint waiting for the return visit to be designated.
    handled = new_contact(samples.contact("complaint", owner="刘洋", unit="1栋302"))
    scenarios.run_steps(session, handled.id, samples.complaint_path("front_clerk")[1:5])
    # A closed complaint, and a closed praise.
    closed = new_contact(samples.contact("complaint", owner="赵敏", unit="2栋1101"))
    scenarios.run_steps(session, closed.id, samples.complaint_path("front_clerk")[1:])
    praise = new_contact(
        samples.contact(
            "praise", owner="孙伟", unit="6栋203", content="表扬维修班李师傅服务热情、修理及时。"
        )
    )
    scenarios.complete_step(session, praise.id, *samples.FIRST_STEPS["praise"])
    # A repair waiting for the maintenance team.
    new_contact(samples.contact("repair", owner="周杰", unit="4栋602", content="厨房水龙头漏水。"))
    count += load_p4_demo(session)
    return count
