"""The admins' holiday calendar: holidays and 调休 make-up workdays per year, in the database.

It takes precedence over the `chinesecalendar` package (which only knows the years the State
Council has announced). `working_days()` in scripts must not open database sessions, so each
process keeps a snapshot per database ({day: is_workday}) and hands it to the working-day code
through `engine.working_days.ACTIVE_OVERRIDES` whenever a session begins a transaction. The
snapshot is reloaded after `CALENDAR_TTL` seconds (setting `JIEDAI_CALENDAR_TTL`, default 30)
and at once in the process that changed the calendar."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from . import audit_chain
from .errors import JiedaiError
from .models import CalendarDay, utcnow
from .working_days import ACTIVE_OVERRIDES, ChineseHolidayCalendar, business_timezone

DEFAULT_TTL = 30.0
_CHANGED = "jiedai_calendar_changed"
_PREVIOUS = "jiedai_calendar_previous"
# Words an import file may use for the kind of a day.
_HOLIDAY_WORDS = {"holiday", "off", "休", "假", "节假日", "false", "0"}
_WORKDAY_WORDS = {"workday", "work", "班", "调休", "补班", "true", "1"}


class CalendarImportError(JiedaiError):
    """A calendar file that cannot be read; nothing of it was saved."""

    def __init__(self, line: int | None, reason_zh: str, reason_en: str):
        where_zh = f"第 {line} 行：" if line else ""
        where_en = f"line {line}: " if line else ""
        super().__init__(
            f"无法导入日历文件，未保存任何内容。{where_zh}{reason_zh}",
            f"The calendar file could not be imported; nothing was saved. {where_en}{reason_en}",
        )


# --- the per-process snapshot -------------------------------------------------------------


@dataclass
class _Snapshot:
    days: dict[date, bool]
    loaded: float


_snapshots: dict[str, _Snapshot] = {}
_lock = threading.Lock()


def calendar_ttl() -> float:
    try:
        return float(os.environ.get("JIEDAI_CALENDAR_TTL", DEFAULT_TTL))
    except ValueError:
        return DEFAULT_TTL


def invalidate() -> None:
    """Forget every snapshot: the next transaction reloads the calendar."""
    with _lock:
        _snapshots.clear()


def overrides_for(connection: Connection) -> dict[date, bool]:
    """The calendar days of `connection`'s database, from the snapshot while it is fresh."""
    key = connection.engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _lock:
        snapshot = _snapshots.get(key)
        if snapshot is not None and now - snapshot.loaded < calendar_ttl():
            return snapshot.days
    days = _load(connection)
    with _lock:
        _snapshots[key] = _Snapshot(days, now)
    return days


def _load(connection: Connection) -> dict[date, bool]:
    # A database not migrated yet (the migration itself, early tests) has no calendar.
    if not inspect(connection).has_table(CalendarDay.__tablename__):
        return {}
    rows = connection.execute(select(CalendarDay.day, CalendarDay.is_workday)).all()
    return {row.day: bool(row.is_workday) for row in rows}


