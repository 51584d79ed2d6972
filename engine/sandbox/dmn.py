"""Checks of DMN table entries, rebuilt the way SpiffWorkflow's DMN engine will evaluate them.

`SpiffWorkflow/dmn/engine/DMNEngine.py` turns an input entry into Python like this:
  * `-` (or an empty cell) matches anything;
  * a `?` outside quotes becomes `dmninputexpr`, bound to the input expression's value
    (`? in ("a", "b")`, `4 < ? < 6`);
  * an entry that parses on its own is compared: `(input) == (entry)` (`"repair"`, `5`);
  * otherwise the entry is glued to the input *without a space*: `input + entry`, which works
    for `> 5` but turns `in ("a", "b")` into `categoryin ("a", "b")`.
A FEEL list `"a","b"` parses as a tuple, so `category == ("a", "b")` silently never matches."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from .checker import check_source
from .errors import SandboxProblem
from .policy import CALLABLE_NAMES

# The DMN engine's own pattern: a question mark outside quotes.
_QUESTION_MARK = re.compile(r'(\?)(?=(?:[^\'"]|[\'"][^\'"]*[\'"])*$)')
INPUT_NAME = "dmninputexpr"


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def _problem(reason_zh: str, reason_en: str) -> list[SandboxProblem]:
    return [SandboxProblem(1, reason_zh, reason_en)]


def check_dmn_entry(
    entry_text: str | None,
    known_names: Iterable[str],
    *,
    input_expression: str | None = None,
    output: bool = False,
) -> list[SandboxProblem]:
    """What is wrong with one DMN cell, judged as the DMN engine will run it.

    An input entry is checked against `input_expression` (the column's input expression;
    when not given a placeholder stands in for it). With `output=True` the cell is an output
    entry: a plain expression whose value is the result."""
    known = frozenset(known_names) | {INPUT_NAME}
    if output:
        if not entry_text or not entry_text.strip():
            return []
        return check_source(entry_text, mode="eval", known_names=known)
    if entry_text is None or entry_text == "" or entry_text == "-":
        return []
    if not entry_text.strip():
        return _problem(
            "空白条目永远不匹配；表示“任意值”请写 -",
            "a blank entry never matches; write - for any value",
        )
    subject = input_expression if input_expression is not None else INPUT_NAME
    problems: list[SandboxProblem] = []
    if input_expression is not None:
        problems += check_source(input_expression, mode="eval", known_names=known)

    replaced = _QUESTION_MARK.sub(INPUT_NAME, entry_text)
    if INPUT_NAME in replaced:
        return problems + check_source(replaced, mode="eval", known_names=known)

    if _parses(entry_text):
        problems += _equality_pitfalls(entry_text, known)
        if problems:
            return problems
        return check_source(f"({subject}) == ({entry_text})", mode="eval", known_names=known)

    if not _parses(f"v {entry_text}"):
        return problems + check_source(entry_text, mode="eval", known_names=known)
    stripped = entry_text.lstrip()
    if entry_text[:1].isalnum() or entry_text[:1] == "_":
        word = re.match(r"\w+", stripped).group(0)
        return problems + _problem(
            f"以“{word}”开头的条目会被直接拼接在输入表达式后面（变成 {subject}{entry_text}）；"
            f"请写 ? {stripped}",
            f"an entry starting with '{word}' is glued to the input expression "
            f"({subject}{entry_text}); write ? {stripped}",
        )
    return problems + check_source(subject + entry_text, mode="eval", known_names=known)


def _equality_pitfalls(entry_text: str, known: frozenset[str]) -> list[SandboxProblem]:
    """Entries that parse but can never mean what was written."""
    try:
        body = ast.parse(entry_text.strip(), mode="eval").body
    except SyntaxError:
        return []  # `x = 1` parses as a statement only; check_source reports it
    text = entry_text.strip()
    if isinstance(body, ast.Tuple):
        listed = text if text.startswith("(") else f"({text})"
        return _problem(
            f"条目 {text} 是列表（FEEL 写法），按 == 比较永远不匹配；多个值请写 ? in {listed}",
            f"entry {text} is a list (FEEL style) and compared with == it never matches; "
            f"write ? in {listed}",
        )
    if isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.Not) and text.startswith("not"):
        inner = ast.get_source_segment(text, body.operand) or "..."
        return _problem(
            f"FEEL 的 not(...) 在这里是 Python 的 not：输入会与 {text} 的真假值比较；"
            f"请写 ? not in ({inner},) 或 ? != {inner}",
            f"FEEL's not(...) is Python's not here: the input is compared with the truth "
            f"value of {text}; write ? not in ({inner},) or ? != {inner}",
        )
    if isinstance(body, ast.Name) and body.id not in known and body.id not in CALLABLE_NAMES:
        return _problem(
            f'未知名称“{body.id}”——文本值须加引号："{body.id}"',
            f"unknown name '{body.id}' — quote text values: \"{body.id}\"",
        )
    return []
