"""Settings process owners switch at run time (a report's schedule...), kept in the database
so every web process and worker sees the same value; each change is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import audit_chain
from .models import Base, utcnow


class Setting(Base):
    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)  # {"value": ...}: any JSON value
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def get_setting(session: Session, key: str, default=None):
    row = session.scalar(select(Setting).where(Setting.key == key))
    return row.value.get("value", default) if row else default


def set_setting(session: Session, key: str, value, *, actor: str) -> None:
    row = session.get(Setting, key)
    before = row.value.get("value") if row else None
    if row is None:
        row = Setting(key=key, value={"value": value}, updated_by=actor)
        session.add(row)
    else:
        row.value, row.updated_by, row.updated_at = {"value": value}, actor, utcnow()
    audit_chain.record(
        session, "setting:change", actor=actor, payload={"key": key, "from": before, "to": value}
    )
