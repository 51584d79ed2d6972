"""Retention: ended instances' workflow state moved out of the hot table (`jiedai archive`).

The serialized SpiffWorkflow state (`process_instance.state_json`) is by far the largest thing
an instance leaves behind, and nothing reads it once the instance has ended except the pages
that show one instance. Archiving moves it, zlib-compressed with the SHA-256 of the original
JSON, into `instance_archive` and sets the column NULL; `archived_at` marks the row.

What stays where it was, because people and checks read it:
- the instance row (status, business key, dates): lists, registers and reports join on it;
- `human_task` rows: the task history the detail page and auditors read;
- `human_task_candidate` rows: who may see an ended instance is decided by the roles its
  tasks were for (`engine.visibility`), so dropping them would hide instances from staff;
- incidents, register rows (ledgers, monthly reports) and the audit chain.
Timer rows of an ended instance are deleted (there should be none: ending clears them).

Reading is transparent: `instance_state` returns the JSON from the row or from the archive
(checking the checksum), and `runtime.load_workflow` goes through it, so the detail page, the
auditors' timeline and the approval record of an archived instance look as before.

Each batch is one transaction (`perform`) with one `instance:archive` audit event naming the
instances and their state checksums; running the same command again finds nothing to move."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import ForeignKey, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, lazyload, mapped_column, object_session, undefer

from . import audit_chain
from .db import perform
from .errors import JiedaiError
from .models import AuditEvent, Base, InstanceStatus, ProcessInstance, Timer, utcnow
from .working_days import business_timezone

ARCHIVE_KIND = "instance:archive"
#: An instance in one of these states never changes again.
FINAL_STATUSES = (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED)
#: zlib's default level: JSON shrinks about as much as at 9, in half the time.
COMPRESSION_LEVEL = 6


class InstanceArchive(Base):
    """The archived state of one ended instance."""

    __tablename__ = "instance_archive"

    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instance.id"), primary_key=True, autoincrement=False
    )
    state: Mapped[bytes] = mapped_column(LargeBinary)  # zlib of the UTF-8 JSON
    state_bytes: Mapped[int]  # size of the original JSON, in bytes
    sha256: Mapped[str] = mapped_column(String(64))  # of the original JSON
    archived_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_by: Mapped[str] = mapped_column(String(64))


class ArchiveRefused(JiedaiError):
    """The cut-off date is not allowed (in the future)."""


class ArchiveDamaged(JiedaiError):
    """An archived state is missing or does not match its checksum."""

    def __init__(self, instance: ProcessInstance, reason_zh: str, reason_en: str):
        super().__init__(
            f"流程实例 {instance.business_key} 的归档状态{reason_zh}",
            f"The archived state of instance {instance.business_key} {reason_en}",
        )


# --- reading --------------------------------------------------------------------------------


def instance_state(instance: ProcessInstance, session: Session | None = None) -> str:
    """The instance's serialized workflow state, from its row or, once archived, from the
    archive. Raises `ArchiveDamaged` if the archived copy is missing or altered."""
    if instance.archived_at is None:
        return instance.state_json
    session = session or object_session(instance)
    row = session.get(InstanceArchive, instance.id)
    if row is None:
        raise ArchiveDamaged(instance, "不存在", "is missing")
    try:
        text = zlib.decompress(row.state).decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as exc:
        raise ArchiveDamaged(instance, "无法解压", "cannot be decompressed") from exc
    if _sha256(text.encode("utf-8")) != row.sha256:
        raise ArchiveDamaged(instance, "与校验值不符", "does not match its checksum")
    return text


# --- archiving ------------------------------------------------------------------------------


@dataclass
class ArchiveResult:
    before: date
    dry_run: bool
    instance_ids: list[int] = field(default_factory=list)
    state_bytes: int = 0  # JSON taken out of process_instance (or that would be)
    archived_bytes: int = 0  # what instance_archive holds for it (zlib)
    timers_deleted: int = 0
    audit_seqs: list[int] = field(default_factory=list)  # one `instance:archive` per batch

    @property
    def count(self) -> int:
        return len(self.instance_ids)


def cutoff(before: date) -> datetime:
    """Start of `before` in the business time zone: instances that ended earlier move."""
    return datetime.combine(before, time.min, tzinfo=business_timezone())


def business_today() -> date:
    return datetime.now(business_timezone()).date()


def archive_before(
    session: Session,
    before: date,
    *,
    actor: str,
    dry_run: bool = False,
    batch: int = 500,
    today: date | None = None,
) -> ArchiveResult:
    """Archive every completed or cancelled instance that ended before `before` (a business
    date; today at the latest, so nothing that ends later today can be caught). Batches of
    `batch` instances, each one transaction with one audit event. `dry_run` changes nothing
    and reports what would move."""
    today = today or business_today()
    if before > today:
        raise ArchiveRefused(
            f"归档日期 {before} 晚于今天 {today}：只能归档已经结束的实例",
            f"The date {before} is after today ({today}): only instances that have ended "
            "can be archived",
        )
    if batch < 1:
        raise ArchiveRefused("每批数量必须至少为 1", "The batch size must be at least 1")
    result = ArchiveResult(before, dry_run)
    last_id = 0
    while True:
        if dry_run:
            moved = _measure_batch(session, result, last_id, batch)
            session.rollback()  # end the read transaction
        else:
            seq_before = audit_chain.head(session)[0]
            done = perform(
                session, lambda s, after=last_id: _archive_batch(s, before, after, batch, actor)
            )
            moved = done.instance_ids
            if moved:
                result.instance_ids.extend(moved)
                result.state_bytes += done.state_bytes
                result.archived_bytes += done.archived_bytes
                result.timers_deleted += done.timers_deleted
                result.audit_seqs.append(_batch_event_seq(session, seq_before, moved[0], actor))
            session.rollback()  # end the reads outside `perform`
        if not moved:
            return result
        last_id = moved[-1]


def _candidates(before: date, after_id: int, limit: int):
    return (
        select(ProcessInstance)
        # No join to the version: PostgreSQL refuses FOR UPDATE on a LIMIT-ed eager join.
        .options(undefer(ProcessInstance.state_json), lazyload(ProcessInstance.version))
        .where(
            ProcessInstance.status.in_(FINAL_STATUSES),
            ProcessInstance.ended_at < cutoff(before),
            ProcessInstance.archived_at.is_(None),
            ProcessInstance.id > after_id,
        )
        .order_by(ProcessInstance.id)
        .limit(limit)
    )


def _measure_batch(session: Session, result: ArchiveResult, after_id: int, limit: int) -> list:
    ids = []
    for instance in session.scalars(_candidates(result.before, after_id, limit)):
        raw = instance.state_json.encode("utf-8")
        result.state_bytes += len(raw)
        result.archived_bytes += len(zlib.compress(raw, COMPRESSION_LEVEL))
        ids.append(instance.id)
    result.instance_ids.extend(ids)
    return ids


def _archive_batch(
    session: Session, before: date, after_id: int, limit: int, actor: str
) -> ArchiveResult:
    """One transaction: move up to `limit` states, drop leftover timers, one audit event."""
    done = ArchiveResult(before, dry_run=False)
    # The row locks make a concurrent run (or a late writer) wait, then skip what moved.
    query = _candidates(before, after_id, limit).with_for_update(of=ProcessInstance)
    instances = session.scalars(query).all()
    if not instances:
        return done
    now = utcnow()
    entries = []
    for instance in instances:
        raw = instance.state_json.encode("utf-8")
        packed = zlib.compress(raw, COMPRESSION_LEVEL)
        digest = _sha256(raw)
        session.add(
            InstanceArchive(
                instance_id=instance.id,
                state=packed,
                state_bytes=len(raw),
                sha256=digest,
                archived_at=now,
                archived_by=actor,
            )
        )
        instance.state_json = None
        instance.archived_at = now
        done.state_bytes += len(raw)
        done.archived_bytes += len(packed)
        entries.append({"id": instance.id, "business_key": instance.business_key, "sha256": digest})
    done.instance_ids = [instance.id for instance in instances]
    deleted = session.execute(delete(Timer).where(Timer.instance_id.in_(done.instance_ids)))
    done.timers_deleted = deleted.rowcount or 0
    audit_chain.record(
        session,
        ARCHIVE_KIND,
        actor=actor,
        payload={
            "before": before.isoformat(),
            "instances": entries,
            "state_bytes": done.state_bytes,
            "archived_bytes": done.archived_bytes,
        },
    )
    return done


def _batch_event_seq(session: Session, seq_before: int, first_id: int, actor: str) -> int:
    """The sequence number the batch's event got at commit (other writers may have
    committed events in between, so it is looked up, not assumed)."""
    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.seq > seq_before, AuditEvent.kind == ARCHIVE_KIND, AuditEvent.actor == actor
        )
        .order_by(AuditEvent.seq)
    )
    for event in events:
        if event.payload["instances"][0]["id"] == first_id:
            return event.seq
    raise LookupError(f"no {ARCHIVE_KIND} event for instance {first_id} after seq {seq_before}")


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
