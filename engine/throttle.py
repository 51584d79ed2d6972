"""Login throttling that holds across every web process: counters live in the database.

Two keys are counted for each failed sign-in: the account (the username as typed, folded to
lower case, whether or not it exists, so that locking tells nothing about which names exist)
and the remote address. A key with `ACCOUNT_LIMIT` (account) or `ADDRESS_LIMIT` (address)
failures within `WINDOW` is locked for `LOCKOUT`; while either key is locked no password is
checked. A successful sign-in clears the account's counter, not the address's (one office
behind one address must not unlock a password-guessing run against other accounts).

Every function takes the caller's `Session` and never commits; the writers are meant to run in
`engine.db.perform`, which on SQLite takes the write lock up front and on PostgreSQL relies on
`INSERT ... ON CONFLICT DO NOTHING` plus a row lock, so two processes never lose a count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from .models import Base, utcnow

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
_KEY_LENGTH = 160


class LoginThrottle(Base):
    """Failures counted for one key (`account:<name>` or `address:<ip>`)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(_KEY_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)


@dataclass(frozen=True)
class Lock:
    """Sign-in is refused until `until`."""

    until: datetime

    def minutes_left(self, now: datetime | None = None) -> int:
        seconds = (self.until - (now or utcnow())).total_seconds()
        return max(1, int(-(-seconds // 60)))


def account_key(username: str | None) -> str:
    return ("account:" + (username or "").strip().lower())[:_KEY_LENGTH]


def address_key(address: str | None) -> str:
    return ("address:" + (address or "unknown"))[:_KEY_LENGTH]


def _keys(username: str | None, address: str | None) -> list[tuple[str, int]]:
    return [(account_key(username), ACCOUNT_LIMIT), (address_key(address), ADDRESS_LIMIT)]


def current_lock(
    session: Session, username: str | None, address: str | None, now: datetime | None = None
) -> Lock | None:
    """The lock in force for this account or address, the later one if both are locked."""
    now = now or utcnow()
    keys = [key for key, _limit in _keys(username, address)]
    untils = [
        row.locked_until
        for row in session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
        if row.locked_until is not None and row.locked_until > now
    ]
    return Lock(max(untils)) if untils else None


def _locked_row(session: Session, key: str) -> LoginThrottle:
    """The row of `key`, inserted if missing, locked for this transaction (PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is not None:
        session.execute(
            insert(LoginThrottle)
            .values(key=key, failures=0, window_start=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
        )
        query = select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
        return session.scalars(query.execution_options(populate_existing=True)).one()
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(key=key, failures=0, window_start=utcnow())
        session.add(row)
    return row


def record_failure(
    session: Session, username: str | None, address: str | None, now: datetime | None = None
) -> Lock | None:
    """Count a failed sign-in for the account and the address; the lock it caused, if any."""
    now = now or utcnow()
    lock = None
    for key, limit in _keys(username, address):
        row = _locked_row(session, key)
        if (
            row.window_start is None
            or now - row.window_start > WINDOW
            or (row.locked_until is not None and row.locked_until <= now)
        ):
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + LOCKOUT
            lock = Lock(max(lock.until, row.locked_until) if lock else row.locked_until)
    return lock


def record_success(session: Session, username: str | None) -> None:
    """A correct password: the account's failures are forgotten."""
    row = session.get(LoginThrottle, account_key(username))
    if row is not None:
        session.delete(row)


def clear(session: Session, username: str | None = None, address: str | None = None) -> int:
    """Lift the lock of an account and/or address (an administrator's action); rows removed."""
    keys = ([account_key(username)] if username else []) + (
        [address_key(address)] if address else []
    )
    removed = 0
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is not None:
            session.delete(row)
            removed += 1
    return removed
