"""Reminders that reach people: in-app notifications, and the outbox their e-mails leave from.

Who is told, about what (one notification per person, task and kind, never twice):
  timer     a timer firing (actor `system:worker`) opened the task — an escalation, a
            reminder, a follow-up: every person who may work on it.
  assigned  someone opened a task designated to one person (`assigneeField`, or a task outside
            any lane): that person, unless they caused it themselves (they are on the page).
  overdue   an open task's due time passed (a duty of the timer worker): whoever claimed it,
            else everyone who may work on it.

Notifications are written in the transaction of the state change that caused them (the
`on_tasks_opened` seam of `engine.listeners`), so they exist exactly when the task does. The
e-mail is never sent there: the row is the outbox entry (`email_status`), and a worker duty
sends pending letters after that transaction committed, retrying with backoff."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, sessionmaker

from . import mail
from .db import perform
from .duties import periodic_duty
from .errors import NotFound
from .inbox import can_work_on, eligible_users
from .listeners import on_tasks_opened
from .models import Base, HumanTask, ProcessInstance, TaskStatus, User, utcnow
from .timers.firing import ACTOR as WORKER_ACTOR
from .working_days import business_timezone

log = logging.getLogger("jiedai.notifications")

#: E-mail delivery: tries before giving up, and how long a claimed letter stays reserved for
#: the worker sending it (one that dies mid-send leaves it to be tried again after this).
MAX_EMAIL_ATTEMPTS = 5
EMAIL_LEASE = timedelta(minutes=5)
EMAIL_BATCH = 50
OVERDUE_BATCH = 200


class Kind:
    TIMER = "timer"
    ASSIGNED = "assigned"
    OVERDUE = "overdue"


class EmailStatus:
    OFF = "off"  # SMTP_HOST was not set when the notification was made
    NO_ADDRESS = "no_address"  # the person has no e-mail address
    PENDING = "pending"  # in the outbox (email_next_at: when it may be tried)
    SENT = "sent"
    FAILED = "failed"  # gave up after MAX_EMAIL_ATTEMPTS; email_error says why


#: kind → (zh_CN, English) headline; `{task}` is the task's name.
HEADLINES: dict[str, tuple[str, str]] = {
    Kind.TIMER: ("到时提醒：{task}", "Reminder: {task}"),
    Kind.ASSIGNED: ("指派给您的任务：{task}", "Task assigned to you: {task}"),
    Kind.OVERDUE: ("任务已逾期：{task}", "Task overdue: {task}"),
}


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        # Task first: it also serves the overdue duty's "already told about this task?".
        UniqueConstraint("human_task_id", "kind", "user_id", name="uq_notification_once"),
        # The bell's unread count and the list are both one index range per person.
        Index("ix_notification_user_unread", "user_id", "read_at"),
        Index("ix_notification_user_created", "user_id", "created_at"),
        Index("ix_notification_outbox", "email_status", "email_next_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    # What the text names, as it was when the notification was made: task, key, title, due_at.
    params: Mapped[dict]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    email_status: Mapped[str] = mapped_column(String(20), default=EmailStatus.OFF)
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    email_next_at: Mapped[datetime | None]
    email_sent_at: Mapped[datetime | None]
    email_error: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship()
    human_task: Mapped[HumanTask] = relationship()
    instance: Mapped[ProcessInstance] = relationship()

    def headline(self, locale: str) -> str:
        zh, en = HEADLINES.get(self.kind, ("{task}", "{task}"))
        return (zh if locale == "zh_CN" else en).format(task=self.params.get("task", ""))

    @property
    def due_at(self) -> datetime | None:
        due = self.params.get("due_at")
        return datetime.fromisoformat(due) if due else None


# --- who is told ----------------------------------------------------------------------------


def people_for(session: Session, task: HumanTask) -> list[User]:
    """Everyone who may work on the task now (the assignee alone if it names one)."""
    if task.assignee_id is not None:
        assignee = session.get(User, task.assignee_id)
        return [assignee] if assignee is not None and assignee.active else []
    roles = task.candidate_roles
    if not roles:
        return []
    return [user for user in eligible_users(session, roles) if can_work_on(user, task)]


def notify(session: Session, user: User, task: HumanTask, kind: str) -> Notification | None:
    """Tell `user` about `task` (in the caller's transaction); None if already told."""
    told = session.scalar(
        select(Notification.id).where(
            Notification.user_id == user.id,
            Notification.human_task_id == task.id,
            Notification.kind == kind,
        )
    )
    if told is not None:
        return None
    instance = task.instance
    now = utcnow()
    if not _email_wanted():
        status, next_at = EmailStatus.OFF, None
    elif not (user.email or "").strip():
        status, next_at = EmailStatus.NO_ADDRESS, None
    else:
        status, next_at = EmailStatus.PENDING, now
    row = Notification(
        user_id=user.id,
        kind=kind,
        human_task_id=task.id,
        instance_id=task.instance_id,
        params={
            "task": task.name,
            "key": instance.business_key,
            "title": instance.title,
            "due_at": task.due_at.isoformat() if task.due_at else None,
        },
        created_at=now,
        email_status=status,
        email_next_at=next_at,
    )
    session.add(row)
    session.flush()  # why: the next check for the same person and task must see this row
    return row


def _email_wanted() -> bool:
    """Whether SMTP is configured. Bad settings must not stop the state change that tells
    people: the letters wait in the outbox, and the worker's log says what is wrong."""
    try:
        return mail.smtp_settings() is not None
    except ValueError as exc:
        log.error("e-mail settings: %s", exc)
        return True


@on_tasks_opened
def _tell_about_opened_tasks(
    session: Session, instance: ProcessInstance, rows: list[HumanTask], actor: str
) -> None:
    for task in rows:
        if actor == WORKER_ACTOR:
            for user in people_for(session, task):
                notify(session, user, task, Kind.TIMER)
        elif task.assignee_id is not None:
            assignee = session.get(User, task.assignee_id)
            if assignee is not None and assignee.active and assignee.username != actor:
                notify(session, assignee, task, Kind.ASSIGNED)


def tell_overdue(session: Session, now: datetime | None = None) -> int:
    """Tell about each open task whose due time has passed, once per task: its claimant, else
    everyone who may work on it. Returns how many people were told."""
    now = now or utcnow()
    already = exists().where(
        Notification.human_task_id == HumanTask.id, Notification.kind == Kind.OVERDUE
    )
    tasks = session.scalars(
        select(HumanTask)
        .where(HumanTask.status == TaskStatus.OPEN, HumanTask.due_at < now, ~already)
        # Latest first: tasks nobody may work on (no holder of the role) are looked at again
        # each time, and must not hold back the ones that just fell due.
        .order_by(HumanTask.due_at.desc(), HumanTask.id.desc())
        .limit(OVERDUE_BATCH)
    ).all()
    told = 0
    for task in tasks:
        claimant = session.get(User, task.claimed_by_id) if task.claimed_by_id else None
        people = [claimant] if claimant is not None and claimant.active else None
        for user in people or people_for(session, task):
            told += notify(session, user, task, Kind.OVERDUE) is not None
    return told


@periodic_duty("notifications.overdue", every_seconds=60)
def _overdue_duty(session: Session) -> str | None:
    told = tell_overdue(session)
    return f"told {told} people about overdue tasks" if told else None


# --- reading and marking (the web's notification pages) -----------------------------------


def unread_count(session: Session, user_id: int) -> int:
    """One indexed COUNT (ix_notification_user_unread): cheap enough for every page."""
    return session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


def count_for(session: Session, user_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == user_id)
    )


