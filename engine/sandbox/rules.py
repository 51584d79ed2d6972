"""The static rules: what a script or an expression may contain, judged on its syntax tree.

Default-deny: every statement and expression kind is refused unless a method below allows
it. Python's parser has already NFKC-normalised identifiers, so `ｅval` arrives as `eval`."""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable

from .errors import SandboxProblem
from .policy import (
    ALL_ATTRIBUTES,
    CALLABLE_NAMES,
    FORBIDDEN_NAMES,
    FORMAT_ATTRIBUTES,
    INTERNAL_ATTRIBUTES,
    RESERVED_NAMES,
)

# An unquoted ISO 8601 duration (P2D, PT4H, P1DT12H, P2W) is a valid Python name.
_ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$")

_REFUSED_STATEMENTS: dict[str, tuple[str, str]] = {
    "Import": ("导入模块（import）", "import"),
    "ImportFrom": ("导入模块（from ... import）", "import"),
    "FunctionDef": ("函数定义（def）", "function definitions (def)"),
    "AsyncFunctionDef": ("异步函数定义（async def）", "async function definitions"),
    "ClassDef": ("类定义（class）", "class definitions"),
    "While": ("while 循环（请用 for 遍历有限的数据）", "while loops (use for over bounded data)"),
    "With": ("with 语句", "with statements"),
    "AsyncWith": ("async with 语句", "async with statements"),
    "AsyncFor": ("async for 语句", "async for statements"),
    # try is refused: an `except` could swallow the sandbox's own limit errors and keep a
    # runaway script going, and a failing script must surface as an incident, not be hidden.
    "Try": ("try 语句（错误应作为故障报告）", "try statements (errors must surface as incidents)"),
    "TryStar": ("try 语句", "try statements"),
    "Raise": ('raise（请用 assert 条件, "说明"）', 'raise (use assert condition, "message")'),
    "Global": ("global 声明", "global declarations"),
    "Nonlocal": ("nonlocal 声明", "nonlocal declarations"),
    "Return": ("return（脚本不是函数）", "return (a script is not a function)"),
    "Match": ("match 语句", "match statements"),
    "AnnAssign": ("带类型注解的赋值", "annotated assignments"),
}

_REFUSED_EXPRESSIONS: dict[str, tuple[str, str]] = {
    "Lambda": ("lambda 表达式", "lambda"),
    "Yield": ("yield", "yield"),
    "YieldFrom": ("yield from", "yield from"),
    "Await": ("await", "await"),
    "NamedExpr": ("赋值表达式（:=）", "assignment expressions (:=)"),
}


def _is_private(name: str) -> bool:
    # `_` alone is the usual throw-away loop variable (RestrictedPython allows it too).
    return name.startswith("_") and name != "_"


