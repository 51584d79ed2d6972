"""The visit register (接待工作登记表): one row per P1 instance, projected from its data.

The approval history itself is not copied here: it lives in the audit chain and the task
projection (who, when, outcome, comment), which is what auditors verify."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.attachments import Attachment  # noqa: F401 — its table is in migration 0003 too
from engine.models import Base


class Visit(Base):
    """A registered official visit, kept in step with its instance on every save."""

    __tablename__ = "p1_visit"
    __table_args__ = (
        Index("ix_p1_visit_level_from", "reception_level", "visit_from"),
        Index("ix_p1_visit_status_from", "status", "visit_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    business_key: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(64))  # the reception officer
    request_channel: Mapped[str | None] = mapped_column(String(20))
    visiting_organisation: Mapped[str | None] = mapped_column(String(200))
    contact_person: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    visit_purpose: Mapped[str | None] = mapped_column(Text)
    visit_from: Mapped[date | None] = mapped_column(Date)
    visit_to: Mapped[date | None] = mapped_column(Date)
    headcount: Mapped[int | None] = mapped_column(Integer)
    highest_rank: Mapped[str | None] = mapped_column(String(20))
    delegation_leader: Mapped[str | None] = mapped_column(String(100))
    requested_activities: Mapped[list | None] = mapped_column(JSON)
    reception_level: Mapped[str | None] = mapped_column(String(20))
    approval_tier: Mapped[str | None] = mapped_column(String(30))
    supervising_leader: Mapped[str | None] = mapped_column(String(50))
    leader_instructions: Mapped[str | None] = mapped_column(Text)
    receiving_leader: Mapped[str | None] = mapped_column(String(100))
    plan_summary: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(64))  # who gave the final approval
    approved_at: Mapped[datetime | None]
    co_host_departments: Mapped[list | None] = mapped_column(JSON)
    departments_confirmed: Mapped[int] = mapped_column(Integer, default=0)
    actual_headcount: Mapped[int | None] = mapped_column(Integer)
    execution_summary: Mapped[str | None] = mapped_column(Text)
    archive_location: Mapped[str | None] = mapped_column(String(200))
    # registering, reporting, planning, approving, preparing, executing, archiving, archived,
    # cancelled, error
    status: Mapped[str] = mapped_column(String(20), default="registering")
    archived_at: Mapped[datetime | None]
