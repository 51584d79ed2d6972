"""Test cases stored with a DMN table and run on save and at deploy.

A table `<name>.dmn` may have a sidecar `<name>.dmn.tests.json` in the bundle:

    {"cases": [{"name": "tenant renewal fee",
                "inputs": {"pass_type": "tenant", "request_type": "renew"},
                "expected": {"fee": "10.00"}}]}

Each case evaluates the table with SpiffWorkflow's DMN engine and the sandboxed script engine
(the same code that runs the table in an instance) and compares the outputs named in
`expected`. A table that matches no row fails a case that expects something: a table that
silently matches nothing is how a FEEL-style list shows itself."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lxml import etree
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from .bundles import Bundle
from .errors import Problem
from .parsing import JiedaiBpmnParser
from .script_engine import make_script_engine
from .xml_safety import UnsafeXml, parse_xml

TESTS_SUFFIX = ".tests.json"


@dataclass
class CaseResult:
    name: str
    ok: bool
    inputs: dict
    expected: dict
    actual: dict = field(default_factory=dict)
    error: str = ""
    rules: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "ok": self.ok,
            "inputs": self.inputs,
            "expected": self.expected,
            "actual": self.actual,
            "error": self.error,
            "rules": self.rules,
        }


class CasesInvalid(ValueError):
    """The sidecar is not `{"cases": [...]}` with inputs and expected objects."""

    def __init__(self, reason_zh: str, reason_en: str):
        super().__init__(reason_en)
        self.reason_zh = reason_zh
        self.reason_en = reason_en


def tests_name(dmn_name: str) -> str:
    return dmn_name + TESTS_SUFFIX


def load_cases(text: str) -> list[dict]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CasesInvalid(
            f"测试用例不是有效的 JSON（第 {exc.lineno} 行）：{exc.msg}",
            f"Test cases are not valid JSON (line {exc.lineno}): {exc.msg}",
        ) from exc
    cases = document.get("cases") if isinstance(document, dict) else None
    if not isinstance(cases, list):
        raise CasesInvalid(
            '测试用例文件须为 {"cases": [...]}', 'Test cases must be {"cases": [...]}'
        )
    for index, case in enumerate(cases):
        if not (
            isinstance(case, dict)
            and isinstance(case.get("inputs"), dict)
            and isinstance(case.get("expected"), dict)
        ):
            raise CasesInvalid(
                f"/cases/{index}：须有 inputs 和 expected 两个对象",
                f"/cases/{index}: needs the objects inputs and expected",
            )
    return cases


def run_cases(dmn_text: str, cases: list[dict], filename: str = "table.dmn") -> list[CaseResult]:
    """Evaluate every case against the table in `dmn_text`."""
    engine = _dmn_engine(dmn_text, filename)
    script_engine = make_script_engine()
    results = []
    for index, case in enumerate(cases):
        name = str(case.get("name") or f"#{index + 1}")
        inputs, expected = dict(case["inputs"]), dict(case["expected"])
        task = SimpleNamespace(
            data=dict(inputs),
            workflow=SimpleNamespace(script_engine=script_engine),
            task_spec=SimpleNamespace(name="dmn-test", bpmn_id="dmn-test", bpmn_name=name),
        )
        try:
            rules = engine.decide(task)
            actual = engine.result(task)
        except Exception as exc:  # noqa: BLE001 — the table's own failure is the result
            results.append(CaseResult(name, False, inputs, expected, error=_message(exc)))
            continue
        actual = {key: _plain(value) for key, value in actual.items()}
        ok = bool(rules) and all(actual.get(key) == value for key, value in expected.items())
        error = "" if rules else "no rule matched"
        results.append(
            CaseResult(
                name, ok, inputs, expected, actual, error, [rule.id for rule in rules if rule.id]
            )
        )
    return results


def bundle_problems(bundle: Bundle) -> list[Problem]:
    """A problem for each failing case (and each unreadable sidecar) of the bundle's tables."""
    problems = []
    for dmn_name in bundle.names(".dmn"):
        sidecar = tests_name(dmn_name)
        if sidecar not in bundle.files:
            continue
        try:
            cases = load_cases(bundle.files[sidecar])
            results = run_cases(bundle.files[dmn_name], cases, dmn_name)
        except CasesInvalid as exc:
            problems.append(Problem(sidecar, exc.reason_zh, exc.reason_en))
            continue
        except Exception as exc:  # noqa: BLE001 — a table that cannot be built
            problems.append(
                Problem(sidecar, f"无法运行测试用例：{exc}", f"Cannot run the test cases: {exc}")
            )
            continue
        for result in results:
            if not result.ok:
                problems.append(case_problem(sidecar, dmn_name, result))
    return problems


def case_problem(sidecar: str, dmn_name: str, result: CaseResult) -> Problem:
    if result.error == "no rule matched":
        zh = f"测试用例“{result.name}”失败：输入 {_show(result.inputs)} 没有匹配的规则"
        en = f"Test case '{result.name}' failed: no rule matched the inputs {_show(result.inputs)}"
    elif result.error:
        zh = f"测试用例“{result.name}”出错：{result.error}"
        en = f"Test case '{result.name}' raised: {result.error}"
    else:
        wrong = {k: v for k, v in result.expected.items() if result.actual.get(k) != v}
        got = {k: result.actual.get(k) for k in wrong}
        zh = f"测试用例“{result.name}”失败：期望 {_show(wrong)}，实际 {_show(got)}"
        en = f"Test case '{result.name}' failed: expected {_show(wrong)}, got {_show(got)}"
    return Problem(sidecar, zh, en, element_id=(result.rules or [None])[0], element_name=dmn_name)


def attach_test_files(bundle: Bundle, directory: Path) -> Bundle:
    """`bundle` plus the sidecar test files found beside its tables in `directory`."""
    files = dict(bundle.files)
    for dmn_name in bundle.names(".dmn"):
        path = Path(directory) / tests_name(dmn_name)
        if path.is_file():
            files[tests_name(dmn_name)] = path.read_text(encoding="utf-8")
    return Bundle(files)


def _dmn_engine(dmn_text: str, filename: str) -> DMNEngine:
    try:
        root = parse_xml(dmn_text.encode("utf-8"))
    except (etree.XMLSyntaxError, UnsafeXml) as exc:
        raise CasesInvalid(f"决策表无法读取：{exc}", f"The table cannot be read: {exc}") from exc
    parser = JiedaiBpmnParser()
    parser.add_dmn_xml(root, filename=filename)
    (dmn_parser,) = list(parser.dmn_parsers.values())[:1] or [None]
    if dmn_parser is None:
        raise CasesInvalid("文件中没有决策", "No decision in the file")
    dmn_parser.parse()
    return DMNEngine(dmn_parser.decision.decisionTables[0])


def _plain(value: Any) -> Any:
    return (
        value
        if isinstance(value, str | int | float | bool | type(None) | list | dict)
        else str(value)
    )


def _show(mapping: dict) -> str:
    return json.dumps(mapping, ensure_ascii=False, default=str)


def _message(exc: BaseException) -> str:
    notes = getattr(exc, "__notes__", [])
    return " ".join([str(exc), *notes]).strip() or type(exc).__name__