@event.listens_for(Session, "after_begin")
def _activate(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    # A session may begin on its connection more than once before its transaction ends
    # (a second bind, a savepoint): what to restore is what was active before the first.
    session.info.setdefault(_PREVIOUS, ACTIVE_OVERRIDES.get())
    ACTIVE_OVERRIDES.set(overrides_for(connection))


@event.listens_for(Session, "after_transaction_end")
def _deactivate(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and _PREVIOUS in session.info:
        ACTIVE_OVERRIDES.set(session.info.pop(_PREVIOUS))


@event.listens_for(Session, "after_commit")
def _reload_after_change(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        invalidate()


@event.listens_for(Session, "after_rollback")
def _forget_change(session: Session) -> None:
    session.info.pop(_CHANGED, None)


# --- reading and editing (admin UI, CLI) --------------------------------------------------


def year_days(session: Session, year: int) -> list[CalendarDay]:
    return list(
        session.scalars(select(CalendarDay).where(CalendarDay.year == year).order_by("day"))
    )


def known_years(session: Session) -> set[int]:
    """Years the database calendar has at least one day for."""
    return set(session.scalars(select(CalendarDay.year).distinct()))


def package_knows(year: int) -> bool:
    return ChineseHolidayCalendar().is_workday(date(year, 1, 1)) is not None


def missing_years(session: Session, today: date | None = None) -> list[int]:
    """This year and next, where neither the database nor the package knows the holidays:
    working days there fall back to Monday–Friday."""
    today = today or datetime.now(business_timezone()).date()
    in_db = known_years(session)
    return [y for y in (today.year, today.year + 1) if y not in in_db and not package_knows(y)]


def set_day(session: Session, day: date, is_workday: bool, name: str, actor: str) -> CalendarDay:
    """Add or change one day (a holiday, or a make-up workday)."""
    row = session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day, year=day.year)
        session.add(row)
    row.is_workday = bool(is_workday)
    row.name = (name or "").strip()[:100]
    row.updated_by = actor
    row.updated_at = utcnow()
    session.info[_CHANGED] = True
    audit_chain.record(
        session,
        "calendar:day:set",
        actor=actor,
        payload={"day": day.isoformat(), "is_workday": row.is_workday, "name": row.name},
    )
    return row


def delete_day(session: Session, day: date, actor: str) -> bool:
    row = session.get(CalendarDay, day)
    if row is None:
        return False
    session.delete(row)
    session.info[_CHANGED] = True
    audit_chain.record(
        session, "calendar:day:delete", actor=actor, payload={"day": day.isoformat()}
    )
    return True


def import_days(session: Session, text: str, filename: str, actor: str) -> int:
    """Add or change every day of a CSV (`date,type,name`) or JSON file; returns the count.

    JSON: a list of {"date", "type", "name"} objects, or {"holidays": [...], "workdays": [...]}
    with dates or such objects. `type` is holiday/workday (or 休/班)."""
    entries = _parse_json(text) if filename.lower().endswith(".json") else _parse_csv(text)
    if not entries:
        raise CalendarImportError(None, "文件中没有日期", "the file has no dates")
    for day, is_workday, name in entries:
        set_day(session, day, is_workday, name, actor)
    return len(entries)


def _parse_csv(text: str) -> list[tuple[date, bool, str]]:
    entries = []
    for number, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        cells = [cell.strip() for cell in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and cells[0].lower() in {"date", "day", "日期"}:
            continue  # a header row
        if len(cells) < 2:
            raise CalendarImportError(number, "需要“日期,类型”两列", "expected 'date,type'")
        entries.append(
            (_day(cells[0], number), _kind(cells[1], number), cells[2] if len(cells) > 2 else "")
        )
    return entries


def _parse_json(text: str) -> list[tuple[date, bool, str]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalendarImportError(exc.lineno, "不是有效的 JSON", "not valid JSON") from exc
    if isinstance(document, dict):
        items = [(item, False) for item in document.get("holidays", [])]
        items += [(item, True) for item in document.get("workdays", [])]
    elif isinstance(document, list):
        items = [(item, None) for item in document]
    else:
        raise CalendarImportError(None, "应为列表或对象", "expected a list or an object")
    entries = []
    for number, (item, kind) in enumerate(items, start=1):
        if isinstance(item, str) and kind is not None:
            entries.append((_day(item, number), kind, ""))
        elif isinstance(item, dict) and "date" in item:
            is_workday = kind if kind is not None else _kind(item.get("type", ""), number)
            entries.append((_day(item["date"], number), is_workday, str(item.get("name", ""))))
        else:
            raise CalendarImportError(number, "条目缺少日期", "an entry has no date")
    return entries


def _day(value, number: int) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise CalendarImportError(
            number, f"“{value}”不是 YYYY-MM-DD 日期", f"'{value}' is not a YYYY-MM-DD date"
        ) from exc


def _kind(value, number: int) -> bool:
    word = str(value).strip().lower()
    if word in _HOLIDAY_WORDS:
        return False
    if word in _WORKDAY_WORDS:
        return True
    raise CalendarImportError(
        number,
        f"类型“{value}”应为 holiday（休）或 workday（班）",
        f"type '{value}' must be holiday (休) or workday (班)",
    )
