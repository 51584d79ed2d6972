"""The P4 registers as tables: CSV and XLSX (openpyxl) with labelled headers.

ID and phone numbers are masked in every export: a file leaves the system, the reveal audit
cannot follow it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font

from engine.masking import mask_id, mask_phone
from engine.working_days import business_timezone

from .labels import column_label, value_label
from .models import Pass
from .registry import LedgerLine, pass_state

REGISTRY_COLUMNS = (
    "pass_no", "pass_type", "holder_name", "holder_id_no", "unit", "phone", "issued_on",
    "valid_from", "valid_until", "state", "deposit_held", "receipt_no", "renewals", "returned_on",
)  # fmt: skip
RENTED_COLUMNS = (
    "unit", "holder_name", "holder_id_no", "phone", "owner_name", "lease_start", "lease_end",
    "pass_no", "valid_until", "state",
)  # fmt: skip
LEDGER_COLUMNS = (
    "at", "pass_no", "kind", "receipt_no", "deposit_in", "deposit_out", "fee", "balance",
    "recorded_by",
)  # fmt: skip


def pass_cells(row: Pass, columns: Iterable[str], locale: str) -> list:
    """Display values of a pass for `columns`: labels for codes, the ID number masked."""
    today_state = pass_state(row)
    cells = []
    for column in columns:
        if column == "state":
            cells.append(value_label("state", today_state, locale))
        elif column == "holder_id_no":
            cells.append(mask_id(row.holder_id_no))
        elif column == "phone":
            cells.append(mask_phone(row.phone) if row.phone else "")
        else:
            cells.append(
                _plain(
                    value_label(column, getattr(row, column), locale)
                    if column == "pass_type"
                    else getattr(row, column)
                )
            )
    return cells


def ledger_cells(line: LedgerLine, locale: str) -> list:
    entry = line.entry
    values = {
        "at": entry.at,
        "pass_no": entry.pass_no,
        "kind": value_label("kind", entry.kind, locale),
        "receipt_no": entry.receipt_no,
        "deposit_in": entry.deposit if entry.deposit > 0 else None,
        "deposit_out": -entry.deposit if entry.deposit < 0 else None,
        "fee": entry.fee or None,
        "balance": line.balance,
        "recorded_by": entry.recorded_by,
    }
    return [_plain(values[column]) for column in LEDGER_COLUMNS]


def _plain(value):
    if isinstance(value, datetime):
        return value.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return ""
    return value


def header(columns: Iterable[str], locale: str) -> list[str]:
    return [column_label(column, locale) for column in columns]


def to_csv(head: list[str], rows: Iterable[list]) -> str:
    """CSV text with a BOM, so Excel opens the UTF-8 Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(head)
    for row in rows:
        writer.writerow([f"{cell:.2f}" if isinstance(cell, Decimal) else cell for cell in row])
    return "\ufeff" + out.getvalue()


def to_xlsx(title: str, head: list[str], rows: Iterable[list]) -> bytes:
    """An XLSX workbook of one sheet; amounts stay exact numbers with two decimals."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append(head)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, Decimal):
                cell.number_format = "0.00"
    for column in sheet.columns:
        width = max(len(str(cell.value or "")) for cell in column) + 4
        sheet.column_dimensions[column[0].column_letter].width = min(width * 1.3, 40)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
