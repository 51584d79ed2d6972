"""The whitelist: which names, functions and attributes scripts may use.

Everything here is data; `checker.py` refuses what is not listed before a script runs, and
`guards.py` enforces the same lists (per type) while it runs."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

# Builtins a script may call. `type`, `getattr`, `iter`/`next`, `format`, `repr`, `pow`,
# `map`/`filter` and friends are left out: each either reaches interpreter internals or
# needs a callable argument we cannot bound. `isinstance` is harmless: the only classes a
# script can name are the ones listed here.
SAFE_BUILTIN_NAMES: frozenset[str] = frozenset(
    {
        "abs",
        "all",
        "any",
        "bool",
        "dict",
        "enumerate",
        "float",
        "int",
        "isinstance",
        "len",
        "list",
        "max",
        "min",
        "range",
        "reversed",
        "round",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
    }
)

# Helpers added by jiedai (`dates.py`) plus the value classes task data may hold.
HELPER_NAMES: frozenset[str] = frozenset(
    {
        "Decimal",
        "date",
        "datetime",
        "timedelta",
        "working_days",
        "now_iso",
        "today_iso",
    }
)

# RestrictedPython rewrites these two names (print collector), so a data field called
# `printed` could never be read by a script: reserve them too.
RESTRICTED_PYTHON_NAMES: frozenset[str] = frozenset({"print", "printed"})

RESERVED_NAMES: frozenset[str] = SAFE_BUILTIN_NAMES | HELPER_NAMES | RESTRICTED_PYTHON_NAMES
"""Names a form field may not take: a field would shadow the helper or builtin in scripts."""

CALLABLE_NAMES: frozenset[str] = SAFE_BUILTIN_NAMES | HELPER_NAMES

# Builtins people reach for that are deliberately missing, with why (zh, en).
_RUNS_CODE = ("可执行任意代码或访问系统", "runs arbitrary code or reaches the system")
_INTROSPECTS = ("可绕过沙箱访问解释器内部", "reaches interpreter internals around the sandbox")
_NO_PRINT = ("脚本中没有 print，结果请写入任务数据", "print is not available; put results in data")
FORBIDDEN_NAMES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("eval", "exec", "compile", "open", "input", "breakpoint", "help", "exit", "quit"),
        _RUNS_CODE,
    ),
    **dict.fromkeys(
        (
            "getattr",
            "setattr",
            "delattr",
            "hasattr",
            "globals",
            "locals",
            "vars",
            "dir",
            "type",
            "object",
            "super",
            "memoryview",
            "id",
            "classmethod",
            "staticmethod",
            "property",
            "callable",
            "issubclass",
        ),
        _INTROSPECTS,
    ),
    "print": _NO_PRINT,
    "printed": _NO_PRINT,
}

# Attributes of interpreter objects (frames, generators, code, functions, classes) that lead
# out of any sandbox. None are whitelisted anyway; naming them gives a sharper message.
INTERNAL_ATTRIBUTES: frozenset[str] = frozenset(INSPECT_ATTRIBUTES) | {
    "gi_running",
    "f_lasti",
    "f_lineno",
    "co_consts",
    "co_names",
    "func_globals",
    "func_code",
    "func_closure",
    "im_func",
    "im_self",
    "im_class",
    "mro",
    "cr_running",
    "tb_lasti",
    "tb_lineno",
}

FORMAT_ATTRIBUTES: frozenset[str] = frozenset({"format", "format_map"})

_STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
    }
)
_LIST_METHODS = frozenset(
    {
        "append",
        "clear",
        "copy",
        "count",
        "extend",
        "index",
        "insert",
        "pop",
        "remove",
        "reverse",
        "sort",
    }
)
_DICT_METHODS = frozenset(
    {
        "clear",
        "copy",
        "get",
        "items",
        "keys",
        "pop",
        "setdefault",
        "update",
        "values",
    }
)
_SET_METHODS = frozenset(
    {
        "add",
        "clear",
        "copy",
        "difference",
        "discard",
        "intersection",
        "isdisjoint",
        "issubset",
        "issuperset",
        "remove",
        "symmetric_difference",
        "union",
        "update",
    }
)
_DECIMAL_ATTRIBUTES = frozenset(
    {
        "copy_abs",
        "is_signed",
        "is_zero",
        "normalize",
        "quantize",
        "sqrt",
        "to_integral_value",
    }
)
_DATE_ATTRIBUTES = frozenset(
    {
        "day",
        "isocalendar",
        "isoformat",
        "isoweekday",
        "month",
        "replace",
        "strftime",
        "weekday",
        "year",
    }
)
_DATETIME_ATTRIBUTES = _DATE_ATTRIBUTES | {
    "date",
    "hour",
    "microsecond",
    "minute",
    "second",
    "timestamp",
    "utcoffset",
}
_IsoCalendarDate = type(date(2026, 1, 1).isocalendar())

# Attributes per type of the object; a subclass (an OrderedDict in data) gets those of its
# nearest listed base. Nothing here returns a function, class or frame.
INSTANCE_ATTRIBUTES: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    list: _LIST_METHODS,
    dict: _DICT_METHODS,
    set: _SET_METHODS,
    tuple: frozenset({"count", "index"}),
    Decimal: _DECIMAL_ATTRIBUTES,
    date: _DATE_ATTRIBUTES,
    datetime: _DATETIME_ATTRIBUTES,
    timedelta: frozenset({"days", "microseconds", "seconds", "total_seconds"}),
    _IsoCalendarDate: frozenset({"week", "weekday", "year"}),
}

# Attributes of the helper classes themselves (`datetime.fromisoformat(...)`). Clocks such
# as `date.today()` are left out on purpose: they read the server's local zone; scripts use
# `today_iso()` / `now_iso()`, which use the business time zone.
CLASS_ATTRIBUTES: dict[type, frozenset[str]] = {
    date: frozenset({"fromisoformat"}),
    datetime: frozenset({"combine", "fromisoformat", "strptime"}),
}

ALL_ATTRIBUTES: frozenset[str] = frozenset().union(
    *INSTANCE_ATTRIBUTES.values(), *CLASS_ATTRIBUTES.values()
)
"""Every attribute name a script may write, whatever the object (the static check)."""
