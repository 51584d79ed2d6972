"""RestrictedPython's attribute and item guards, with per-type whitelists and bounded methods.

RestrictedPython rewrites `a.b` into `_getattr_(a, "b")` and `a[b]` into `_getitem_(a, b)`.
Our `_getattr_` only hands out attributes listed in `policy.py` for the object's type (or its
nearest whitelisted base), and wraps methods whose result size or work depends on their
arguments."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import partial

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from .budget import Budget
from .errors import SandboxLimitExceeded, SandboxViolation
from .policy import CLASS_ATTRIBUTES, INSTANCE_ATTRIBUTES
from .values import CONTAINERS, SCALAR_TYPES, SEQUENCES, capped_iter, inspect_value, materialise

_SIZED_RESULTS = (*CONTAINERS, str)


def guarded_getattr(budget: Budget, obj: object, name: str):
    """`_getattr_`: whitelisted attributes of whitelisted types only."""
    cls = _whitelisted_class(type(obj))
    allowed = INSTANCE_ATTRIBUTES.get(cls)
    if allowed is None:
        class_allowed = CLASS_ATTRIBUTES.get(obj) if isinstance(obj, type) else None
        if class_allowed is not None and name in class_allowed:
            return getattr(obj, name)
        kind = "function" if callable(obj) else cls.__name__
        raise SandboxViolation(
            f"不能访问 {kind} 对象的属性“{name}”",
            f"attribute '{name}' of a {kind} object is not accessible",
        )
    if name not in allowed:
        raise AttributeError(f"'{cls.__name__}' object has no attribute '{name}' in scripts")
    value = getattr(obj, name)
    if not callable(value):
        return value
    guard = _METHOD_GUARDS.get((cls, name), _charge_result)
    return partial(guard, budget, value)


def _whitelisted_class(cls: type) -> type:
    # Data may hold subclasses of the value types (DMN results are OrderedDicts); they get
    # the attributes of their whitelisted base. Scripts cannot define classes of their own.
    if cls in INSTANCE_ATTRIBUTES:
        return cls
    return next((base for base in cls.__mro__ if base in INSTANCE_ATTRIBUTES), cls)


def guarded_getitem(budget: Budget, obj, key):
    """`_getitem_`: tuple keys are walked before they are hashed; slices are counted."""
    key_type = type(key)
    if key_type is str or key_type is int:
        return obj[key]
    if key_type is slice:
        result = obj[key]
        if isinstance(result, SEQUENCES):
            budget.allocate(len(result), "切片", "slice")
        return result
    if key_type not in SCALAR_TYPES:
        inspect_value(key, budget)
    return obj[key]


def _charge_result(budget: Budget, method, *args, **kwargs):
    # Methods whose result is at most a small multiple of their input (upper, split...):
    # checking after the call is enough, and counts what a loop keeps in memory.
    result = method(*args, **kwargs)
    if isinstance(result, _SIZED_RESULTS):
        budget.allocate(len(result))
    return result


def _walk_arguments(budget: Budget, method, *args, **kwargs):
    # Methods that compare or hash their arguments (index, count, get, add...).
    for argument in args:
        if type(argument) not in SCALAR_TYPES:
            inspect_value(argument, budget)
    return _charge_result(budget, method, *args, **kwargs)


def _walk_receiver(budget: Budget, method, *args, **kwargs):
    # Methods that compare the receiver's own elements (list.sort, list.index...).
    inspect_value(method.__self__, budget)
    return _walk_arguments(budget, method, *args, **kwargs)


def _materialised_arguments(budget: Budget, method, *args, **kwargs):
    # Set operations hash every element of every (possibly lazy) argument.
    lists = []
    for argument in args:
        items = materialise(budget, argument)
        inspect_value(items, budget)
        lists.append(items)
    return _charge_result(budget, method, *lists, **kwargs)


def _join(budget: Budget, method, iterable):
    separator = method.__self__
    items = materialise(budget, iterable)
    budget.charge(len(items))
    size = len(separator) * max(len(items) - 1, 0)
    size += sum(len(item) for item in items if isinstance(item, str))
    budget.allocate(size, "join 结果", "join result")
    return method(items)


def _replace(budget: Budget, method, old, new, count=-1):
    text = method.__self__
    if isinstance(old, str) and isinstance(new, str):
        found = len(text) + 1 if old == "" else text.count(old)
        if count >= 0:
            found = min(found, count)
        budget.allocate(len(text) + found * (len(new) - len(old)), "replace 结果", "replace result")
    return method(old, new, count)


def _pad(budget: Budget, method, width, *args):
    if isinstance(width, int):
        budget.allocate(width, "填充结果", "padded string")
    return method(width, *args)


def _grow_list(budget: Budget, method, *args):
    target = method.__self__
    if method.__name__ == "extend":
        items = args[0] if isinstance(args[0], CONTAINERS) else materialise(budget, args[0])
        budget.allocate(len(target) + len(items), "列表", "list")
        return method(items)
    budget.check_size(len(target) + 1, "列表", "list")
    return method(*args)


def _update_dict(budget: Budget, method, *args, **kwargs):
    target = method.__self__
    if args and not isinstance(args[0], dict):
        items = materialise(budget, args[0])
        inspect_value(items, budget)
        args = (items,)
    budget.allocate(len(target) + sum(len(a) for a in args) + len(kwargs), "字典", "dict")
    return method(*args, **kwargs)


def _as_list(budget: Budget, method):
    # keys()/values()/items() return lists: views support set operators (`d.keys() | x`)
    # that would hash arbitrary elements in C.
    return materialise(budget, method())


_STRFTIME_WIDTH = re.compile(r"%[-_0^#]*(\d+)")


def check_format_widths(text: str, limit: int) -> None:
    """Refuse strftime directives padded wider than `limit` (`%1000000000Y`)."""
    for width in _STRFTIME_WIDTH.findall(text):
        if int(width) > limit:
            raise SandboxLimitExceeded(
                f"日期格式中的宽度 {width} 超过上限 {limit}",
                f"width {width} in a date format exceeds the limit of {limit}",
            )


def _strftime(budget: Budget, method, fmt):
    if isinstance(fmt, str):
        budget.check_size(len(fmt), "格式字符串", "format string")
        check_format_widths(fmt, budget.limits.max_format_width)
    return method(fmt)


_METHOD_GUARDS = {
    (str, "join"): _join,
    (str, "replace"): _replace,
    **{(str, name): _pad for name in ("ljust", "rjust", "center", "zfill")},
    (str, "count"): _walk_arguments,
    (list, "append"): _grow_list,
    (list, "insert"): _grow_list,
    (list, "extend"): _grow_list,
    **{(list, name): _walk_receiver for name in ("index", "count", "remove", "sort")},
    **{(tuple, name): _walk_receiver for name in ("index", "count")},
    **{(dict, name): _walk_arguments for name in ("get", "pop", "setdefault")},
    (dict, "update"): _update_dict,
    **{(dict, name): _as_list for name in ("keys", "values", "items")},
    **{(set, name): _walk_arguments for name in ("add", "discard", "remove")},
    **{
        (set, name): _materialised_arguments
        for name in (
            "difference",
            "intersection",
            "isdisjoint",
            "issubset",
            "issuperset",
            "symmetric_difference",
            "union",
            "update",
        )
    },
    (date, "strftime"): _strftime,
    (datetime, "strftime"): _strftime,
}


def unpack_sequence(limit: int, iterable, spec, _getiter_):
    """RestrictedPython's `_unpack_sequence_` (`a, b = x`), draining at most `limit` items."""
    return guarded_unpack_sequence(iterable, spec, partial(capped_iter, limit))


def iter_unpack_sequence(limit: int, iterable, spec, _getiter_):
    """RestrictedPython's `_iter_unpack_sequence_` (`for a, b in x`), likewise capped."""
    return guarded_iter_unpack_sequence(iterable, spec, partial(capped_iter, limit))
