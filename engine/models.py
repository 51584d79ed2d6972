"""Persistence models of the engine: versions, instances, the task and timer projections,
identity and the audit chain.

Every datetime column stores aware UTC values (`UtcDateTime`), whatever the database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .lanes import role_codes


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict: JSON}


# --- identity -------------------------------------------------------------------------------


class Role(Base):
    __tablename__ = "role"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"), primary_key=True)


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(64), index=True)
    # Where reminders are e-mailed (engine.mail); none: in-app notifications only.
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    roles: Mapped[list[Role]] = relationship(secondary="user_role", lazy="selectin")

    @property
    def role_codes(self) -> set[str]:
        return {role.code for role in self.roles}

    def has_role(self, *codes: str) -> bool:
        return bool(self.role_codes.intersection(codes))


# --- process models and versions ------------------------------------------------------------


class ProcessModel(Base):
    """A procedure, named by the id of its BPMN process."""

    __tablename__ = "process_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    versions: Mapped[list[ProcessVersion]] = relationship(
        back_populates="model", order_by="ProcessVersion.number"
    )


class ProcessVersion(Base):
    """An immutable deployed bundle: BPMN, DMN tables and form schemas with one checksum."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("model_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("process_model.id"))
    number: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    # Large and immutable: loaded only on a cache miss (see specs_cache).
    files: Mapped[dict] = mapped_column(JSON, deferred=True)  # {relative file name: text}
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)  # serialized SpiffWorkflow specs
    serializer_version: Mapped[str] = mapped_column(String(20))
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)

    model: Mapped[ProcessModel] = relationship(back_populates="versions", lazy="joined")


# --- instances and their projections --------------------------------------------------------


class InstanceStatus:
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_instance_model_status", "process_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    process_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=InstanceStatus.RUNNING)
    business_key: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    # Lists never need the state; the runtime loads it with the row it locks. NULL once
    # archived (`engine.archive`): read it through `archive.instance_state`.
    state_json: Mapped[str | None] = mapped_column(Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(20))
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]

    version: Mapped[ProcessVersion] = relationship(lazy="joined")
    started_by: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}

    def assign_business_key(self) -> None:
        """`JD<start date>-<id>`: short enough to read out on the phone to an owner."""
        self.business_key = f"JD{self.started_at.astimezone(UTC):%Y%m%d}-{self.id:06d}"


class Incident(Base):
    """Why an instance is in `error`: the failing task, line and message, and the submission
    to replay on retry."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_spec: Mapped[str | None] = mapped_column(String(200))
    task_name: Mapped[str | None] = mapped_column(String(300))
    line_number: Mapped[int | None]
    message: Mapped[str] = mapped_column(Text)
    # What was being done when it failed, so retry can replay it: {"action": "complete",
    # "human_task_id": ..., "data": {...}, "user_id": ...}, {"action": "start"} or "steps".
    replay: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class TaskStatus:
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class HumanTask(Base):
    """Projection of a ready user task, kept in step with the instance state."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_status_due", "status", "due_at"),
        Index("ix_human_task_claimed", "claimed_by_id", "status"),
        Index("ix_human_task_assignee", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    task_spec: Mapped[str] = mapped_column(String(200))  # BPMN element id
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(300))
    candidate_department: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    form_file: Mapped[str | None] = mapped_column(String(200))
    instructions: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Sequential position among all tasks of the instance, for a stable history order.
    seq: Mapped[int] = mapped_column(Integer, default=0)

    instance: Mapped[ProcessInstance] = relationship()
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    # Written with the task for the inbox's indexed join; checks read the lane instead.
    candidates: Mapped[list[HumanTaskCandidate]] = relationship(cascade="all, delete-orphan")

    @property
    def candidate_roles(self) -> list[str]:
        return role_codes(self.lane)


#: Open tasks by assignee, lane and department, each in the inbox order (engine.inbox.ORDER).
Index(
    "ix_human_task_inbox",
    HumanTask.status,
    HumanTask.assignee_id,
    HumanTask.lane,
    HumanTask.candidate_department,
    HumanTask.due_at.is_(None),
    HumanTask.due_at,
    HumanTask.created_at,
    HumanTask.id,
    HumanTask.claimed_by_id,  # last: the team workload counts from the index alone
)

#: PostgreSQL only (migration 0013): the unclaimed open tasks of a lane, without and with a
#: department, and of an assignee, in the inbox order. PostgreSQL does not take `IS NULL` as
#: fixing an index column for the order, so it cannot read these in order off
#: ix_human_task_inbox.
_UNCLAIMED = (HumanTask.status == TaskStatus.OPEN) & HumanTask.claimed_by_id.is_(None)
_UNASSIGNED = _UNCLAIMED & HumanTask.assignee_id.is_(None)
_INBOX_ORDER = (HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at, HumanTask.id)
Index(
    "ix_human_task_inbox_pool",
    HumanTask.lane,
    *_INBOX_ORDER,
    postgresql_where=_UNASSIGNED & HumanTask.candidate_department.is_(None),
).ddl_if(dialect="postgresql")
Index(
    "ix_human_task_inbox_department",
    HumanTask.lane,
    HumanTask.candidate_department,
    *_INBOX_ORDER,
    postgresql_where=_UNASSIGNED & HumanTask.candidate_department.is_not(None),
).ddl_if(dialect="postgresql")
Index(
    "ix_human_task_inbox_assigned",
    HumanTask.assignee_id,
    *_INBOX_ORDER,
    postgresql_where=_UNCLAIMED & HumanTask.assignee_id.is_not(None),
).ddl_if(dialect="postgresql")


class HumanTaskCandidate(Base):
    """One row per candidate role of an open task: the inbox joins on (role_code, task)."""

    __tablename__ = "human_task_candidate"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True
    )
    role_code: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Timer(Base):
    """Projection of a waiting timer event; the worker polls this table."""

    __tablename__ = "timer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    task_spec: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(index=True)
    # Failed firings (engine.timers): how many, when to try again, and why the last failed.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


# --- audit chain ----------------------------------------------------------------------------


class AuditEvent(Base):
    """Append-only, hash-chained: hash = sha256(prev_hash + canonical_json(event))."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_instance", "instance_id", "seq"),)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str | None] = mapped_column(String(64))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    task: Mapped[str | None] = mapped_column(String(200))
    version_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row; appenders lock it just before commit so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    hash: Mapped[str] = mapped_column(String(64))


# --- working-day calendar -------------------------------------------------------------------


class CalendarDay(Base):
    """A day the admins' holiday calendar knows: a holiday (`is_workday` false) or a 调休
    make-up working day (true). It takes precedence over the `chinesecalendar` package."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
