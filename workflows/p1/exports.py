"""The filtered visit register as CSV or XLSX, with headers and values in the reader's
language (codes shown as labels, times in the business time zone)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy.orm import Session

from engine.working_days import business_timezone

from .labels import field_label, value_label
from .models import Visit
from .queries import VisitFilter, display_names, ordered

COLUMNS = (
    "business_key",
    "registered_at",
    "request_channel",
    "visiting_organisation",
    "contact_person",
    "contact_phone",
    "visit_purpose",
    "visit_from",
    "visit_to",
    "headcount",
    "highest_rank",
    "delegation_leader",
    "requested_activities",
    "reception_level",
    "approval_tier",
    "supervising_leader",
    "leader_instructions",
    "approved_by",
    "approved_at",
    "co_host_departments",
    "departments_confirmed",
    "actual_headcount",
    "status",
    "archived_at",
)


def cell(row: Visit, column: str, locale: str, names: dict[str, str] | None = None) -> str | int:
    """The display value of one register cell (numbers stay numbers for spreadsheets);
    `names` turns the usernames of the "by" columns into display names."""
    value = getattr(row, column)
    if column.endswith("_by") and value:
        return (names or {}).get(value, value)
    if isinstance(value, datetime):
        return value.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return value_label(column, value, locale)


def _names(session: Session, rows: list[Visit]) -> dict[str, str]:
    return display_names(session, {r.approved_by for r in rows})


def _rows(session: Session, filters: VisitFilter) -> list[Visit]:
    return list(session.scalars(ordered(filters.query())))


def visits_csv(session: Session, filters: VisitFilter, locale: str = "zh_CN") -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([field_label(c, locale) for c in COLUMNS])
    rows = _rows(session, filters)
    names = _names(session, rows)
    for row in rows:
        writer.writerow([_csv_safe(cell(row, c, locale, names)) for c in COLUMNS])
    return out.getvalue()


def visits_xlsx(session: Session, filters: VisitFilter, locale: str = "zh_CN") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "接待工作登记表" if not locale.startswith("en") else "Visit register"
    sheet.append([field_label(c, locale) for c in COLUMNS])
    for header in sheet[1]:
        header.font = Font(bold=True)
    rows = _rows(session, filters)
    names = _names(session, rows)
    for row in rows:
        sheet.append([cell(row, c, locale, names) for c in COLUMNS])
        for c in sheet[sheet.max_row]:
            # openpyxl stores a string starting with = as a formula: keep typed text as text.
            if isinstance(c.value, str) and c.value.startswith("="):
                c.data_type = "s"
    for column in sheet.columns:
        letter = column[0].column_letter
        widest = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[letter].width = min(max(10, widest * 1.6), 50)
        for c in column[1:]:
            c.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv_safe(value):
    """Spreadsheets run a CSV cell starting with = + - @ as a formula: quote it as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