class RuleChecker:
    """Collects `SandboxProblem`s for one syntax tree.

    `known_names` are the task-data fields; None skips the free-name rule (at run time the
    data decides, and a missing name is an ordinary NameError)."""

    def __init__(self, known_names: frozenset[str] | None, format_width_limit: int):
        self.known_names = known_names
        self.format_width_limit = format_width_limit
        self.problems: list[SandboxProblem] = []
        self._assigned: set[str] = set()
        self._comprehension_scopes: list[set[str]] = []

    def check(self, tree: ast.Module | ast.Expression) -> list[SandboxProblem]:
        """Check a whole tree; returns the problems in source order, without duplicates."""
        if isinstance(tree, ast.Expression):
            self.expression(tree.body)
        else:
            self.statements(tree.body)
        unique = dict.fromkeys(self.problems)
        return sorted(unique, key=lambda p: p.line or 0)

    # --- reporting -------------------------------------------------------------------

    def refuse(self, node: ast.AST, reason_zh: str, reason_en: str) -> None:
        self.problems.append(SandboxProblem(getattr(node, "lineno", None), reason_zh, reason_en))

    def _not_allowed(self, node: ast.AST, construct: tuple[str, str]) -> None:
        self.refuse(node, f"不允许：{construct[0]}", f"not allowed: {construct[1]}")

    def _underscore(self, node: ast.AST, name: str) -> None:
        self.refuse(
            node,
            f"不允许以“_”开头的名称或属性：“{name}”",
            f"names and attributes starting with '_' are not allowed: '{name}'",
        )

    # --- statements ------------------------------------------------------------------

    def statements(self, nodes: Iterable[ast.stmt]) -> None:
        for node in nodes:
            handler = getattr(self, f"stmt_{type(node).__name__}", None)
            if handler is not None:
                handler(node)
            else:
                name = type(node).__name__
                self._not_allowed(node, _REFUSED_STATEMENTS.get(name, (f"{name} 语句", name)))

    def stmt_Expr(self, node: ast.Expr) -> None:
        self.expression(node.value)

    def stmt_Assign(self, node: ast.Assign) -> None:
        self.expression(node.value)
        for target in node.targets:
            self.store(target)

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        self.expression(node.value)
        if isinstance(node.target, ast.Name):
            self.load(node.target)
            self.store(node.target)
        else:
            # RestrictedPython cannot guard `d[k] += 1`; say how to write it instead.
            self.refuse(
                node,
                "不允许对元素或属性做增量赋值，请写 d[k] = d[k] + 1",
                "augmented assignment to an item or attribute is not allowed; "
                "write d[k] = d[k] + 1",
            )

    def stmt_For(self, node: ast.For) -> None:
        self.expression(node.iter)
        self.store(node.target)
        self.statements(node.body)
        self.statements(node.orelse)

    def stmt_If(self, node: ast.If) -> None:
        self.expression(node.test)
        self.statements(node.body)
        self.statements(node.orelse)

    def stmt_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._delete(target)

    def _delete(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.load(target)
            if target.id in RESERVED_NAMES:
                self.refuse(
                    target,
                    f"不能删除保留名称“{target.id}”",
                    f"cannot delete the reserved name '{target.id}'",
                )
        elif isinstance(target, ast.Subscript):
            self.expression(target.value)
            self.expression(target.slice)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._delete(element)
        else:
            self.refuse(target, "不允许删除属性", "deleting attributes is not allowed")

    def stmt_Assert(self, node: ast.Assert) -> None:
        self.expression(node.test)
        if node.msg is not None:
            self.expression(node.msg)

    def stmt_Pass(self, node: ast.Pass) -> None:
        pass

    def stmt_Break(self, node: ast.Break) -> None:
        pass

    def stmt_Continue(self, node: ast.Continue) -> None:
        pass

    # --- names -----------------------------------------------------------------------

    def store(self, target: ast.expr, scope: set[str] | None = None) -> None:
        """An assignment target; `scope` is a comprehension's own scope."""
        if isinstance(target, ast.Name):
            name = target.id
            if _is_private(name):
                self._underscore(target, name)
            elif name in RESERVED_NAMES:
                self.refuse(
                    target,
                    f"不能给保留名称“{name}”赋值",
                    f"cannot assign to the reserved name '{name}'",
                )
            (self._assigned if scope is None else scope).add(name)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.store(element, scope)
        elif isinstance(target, ast.Starred):
            self.store(target.value, scope)
        elif isinstance(target, ast.Subscript) and scope is None:
            self.expression(target.value)
            if isinstance(target.slice, ast.Slice):
                self.refuse(target, "不允许切片赋值", "slice assignment is not allowed")
            else:
                self.expression(target.slice)
        elif isinstance(target, ast.Attribute):
            self.refuse(
                target,
                f"不允许给属性赋值（.{target.attr}）",
                f"setting attributes is not allowed (.{target.attr})",
            )
        else:
            self.refuse(target, "不支持的赋值目标", "unsupported assignment target")

    def load(self, node: ast.Name) -> None:
        """A name being read: refused, known, or a free name that must be a data field."""
        name = node.id
        if _is_private(name):
            self._underscore(node, name)
        elif name in FORBIDDEN_NAMES:
            why_zh, why_en = FORBIDDEN_NAMES[name]
            self.refuse(node, f"不允许使用“{name}”：{why_zh}", f"'{name}' is not allowed: {why_en}")
        elif self._is_unknown(name):
            self._unknown_name(node, name)

    def _is_unknown(self, name: str) -> bool:
        """A free name that is no data field, variable, comprehension variable or helper."""
        return not (
            self.known_names is None
            or name in self.known_names
            or name in CALLABLE_NAMES
            or name in self._assigned
            or any(name in scope for scope in self._comprehension_scopes)
        )

    def _unknown_name(self, node: ast.Name, name: str) -> None:
        if _ISO_DURATION.match(name):
            self.refuse(
                node,
                f'未知名称“{name}”——ISO 时长须加引号："{name}"',
                f"unknown name '{name}' — quote ISO durations: \"{name}\"",
            )
            return
        reason_zh = f"未知名称“{name}”：不是数据字段、前面赋值的变量或内置函数"
        reason_en = (
            f"unknown name '{name}': not a data field, a variable assigned earlier or a helper"
        )
        candidates = set(self.known_names or ()) | self._assigned | CALLABLE_NAMES
        close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.8)
        if close:
            reason_zh += f"（是否应为“{close[0]}”？）"
            reason_en += f" (did you mean '{close[0]}'?)"
        self.refuse(node, reason_zh, reason_en)

    def attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if _is_private(attr):
            self._underscore(node, attr)
        elif attr in FORMAT_ATTRIBUTES:
            self.refuse(
                node,
                f"不允许 str.{attr}：格式字符串可读取任意属性，请使用 f-字符串",
                f"str.{attr} is not allowed: its format string can read attributes; "
                "use an f-string",
            )
        elif attr in INTERNAL_ATTRIBUTES:
            self.refuse(
                node,
                f"不允许访问解释器内部属性“{attr}”",
                f"interpreter internals are not accessible: '{attr}'",
            )
        elif attr not in ALL_ATTRIBUTES:
            self.refuse(
                node,
                f"属性或方法“.{attr}”不在白名单中",
                f"attribute or method '.{attr}' is not on the whitelist",
            )

    # --- expressions -----------------------------------------------------------------

    def expression(self, node: ast.expr) -> None:
        handler = getattr(self, f"expr_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            name = type(node).__name__
            self._not_allowed(node, _REFUSED_EXPRESSIONS.get(name, (f"{name} 表达式", name)))

    def _expressions(self, nodes: Iterable[ast.expr | None]) -> None:
        for node in nodes:
            if node is not None:
                self.expression(node)

    def expr_Name(self, node: ast.Name) -> None:
        self.load(node)

    def expr_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, bytes):
            self._not_allowed(node, ("bytes 字面量", "bytes literals"))

    def expr_Attribute(self, node: ast.Attribute) -> None:
        self.attribute(node)
        self.expression(node.value)

    def expr_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if (
                name not in CALLABLE_NAMES
                and not _is_private(name)
                and name not in FORBIDDEN_NAMES
                and not self._is_unknown(name)
            ):
                # A variable or data field (unknown, refused names are reported by load).
                self.refuse(
                    func,
                    f"不能调用“{name}”：只能调用白名单中的函数和方法",
                    f"'{name}' cannot be called: only whitelisted functions and methods can",
                )
        elif not isinstance(func, ast.Attribute):
            self.refuse(
                func,
                "只能按名称调用函数或方法",
                "only functions and methods named directly can be called",
            )
        self.expression(func)
        self._expressions(node.args)
        self._expressions(keyword.value for keyword in node.keywords)

    def expr_Subscript(self, node: ast.Subscript) -> None:
        self.expression(node.value)
        self.expression(node.slice)

    def expr_Slice(self, node: ast.Slice) -> None:
        self._expressions((node.lower, node.upper, node.step))

    def expr_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.MatMult):
            self._not_allowed(node, ("矩阵乘法（@）", "matrix multiplication (@)"))
        self.expression(node.left)
        self.expression(node.right)

    def expr_UnaryOp(self, node: ast.UnaryOp) -> None:
        self.expression(node.operand)

    def expr_BoolOp(self, node: ast.BoolOp) -> None:
        self._expressions(node.values)

    def expr_Compare(self, node: ast.Compare) -> None:
        self.expression(node.left)
        self._expressions(node.comparators)

    def expr_IfExp(self, node: ast.IfExp) -> None:
        self._expressions((node.test, node.body, node.orelse))

    def expr_Tuple(self, node: ast.Tuple) -> None:
        self._expressions(node.elts)

    expr_List = expr_Tuple
    expr_Set = expr_Tuple

    def expr_Dict(self, node: ast.Dict) -> None:
        self._expressions(node.keys)
        self._expressions(node.values)

    def expr_Starred(self, node: ast.Starred) -> None:
        self.expression(node.value)

    def expr_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node.generators, [node.elt])

    expr_SetComp = expr_ListComp
    expr_GeneratorExp = expr_ListComp

    def expr_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node.generators, [node.key, node.value])

    def _comprehension(self, generators: list[ast.comprehension], parts: list[ast.expr]) -> None:
        # The first iterable is evaluated outside the comprehension's scope.
        self.expression(generators[0].iter)
        scope: set[str] = set()
        self._comprehension_scopes.append(scope)
        try:
            for index, generator in enumerate(generators):
                if generator.is_async:
                    self._not_allowed(generator.iter, ("异步推导式", "async comprehensions"))
                if index:
                    self.expression(generator.iter)
                self.store(generator.target, scope)
                self._expressions(generator.ifs)
            self._expressions(parts)
        finally:
            self._comprehension_scopes.pop()

    def expr_JoinedStr(self, node: ast.JoinedStr) -> None:
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.expr_FormattedValue(value)

    def expr_FormattedValue(self, node: ast.FormattedValue) -> None:
        self.expression(node.value)
        spec = node.format_spec
        if spec is None:
            return
        parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
        if not all(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in parts):
            self.refuse(
                node,
                "格式说明必须是固定文本（不能含 {...}）",
                "a format spec must be literal text (no {...} inside)",
            )
            return
        text = "".join(p.value for p in parts)
        for number in re.findall(r"\d+", text):
            if int(number) > self.format_width_limit:
                self.refuse(
                    node,
                    f"格式说明中的数字 {number} 超过上限 {self.format_width_limit}",
                    f"number {number} in a format spec exceeds the limit of "
                    f"{self.format_width_limit}",
                )
