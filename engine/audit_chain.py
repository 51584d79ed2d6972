"""The append-only, hash-chained audit log.

`record` queues an event on the session; just before the session commits, the queued events
get their sequence numbers and hashes under a lock on the chain-head row, so several processes
never fork the chain, and an event exists exactly when the change it records was committed."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import bindparam, event, func, insert, select, update
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


_EVENT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "role",
    "instance_id",
    "task",
    "version_id",
    "kind",
    "payload",
    "prev_hash",
    "hash",
)


# Built once: they run in every state change.
_LOCK_HEAD = (
    select(AuditHead.__table__.c.seq, AuditHead.__table__.c.hash)
    .where(AuditHead.__table__.c.id == 1)
    .with_for_update()
)
_INSERT_EVENTS = insert(AuditEvent.__table__)
_MOVE_HEAD = (
    update(AuditHead.__table__)
    .where(AuditHead.__table__.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # The head row is created by the first migration, so appenders only ever lock it.
    # Plain table statements on the connection: the events are never read back through
    # this session.
    connection = session.connection()
    seq, prev = connection.execute(_LOCK_HEAD).one()
    rows = []
    for ev in pending:
        seq += 1
        ev.seq, ev.prev_hash = seq, prev
        ev.hash = prev = compute_hash(prev, event_document(ev))
        rows.append({column: getattr(ev, column) for column in _EVENT_COLUMNS})
    connection.execute(_INSERT_EVENTS, rows)
    connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})


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
    complete: bool = True  # False: the time budget ran out; `count` events were fine so far
    seconds: float = 0.0

    def describe(self) -> str:
        if not self.complete:
            return f"PARTIAL {self.count} events fine so far (time budget reached)"
        if self.ok:
            return f"OK {self.count} events, head {self.head_hash}"
        return f"BROKEN at event {self.broken_seq}: {self.damage}"


_VERIFY_SQL = (
    "SELECT seq, at, actor, role, instance_id, task, version_id, kind, payload, prev_hash, hash"
    " FROM audit_event WHERE seq > {0} ORDER BY seq LIMIT {0}"
)


def _row_reader(connection):
    """fetch(after, limit) → plain tuples from the driver's own cursor: no Row objects and
    no per-column type processing (SQLite hands back strings, PostgreSQL datetimes and
    dicts; `_canonical_row` takes both). A third of verify's time otherwise."""
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = _VERIFY_SQL.format(marker)
    cursor = connection.connection.cursor()

    def fetch(after: int, limit: int) -> list[tuple]:
        cursor.execute(sql, (after, limit))
        return cursor.fetchall()

    return fetch


def verify(session: Session, batch: int = 20000, budget: float | None = None) -> Verification:
    """Walk the chain in order, recomputing every hash; stop at the first damage.

    `budget` (seconds) bounds the walk for a web page: an unfinished walk is `complete=False`.
    Damage kinds: `edited` (an event's content or hash changed), `deleted` (an event is
    missing, `broken_seq` is the first missing number), `inserted` (a forged event, its
    number), `reordered` (events moved; the first misplaced number)."""
    started = time.perf_counter()
    deadline = started + budget if budget is not None else None
    prev_hash, prev_prev, expected, count = GENESIS_HASH, None, 1, 0
    fetch, sha256 = _row_reader(session.connection()), hashlib.sha256
    while True:
        rows = fetch(expected - 1, batch)
        if not rows:
            break
        for index, row in enumerate(rows):
            seq, at, actor, role, inst, task, version, kind, payload, row_prev, row_hash = row
            if seq == expected and row_prev == prev_hash:
                text = _canonical_row(seq, at, actor, role, inst, task, version, kind, payload)
                digest = sha256(prev_hash.encode("ascii") + text.encode("utf-8"))
                if digest.hexdigest() == row_hash:
                    prev_prev, prev_hash, expected, count = prev_hash, row_hash, seq + 1, count + 1
                    continue
            if index + 1 < len(rows):
                following = rows[index + 1]
            else:  # the last of its batch: look one event further
                following = next(iter(fetch(seq, 1)), None)
            broken, damage = _classify(row, expected, prev_hash, prev_prev, following)
            return _done(Verification(False, count, prev_hash, broken, damage), started)
        if deadline is not None and time.perf_counter() > deadline:
            return _done(Verification(True, count, prev_hash, complete=False), started)
    return _done(_against_head(session, count, prev_hash), started)


def _against_head(session: Session, count: int, prev_hash: str) -> Verification:
    """The walk's end must be the chain-head row: else events were cut off or appended."""
    head_row = session.get(AuditHead, 1)
    if head_row is not None and (head_row.seq, head_row.hash) != (count, prev_hash):
        if head_row.seq > count:
            return Verification(False, count, prev_hash, count + 1, "deleted")
        if head_row.seq < count:
            return Verification(False, count, prev_hash, head_row.seq + 1, "inserted")
        return Verification(False, count, prev_hash, count, "edited")
    return Verification(True, count, prev_hash)


#: Below this many events a parallel walk costs more (starting processes) than it saves.
PARALLEL_MIN_EVENTS = 100_000


