"""What auditors ask of the audit trail: search events by procedure, person, role, dates,
business key, outcome and comment text (paged), and the chain's verification status.

Reads only: every function takes the caller's Session; `store_verification` adds a row and
leaves the commit to the caller."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Integer,
    Select,
    String,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from . import audit_chain
from .errors import JiedaiError
from .identity import ROLE_LABELS
from .models import AuditEvent, Base, ProcessInstance, ProcessModel, User, utcnow
from .working_days import business_timezone

#: Outcomes an approval form stores in its decision field.
OUTCOMES = {"approved": "approve", "rejected": "reject"}
#: Data fields holding an approval's decision (`approve`/`reject`), first found wins.
DECISION_FIELDS = ("decision", "approval_decision")
#: Data fields searched by the comment text filter; the first found is "the comment".
COMMENT_FIELDS = (
    "comment",
    "approval_comment",
    "acknowledgement_note",
    "escalation_note",
    "inform_note",
    "visit_note",
    "result_summary",
)
#: Event kinds an auditor can filter on (others still appear unfiltered).
EVENT_KINDS = (
    "instance:start",
    "task:claim",
    "task:unclaim",
    "task:complete",
    "decision:evaluate",
    "timer:fire",
    "instance:incident",
    "instance:retry",
    "instance:cancel",
    "instance:complete",
    "instance:archive",
    "version:deploy",
    "auth:login",
    "auth:login_failed",
    "personal_data:reveal",
    "audit:export",
)
SYSTEM_ACTOR_PREFIX = "system:"
MAX_TEXT = 100


class SearchInvalid(JiedaiError):
    """A filter an auditor gave cannot be applied (bad dates, unknown person or role)."""


class AuditVerification(Base):
    """The result of one walk over the chain (CLI or the chain-status panel)."""

    __tablename__ = "audit_verification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    checked_by: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    complete: Mapped[bool] = mapped_column(Boolean)
    event_count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    head_hash: Mapped[str] = mapped_column(String(64))
    broken_seq: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    damage: Mapped[str | None] = mapped_column(String(20))
    seconds: Mapped[float] = mapped_column(Float)


# --- search ---------------------------------------------------------------------------------


@dataclass
class AuditFilter:
    """The auditor's filters; empty ones do not restrict. `person` is a username or (part
    of) a display name; dates are business (Asia/Shanghai) days, both ends included."""

    procedure: str | None = None
    person: str | None = None
    role: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    business_key: str | None = None
    outcome: str | None = None  # approved, rejected
    text: str | None = None
    kind: str | None = None
    instance_id: int | None = None

    def is_empty(self) -> bool:
        return not any(vars(self).values())


@dataclass
class AuditRow:
    seq: int
    at: datetime
    kind: str
    actor: str
    actor_name: str
    role: str | None
    instance_id: int | None
    business_key: str | None
    process_id: str | None
    procedure: str | None
    task: str | None
    task_name: str | None
    decision: str | None
    comment: str | None
    data: dict
    payload: dict
    hash: str


@dataclass
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    per_page: int
    filters: AuditFilter = field(default_factory=AuditFilter)

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=business_timezone())


def _matching_actors(session: Session, person: str) -> list[str]:
    """Usernames meant by `person`: the exact username, or every display name containing it."""
    if person.startswith(SYSTEM_ACTOR_PREFIX):
        return [person]
    like = f"%{person}%"
    names = session.scalars(
        select(User.username).where(
            or_(func.lower(User.username) == person.lower(), User.display_name.like(like))
        )
    ).all()
    if not names:
        raise SearchInvalid(f"没有名为“{person}”的用户", f"No user matches '{person}'")
    return list(names)


def check_filter(session: Session, filters: AuditFilter) -> list[str] | None:
    """Raise `SearchInvalid` for a filter that cannot be right; the actors `person` means."""
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise SearchInvalid(
            "开始日期晚于结束日期", "The start date is after the end date of the range"
        )
    if filters.role and filters.role not in ROLE_LABELS:
        raise SearchInvalid(f"未知的角色“{filters.role}”", f"Unknown role '{filters.role}'")
    if filters.outcome and filters.outcome not in OUTCOMES:
        raise SearchInvalid(
            f"未知的审批结果“{filters.outcome}”", f"Unknown outcome '{filters.outcome}'"
        )
    return _matching_actors(session, filters.person) if filters.person else None


def _data_field(name: str):
    return AuditEvent.payload[("data", name)].as_string()


def search_query(session: Session, filters: AuditFilter) -> Select:
    """The events matching `filters`, newest first, with their instance and procedure."""
    actors = check_filter(session, filters)
    actor_user = aliased(User)
    query = (
        select(
            AuditEvent,
            ProcessInstance.business_key,
            ProcessInstance.process_id,
            ProcessModel.name,
            actor_user.display_name,
        )
        .outerjoin(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
        .outerjoin(ProcessModel, ProcessModel.process_id == ProcessInstance.process_id)
        .outerjoin(actor_user, actor_user.username == AuditEvent.actor)
    )
    if filters.procedure:
        query = query.where(ProcessInstance.process_id == filters.procedure)
    if actors is not None:
        query = query.where(AuditEvent.actor.in_(actors))
    if filters.role:
        query = query.where(AuditEvent.role == filters.role)
    if filters.date_from:
        query = query.where(AuditEvent.at >= _day_start(filters.date_from))
    if filters.date_to:
        query = query.where(AuditEvent.at < _day_start(filters.date_to + timedelta(days=1)))
    if filters.business_key:
        query = query.where(ProcessInstance.business_key.ilike(f"%{filters.business_key}%"))
    if filters.instance_id:
        query = query.where(AuditEvent.instance_id == filters.instance_id)
    if filters.kind:
        query = query.where(AuditEvent.kind == filters.kind)
    if filters.outcome:
        wanted = OUTCOMES[filters.outcome]
        query = query.where(or_(*(_data_field(name) == wanted for name in DECISION_FIELDS)))
    if filters.text:
        like = f"%{filters.text[:MAX_TEXT]}%"
        query = query.where(or_(*(_data_field(name).ilike(like) for name in COMMENT_FIELDS)))
    return query.order_by(AuditEvent.seq.desc())


def decision_of(data: dict) -> str | None:
    """The approval decision in a task's data (`approve`, `reject`), if it holds one."""
    return next((data[name] for name in DECISION_FIELDS if data.get(name)), None)


