"""Filter pieces every register uses: business-day bounds and a free-text search."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import or_

from engine.working_days import business_timezone


def day_start(day: date) -> datetime:
    """Business dates are Asia/Shanghai days (JIEDAI_TIMEZONE)."""
    return datetime.combine(day, time.min, tzinfo=business_timezone())


def within_days(column, first: date | None, last: date | None) -> list:
    """Conditions keeping `column` (a UTC timestamp) within business days first..last."""
    conditions = []
    if first:
        conditions.append(column >= day_start(first))
    if last:
        conditions.append(column < day_start(last + timedelta(days=1)))
    return conditions


def matches_text(text: str, *columns):
    """Any of `columns` contains `text`."""
    like = f"%{text}%"
    return or_(*(column.like(like) for column in columns))
