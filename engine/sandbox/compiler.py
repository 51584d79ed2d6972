"""Compile a checked syntax tree with RestrictedPython, then add the runtime bounds.

RestrictedPython's transformer guards attribute access, items, iteration and writes; our
`BoundsTransformer` runs after it (its `_`-prefixed names would be refused before) and
routes the operations whose cost a script controls through `operations.py`."""

from __future__ import annotations

import ast
import re
import warnings
from types import CodeType

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer

from .errors import SandboxProblem

TICK = "_jd_tick_"
CHECK_OPERAND = "_jd_check_"
FORMAT_VALUE = "_jd_format_"
BUILT_TEXT = "_jd_text_"
TO_TEXT = "_jd_str_"
BINARY_OPERATORS = {
    ast.Add: "_jd_add_",
    ast.Mult: "_jd_mul_",
    ast.Pow: "_jd_pow_",
    ast.LShift: "_jd_lshift_",
    ast.Mod: "_jd_mod_",
}

_SCALAR_CONSTANTS = (str, int, float, bool, type(None))


def _call(name: str, *args: ast.expr, like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])
    return ast.copy_location(node, like)


def _is_scalar_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, _SCALAR_CONSTANTS)


def _is_constant_sequence(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple | ast.List) and all(map(_is_scalar_constant, node.elts))


def _pair_is_safe(left: ast.expr, op: ast.cmpop, right: ast.expr) -> bool:
    # Identity and comparing with a literal scalar never recurse; `x in ("a", "b")` compares
    # x with each literal. `x in {...}` hashes x, so it needs the walk.
    if isinstance(op, ast.Is | ast.IsNot):
        return True
    if _is_scalar_constant(left) or _is_scalar_constant(right):
        return True
    if isinstance(op, ast.In | ast.NotIn):
        return _is_constant_sequence(right)
    return _is_constant_sequence(left) or _is_constant_sequence(right)


class BoundsTransformer(ast.NodeTransformer):
    """Inject budget ticks into loops and comprehensions and route costly operations."""

    def visit_For(self, node: ast.For) -> ast.For:
        self.generic_visit(node)
        tick = ast.copy_location(ast.Expr(_call(TICK, like=node)), node)
        node.body.insert(0, tick)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        self.generic_visit(node)
        node.ifs.insert(0, _call(TICK, like=node.iter))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        name = BINARY_OPERATORS.get(type(node.op))
        return node if name is None else _call(name, node.left, node.right, like=node)

    def visit_Compare(self, node: ast.Compare) -> ast.Compare:
        self.generic_visit(node)
        operands = [node.left, *node.comparators]
        unsafe = [
            not _pair_is_safe(operands[i], op, operands[i + 1]) for i, op in enumerate(node.ops)
        ]
        checked = []
        for index, operand in enumerate(operands):
            touches_unsafe = (index > 0 and unsafe[index - 1]) or (
                index < len(unsafe) and unsafe[index]
            )
            if touches_unsafe and not _is_scalar_constant(operand):
                operand = _call(CHECK_OPERAND, operand, like=operand)
            checked.append(operand)
        node.left, node.comparators = checked[0], checked[1:]
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.Subscript:
        # Loads became _getitem_ calls already; stores and deletes hash their key here.
        self.generic_visit(node)
        if not isinstance(node.slice, ast.Slice) and not _is_scalar_constant(node.slice):
            node.slice = _call(CHECK_OPERAND, node.slice, like=node.slice)
        return node

    def _checked(self, node: ast.expr) -> ast.expr:
        return node if _is_scalar_constant(node) else _call(CHECK_OPERAND, node, like=node)

    def visit_Dict(self, node: ast.Dict) -> ast.Dict:
        self.generic_visit(node)
        node.keys = [key if key is None else self._checked(key) for key in node.keys]
        return node

    def visit_Set(self, node: ast.Set) -> ast.Set:
        self.generic_visit(node)
        node.elts = [self._checked(element) for element in node.elts]
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.DictComp:
        self.generic_visit(node)
        node.key = self._checked(node.key)
        return node

    def visit_SetComp(self, node: ast.SetComp) -> ast.SetComp:
        self.generic_visit(node)
        node.elt = self._checked(node.elt)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.expr:
        # Format specs are JoinedStr too; they are literal (checked) and left alone.
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                part.value = _call(FORMAT_VALUE, self.visit(part.value), like=part.value)
        return _call(BUILT_TEXT, node, like=node)

    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        self.generic_visit(node)
        if node.msg is not None:
            node.msg = _call(TO_TEXT, node.msg, like=node.msg)
        return node


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, followed by `BoundsTransformer` on the whole tree."""

    def visit_Module(self, node: ast.Module) -> ast.AST:
        return self._bounded(super().visit_Module(node))

    def visit_Expression(self, node: ast.Expression) -> ast.AST:
        return self._bounded(super().visit_Expression(node))

    def _bounded(self, node):
        if self.errors:
            return node
        return ast.fix_missing_locations(BoundsTransformer().visit(node))


_LINE = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)


def _restricted_problem(message: str) -> SandboxProblem:
    match = _LINE.match(message)
    line, text = (int(match.group(1)), match.group(2)) if match else (None, message)
    return SandboxProblem(
        line, f"RestrictedPython 拒绝：{text}", f"refused by RestrictedPython: {text}"
    )


def compile_tree(
    tree: ast.Module | ast.Expression, mode: str
) -> tuple[CodeType | None, list[SandboxProblem]]:
    """Compile a tree that passed the static rules. Returns the code or the problems."""
    compile_mode = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    # Warnings of CPython's compiler (`x is 1`, `"a"(1)`) become problems: deterministic
    # whatever the process's warning filters, and worth fixing anyway.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = compile_mode(tree, filename="<string>", policy=SandboxPolicy)
        except SyntaxError as error:
            return None, [
                SandboxProblem(error.lineno, f"语法错误：{error.msg}", f"syntax error: {error.msg}")
            ]
        except (RecursionError, MemoryError, ValueError) as error:
            return None, [SandboxProblem(None, f"无法编译：{error}", f"cannot compile: {error}")]
    problems = [_restricted_problem(message) for message in (*result.errors, *result.warnings)]
    problems += [
        SandboxProblem(w.lineno, f"编译警告：{w.message}", f"compiler warning: {w.message}")
        for w in caught
    ]
    if problems or result.code is None:
        return None, problems or [SandboxProblem(None, "无法编译", "cannot compile")]
    return result.code, []


def global_names(code: CodeType) -> frozenset[str]:
    """Names the code (and its comprehensions) look up as globals or builtins."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            names |= global_names(constant)
    return frozenset(names)