def verify_parallel(
    session: Session, url: str, workers: int | None = None, *, min_events: int = PARALLEL_MIN_EVENTS
) -> Verification:
    """`verify` with the hashing spread over `workers` processes (default: one per core),
    each checking a range of events on its own connection to `url`; the ranges must then join
    up. Any damage found is walked again by `verify`, which says where and what it is."""
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    last = session.scalar(select(func.max(AuditEvent.seq))) or 0
    if workers <= 1 or last < min_events:
        return verify(session)
    pieces = workers * 4  # several ranges per process evens out a slow one
    size = -(-last // pieces)
    lows = list(range(1, last + 1, size))
    highs = [min(low + size - 1, last) for low in lows]
    context = multiprocessing.get_context("spawn")  # no connection is shared with a child
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        results = list(pool.map(_verify_range, [url] * len(lows), lows, highs))
    prev_hash, expected, count = GENESIS_HASH, 1, 0
    for ok, n, first_seq, first_prev, last_seq, last_hash in results:
        if not ok or n == 0 or first_seq != expected or first_prev != prev_hash:
            session.rollback()
            return _done(verify(session), started)
        prev_hash, expected, count = last_hash, last_seq + 1, count + n
    return _done(_against_head(session, count, prev_hash), started)


def _verify_range(url: str, low: int, high: int, batch: int = 20000) -> tuple:
    """(intact, count, first seq, its prev_hash, last seq, its hash) of events low..high."""
    from .db import make_engine  # imported here: a child process needs only this

    engine = make_engine(url)
    sha256 = hashlib.sha256
    first = None
    prev_hash, expected, count = None, low, 0
    try:
        with engine.connect() as connection:
            fetch = _row_reader(connection)
            while expected <= high:
                rows = fetch(expected - 1, min(batch, high - expected + 1))
                if not rows:
                    break
                for row in rows:
                    seq, row_prev, row_hash = row[0], row[9], row[10]
                    if first is None:
                        first, prev_hash, expected = (seq, row_prev), row_prev, seq
                    text = _canonical_row(*row[:9])
                    digest = sha256(row_prev.encode("ascii") + text.encode("utf-8")).hexdigest()
                    if seq != expected or row_prev != prev_hash or digest != row_hash:
                        return (False, count, *(first or (None, None)), seq, row_hash)
                    prev_hash, expected, count = row_hash, seq + 1, count + 1
    finally:
        engine.dispose()
    if first is None:
        return (False, 0, None, None, None, None)
    return (True, count, first[0], first[1], expected - 1, prev_hash)


def _done(result: Verification, started: float) -> Verification:
    result.seconds = time.perf_counter() - started
    return result


_dumps = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
).encode
_quote = json.encoder.encode_basestring  # exactly how `_dumps` writes a string


def _canonical_row(seq, at, actor, role, instance, task, version, kind, payload) -> str:
    """`canonical_json(event_document(...))` of raw column values, as text.

    The keys of the document are fixed, so for the usual column types the JSON is assembled
    directly (sorted keys: actor, instance, payload, role, seq, task, time, type, version);
    anything unusual takes the general path. Both give the same bytes (tested)."""
    if payload.__class__ is str or payload.__class__ is bytes:
        payload = json.loads(payload)
    if (
        at.__class__ is str
        and len(at) == 26
        and at[10] == " "
        and seq.__class__ is int
        and actor.__class__ is str
        and kind.__class__ is str
        and (role is None or role.__class__ is str)
        and (task is None or task.__class__ is str)
        and (instance is None or instance.__class__ is int)
        and (version is None or version.__class__ is int)
    ):
        # SQLite's storage of an aware UTC datetime, "YYYY-MM-DD HH:MM:SS.ffffff", as
        # isoformat() writes it (which leaves out a zero microsecond part).
        clock = at[11:19] if at.endswith(".000000") else at[11:]
        return (
            f'{{"actor":{_quote(actor)},'
            f'"instance":{"null" if instance is None else instance},'
            f'"payload":{_dumps(payload)},'
            f'"role":{"null" if role is None else _quote(role)},'
            f'"seq":{seq},'
            f'"task":{"null" if task is None else _quote(task)},'
            f'"time":"{at[:10]}T{clock}+00:00",'
            f'"type":{_quote(kind)},'
            f'"version":{"null" if version is None else version}}}'
        )
    return _dumps(_document(seq, at, actor, role, instance, task, version, kind, payload))


def _document(seq, at, actor, role, instance, task, version, kind, payload) -> dict:
    """`event_document` from the raw column values of either backend."""
    if isinstance(at, str):  # SQLite: "YYYY-MM-DD HH:MM:SS.ffffff", UTC without offset
        at = datetime.fromisoformat(at)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if isinstance(payload, str | bytes):
        payload = json.loads(payload)
    return {
        "seq": seq,
        "time": at.isoformat(),
        "actor": actor,
        "role": role,
        "instance": instance,
        "task": task,
        "version": version,
        "type": kind,
        "payload": payload,
    }


def _self_consistent(row, seq: int) -> bool:
    """Whether `row` hashes correctly with its own prev_hash if its number were `seq`."""
    _, at, actor, role, inst, task, version, kind, payload, row_prev, row_hash = row
    document = _document(seq, at, actor, role, inst, task, version, kind, payload)
    return compute_hash(row_prev, document) == row_hash


def _classify(row, expected: int, prev_hash: str, prev_prev: str | None, following):
    """(event number, kind of damage) for the first row that does not fit the chain."""
    seq, row_prev = row[0], row[9]
    if seq > expected:
        return expected, "deleted"  # a gap in the numbers
    if row_prev == prev_hash:
        return seq, "edited"  # linked correctly, but its content no longer matches its hash
    if following is not None and following[10] == row_prev:
        return seq, "reordered"  # it belongs after the event that follows it
    if prev_prev is not None and row_prev == prev_prev:
        return seq - 1, "inserted"  # links past the event before it: that one was forged
    if _self_consistent(row, seq):
        return seq - 1, "edited"  # the event before was rewritten with a new hash
    if _self_consistent(row, seq - 1):
        return seq - 1, "inserted"  # authentic, but pushed one place down
    if _self_consistent(row, seq + 1):
        return seq, "deleted"  # authentic, but moved up into a removed event's place
    return seq, "inserted"


def head(session: Session) -> tuple[int, str]:
    row = session.get(AuditHead, 1)
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)