def notifications_for(
    session: Session, user_id: int, *, limit: int = 50, offset: int = 0
) -> list[Notification]:
    """The person's notifications, newest first."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def own_notification(session: Session, user_id: int, notification_id: int) -> Notification:
    """The notification if it is this person's; another's is as good as missing."""
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound()
    return row


def mark_read(session: Session, user_id: int, notification_id: int) -> Notification:
    row = own_notification(session, user_id, notification_id)
    if row.read_at is None:
        row.read_at = utcnow()
    return row


def mark_all_read(session: Session, user_id: int) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount


def target_is_open_task(row: Notification) -> bool:
    return row.human_task.status == TaskStatus.OPEN


# --- the e-mail outbox ----------------------------------------------------------------------


def email_backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed try: 1, 2, 4, 8... minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def letter_for(row: Notification) -> mail.Letter:
    """zh_CN first, then English; the subject names the task and the instance's key."""
    params, user = row.params, row.user
    key, title = params.get("key", ""), params.get("title", "")
    link = mail.task_url(row.human_task_id)
    due = row.due_at
    due_text = due.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M") if due else None
    zh = [
        f"{user.display_name}，您好：",
        "",
        row.headline("zh_CN"),
        f"事项：{key} {title}".rstrip(),
        *([f"期限：{due_text}"] if due_text else []),
        f"办理：{link}",
    ]
    en = [
        f"Hello {user.display_name},",
        "",
        row.headline("en"),
        f"Case: {key} {title}".rstrip(),
        *([f"Due: {due_text}"] if due_text else []),
        f"Open the task: {link}",
    ]
    footer = ["", "—", "此邮件由接待系统自动发送。This message was sent by jiedai automatically."]
    return mail.Letter(
        to=user.email or "",
        to_name=user.display_name,
        subject=f"【接待】{row.headline('zh_CN')}（{key}） / {row.headline('en')} ({key})",
        body="\n".join([*zh, "", "----", "", *en, *footer]) + "\n",
    )


