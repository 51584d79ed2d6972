"""Escape and exhaustion payloads for the sandbox tests.

`STATIC` payloads must be refused by the static check (deploy) *and* at run time, with a
reason matching `reason`. `RUNTIME` payloads pass the static check (their danger depends on
values) and must be stopped while running with a message matching `reason`."""

from __future__ import annotations

from typing import NamedTuple


class Payload(NamedTuple):
    id: str
    source: str
    reason: str  # regular expression the English reason must match
    mode: str = "exec"
    data: dict | None = None  # task data; DATA when None


DATA = {"x": 1, "text": "abc", "rows": [{"a": 1}, {"a": 2}], "amount": 5}

STATIC = [
    # --- escapes through the class hierarchy and interpreter internals ---
    Payload("subclasses", "().__class__.__base__.__subclasses__()", "starting with '_'", "eval"),
    Payload("builtins-name", "__builtins__['eval']('1')", "starting with '_'", "eval"),
    Payload("import-dunder", "__import__('os').system('true')", "starting with '_'", "eval"),
    Payload("mro", "[].__class__.__mro__[-1].__subclasses__()", "starting with '_'", "eval"),
    Payload("mro-method", "x = text.mro()", "interpreter internals.*'mro'"),
    Payload("func-globals", "y = working_days.__globals__", "starting with '_'"),
    Payload("func-globals-py2", "y = working_days.func_globals", "interpreter internals"),
    Payload(
        "generator-frame",
        "g = (i for i in rows)\nf = g.gi_frame.f_globals",
        "interpreter internals.*gi_frame",
    ),
    Payload("frame-back", "y = x.f_back", "interpreter internals.*f_back"),
    Payload("code-object", "y = x.gi_code.co_code", "interpreter internals"),
    Payload("traceback-frame", "y = x.tb_frame", "interpreter internals.*tb_frame"),
    Payload("coroutine-frame", "y = x.cr_frame", "interpreter internals.*cr_frame"),
    Payload("generator-send", "g = (i for i in rows)\ng.send(None)", "'.send' is not on"),
    # --- builtins that run code or introspect ---
    Payload("getattr", "getattr(x, '__class__')", "'getattr' is not allowed", "eval"),
    Payload("getattr-no-dunder", "getattr(text, 'upper')()", "'getattr' is not allowed", "eval"),
    Payload("setattr", "setattr(x, 'y', 1)", "'setattr' is not allowed"),
    Payload("eval", "eval('1 + 1')", "'eval' is not allowed", "eval"),
    Payload("exec", "exec('y = 1')", "'exec' is not allowed"),
    Payload("compile", "c = compile('1', 'f', 'eval')", "'compile' is not allowed"),
    Payload("open", "open('/etc/passwd').read()", "'open' is not allowed", "eval"),
    Payload("type", "type(x)", "'type' is not allowed", "eval"),
    Payload("type-3-args", "T = type('T', (), {})", "'type' is not allowed"),
    Payload("vars", "vars()", "'vars' is not allowed", "eval"),
    Payload("globals", "globals()", "'globals' is not allowed", "eval"),
    Payload("locals", "locals()", "'locals' is not allowed", "eval"),
    Payload("dir", "dir(x)", "'dir' is not allowed", "eval"),
    Payload(
        "object", "object.__subclasses__()", "'object' is not allowed|starting with '_'", "eval"
    ),
    Payload("breakpoint", "breakpoint()", "'breakpoint' is not allowed", "eval"),
    Payload("input", "input()", "'input' is not allowed", "eval"),
    Payload("print", "print(x)", "print is not available"),
    Payload("memoryview", "memoryview(text)", "'memoryview' is not allowed", "eval"),
    Payload("unknown-builtin", "iter(rows)", "'iter'", "eval"),
    Payload("call-a-variable", "f = rows\nf()", "'f' cannot be called"),
    Payload("call-a-subscript", "rows[0]()", "only functions and methods named", "eval"),
    # --- format strings that read attributes ---
    Payload("str-format", "'{0.__class__}'.format(x)", "str.format is not allowed", "eval"),
    Payload("str-format-safe-looking", "'{}'.format(x)", "str.format is not allowed", "eval"),
    Payload("format-map", "'{a.__class__}'.format_map({'a': x})", "str.format_map", "eval"),
    Payload("fstring-dynamic-spec", "f'{text:{x}}'", "format spec must be literal", "eval"),
    Payload(
        "fstring-huge-width", "f'{x:>1000000000}'", "number 1000000000 in a format spec", "eval"
    ),
    # --- statements and constructs ---
    Payload("import", "import os", "not allowed: import"),
    Payload("import-from", "from os import system", "not allowed: import"),
    Payload("lambda-closure", "f = lambda: x\ny = f.__closure__", "not allowed: lambda"),
    Payload("def", "def f():\n    return f()\nf()", "function definitions"),
    Payload("class", "class A:\n    pass", "class definitions"),
    Payload("while-true", "while True:\n    pass", "while loops"),
    Payload("try", "try:\n    y = 1\nexcept Exception:\n    pass", "try statements"),
    Payload("with", "with x:\n    pass", "with statements"),
    Payload("raise", "raise ValueError", "not allowed: raise"),
    Payload("global", "global x", "global declarations"),
    Payload("yield", "yield 1", "not allowed: yield"),
    Payload("await", "await x", "not allowed: await", "eval"),
    Payload("async-def", "async def f():\n    pass", "async function definitions"),
    Payload("walrus", "[y := 1]", "assignment expressions", "eval"),
    Payload("bytes-literal", "b'x' * 10", "bytes literals", "eval"),
    Payload(
        "to-bytes", "(1).to_bytes(10**9, 'big')", "'.to_bytes' is not on the whitelist", "eval"
    ),
    Payload("set-attribute", "rows.attr = 1", "setting attributes"),
    Payload("slice-assignment-doubling", "rows[:0] = rows", "slice assignment"),
    Payload("shadow-helper", "len = 5", "reserved name 'len'"),
    Payload("clock", "d = datetime.now()", "'.now' is not on the whitelist"),
    # --- unicode look-alikes: Python's parser applies NFKC to identifiers ---
    Payload("fullwidth-eval", "ｅｖａｌ('1')", "'eval' is not allowed", "eval"),
    Payload("fullwidth-dunder", "x.__ｃｌａｓｓ__", "starting with '_'", "eval"),
    Payload("fullwidth-format", "'{}'.ｆｏｒｍａｔ(x)", "str.format is not allowed", "eval"),
    Payload("math-italic-getattr", "𝘨𝘦𝘵𝘢𝘵𝘵𝘳(x, 'y')", "'getattr' is not allowed", "eval"),
]

