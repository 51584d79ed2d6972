"""The monthly report as CSV and XLSX: the figures, then the list seed 002 第8篇 4.1.3.3 asks
for (date, time, complainant, handler, method, result, satisfaction, receiver)."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

from engine.working_days import business_timezone

from .labels import field_label, value_label
from .report import ComplaintReport

LIST_COLUMNS = (
    "date",
    "time",
    "owner_name",
    "unit",
    "complaint_class",
    "handler",
    "action_taken",
    "result",
    "satisfaction",
    "receiver",
)
_HEADINGS = {
    "date": ("日期", "Date"),
    "time": ("时间", "Time"),
    "result": ("处理结果", "Result"),
    "action_taken": ("处理方式", "Handling"),
}


def _heading(column: str, locale: str) -> str:
    if column in _HEADINGS:
        return _HEADINGS[column][1 if locale.startswith("en") else 0]
    return field_label(column, locale)


def report_rows(report: ComplaintReport, locale: str = "zh_CN") -> list[list]:
    """Every row of the export, figures first; shared by CSV and XLSX so they never differ."""
    en = locale.startswith("en")
    rows: list[list] = [
        ["Period" if en else "统计期间", report.period.label],
        ["Complaints" if en else "投诉总数", report.complaints],
    ]
    rows += [
        [value_label("complaint_class", code, locale), count]
        for code, count in report.by_class.items()
    ]
    for label, rate in (
        ("有效投诉率", report.valid_rate),
        ("处理及时率", report.on_time_rate),
        ("业主满意率", report.satisfaction_rate),
    ):
        english = {
            "有效投诉率": "Valid-complaint rate",
            "处理及时率": "On-time handling rate",
            "业主满意率": "Owner satisfaction",
        }[label]
        rows.append([english if en else label, "" if rate is None else f"{rate}%"])
    rows.append([])
    rows.append([_heading(column, locale) for column in LIST_COLUMNS])
    zone = business_timezone()
    for row in report.rows:
        received = row.received_at.astimezone(zone)
        result = value_label("status", row.status, locale)
        if row.complaint_valid is not None:
            result += " / " + value_label("complaint_valid", row.complaint_valid, locale)
        rows.append(
            [
                f"{received:%Y-%m-%d}",
                f"{received:%H:%M}",
                row.owner_name or "",
                row.unit or "",
                value_label("complaint_class", row.complaint_class, locale),
                row.handler or "",
                row.action_taken or "",
                result,
                value_label("satisfaction", row.satisfaction, locale),
                row.receiver,
            ]
        )
    return rows


def report_csv(report: ComplaintReport, locale: str = "zh_CN") -> str:
    out = io.StringIO()
    csv.writer(out).writerows(report_rows(report, locale))
    return out.getvalue()


def report_xlsx(report: ComplaintReport, locale: str = "zh_CN") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "投诉情况月汇总表" if not locale.startswith("en") else "Complaint report"
    for row in report_rows(report, locale):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
