"""The pass register (住户联络资料表 / 出租单元一览表), its number counters and the deposit ledger.

Money is stored as whole fen (分) in integer columns and read back as `Decimal` yuan: SQLite has
no decimal type, and a float never holds a deposit."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base

FEN = Decimal("0.01")


class Money(TypeDecorator):
    """Yuan as `Decimal` in Python, whole fen in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal, never float")
        return int((Decimal(value) / FEN).to_integral_exact())

    def process_result_value(self, value, dialect):
        return None if value is None else (Decimal(value) * FEN).quantize(FEN)


class Pass(Base):
    """One issued pass; renewals extend it, a return closes it."""

    __tablename__ = "p4_pass"
    __table_args__ = (
        UniqueConstraint("pass_type", "year", "seq", name="uq_p4_pass_type_year_seq"),
        Index("ix_p4_pass_type_status", "pass_type", "status"),
        Index("ix_p4_pass_unit", "unit"),
        Index("ix_p4_pass_issued", "issued_on", "id"),  # the register's page order
        Index("ix_p4_pass_status_valid", "status", "valid_until"),  # active / expired
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pass_no: Mapped[str] = mapped_column(String(20), unique=True)
    pass_type: Mapped[str] = mapped_column(String(20))  # resident, tenant, temporary
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    holder_name: Mapped[str] = mapped_column(String(50))
    holder_id_no: Mapped[str] = mapped_column(String(18))  # personal data: masked in lists
    unit: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(30))
    owner_name: Mapped[str | None] = mapped_column(String(50))
    applicant_is_owner: Mapped[bool | None] = mapped_column(Boolean)
    authorised_name: Mapped[str | None] = mapped_column(String(50))
    lease_start: Mapped[date | None] = mapped_column(Date)
    lease_end: Mapped[date | None] = mapped_column(Date)
    renovation_application_no: Mapped[str | None] = mapped_column(String(30))
    company: Mapped[str | None] = mapped_column(String(100))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)  # None: a resident pass, no expiry
    status: Mapped[str] = mapped_column(String(20), default="active")  # active, returned
    deposit_held: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    receipt_no: Mapped[str | None] = mapped_column(String(30))
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    returned_on: Mapped[date | None] = mapped_column(Date)
    issue_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    issued_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class PassCounter(Base):
    """The last number given per pass type and year (one row each, updated under lock)."""

    __tablename__ = "p4_pass_counter"

    pass_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class DepositEntry(Base):
    """One movement of the deposit ledger (押金台帐): a deposit taken, a fee, a refund."""

    __tablename__ = "p4_deposit_entry"
    __table_args__ = (Index("ix_p4_deposit_entry_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("p4_pass.id"))
    pass_no: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))  # issue, renewal, refund
    deposit: Mapped[Decimal] = mapped_column(Money)  # + taken, − refunded
    fee: Mapped[Decimal] = mapped_column(Money)  # 工本费 taken (not refundable)
    receipt_no: Mapped[str | None] = mapped_column(String(30))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    recorded_by: Mapped[str] = mapped_column(String(64))
