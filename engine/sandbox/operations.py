"""Bounded versions of the operators and builtins whose result size a script controls.

Each function takes the evaluation's `Budget` first; the environment binds it with
`functools.partial`. Checks happen *before* the work where the size is known in advance
(`"x" * 10**9` never allocates), otherwise right after a step whose input was bounded."""

from __future__ import annotations

import operator
from datetime import timedelta
from decimal import Decimal
from functools import partial

from .budget import Budget
from .errors import SandboxLimitExceeded, SandboxViolation
from .values import CONTAINERS, SCALAR_TYPES, SEQUENCES, inspect_value, materialise

_NUMBERS = (int, float, Decimal)


def _int_too_large(budget: Budget, what: str) -> SandboxLimitExceeded:
    bits = budget.limits.max_int_bits
    return SandboxLimitExceeded(
        f"整数运算 {what} 的结果超过 {bits} 位", f"integer {what} would exceed {bits} bits"
    )


def add(budget: Budget, left, right):
    """`left + right`; concatenations are bounded in length."""
    if isinstance(left, SEQUENCES) and isinstance(right, SEQUENCES):
        budget.allocate(len(left) + len(right), "拼接结果", "concatenation")
    return left + right


def multiply(budget: Budget, left, right):
    """`left * right`; repetition is bounded in length and integer products in bits."""
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > budget.limits.max_int_bits:
            raise _int_too_large(budget, "*")
    elif isinstance(left, SEQUENCES) and isinstance(right, int):
        budget.allocate(len(left) * max(right, 0), "重复（*）结果", "repetition (*)")
    elif isinstance(right, SEQUENCES) and isinstance(left, int):
        budget.allocate(len(right) * max(left, 0), "重复（*）结果", "repetition (*)")
    return left * right


def power(budget: Budget, base, exponent):
    """`base ** exponent`; integer powers bounded in bits (Decimal is bounded by its context)."""
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and base.bit_length() * exponent > budget.limits.max_int_bits
    ):
        raise _int_too_large(budget, "**")
    return base**exponent


def left_shift(budget: Budget, value, shift):
    """`value << shift`, bounded in bits."""
    if (
        isinstance(value, int)
        and isinstance(shift, int)
        and value
        and shift > 0
        and value.bit_length() + shift > budget.limits.max_int_bits
    ):
        raise _int_too_large(budget, "<<")
    return value << shift


def modulo(budget: Budget, left, right):
    """`left % right`; %-formatting of strings is refused (widths like %1000000000d)."""
    if isinstance(left, str):
        raise SandboxViolation(
            "不允许用 % 格式化字符串，请使用 f-字符串",
            "%-formatting of strings is not allowed; use an f-string",
        )
    return left % right


_IN_PLACE = {
    "+=": add,
    "*=": multiply,
    "**=": power,
    "<<=": left_shift,
    "%=": modulo,
}
_PLAIN_IN_PLACE = {
    "-=": operator.isub,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
}


def in_place(budget: Budget, op: str, target, value):
    """RestrictedPython's `_inplacevar_`: `n += x` becomes `n = _inplacevar_("+=", n, x)`."""
    if type(target) is list and op in ("+=", "*="):
        # Keep list identity (`rows += more` extends the same list), with the size checked.
        if op == "+=":
            items = value if isinstance(value, CONTAINERS) else materialise(budget, value)
            budget.allocate(len(target) + len(items), "拼接结果", "concatenation")
            target.extend(items)
        else:
            budget.allocate(len(target) * max(value, 0), "重复（*）结果", "repetition (*)")
            target *= value
        return target
    bounded = _IN_PLACE.get(op)
    if bounded is not None:
        return bounded(budget, target, value)
    if op == "|=" and isinstance(target, dict) and not isinstance(value, dict):
        # dict |= pairs hashes new keys in C: walk them first.
        value = materialise(budget, value)
        inspect_value(value, budget)
    return _PLAIN_IN_PLACE[op](target, value)


def check_operand(budget: Budget, value):
    """Walk a value about to be compared or hashed (see values.py). Returns it unchanged."""
    if type(value) not in SCALAR_TYPES:
        inspect_value(value, budget)
    return value


def format_value(budget: Budget, value):
    """A value about to be formatted inside an f-string."""
    if type(value) is str:
        budget.check_size(len(value), "字符串", "string")
    elif isinstance(value, Decimal):
        _check_decimal_exponent(budget, value)
    elif isinstance(value, CONTAINERS):
        budget.check_size(inspect_value(value, budget), "文本", "text")
    return value


def built_text(budget: Budget, text: str) -> str:
    """The finished f-string (its parts were each bounded, so the check can come after)."""
    budget.allocate(len(text), "字符串", "string")
    return text


def _check_decimal_exponent(budget: Budget, value: Decimal) -> None:
    # Decimal("1e999999999") is small, but formatting it with "f" or int() expands it.
    if value.is_finite() and abs(value.adjusted()) > budget.limits.max_int_digits:
        raise SandboxLimitExceeded(
            f"Decimal 的指数过大（{value.adjusted()}）",
            f"Decimal exponent too large ({value.adjusted()})",
        )


# --- builtins --------------------------------------------------------------------------


def safe_str(budget: Budget, value: object = "") -> str:
    """`str(value)`, refusing containers whose text would be too long."""
    if type(value) is str:
        return value
    if isinstance(value, CONTAINERS):
        budget.check_size(inspect_value(value, budget), "文本", "text")
    result = str(value)
    budget.allocate(len(result), "文本", "text")
    return result


