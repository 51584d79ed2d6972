"""The append-only, hash-chained audit log.

`record` queues an event on the session; just before the session commits, the queued events
get their sequence numbers and hashes under a lock on the chain-head row, so several processes
never fork the chain, and an event exists exactly when the change it records was committed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from .models import AuditEvent, AuditHead, utcnow

GENESIS_HASH = "0" * 64
_PENDING = "jiedai_audit_pending"


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(document: dict) -> bytes:
    """Sorted keys, UTF-8, no insignificant whitespace (CONVENTIONS.md, the audit chain)."""
    return json.dumps(
        document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
    ).encode("utf-8")


def event_document(ev: AuditEvent) -> dict:
    """What the hash covers."""
    return {
        "seq": ev.seq,
        "time": ev.at.isoformat(),
        "actor": ev.actor,
        "role": ev.role,
        "instance": ev.instance_id,
        "task": ev.task,
        "version": ev.version_id,
        "type": ev.kind,
        "payload": ev.payload,
    }


def compute_hash(prev_hash: str, document: dict) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(document)).hexdigest()


def record(
    session: Session,
    kind: str,
    *,
    actor: str,
    role: str | None = None,
    instance_id: int | None = None,
    task: str | None = None,
    version_id: int | None = None,
    payload: dict | None = None,
) -> None:
    """Queue an event; it is chained and written when `session` commits."""
    # Normalise through JSON now, so the stored payload is exactly what was hashed.
    normalised = json.loads(canonical_json(payload or {}))
    session.info.setdefault(_PENDING, []).append(
        AuditEvent(
            at=utcnow(),
            actor=actor,
            role=role,
            instance_id=instance_id,
            task=task,
            version_id=version_id,
            kind=kind,
            payload=normalised,
        )
    )


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # The head row is created by the first migration, so appenders only ever lock it.
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    for ev in pending:
        ev.seq = head.seq + 1
        ev.prev_hash = head.hash
        ev.hash = compute_hash(head.hash, event_document(ev))
        head.seq, head.hash = ev.seq, ev.hash
        session.add(ev)
    session.flush()  # why: before_commit runs after the final flush; write the events now


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


@dataclass
class Verification:
    ok: bool
    count: int
    head_hash: str
    broken_seq: int | None = None
    damage: str | None = None  # edited, deleted, inserted, reordered

    def describe(self) -> str:
        if self.ok:
            return f"OK {self.count} events, head {self.head_hash}"
        return f"BROKEN at event {self.broken_seq}: {self.damage}"


def verify(session: Session, batch: int = 5000) -> Verification:
    """Walk the chain in order, recomputing every hash."""
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    last_seq = 0
    while True:
        # Plain rows, not ORM objects: a long chain must not fill the session's identity map.
        table = AuditEvent.__table__
        rows = session.execute(
            select(table).where(table.c.seq > last_seq).order_by(table.c.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            damage = _damage(ev, prev_hash, expected_seq)
            if damage:
                return Verification(False, count, prev_hash, ev.seq, damage)
            prev_hash, expected_seq, count, last_seq = ev.hash, ev.seq + 1, count + 1, ev.seq
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (count, prev_hash):
        return Verification(False, count, prev_hash, head.seq, "deleted")
    return Verification(True, count, prev_hash)


def _damage(ev: AuditEvent, prev_hash: str, expected_seq: int) -> str | None:
    if ev.seq != expected_seq:
        return "deleted" if ev.seq > expected_seq else "inserted"
    if ev.prev_hash != prev_hash:
        return (
            "reordered" if ev.hash == compute_hash(ev.prev_hash, event_document(ev)) else "inserted"
        )
    if ev.hash != compute_hash(prev_hash, event_document(ev)):
        return "edited"
    return None


def head(session: Session) -> tuple[int, str]:
    row = session.get(AuditHead, 1)
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)
