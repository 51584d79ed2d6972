"""Pass numbers: sequential per pass type and year (ZU-2026-0001), never reused.

The counter row is incremented with one `UPDATE ... RETURNING` in the caller's transaction: on
PostgreSQL the row lock makes a concurrent issuer wait for this transaction; on SQLite the
state change already holds the write lock (`BEGIN IMMEDIATE`). A rolled-back issue gives its
number back with everything else, so the sequence has no gaps from failed steps."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import PassCounter

PREFIXES = {"resident": "ZH", "tenant": "ZU", "temporary": "LS"}  # 住户、租户、临时


def format_pass_no(pass_type: str, year: int, seq: int) -> str:
    return f"{PREFIXES[pass_type]}-{year}-{seq:04d}"


def next_pass_no(session: Session, pass_type: str, year: int) -> tuple[int, str]:
    """The next (sequence, pass number) of `pass_type` in `year`, counted in `session`."""
    if pass_type not in PREFIXES:
        raise ValueError(f"unknown pass type {pass_type!r}")
    seq = _increment(session, pass_type, year)
    if seq is None:
        try:
            # why a savepoint: a concurrent first issue of the year may insert the row first.
            with session.begin_nested():
                session.add(PassCounter(pass_type=pass_type, year=year, last_seq=0))
        except IntegrityError:
            pass
        seq = _increment(session, pass_type, year)
    return seq, format_pass_no(pass_type, year, seq)


def _increment(session: Session, pass_type: str, year: int) -> int | None:
    return session.execute(
        update(PassCounter)
        .where(PassCounter.pass_type == pass_type, PassCounter.year == year)
        .values(last_seq=PassCounter.last_seq + 1)
        .returning(PassCounter.last_seq)
    ).scalar_one_or_none()
