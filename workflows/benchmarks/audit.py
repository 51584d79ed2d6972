"""`jiedai bench audit`: bulk-append N chained events, then time `audit verify`."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from engine import audit_chain
from engine.db import make_engine, make_session_factory
from engine.models import AuditEvent, AuditHead
from engine.schema import migrate

AUDIT_TARGET_SECONDS = 60.0


def run_audit_benchmark(count: int, url: str) -> str:
    """Bulk-append `count` events (hashes computed as `record` does), then verify them."""
    engine = make_engine(url)
    migrate(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev, begun = audit_chain.GENESIS_HASH, time.perf_counter()
    with engine.begin() as connection:
        for first in range(1, count + 1, 10_000):
            rows = []
            for seq in range(first, min(first + 10_000, count + 1)):
                row = {
                    "seq": seq,
                    "at": start + timedelta(seconds=seq),
                    "actor": f"user{seq % 50}",
                    "role": "front_clerk",
                    "instance_id": seq // 8 + 1,
                    "task": "record_contact",
                    "version_id": 1,
                    "kind": "task:complete",
                    "payload": {
                        "human_task": seq,
                        "name": "登记业主接待记录",
                        "data": {"owner_name": "王建国", "content": "地下车库照明损坏", "n": seq},
                    },
                }
                document = {
                    "seq": seq,
                    "time": row["at"].isoformat(),
                    "actor": row["actor"],
                    "role": row["role"],
                    "instance": row["instance_id"],
                    "task": row["task"],
                    "version": row["version_id"],
                    "type": row["kind"],
                    "payload": row["payload"],
                }
                digest = audit_chain.compute_hash(prev, document)
                rows.append({**row, "prev_hash": prev, "hash": digest})
                prev = digest
            connection.execute(insert(AuditEvent.__table__), rows)
        connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=count, hash=prev))
    appended = time.perf_counter() - begun
    session = make_session_factory(engine)()
    load = os.getloadavg()[0]  # other work on the machine slows the walk: say how much
    cpu = time.process_time()
    single = audit_chain.verify(session)
    cpu = time.process_time() - cpu
    session.rollback()
    workers = os.cpu_count() or 1
    parallel = audit_chain.verify_parallel(session, url, workers, min_events=0)
    session.close()
    engine.dispose()
    verdict = "PASS" if single.ok and single.seconds < AUDIT_TARGET_SECONDS else "FAIL"
    lines = [
        "| events | append (bulk) s | verify | s | events/s | result |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in (
        (f"1 process, `audit verify` ({cpu:.1f} s CPU)", single),
        (f"{workers} processes, `audit verify --workers {workers}`", parallel),
    ):
        lines.append(
            f"| {count} | {appended:.1f} | {name} | {result.seconds:.1f} | "
            f"{result.count / max(result.seconds, 1e-9):,.0f} | {result.describe()[:40]} |"
        )
    lines += [
        "",
        f"`jiedai audit verify` target < {AUDIT_TARGET_SECONDS:.0f} s: {verdict} "
        f"(load average {load:.1f} when the walks started)",
    ]
    return "\n".join(lines)
