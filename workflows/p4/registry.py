"""The pass registry: listing, filters, expiry, masking, the rented-units list and the deposit
ledger. Rows are written by the service handlers; this module reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from engine.listeners import on_instance_saved
from engine.models import ProcessInstance

from . import PROCESS_ID
from .labels import PASS_TYPES
from .models import DepositEntry, Pass
from .rules import business_today

#: Roles that may list passes (holders' data is confidential: seed 002 4.12).
READER_ROLES = ("front_clerk", "cashier", "manager_assistant", "project_manager", "auditor")
#: Roles that handle the ID card itself and may see the whole number (with an audit event).
REVEAL_ROLES = ("front_clerk", "cashier")
STATES = ("active", "expired", "returned")


def pass_state(row: Pass, today: date | None = None) -> str:
    """active, expired (valid_until before today in Asia/Shanghai) or returned."""
    if row.status == "returned":
        return "returned"
    today = today or business_today()
    if row.valid_until is not None and row.valid_until < today:
        return "expired"
    return "active"


@on_instance_saved(PROCESS_ID)
def title_instance(session: Session, instance: ProcessInstance, data: dict) -> None:
    """Title the instance by what it is about (类型 · 持证人 · 单元) for lists and the inbox."""
    parts = [PASS_TYPES.get(data.get("pass_type"), ("证件办理",))[0]]
    parts += [str(data[key]) for key in ("holder_name", "unit", "pass_no") if data.get(key)]
    instance.title = " · ".join(parts)[:200]


@dataclass
class PassFilter:
    pass_type: str | None = None
    state: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    text: str | None = None

    def query(self, today: date | None = None) -> Select:
        today = today or business_today()
        query = select(Pass)
        if self.pass_type:
            query = query.where(Pass.pass_type == self.pass_type)
        if self.state == "returned":
            query = query.where(Pass.status == "returned")
        elif self.state == "expired":
            query = query.where(Pass.status == "active", Pass.valid_until < today)
        elif self.state == "active":
            query = query.where(
                Pass.status == "active", or_(Pass.valid_until.is_(None), Pass.valid_until >= today)
            )
        if self.issued_from:
            query = query.where(Pass.issued_on >= self.issued_from)
        if self.issued_to:
            query = query.where(Pass.issued_on <= self.issued_to)
        if self.text:
            like = f"%{self.text}%"
            # The ID number is not searchable by fragment: that would reveal it digit by digit.
            query = query.where(
                or_(Pass.holder_name.like(like), Pass.unit.like(like), Pass.pass_no.like(like))
            )
        return query


def registry_page(
    session: Session, filters: PassFilter, *, page: int = 1, per_page: int = 25
) -> tuple[list[Pass], int]:
    """A page of the register, last issued first (read in the order of `ix_p4_pass_issued`),
    and the number of passes the filters keep."""
    query = filters.query()
    total = session.scalar(query.with_only_columns(func.count(Pass.id)))
    rows = session.scalars(
        query.order_by(Pass.issued_on.desc(), Pass.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return list(rows), total


def registry_rows(session: Session, filters: PassFilter) -> list[Pass]:
    return list(session.scalars(filters.query().order_by(Pass.pass_type, Pass.year, Pass.seq)))


def rented_units(session: Session) -> list[Pass]:
    """《出租单元一览表》: every tenant pass not yet returned, by unit."""
    query = select(Pass).where(and_(Pass.pass_type == "tenant", Pass.status == "active"))
    return list(session.scalars(query.order_by(Pass.unit, Pass.pass_no)))


@dataclass
class LedgerLine:
    entry: DepositEntry
    balance: Decimal


def deposit_ledger(session: Session) -> list[LedgerLine]:
    """The deposit ledger in order with its running balance of deposits held."""
    balance = Decimal("0.00")
    lines = []
    for entry in session.scalars(select(DepositEntry).order_by(DepositEntry.at, DepositEntry.id)):
        balance += entry.deposit
        lines.append(LedgerLine(entry, balance))
    return lines


def deposits_held(session: Session) -> Decimal:
    """What the passes still out hold in deposits; equals the ledger's balance."""
    return sum(session.scalars(select(Pass.deposit_held)), Decimal("0.00"))
