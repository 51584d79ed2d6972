"""Demo passes of every type in several states, so the registers are not empty."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import scenarios
from . import PROCESS_ID, samples
from .models import Pass
from .rules import add_months


def _run(session: Session, steps, starter: str = "front_clerk") -> int:
    instance = scenarios.start(session, PROCESS_ID, starter)
    for step in steps:
        scenarios.complete_step(session, instance.id, *step)
    return instance.id


def _last_pass_no(session: Session) -> str:
    return session.scalar(select(Pass.pass_no).order_by(Pass.id.desc()).limit(1))


def load_p4_demo(session: Session) -> int:
    """Issue, renew and return passes through the real process; returns instances started."""
    ids = samples.IDS
    started = [
        # Resident passes: the owner, and a family member with the owner's authorisation.
        _run(session, samples.issue_path("resident", holder="王建国", unit="3栋2单元1502")),
        _run(
            session,
            samples.issue_path(
                "resident", holder="王小明", id_no=ids[3], unit="3栋2单元1502", proxy=True
            ),
        ),
        _run(session, samples.issue_path("resident", holder="赵敏", id_no=ids[4], unit="2栋1101")),
        # Tenant passes: active (waiting for the expiry reminder), renewed, returned.
        _run(session, samples.issue_path("tenant", holder="李娜", id_no=ids[1], unit="5栋801")),
        _run(
            session,
            samples.issue_path(
                "tenant",
                holder="周杰",
                id_no=ids[5],
                unit="4栋602",
                months=6,
                receipt_no="SJ-20261123-02",
            ),
        ),
    ]
    renewed_no = _last_pass_no(session)
    renewed = session.scalar(select(Pass).where(Pass.pass_no == renewed_no))
    started.append(
        _run(
            session,
            [
                samples.request("renew", pass_no=renewed_no),
                samples.renewal(add_months(renewed.valid_until, 6)),
                samples.payment("2.00", "SJ-20261123-03"),
                samples.HANDOVER,
            ],
        )
    )
    started.append(
        _run(
            session,
            samples.issue_path(
                "tenant", holder="刘洋", id_no=ids[6], unit="1栋302", receipt_no="SJ-20261123-04"
            ),
        )
    )
    returning = _last_pass_no(session)
    # The tenant handed the pass back at the front desk; the refund waits at the cashier.
    started.append(
        _run(session, [samples.request("return", pass_no=returning), samples.take_back()])
    )
    # Temporary passes: two workers active, one returned and refunded at the cashier.
    for holder, id_no in (("张师傅", ids[2]), ("陈师傅", ids[7]), ("黄师傅", ids[8])):
        started.append(_run(session, samples.issue_path("temporary", holder=holder, id_no=id_no)))
    started.append(
        _run(
            session,
            [samples.request("return", pass_no=_last_pass_no(session)), samples.refund()],
            "cashier",
        )
    )
    # A tenant at the cashier right now: documents checked, payment not yet recorded.
    started.append(
        _run(
            session,
            samples.issue_path("tenant", holder="吴芳", id_no=ids[0], unit="7栋1203")[:2],
        )
    )
    return len(started)
