"""Limits of one evaluation and the budget that enforces them while a script runs."""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter

from .errors import SandboxLimitExceeded

# How many operations pass between two looks at the clock. perf_counter() costs ~50 ns;
# every 16 operations keeps the tick cheap while a loop of slow C-level calls (a sum() over
# a million items per iteration) is still caught within a few of its iterations.
CLOCK_EVERY = 16


@dataclass(frozen=True)
class SandboxLimits:
    """Bounds of one evaluation (a condition, a timer expression, a DMN entry, a script).

    Defaults leave ordinary business scripts a margin of thousands and stop runaway ones in
    well under a second."""

    max_operations: int = 1_000_000
    """Loop and comprehension iterations plus elements walked by guards."""
    max_sequence_length: int = 1_000_000
    """Characters of a string / items of a list, tuple, dict or set made by one operation."""
    max_allocation: int = 2_000_000
    """Characters and items made by bounded operations, summed over the evaluation
    (an item may be a fresh tuple of ~100 bytes: this keeps the worst case near 200 MB)."""
    max_int_bits: int = 4096
    """Size of an integer made by `*`, `**` or `<<` (4096 bits ≈ 1233 decimal digits)."""
    max_depth: int = 32
    """Nesting of lists/dicts/tuples a script may compare, hash, print or leave in data."""
    max_round_digits: int = 100
    """`round(x, n)` with |n| above this is refused (`round(5, -10**9)` computes 10**10**9)."""
    max_format_width: int = 1000
    """Any number in a format spec or strftime directive (`f"{x:>1000000000}"`)."""
    max_working_days: int = 1000
    """`working_days(n)`: |n| above this is refused."""
    time_limit: float = 1.0
    """Wall-clock seconds, checked every few operations."""

    @property
    def max_int_digits(self) -> int:
        """Decimal digits of the largest integer a Decimal may be converted to."""
        return self.max_int_bits * 30103 // 100000


class Budget:
    """The running count of one evaluation; guards and injected ticks charge it."""

    __slots__ = ("limits", "ops", "allocated", "deadline", "_next_check")

    def __init__(self, limits: SandboxLimits):
        self.limits = limits
        self.ops = 0
        self.allocated = 0
        self.deadline = perf_counter() + limits.time_limit
        self._next_check = CLOCK_EVERY

    def tick(self) -> bool:
        """One loop/comprehension iteration. Returns True so it can sit in a comprehension's ifs."""
        self.ops += 1
        if self.ops >= self._next_check:
            self.check()
        return True

    def charge(self, operations: int) -> None:
        """Work proportional to a size (elements walked, items materialised)."""
        self.ops += operations
        if self.ops >= self._next_check:
            self.check()

    def check(self) -> None:
        """Raise when over the operation budget or past the deadline."""
        if self.ops > self.limits.max_operations:
            raise SandboxLimitExceeded(
                f"运算次数超过上限 {self.limits.max_operations:,}（死循环或数据过大？）",
                f"more than {self.limits.max_operations:,} operations (an endless or too large "
                "loop?)",
            )
        if perf_counter() > self.deadline:
            raise SandboxLimitExceeded(
                f"运行时间超过 {self.limits.time_limit:g} 秒",
                f"ran longer than {self.limits.time_limit:g} s",
            )
        self._next_check = self.ops + CLOCK_EVERY

    def check_size(self, size: int, what_zh: str = "结果", what_en: str = "result") -> None:
        """Refuse a string or collection longer than max_sequence_length."""
        limit = self.limits.max_sequence_length
        if size > limit:
            raise SandboxLimitExceeded(
                f"{what_zh}过大：{size:,} 个字符/元素（上限 {limit:,}）",
                f"{what_en} too large: {size:,} characters/items (limit {limit:,})",
            )

    def allocate(self, size: int, what_zh: str = "结果", what_en: str = "result") -> None:
        """`check_size`, then count the size to max_allocation (what stays in memory).

        Call it *before* building the result where the size can be known in advance."""
        self.check_size(size, what_zh, what_en)
        limits = self.limits
        self.allocated += size
        if self.allocated > limits.max_allocation:
            raise SandboxLimitExceeded(
                f"累计生成的数据超过 {limits.max_allocation:,} 个字符/元素",
                f"more than {limits.max_allocation:,} characters/items built in total",
            )
