"""Exports of an audit search: CSV (UTF-8 with BOM, for Excel) and XLSX (openpyxl).

Personal data is masked in every export (`engine.masking`); times are business-zone local."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .audit_search import AuditRow
from .identity import role_label
from .masking import mask_data, mask_text
from .working_days import business_timezone

COLUMNS = (
    "seq",
    "time",
    "type",
    "actor",
    "actor_name",
    "role",
    "business_key",
    "procedure",
    "task",
    "decision",
    "comment",
    "data",
    "hash",
)
HEADERS = {
    "zh_CN": {
        "seq": "序号",
        "time": "时间",
        "type": "事件类型",
        "actor": "用户名",
        "actor_name": "姓名",
        "role": "角色",
        "business_key": "业务编号",
        "procedure": "流程",
        "task": "任务",
        "decision": "审批结果",
        "comment": "意见",
        "data": "表单数据",
        "hash": "链哈希",
    },
    "en": {
        "seq": "Seq",
        "time": "Time",
        "type": "Event type",
        "actor": "Username",
        "actor_name": "Name",
        "role": "Role",
        "business_key": "Business key",
        "procedure": "Procedure",
        "task": "Task",
        "decision": "Decision",
        "comment": "Comment",
        "data": "Form data",
        "hash": "Chain hash",
    },
}
DECISIONS = {
    "zh_CN": {"approve": "同意", "reject": "不同意"},
    "en": {"approve": "Approved", "reject": "Rejected"},
}


def _locale(locale: str) -> str:
    return "en" if locale.startswith("en") else "zh_CN"


def headers(locale: str) -> list[str]:
    return [HEADERS[_locale(locale)][column] for column in COLUMNS]


def row_values(row: AuditRow, locale: str) -> list:
    """One exported line: the event with personal data masked."""
    locale = _locale(locale)
    return [
        row.seq,
        row.at.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M:%S"),
        row.kind,
        row.actor,
        row.actor_name,
        role_label(row.role, locale) if row.role else "",
        row.business_key or "",
        row.procedure or "",
        row.task_name or "",
        DECISIONS[locale].get(row.decision, row.decision or ""),
        mask_text(row.comment) if row.comment else "",
        json.dumps(mask_data(row.data), ensure_ascii=False, sort_keys=True) if row.data else "",
        row.hash,
    ]


def to_csv(rows: Iterable[AuditRow], locale: str = "zh_CN") -> str:
    """The rows as CSV text, starting with a BOM so Excel reads UTF-8."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(headers(locale))
    for row in rows:
        writer.writerow([_safe_cell(value) for value in row_values(row, locale)])
    return out.getvalue()


def to_xlsx(rows: Iterable[AuditRow], locale: str = "zh_CN") -> bytes:
    """The rows as an .xlsx workbook with one sheet."""
    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = "审计记录" if _locale(locale) == "zh_CN" else "Audit trail"
    sheet.append(headers(locale))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_safe_cell(value) for value in row_values(row, locale)])
    widths = {"time": 20, "comment": 40, "data": 60, "hash": 66, "procedure": 24, "task": 20}
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths.get(column, 14)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _safe_cell(value):
    """Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
