"""The printable approval record (审批单) of one instance, as PDF through WeasyPrint.

The record is built from the audit chain, like the timeline: the procedure and its version, the
business data, each completion with actor, time, decision and comment, the rules applied, and
the chain hash of the instance's last event, with page numbers. Personal data is masked.
WeasyPrint needs Pango (Debian) and a CJK font (`fonts-noto-cjk`): scripts/system-deps.sh."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit_chain, runtime
from engine.audit_search import comment_of, decision_of
from engine.history import HistoryEntry, instance_history
from engine.masking import mask_data
from engine.models import AuditEvent, ProcessInstance, utcnow
from forms.labels import summarize

from .i18n import current_locale
from .presentation import data_summary

#: The record's wording. A formal document with fixed wording, like the export headers; kept
#: here rather than in the UI catalogue so a printed 审批单 never shows a half-translated label.
LABELS = {
    "zh_CN": {
        "title": "审批单",
        "procedure": "流程",
        "business_key": "业务编号",
        "version": "流程版本",
        "started": "发起",
        "status": "状态",
        "business_data": "业务数据",
        "steps": "审批与处理记录",
        "step": "环节",
        "person": "办理人",
        "time": "时间",
        "decision": "审批结果",
        "comment": "意见",
        "chain": "审计链",
        "last_event": "本单最后一条事件",
        "chain_head": "打印时的链头",
        "page": "第 {page} 页 / 共 {pages} 页",
        "printed": "打印人：{name}，打印时间：{at}。个人信息已脱敏。"
        "凭上述哈希值可与审计链核对本单（jiedai audit verify）。",
        "approve": "同意",
        "reject": "不同意",
        "instance:start": "发起",
        "task:complete": "办理",
        "decision:evaluate": "规则判定",
        "instance:complete": "办结",
        "running": "办理中",
        "completed": "已办结",
        "cancelled": "已取消",
        "error": "故障",
    },
    "en": {
        "title": "Approval record",
        "procedure": "Procedure",
        "business_key": "Business key",
        "version": "Version",
        "started": "Started",
        "status": "Status",
        "business_data": "Business data",
        "steps": "Approvals and steps",
        "step": "Step",
        "person": "By",
        "time": "Time",
        "decision": "Decision",
        "comment": "Comment",
        "chain": "Audit chain",
        "last_event": "Last event of this record",
        "chain_head": "Chain head when printed",
        "page": "Page {page} of {pages}",
        "printed": "Printed by {name} at {at}. Personal data is masked. The hashes let anyone "
        "check this record against the audit chain (jiedai audit verify).",
        "approve": "Approved",
        "reject": "Rejected",
        "instance:start": "Started",
        "task:complete": "Completed",
        "decision:evaluate": "Rule applied",
        "instance:complete": "Finished",
        "running": "Running",
        "completed": "Completed",
        "cancelled": "Cancelled",
        "error": "Incident",
    },
}

#: Event kinds listed in the record's steps.
RECORD_KINDS = ("instance:start", "task:complete", "decision:evaluate", "instance:complete")


@dataclass
class RecordStep:
    entry: HistoryEntry
    fields: list[tuple[str, str]]
    decision: str | None
    comment: str | None


def record_context(session: Session, instance: ProcessInstance) -> dict:
    """What the approval record shows (also used by tests to check the content)."""
    locale = current_locale()
    data = mask_data(runtime.instance_data(runtime.load_workflow(instance)))
    steps = []
    for entry in instance_history(session, instance):
        if entry.kind not in RECORD_KINDS:
            continue
        masked = mask_data(entry.data)
        fields = summarize(entry.schema, masked, locale) if entry.schema else []
        steps.append(
            RecordStep(
                entry=entry,
                fields=fields,
                decision=decision_of(masked),
                comment=comment_of(masked),
            )
        )
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash)
        .where(AuditEvent.instance_id == instance.id)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    return {
        "instance": instance,
        "business_data": data_summary(instance, data),
        "steps": steps,
        "last_event": last,
        "chain_head": audit_chain.head(session),
        "locale": locale,
        "t": LABELS["en" if locale == "en" else "zh_CN"],
        "printed_at": utcnow(),
    }


def approval_record_pdf(session: Session, instance: ProcessInstance, printed_by: str) -> bytes:
    """The 审批单 of `instance` as PDF bytes."""
    from weasyprint import HTML  # imported late: loads Pango, costly and only needed here

    html = render_template(
        "audit/approval_record.html",
        printed_by=printed_by,
        **record_context(session, instance),
    )
    return HTML(string=html).write_pdf()