def comment_of(data: dict) -> str | None:
    """The comment in a task's data, if it holds one."""
    return next((str(data[name]) for name in COMMENT_FIELDS if data.get(name)), None)


def _row(event: AuditEvent, key, process_id, procedure, display_name) -> AuditRow:
    data = event.payload.get("data") if isinstance(event.payload.get("data"), dict) else {}
    comment = comment_of(data)
    return AuditRow(
        seq=event.seq,
        at=event.at,
        kind=event.kind,
        actor=event.actor,
        actor_name=display_name or event.actor,
        role=event.role,
        instance_id=event.instance_id,
        business_key=key,
        process_id=process_id,
        procedure=procedure,
        task=event.task,
        task_name=event.payload.get("name") or event.task,
        decision=decision_of(data),
        comment=comment,
        data=data,
        payload=event.payload,
        hash=event.hash,
    )


def search(
    session: Session, filters: AuditFilter, *, page: int = 1, per_page: int = 50
) -> AuditPage:
    """One page of the events matching `filters`; raises `SearchInvalid` for bad filters."""
    query = search_query(session, filters)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page = max(page, 1)
    rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return AuditPage([_row(*row) for row in rows], total, page, per_page, filters)


def iter_search(session: Session, filters: AuditFilter, batch: int = 1000) -> Iterator[AuditRow]:
    """Every matching event, oldest first, fetched in batches (for exports)."""
    query = search_query(session, filters).order_by(None).order_by(AuditEvent.seq)
    result = session.execute(query.execution_options(yield_per=batch))
    for row in result:
        yield _row(*row)


def procedures(session: Session) -> list[tuple[str, str]]:
    """(process id, name) of every deployed procedure, for the filter's choices."""
    return list(session.execute(select(ProcessModel.process_id, ProcessModel.name)).all())


# --- chain status ---------------------------------------------------------------------------


def store_verification(
    session: Session, result: audit_chain.Verification, checked_by: str
) -> AuditVerification:
    row = AuditVerification(
        checked_at=utcnow(),
        checked_by=checked_by,
        ok=result.ok,
        complete=result.complete,
        event_count=result.count,
        head_hash=result.head_hash,
        broken_seq=result.broken_seq,
        damage=result.damage,
        seconds=round(result.seconds, 3),
    )
    session.add(row)
    return row


def last_verification(session: Session) -> AuditVerification | None:
    return session.scalar(select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1))


def last_failure(session: Session) -> AuditVerification | None:
    """The latest verification, if it found damage (shown prominently until a clean one)."""
    last = last_verification(session)
    return last if last is not None and not last.ok else None
