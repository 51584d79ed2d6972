"""Appending a benchmark's table to docs/BENCHMARKS.md with the date and the machine."""

from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path

BENCHMARKS_FILE = Path("docs/BENCHMARKS.md")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(database: str) -> str:
    """Cores, CPU, Python and the database, with the load average when measured (other work
    on a 2-core machine changes wall times a lot, so every row says how busy it was)."""
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
        f"{database}; load average {load:.1f} at the end"
    )


def append_section(
    title: str, database: str, description: str, table: str, path: Path = BENCHMARKS_FILE
) -> None:
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    with path.open("a", encoding="utf-8") as out:
        out.write(
            f"\n### bench {title} — {stamp}\n\nMachine: {machine(database)}. {description}\n\n"
        )
        out.write(table.rstrip() + "\n")