RUNTIME = [
    # --- memory: sizes that are only known at run time ---
    Payload("string-repeat", "'x' * 10**9", "repetition.*too large", "eval"),
    Payload("list-repeat", "[0] * 10**9", "repetition.*too large", "eval"),
    Payload("list-repeat-chained", "[1] * 10**6 * 10**6", "repetition.*too large", "eval"),
    Payload("huge-power", "10**10**8", "exceed 4096 bits", "eval"),
    Payload("huge-shift", "1 << 10**9", "exceed 4096 bits", "eval"),
    Payload("squaring-loop", "n = 3\nfor i in range(100):\n    n = n * n", "exceed 4096 bits"),
    Payload("doubling-concat", "s = 'ab'\nfor i in range(64):\n    s = s + s", "too large"),
    Payload("doubling-augmented", "s = [1]\nfor i in range(64):\n    s += s", "too large"),
    Payload("doubling-extend", "s = [1]\nfor i in range(64):\n    s.extend(s)", "too large"),
    Payload("doubling-fstring", "s = 'ab'\nfor i in range(64):\n    s = f'{s}{s}'", "too large"),
    Payload("huge-join", "''.join(['x' * 1000] * 100000)", "join result too large", "eval"),
    Payload("join-generator", "'-'.join(str(i) for i in range(10**9))", "range of", "eval"),
    Payload("ljust", "text.ljust(10**9)", "padded string too large", "eval"),
    Payload("replace-empty", "text.replace('', 'y' * 900000)", "replace result too large", "eval"),
    Payload(
        "keep-many-strings",
        "s = 'x' * 900000\nkeep = []\nfor i in range(100):\n    keep.append(s.upper())",
        "built in total",
    ),
    Payload(
        "wide-zip", "list(zip(*[range(1000)] * 100000))", "zip result too large|in total", "eval"
    ),
    Payload("decimal-to-int", "int(Decimal('1e999999999'))", "Decimal exponent too large", "eval"),
    Payload(
        "decimal-format", "f'{Decimal(\"1e999999999\"):f}'", "Decimal exponent too large", "eval"
    ),
    Payload("round-huge", "round(5, -10**9)", r"round\(\) to more than", "eval"),
    Payload("percent-format", "'%1000000000d' % 5", "%-formatting", "eval"),
    Payload(
        "strftime-width",
        "date(2026, 1, 1).strftime('%1000000000Y')",
        "width 1000000000 in a date format",
        "eval",
    ),
    # --- CPU: loops and C-level work ---
    Payload("sum-range", "sum(range(10**12))", "range of", "eval"),
    Payload("for-range", "for i in range(10**12):\n    pass", "range of"),
    Payload(
        "nested-loops",
        "n = 0\nfor i in range(10**6):\n    for j in range(10**6):\n        n = n + 1",
        "operations",
    ),
    Payload(
        "nested-comprehension",
        "[(a, b, c) for a in range(1000) for b in range(1000) for c in range(1000)]",
        "operations",
        "eval",
    ),
    Payload(
        "growing-loop", "r = [1]\nfor i in r:\n    r.append(i)", "operations|too large|longer than"
    ),
    Payload(
        "c-work-per-iteration",
        "for i in range(10**6):\n    s = sum(range(10**6))",
        "operations|longer than",
    ),
    Payload(
        "any-endless-generator",
        "any(False for _ in range(10**6) for _ in range(10**6))",
        "operations",
        "eval",
    ),
    # --- structures that explode inside C (compare, hash, repr) ---
    Payload(
        "deep-tuple-hash", "t = ()\nfor i in range(200000):\n    t = (t,)\ns = {t}", "nested deeper"
    ),
    Payload(
        "deep-data-left-behind", "d = []\nfor i in range(100000):\n    d = [d]", "nested deeper"
    ),
    Payload(
        "shared-dag-compare",
        "a = (1,)\nb = (1,)\nfor i in range(25):\n    a = (a, a)\n    b = (b, b)\nsame = a == b",
        "operations",
    ),
    Payload(
        "shared-dag-str", "a = [1]\nfor i in range(25):\n    a = [a, a]\ns = str(a)", "operations"
    ),
    Payload("shared-dag-left-behind", "a = [1]\nfor i in range(25):\n    a = [a, a]", "operations"),
    Payload("generator-left-in-data", "g = (r for r in rows)", "holds a generator"),
]