def _due_letters(now: datetime):
    return (
        select(Notification)
        .where(
            Notification.email_status == EmailStatus.PENDING,
            or_(Notification.email_next_at.is_(None), Notification.email_next_at <= now),
        )
        .order_by(Notification.email_next_at, Notification.id)
    )


def _claim(session: Session, now: datetime, limit: int) -> list[tuple[int, mail.Letter]]:
    """Reserve due letters for this worker (attempt counted, lease set) and build them."""
    rows = session.scalars(
        _due_letters(now).limit(limit).with_for_update(skip_locked=True, of=Notification)
    ).all()
    claimed = []
    for row in rows:
        if not (row.user.email or "").strip():  # the address was removed meanwhile
            row.email_status, row.email_next_at = EmailStatus.NO_ADDRESS, None
            continue
        row.email_attempts += 1
        row.email_next_at = now + EMAIL_LEASE
        claimed.append((row.id, letter_for(row)))
    return claimed


def _record(session: Session, outcomes: list[tuple[int, str | None]], now: datetime) -> None:
    for notification_id, error in outcomes:
        row = session.get(Notification, notification_id)
        if row is None:
            continue
        if error is None:
            row.email_status, row.email_sent_at = EmailStatus.SENT, now
            row.email_next_at = row.email_error = None
        elif row.email_attempts >= MAX_EMAIL_ATTEMPTS:
            row.email_status, row.email_next_at, row.email_error = EmailStatus.FAILED, None, error
        else:
            row.email_next_at, row.email_error = now + email_backoff(row.email_attempts), error


def deliver_outbox(
    session_factory: sessionmaker[Session],
    *,
    now: datetime | None = None,
    limit: int = EMAIL_BATCH,
) -> tuple[int, int]:
    """Send the due letters: claim them (one short transaction), send with no transaction
    open, record each outcome (another). Returns (sent, failed)."""
    settings = mail.smtp_settings()
    if settings is None:
        return 0, 0
    claimed_at = now or utcnow()
    with session_factory() as session:
        claimed = perform(session, lambda s: _claim(s, claimed_at, limit))
    if not claimed:
        return 0, 0
    errors = mail.send(settings, [letter for _, letter in claimed])
    outcomes = [
        (notification_id, error)
        for (notification_id, _), error in zip(claimed, errors, strict=True)
    ]
    done_at = now or utcnow()  # the backoff counts from the end of the attempt
    with session_factory() as session:
        perform(session, lambda s: _record(s, outcomes, done_at))
    failed = [error for _, error in outcomes if error]
    if failed:
        log.warning("%d of %d e-mails failed: %s", len(failed), len(outcomes), failed[0])
    return len(outcomes) - len(failed), len(failed)


def email_due_count(session: Session, now: datetime | None = None) -> int:
    query = _due_letters(now or utcnow()).order_by(None).with_only_columns(func.count())
    return session.scalar(query)


@periodic_duty("notifications.email", every_seconds=30)
def _email_duty(session: Session) -> str | None:
    """Duties run inside a write transaction; sending there would hold the database (SQLite's
    write lock) for as long as the mail server takes. So the duty only looks, and the letters
    go once that transaction has committed, in transactions of their own."""
    if mail.smtp_settings() is None:
        return None
    due = email_due_count(session)
    if not due:
        return None
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)

    def send_after_commit(_session: Session) -> None:
        try:
            sent, failed = deliver_outbox(factory)
        except Exception:  # noqa: BLE001 — the letters stay pending and are tried next time
            log.exception("sending e-mail failed")
            return
        log.info("e-mail: %d sent, %d failed", sent, failed)

    event.listen(session, "after_commit", send_after_commit, once=True)
    return f"{due} e-mails to send"
