"""The booking register (商务接待活动登记表): one row per P2 instance."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base


class MeetingBooking(Base):
    """Projected from the instance's data whenever it is saved (`workflows.p2.register`)."""

    __tablename__ = "p2_booking"
    __table_args__ = (
        Index("ix_p2_booking_start", "start_at"),
        Index("ix_p2_booking_class_start", "meeting_class", "start_at"),
        Index("ix_p2_booking_status_start", "status", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    business_key: Mapped[str] = mapped_column(String(64))
    booked_at: Mapped[datetime]
    booked_by: Mapped[str] = mapped_column(String(64))  # the hotline operator (登记人)
    # The booking form (商务接待活动登记表)
    unit: Mapped[str | None] = mapped_column(String(100))
    booker_name: Mapped[str | None] = mapped_column(String(50))
    booker_phone: Mapped[str | None] = mapped_column(String(30))
    headcount: Mapped[int | None] = mapped_column(Integer)
    convener: Mapped[str | None] = mapped_column(String(50))
    convener_rank: Mapped[str | None] = mapped_column(String(30))
    room: Mapped[str | None] = mapped_column(String(30))
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    av_voice: Mapped[bool | None] = mapped_column(Boolean)
    av_projector: Mapped[bool | None] = mapped_column(Boolean)
    other_needs: Mapped[str | None] = mapped_column(Text)
    # Decided by the process
    lead_time_hours: Mapped[float | None] = mapped_column(Float)
    meeting_class: Mapped[str | None] = mapped_column(String(20))  # temporary, class_1, daily
    leader_level: Mapped[bool | None] = mapped_column(Boolean)  # av_tech attends throughout
    # AV path (会议接待设备准备工作表) and the attendant's re-check (复核)
    av_technician: Mapped[str | None] = mapped_column(String(64))
    av_sheet_issued_at: Mapped[datetime | None]
    av_test_result: Mapped[str | None] = mapped_column(String(20))
    av_tested_at: Mapped[datetime | None]
    av_recheck_result: Mapped[str | None] = mapped_column(String(20))
    av_recheck_note: Mapped[str | None] = mapped_column(Text)
    av_rechecked_by: Mapped[str | None] = mapped_column(String(64))
    av_rechecked_at: Mapped[datetime | None]
    # The attendant's check 15 minutes before (检查结果记录在登记表上, 4.3.2)
    pre_check_result: Mapped[str | None] = mapped_column(String(20))
    pre_checked_by: Mapped[str | None] = mapped_column(String(64))
    pre_checked_at: Mapped[datetime | None]
    # Class-1: the booker's signature on the material and fee forms, the sealed room
    fee_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    booker_signed_name: Mapped[str | None] = mapped_column(String(50))
    booker_signed_at: Mapped[datetime | None]
    room_sealed: Mapped[bool | None] = mapped_column(Boolean)
    customer_inspected: Mapped[bool | None] = mapped_column(Boolean)
    # During and after the meeting
    material_requests: Mapped[int] = mapped_column(Integer, default=0)
    reset_at: Mapped[datetime | None]
    cleaner_called: Mapped[bool | None] = mapped_column(Boolean)
    # Class-1 payment
    invoice_no: Mapped[str | None] = mapped_column(String(40))
    invoice_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    invoice_signed_by: Mapped[str | None] = mapped_column(String(50))
    invoice_signed_at: Mapped[datetime | None]
    payment_status: Mapped[str | None] = mapped_column(String(20))  # see labels.PAYMENT_LABELS
    payment_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    payment_received_on: Mapped[date | None] = mapped_column(Date)
    payment_receipt_no: Mapped[str | None] = mapped_column(String(40))
    payment_reminders: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="preparing")
    closed_at: Mapped[datetime | None]
