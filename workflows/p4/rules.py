"""Dates and money of P4: validity limits, business dates, amounts from the DMN table."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from engine.working_days import business_timezone

CENT = Decimal("0.01")


def business_today() -> date:
    """Today in the business time zone (Asia/Shanghai), whatever the server's zone."""
    return datetime.now(UTC).astimezone(business_timezone()).date()


def add_months(day: date, months: int) -> date:
    """`day` plus calendar months, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def last_valid_day(valid_from: date, months: int) -> date:
    """The last day a pass starting on `valid_from` may run: "at most N months"."""
    return add_months(valid_from, months) - timedelta(days=1)


def money(value: object) -> Decimal:
    """A DMN output or form value ("10.00", Decimal) as yuan with two decimals; never float."""
    if isinstance(value, float):
        raise TypeError("amounts are Decimal or text, never float")
    try:
        return Decimal(str(value)).quantize(CENT)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def parse_date(value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
