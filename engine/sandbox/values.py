"""Walks over values a script handles, so C-level work on them stays bounded.

Comparing, hashing and printing a nested structure run in C without any tick. A structure
that shares itself (`t = (t, t)` thirty times: 30 operations, 2**30 elements) would make one
`==`, `hash` or `str` take hours, and hashing a tuple nested 100 000 deep overflows the C
stack (a segfault on CPython 3.11). Guards therefore walk container operands first, counting
every element (shared ones again each time) against the budget and refusing deep nesting."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import islice

from .budget import Budget
from .errors import SandboxLimitExceeded, SandboxViolation

CONTAINERS = (list, tuple, dict, set, frozenset)
SEQUENCES = (str, list, tuple)
# Exact types that need no walk (the fast path of every guard).
SCALAR_TYPES = frozenset({str, int, float, bool, type(None), Decimal})
# What may be left in task data or returned by an expression.
DATA_SCALARS = (str, int, float, bool, type(None), Decimal, date, timedelta)


def _too_deep(budget: Budget) -> SandboxLimitExceeded:
    depth = budget.limits.max_depth
    return SandboxLimitExceeded(
        f"数据嵌套超过 {depth} 层", f"data nested deeper than {depth} levels"
    )


def inspect_value(value: object, budget: Budget) -> int:
    """Walk `value`; refuse nesting deeper than max_depth; charge each element.

    Returns a rough length of `str(value)` (used before printing containers)."""
    if not isinstance(value, CONTAINERS):
        return _scalar_text_size(value)
    max_depth = budget.limits.max_depth
    stack: list[tuple[object, int]] = [(value, 1)]
    size = 0
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _too_deep(budget)
        children = (*node.keys(), *node.values()) if isinstance(node, dict) else node
        count = 0
        for child in children:
            count += 1
            if isinstance(child, CONTAINERS):
                stack.append((child, depth + 1))
            else:
                size += _scalar_text_size(child)
        size += 2 + 2 * count
        budget.charge(count + 1)
    return size


def _scalar_text_size(value: object) -> int:
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, int):
        return value.bit_length() // 3 + 2
    return 40


def check_data(value: object, budget: Budget, name: str | None = None) -> None:
    """Refuse anything but data (generators, ranges, functions...) and too deep nesting.

    Used on a script's variables after it ran and on every expression's result: what leaves
    the sandbox must be plain data, or it would keep running (a generator) or break the
    serializer later."""
    stack: list[tuple[object, int]] = [(value, 1)]
    max_depth = budget.limits.max_depth
    while stack:
        node, depth = stack.pop()
        if isinstance(node, DATA_SCALARS):
            continue
        if not isinstance(node, CONTAINERS):
            kind = type(node).__name__
            where_zh = f"变量“{name}”" if name else "表达式的结果"
            where_en = f"variable '{name}'" if name else "the expression's result"
            raise SandboxViolation(
                f"{where_zh}含有非数据对象（{kind}），请转换为列表或字符串",
                f"{where_en} holds a {kind}, not data; convert it with list(...) or str(...)",
            )
        if depth > max_depth:
            raise _too_deep(budget)
        children = (*node.keys(), *node.values()) if isinstance(node, dict) else node
        budget.charge(len(children) + 1)
        stack.extend((child, depth + 1) for child in children)


def materialise(budget: Budget, iterable) -> list:
    """`list(iterable)` for a guard, refusing more than max_sequence_length items.

    Lazy C iterators (`zip`, `enumerate`) would otherwise be drained in C without limit."""
    limit = budget.limits.max_sequence_length
    items = list(islice(iterable, limit + 1))
    budget.allocate(len(items), "列表", "list")
    return items


def capped_iter(limit: int, iterable):
    """Iterate, refusing more than `limit` items (sequence unpacking drains its input)."""
    for count, item in enumerate(iterable):
        if count >= limit:
            raise SandboxLimitExceeded(
                f"解包的序列超过 {limit:,} 项", f"unpacking more than {limit:,} items"
            )
        yield item
