"""The sandbox: static check, escape/exhaustion corpus, ordinary scripts, DMN entries."""

from __future__ import annotations

import copy
import importlib.util
import re
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine

from engine.sandbox import (
    RESERVED_NAMES,
    SandboxedEnvironment,
    SandboxLimitExceeded,
    SandboxLimits,
    SandboxViolation,
    check_dmn_entry,
    check_source,
)
from engine.sandbox.checker import prepare


def _load_payloads():
    # A sibling module, loaded by path: pytest runs with --import-mode=importlib.
    spec = importlib.util.spec_from_file_location(
        "sandbox_payloads", Path(__file__).with_name("sandbox_payloads.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_payloads = _load_payloads()
DATA, STATIC, RUNTIME = _payloads.DATA, _payloads.STATIC, _payloads.RUNTIME


@pytest.fixture(scope="module")
def env() -> SandboxedEnvironment:
    return SandboxedEnvironment()


def run(env: SandboxedEnvironment, payload):
    data = copy.deepcopy(payload.data or DATA)
    if payload.mode == "eval":
        return env.evaluate(payload.source, data)
    return env.execute(payload.source, data)


def reasons(problems) -> str:
    return " | ".join(p.reason_en for p in problems)


# --- the corpus ----------------------------------------------------------------------


def test_the_corpus_is_large_enough():
    assert len(STATIC) + len(RUNTIME) >= 30
    assert len({p.id for p in STATIC + RUNTIME}) == len(STATIC + RUNTIME)


@pytest.mark.parametrize("payload", STATIC, ids=lambda p: p.id)
def test_escape_is_refused_before_running(env, payload):
    problems = check_source(payload.source, mode=payload.mode, known_names=set(DATA))
    assert problems, "the static check let it through"
    assert re.search(payload.reason, reasons(problems)), reasons(problems)
    assert all(p.reason_zh for p in problems)
    # The same check runs at run time: nothing of it is executed.
    with pytest.raises(SandboxViolation, match=payload.reason) as refused:
        run(env, payload)
    assert not isinstance(refused.value, SandboxLimitExceeded)


@pytest.mark.parametrize("payload", RUNTIME, ids=lambda p: p.id)
def test_exhaustion_is_stopped_while_running(env, payload):
    assert check_source(payload.source, mode=payload.mode, known_names=set(DATA)) == []
    started = time.perf_counter()
    with pytest.raises(SandboxViolation, match=payload.reason):
        run(env, payload)
    assert time.perf_counter() - started < 3


def test_the_whole_corpus_runs_in_a_few_seconds(env):
    started = time.perf_counter()
    for payload in STATIC + RUNTIME:
        with pytest.raises(SandboxViolation):
            run(env, payload)
    assert time.perf_counter() - started < 10


def test_limit_errors_are_bilingual(env):
    with pytest.raises(SandboxLimitExceeded) as stopped:
        env.evaluate("'x' * 10**9", {})
    assert "超出" in stopped.value.message("zh_CN") or "过大" in stopped.value.message("zh_CN")
    assert stopped.value.message("en").startswith("Script limit exceeded")
    assert isinstance(stopped.value.args[0], str)


def test_the_clock_stops_slow_loops():
    # A loop whose every iteration is cheap in operations but slow in C.
    tight = SandboxedEnvironment(limits=SandboxLimits(time_limit=0.2))
    started = time.perf_counter()
    with pytest.raises(SandboxLimitExceeded, match="longer than 0.2 s"):
        tight.execute("for i in range(10**6):\n    s = sorted(range(100000))[-1]", {})
    assert time.perf_counter() - started < 1.5


def test_a_frozen_clock_does_not_disable_the_budget():
    # time-machine freezes datetime.now; the operation budget still stops the loop.
    with time_machine.travel(datetime(2026, 1, 5, tzinfo=UTC), tick=False):
        with pytest.raises(SandboxLimitExceeded, match="operations"):
            SandboxedEnvironment().execute(
                "for i in range(10**6):\n    for j in range(10):\n        pass", {}
            )


# --- ordinary scripts still work ----------------------------------------------------


def test_assignments_become_data_and_helpers_are_removed(env):
    data = {"amount": 5, "rows": [{"qty": 2, "price": "1.25"}, {"qty": 1, "price": "3.10"}]}
    env.execute(
        "total = sum(Decimal(r['price']) * r['qty'] for r in rows)\n"
        "labels = [f\"{r['qty']:02d}x\" for r in rows if r['qty'] > 0]\n"
        "by_qty = {r['qty']: r['price'] for r in rows}\n"
        "rows.append({'qty': 0, 'price': '0'})\n"
        "first, *rest = [1, 2, 3]\n"
        "for key, value in by_qty.items():\n"
        "    last = (key, value)\n"
        "amount += 1\n"
        "status = 'open' if amount > 5 else 'closed'\n"
        "alias = len\n",
        data,
    )
    assert data["total"] == Decimal("5.60")
    assert data["labels"] == ["02x", "01x"]
    assert data["by_qty"] == {2: "1.25", 1: "3.10"}
    assert len(data["rows"]) == 3
    assert (data["first"], data["rest"]) == (1, [2, 3])
    assert data["amount"] == 6 and data["status"] == "open"
    assert "alias" not in data and "__builtins__" not in data  # functions are not data
    assert not RESERVED_NAMES & set(data)


def test_del_removes_a_field(env):
    data = {"record_status": "open"}
    env.execute("del record_status", data)
    assert data == {}


def test_dates_and_decimals(env):
    data = {"received": "2026-11-20"}
    env.execute(
        "day = date.fromisoformat(received) + timedelta(days=3)\n"
        "weekday = day.isoweekday()\n"
        "label = f'{day:%Y年%m月%d日}'\n"
        "fee = (Decimal('10.005') * 3).quantize(Decimal('0.01'))\n"
        "rounded = round(Decimal('2.675'), 2)\n"
        "when = datetime.fromisoformat('2026-11-20T10:00:00+08:00').hour\n",
        data,
    )
    assert data["day"] == date(2026, 11, 23) and data["weekday"] == 1
    assert data["label"] == "2026年11月23日"
    assert data["fee"] == Decimal("30.02") and data["rounded"] == Decimal("2.68")
    assert data["when"] == 10


def test_conditions(env):
    data = {"category": "complaint", "serious": True, "amount": 1200, "tags": ["a", "b"]}
    assert env.evaluate('category == "complaint"', data) is True
    assert env.evaluate("\n  serious == True and amount > 1000\n", data) is True
    assert env.evaluate('category in ("repair", "complaint")', data) is True
    assert env.evaluate('"b" in tags and len(tags) == 2', data) is True
    assert env.evaluate("isinstance(amount, int) and not isinstance(amount, str)", data) is True
    assert env.evaluate("sorted(tags, reverse=True)", data) == ["b", "a"]
    assert env.evaluate("max(tags, key=len)", data) == "a"
    assert env.evaluate("'-'.join(t.upper() for t in tags)", data) == "A-B"


def test_modest_comprehensions_and_loops_fit_the_budget(env):
    data = {}
    env.execute(
        "grid = [[i * j for j in range(100)] for i in range(100)]\n"
        "total = 0\n"
        "for row in grid:\n"
        "    for cell in row:\n"
        "        total += cell\n",
        data,
    )
    assert data["total"] == sum(i * j for i in range(100) for j in range(100))


def test_helpers_return_iso_text_in_business_time(env):
    # Friday 20 Nov 2026, 10:00 in Shanghai.
    with time_machine.travel(datetime(2026, 11, 20, 2, 0, tzinfo=UTC), tick=False):
        assert env.evaluate("working_days(2)", {}) == "2026-11-24T10:00:00+08:00"
        assert env.evaluate("now_iso()", {}) == "2026-11-20T10:00:00+08:00"
        assert env.evaluate("today_iso()", {}) == "2026-11-20"
    with pytest.raises(SandboxLimitExceeded):
        env.evaluate("working_days(10**6)", {})


def test_simple_conditions_stay_fast(env):
    data = {f"field_{i}": i for i in range(40)} | {"category": "complaint", "amount": 5}
    for expression in ('category == "complaint"', "amount > 3 and field_7 < 10"):
        env.evaluate(expression, data)  # compile once
        started = time.perf_counter()
        for _ in range(1000):
            env.evaluate(expression, data)
        per_call = (time.perf_counter() - started) / 1000
        assert per_call < 200e-6, f"{expression}: {per_call * 1e6:.1f} µs"


def test_compiled_code_is_cached_by_text():
    assert prepare("amount > 3", "eval") is prepare("amount > 3", "eval")


# --- environment semantics -----------------------------------------------------------


def test_task_data_shadowing_a_helper_is_refused(env):
    with pytest.raises(ValueError, match="working_days"):
        env.execute("x = 1", {"working_days": 3})
    with pytest.raises(ValueError, match="len"):
        env.evaluate("x", {"x": 1, "len": 2})


def test_results_must_be_data(env):
    with pytest.raises(SandboxViolation, match="holds a generator"):
        env.evaluate("(r for r in rows)", {"rows": [1]})
    with pytest.raises(SandboxViolation, match="holds a range"):
        env.execute("r = range(3)", {})


def test_runtime_attribute_whitelist_is_per_type(env):
    with pytest.raises(AttributeError, match="append"):
        env.evaluate("text.append", {"text": "abc"})
    with pytest.raises(SandboxViolation, match="function"):
        env.evaluate("len.upper", {})
    with pytest.raises(SandboxViolation, match="generator"):
        env.evaluate("(i for i in x).index", {"x": [1]})


def test_dict_views_are_lists(env):
    # A view supports `|` and `&` with any iterable, which would hash its elements in C.
    assert env.evaluate("d.keys()", {"d": {"a": 1}}) == ["a"]
    with pytest.raises(TypeError):
        env.evaluate("d.keys() | [(1,)]", {"d": {"a": 1}})


# --- free names ----------------------------------------------------------------------


def test_free_names_must_be_known():
    assert check_source("amount > 3", mode="eval", known_names={"amount"}) == []
    problems = check_source("amonut > 3", mode="eval", known_names={"amount"})
    assert [p.line for p in problems] == [1]
    assert "unknown name 'amonut'" in problems[0].reason_en
    assert "did you mean 'amount'" in problems[0].reason_en
    assert "未知名称" in problems[0].reason_zh


def test_an_unquoted_duration_is_reported():
    problems = check_source("P2D", mode="eval", known_names=set())
    assert [p.reason_en for p in problems] == ["unknown name 'P2D' — quote ISO durations: \"P2D\""]
    assert check_source('"P2D"', mode="eval", known_names=set()) == []
    assert "quote ISO durations" in reasons(check_source("PT4H", mode="eval", known_names=set()))


def test_names_assigned_earlier_and_comprehension_variables_are_known():
    script = (
        "total = 0\nfor r in rows:\n    total = total + r\nbig = [x for x in rows if x > total]"
    )
    assert check_source(script, mode="exec", known_names={"rows"}) == []
    problems = check_source("y = later + 1\nlater = 2", mode="exec", known_names=set())
    assert "unknown name 'later'" in reasons(problems) and problems[0].line == 1
    assert check_source("[x for x in rows]\nz = x", mode="exec", known_names={"rows"})


def test_syntax_errors_carry_their_line():
    problems = check_source("a = 1\nb = (\n", mode="exec", known_names=set())
    assert problems and problems[0].line and "syntax error" in problems[0].reason_en
    assert check_source("", mode="eval", known_names=set())[0].reason_en.startswith("syntax")


def test_the_static_check_and_the_compiler_agree():
    # `d[k] += 1` is refused by RestrictedPython; we say so at deploy, with the fix.
    problems = check_source("d['k'] += 1", mode="exec", known_names={"d"})
    assert "write d[k] = d[k] + 1" in reasons(problems)
    # CPython's compiler warnings become problems too.
    assert "compiler warning" in reasons(check_source("x is 1", mode="eval", known_names={"x"}))


def test_reserved_names():
    assert {
        "working_days",
        "now_iso",
        "today_iso",
        "Decimal",
        "date",
        "datetime",
        "timedelta",
        "len",
        "sum",
        "str",
        "isinstance",
    } <= RESERVED_NAMES
    assert not {"type", "getattr", "eval", "category"} & RESERVED_NAMES


# --- DMN entries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry", ['"complaint"', "-", None, "", '? in ("a", "b")', "> 5", "4 < ? < 6", '? != "x"', "5"]
)
def test_dmn_entries_that_work(entry):
    assert check_dmn_entry(entry, {"category"}, input_expression="category") == []


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('"a","b"', r'list \(FEEL style\).*\? in \("a","b"\)'),
        ('("a", "b")', r"list \(FEEL style\)"),
        ('in ("a", "b")', r"glued to the input expression.*write \? in"),
        ('not("a")', "FEEL's not"),
        ("complaint", "quote text values"),
        (" ", "blank entry never matches"),
        ("[1..5]", "syntax error"),
        ('__import__("os")', "starting with '_'"),
    ],
)
def test_dmn_entries_that_never_match_or_are_unsafe(entry, reason):
    problems = check_dmn_entry(entry, {"category"}, input_expression="category")
    assert re.search(reason, reasons(problems)), reasons(problems)


def test_dmn_entry_without_the_input_expression_and_outputs():
    assert check_dmn_entry('"repair"', {"category"}) == []
    assert check_dmn_entry('"a","b"', {"category"})
    assert check_dmn_entry('"escalate"', set(), output=True) == []
    assert "unknown name 'escalate'" in reasons(check_dmn_entry("escalate", set(), output=True))
    assert check_dmn_entry("nope", set(), input_expression="missing_field")