def safe_int(budget: Budget, value: object = 0, *base: int) -> int:
    """`int(value)`, refusing Decimals that would expand to huge integers."""
    if isinstance(value, Decimal):
        _check_decimal_exponent(budget, value)
    return int(value, *base)


def safe_round(budget: Budget, number, ndigits: int | None = None):
    """`round()`, with the number of digits bounded (`round(5, -10**9)` computes 10**10**9)."""
    if ndigits is None:
        if isinstance(number, Decimal):
            _check_decimal_exponent(budget, number)
        return round(number)
    if isinstance(ndigits, int) and abs(ndigits) > budget.limits.max_round_digits:
        raise SandboxLimitExceeded(
            f"round() 的位数超过 {budget.limits.max_round_digits}",
            f"round() to more than {budget.limits.max_round_digits} digits",
        )
    return round(number, ndigits)


def safe_range(budget: Budget, *args: int) -> range:
    """`range()` with at most max_sequence_length items (`sum(range(10**12))` runs in C)."""
    numbers = range(*args)
    step = numbers.step
    length = max(0, (numbers.stop - numbers.start + step - (1 if step > 0 else -1)) // step)
    if length > budget.limits.max_sequence_length:
        raise SandboxLimitExceeded(
            f"range 的长度 {length:,} 超过上限 {budget.limits.max_sequence_length:,}",
            f"range of {length:,} items exceeds the limit of {budget.limits.max_sequence_length:,}",
        )
    return numbers


def safe_list(budget: Budget, iterable=()) -> list:
    """`list()`: counted against the allocation budget."""
    return materialise(budget, iterable)


def safe_tuple(budget: Budget, iterable=()) -> tuple:
    """`tuple()`: counted against the allocation budget."""
    return tuple(materialise(budget, iterable))


def safe_set(budget: Budget, iterable=()) -> set:
    """`set()`: the elements are hashed, so walk them first."""
    items = materialise(budget, iterable)
    inspect_value(items, budget)
    return set(items)


def safe_dict(budget: Budget, *args, **kwargs) -> dict:
    """`dict()`: new keys are hashed, so walk them first."""
    if args and not isinstance(args[0], dict):
        items = materialise(budget, args[0])
        inspect_value(items, budget)
        args = (items,)
    result = dict(*args, **kwargs)
    budget.allocate(len(result), "字典", "dict")
    return result


def safe_sorted(budget: Budget, iterable, *, key=None, reverse: bool = False) -> list:
    """`sorted()`: the elements are compared, so walk them first."""
    items = materialise(budget, iterable)
    inspect_value(items, budget)
    items.sort(key=key, reverse=reverse)
    return items


def _extreme(function, budget: Budget, args: tuple, kwargs: dict):
    items = materialise(budget, args[0] if len(args) == 1 else args)
    inspect_value(items, budget)
    return function(items, **kwargs)


def safe_min(budget: Budget, *args, **kwargs):
    """`min()`: the elements are compared, so walk them first."""
    return _extreme(min, budget, args, kwargs)


def safe_max(budget: Budget, *args, **kwargs):
    """`max()`: the elements are compared, so walk them first."""
    return _extreme(max, budget, args, kwargs)


def safe_sum(budget: Budget, iterable, start=0):
    """`sum()` of numbers (or timedeltas); adding lists or strings this way is quadratic."""
    if not isinstance(start, (*_NUMBERS, timedelta)):
        raise SandboxViolation(
            "sum() 只能对数字（或 timedelta）求和", "sum() only adds numbers (or timedeltas)"
        )
    return sum(iterable, start)


# The classes behind the wrappers, so that `isinstance(x, str)` keeps working.
_WRAPPED_CLASSES = {
    safe_str: str,
    safe_int: int,
    safe_list: list,
    safe_tuple: tuple,
    safe_set: set,
    safe_dict: dict,
}


def _real_class(classinfo):
    if isinstance(classinfo, partial):
        return _WRAPPED_CLASSES.get(classinfo.func, classinfo)
    return classinfo


def safe_isinstance(value: object, classinfo) -> bool:
    """`isinstance()` that understands the wrapped builtins (`isinstance(x, str)`)."""
    if isinstance(classinfo, tuple):
        classinfo = tuple(_real_class(item) for item in classinfo)
    return isinstance(value, _real_class(classinfo))


def safe_zip(budget: Budget, *iterables, strict: bool = False):
    """`zip()` counting each tuple it makes: `zip(*[r] * 10**6)` makes million-item tuples."""
    width = len(iterables)
    for item in zip(*iterables, strict=strict):
        budget.allocate(width, "zip 结果", "zip result")
        yield item


def call_with(function, *args, **kwargs):
    """RestrictedPython's `_apply_` (calls with `*args` / `**kwargs`)."""
    return function(*args, **kwargs)


BUDGETED_BUILTINS = {
    "str": safe_str,
    "int": safe_int,
    "round": safe_round,
    "range": safe_range,
    "list": safe_list,
    "tuple": safe_tuple,
    "set": safe_set,
    "dict": safe_dict,
    "sorted": safe_sorted,
    "min": safe_min,
    "max": safe_max,
    "sum": safe_sum,
    "zip": safe_zip,
}
"""Whitelisted builtins that need the evaluation's budget."""

PLAIN_BUILTINS = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "enumerate": enumerate,
    "float": float,
    "isinstance": safe_isinstance,
    "len": len,
    "reversed": reversed,
}
"""Whitelisted builtins that are safe as they are: their work is bounded by their input."""
