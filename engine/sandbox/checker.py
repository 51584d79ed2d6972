"""The entry points of the static check: at deploy (`check_source`) and at run time (`prepare`)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType

from .budget import SandboxLimits
from .compiler import compile_tree, global_names
from .errors import SandboxProblem
from .rules import RuleChecker

MODES = ("eval", "exec")
MAX_SOURCE_LENGTH = 100_000
_FORMAT_WIDTH_LIMIT = SandboxLimits().max_format_width


def normalise(source: str, mode: str) -> str:
    """The text as it will be compiled: expressions lose surrounding whitespace.

    Diagram editors wrap conditions in newlines; `eval()` of a string tolerates that (it is
    what SpiffWorkflow's default environment does) but parsing it as an Expression does not."""
    return source.strip() if mode == "eval" else source


def parse_source(
    source: str, mode: str
) -> tuple[ast.Module | ast.Expression | None, list[SandboxProblem]]:
    """Parse `source`; a failure becomes a problem (with its line) instead of an exception."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        return None, [SandboxProblem(None, "表达式不是文本", "the expression is not text")]
    if len(source) > MAX_SOURCE_LENGTH:
        return None, [
            SandboxProblem(
                None,
                f"脚本超过 {MAX_SOURCE_LENGTH} 个字符",
                f"longer than {MAX_SOURCE_LENGTH} characters",
            )
        ]
    try:
        return ast.parse(normalise(source, mode), "<string>", mode), []
    except SyntaxError as error:
        return None, [
            SandboxProblem(error.lineno, f"语法错误：{error.msg}", f"syntax error: {error.msg}")
        ]
    except (RecursionError, MemoryError):
        return None, [SandboxProblem(None, "无法解析：嵌套过深", "cannot parse: nested too deeply")]
    except ValueError as error:  # null bytes
        return None, [SandboxProblem(None, f"无法解析：{error}", f"cannot parse: {error}")]


def _rule_problems(tree, known_names: frozenset[str] | None) -> list[SandboxProblem]:
    try:
        return RuleChecker(known_names, _FORMAT_WIDTH_LIMIT).check(tree)
    except RecursionError:
        return [SandboxProblem(None, "嵌套过深", "nested too deeply")]


def check_source(source: str, *, mode: str, known_names: Iterable[str]) -> list[SandboxProblem]:
    """Everything wrong with a script (`mode="exec"`) or an expression (`mode="eval"`:
    conditions, timer expressions, DMN expressions), found without running it.

    `known_names` are the task-data fields the text may read; every other free name must be
    assigned earlier in the script, a comprehension variable, a helper or a whitelisted
    builtin. An empty list means it will compile in the sandbox."""
    tree, problems = parse_source(source, mode)
    if tree is None:
        return problems
    problems = _rule_problems(tree, frozenset(known_names))
    if problems:
        return problems
    return compile_tree(tree, mode)[1]


@dataclass(frozen=True)
class Prepared:
    """A script or expression ready to run, or the reasons it may not."""

    code: CodeType | None
    names: frozenset[str]
    problems: tuple[SandboxProblem, ...]


@lru_cache(maxsize=4096)
def prepare(source: str, mode: str) -> Prepared:
    """Check (without the free-name rule: the data decides at run time) and compile, cached
    by the text: a condition evaluated a thousand times is compiled once."""
    tree, problems = parse_source(source, mode)
    if tree is not None:
        problems = _rule_problems(tree, None)
    if tree is None or problems:
        return Prepared(None, frozenset(), tuple(problems))
    code, problems = compile_tree(tree, mode)
    if code is None:
        return Prepared(None, frozenset(), tuple(problems))
    return Prepared(code, global_names(code), ())
