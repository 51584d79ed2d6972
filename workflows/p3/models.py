"""The owner contact record (业主接待记录表), which is also the complaint ledger (投诉台帐)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class OwnerContact(Base):
    """One row per P3 instance, projected from its data whenever the instance is saved."""

    __tablename__ = "p3_owner_contact"
    __table_args__ = (
        Index("ix_p3_contact_category_received", "category", "received_at"),
        Index("ix_p3_contact_status_received", "status", "received_at"),
        Index("ix_p3_contact_received", "received_at", "id"),  # the ledger's page order
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    business_key: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    receiver: Mapped[str] = mapped_column(String(64))  # the clerk who recorded it (受理人)
    owner_name: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(Text)
    complaint_class: Mapped[str | None] = mapped_column(String(30))
    complained_department: Mapped[str | None] = mapped_column(String(64))
    serious: Mapped[bool | None] = mapped_column(Boolean)
    complaint_valid: Mapped[bool | None] = mapped_column(Boolean)
    handler: Mapped[str | None] = mapped_column(String(64))  # 投诉处理人
    handled_at: Mapped[datetime | None]
    handling_due_at: Mapped[datetime | None]
    handled_on_time: Mapped[bool | None] = mapped_column(Boolean)
    action_taken: Mapped[str | None] = mapped_column(Text)
    inform_method: Mapped[str | None] = mapped_column(String(20))
    satisfaction: Mapped[str | None] = mapped_column(String(20))
    return_visitor: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, closed, error
    closed_at: Mapped[datetime | None]


class MonthlyReport(Base):
    """One 投诉情况月汇总表 per period: its review instance and the figures it was sent with."""

    __tablename__ = "p3_monthly_report"
    __table_args__ = (UniqueConstraint("first_day", "last_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    schedule: Mapped[str] = mapped_column(String(30))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    figures: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, reviewed, sent
