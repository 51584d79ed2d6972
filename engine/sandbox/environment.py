"""The SpiffWorkflow script environment that runs everything inside the sandbox.

Semantics follow SpiffWorkflow's `TaskDataEnvironment`: an expression sees the task data as
globals; a script runs with the task data *as* its globals, so assignments become data, and
afterwards helpers, functions and the external context are removed again. On top of that each
evaluation is checked statically, compiled with RestrictedPython (cached by text) and given
its own budget."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping
from functools import partial
from typing import Any

from RestrictedPython.Eval import default_guarded_getiter
from RestrictedPython.Guards import full_write_guard
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.working_days import WorkdayCalendar

from . import operations
from .budget import Budget, SandboxLimits
from .checker import Prepared, prepare
from .compiler import (
    BINARY_OPERATORS,
    BUILT_TEXT,
    CHECK_OPERAND,
    FORMAT_VALUE,
    TICK,
    TO_TEXT,
)
from .dates import script_helpers
from .errors import SandboxViolation
from .guards import guarded_getattr, guarded_getitem, iter_unpack_sequence, unpack_sequence
from .policy import RESERVED_NAMES
from .values import check_data

# Runtime functions that need the evaluation's budget, by the name the compiled code uses.
_BUDGETED: dict[str, Any] = {
    BINARY_OPERATORS[ast.Add]: operations.add,
    BINARY_OPERATORS[ast.Mult]: operations.multiply,
    BINARY_OPERATORS[ast.Pow]: operations.power,
    BINARY_OPERATORS[ast.LShift]: operations.left_shift,
    BINARY_OPERATORS[ast.Mod]: operations.modulo,
    CHECK_OPERAND: operations.check_operand,
    FORMAT_VALUE: operations.format_value,
    BUILT_TEXT: operations.built_text,
    TO_TEXT: operations.safe_str,
    "_getattr_": guarded_getattr,
    "_getitem_": guarded_getitem,
    "_inplacevar_": operations.in_place,
    **operations.BUDGETED_BUILTINS,
}

_GUARDS: dict[str, Any] = {
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_apply_": operations.call_with,
}
# Bound to the environment's limits in SandboxedEnvironment.__init__.
_UNPACK_GUARDS = ("_iter_unpack_sequence_", "_unpack_sequence_")

# C code of the standard library imports lazily through the *caller's* builtins:
# `date.strftime` imports `time`, `datetime.strptime` imports `_strptime`. Scripts cannot
# name `__import__` (a `_` name); this serves only those internal imports.
_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})


def _internal_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
    if name not in _INTERNAL_IMPORTS or level:
        raise ImportError(f"import of {name!r} is not allowed in scripts")
    return builtins.__import__(name, globals, locals, fromlist, level)


_GUARDS["__import__"] = _internal_import

# Task data under any of these names would replace a helper or a guard.
_PROTECTED_NAMES = (
    RESERVED_NAMES | set(_BUDGETED) | set(_GUARDS) | set(_UNPACK_GUARDS) | {TICK, "__builtins__"}
)


class SandboxedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates expressions and executes scripts inside the sandbox.

    `limits` bound each evaluation; `calendar` is the working-day calendar of the
    `working_days()` helper (default: Chinese holidays, then Monday–Friday)."""

    def __init__(
        self, *, limits: SandboxLimits | None = None, calendar: WorkdayCalendar | None = None
    ):
        self.limits = limits or SandboxLimits()
        super().__init__(script_helpers(calendar, self.limits))
        # Shared by every evaluation that needs no budgeted function (most conditions);
        # scripts cannot reach `__builtins__` to change it.
        limit = self.limits.max_sequence_length
        self._static_builtins: dict[str, Any] = {
            **_GUARDS,
            "_iter_unpack_sequence_": partial(iter_unpack_sequence, limit),
            "_unpack_sequence_": partial(unpack_sequence, limit),
            **operations.PLAIN_BUILTINS,
            **self.globals,
        }

    # --- SpiffWorkflow's interface ---------------------------------------------------

    def evaluate(self, expression: str, context: dict, external_context: Mapping | None = None):
        """The value of `expression` with `context` (task data) as its variables."""
        prepared = self._prepared(expression, "eval")
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        budget = Budget(self.limits)
        names = {**external_context, **context, "__builtins__": self._builtins(prepared, budget)}
        result = eval(prepared.code, names)  # noqa: S307 — RestrictedPython code, guarded
        check_data(result, Budget(self.limits))
        return result

    def execute(self, script: str, context: dict, external_context: Mapping | None = None) -> bool:
        """Run `script` with `context` (task data) as its globals; assignments become data."""
        prepared = self._prepared(script, "exec")
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        budget = Budget(self.limits)
        context.update(external_context)
        context["__builtins__"] = self._builtins(prepared, budget)
        try:
            exec(prepared.code, context)  # noqa: S102 — RestrictedPython code, guarded
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        # What stays in task data must be data: no generators, ranges, endless nesting.
        for name, value in context.items():
            check_data(value, Budget(self.limits), name)
        return True

    def call_service(self, context, **kwargs):
        """Service tasks are dispatched by `JiedaiScriptEngine.call_service`, not here."""
        raise NotImplementedError("JiedaiScriptEngine.call_service dispatches service tasks")

    # --- as in TaskDataEnvironment ---------------------------------------------------

    def check_for_overwrite(self, context: Mapping, external_context: Mapping) -> None:
        """Refuse task data that would shadow a helper, builtin or guard (fail fast, clearly)."""
        clashes = sorted(
            name for name in _PROTECTED_NAMES if name in context or name in external_context
        )
        if clashes:
            listed = ", ".join(clashes)
            raise ValueError(
                f"任务数据中的字段与脚本的内置名称冲突，请改名：{listed}。"
                f"Task data overwrites predefined names; rename these fields: {listed}"
            )

    def _remove_globals_and_functions_from_context(
        self, context: dict, external_context: Mapping | None = None
    ) -> None:
        """Don't leave builtins, helpers, functions or the external context in task data."""
        for key in list(context):
            if (
                key == "__builtins__"
                or callable(context[key])
                or key in self.globals
                or (external_context and key in external_context)
            ):
                context.pop(key)

    # --- internals -------------------------------------------------------------------

    def _prepared(self, source: str, mode: str) -> Prepared:
        if not isinstance(source, str):
            raise SandboxViolation("表达式不是文本", "the expression is not text")
        prepared = prepare(source, mode)
        if prepared.code is None:
            raise SandboxViolation.from_problems(prepared.problems)
        return prepared

    def _builtins(self, prepared: Prepared, budget: Budget) -> dict[str, Any]:
        needed = prepared.names.intersection(_BUDGETED)
        ticks = TICK in prepared.names
        if not needed and not ticks:
            return self._static_builtins
        builtins = dict(self._static_builtins)
        for name in needed:
            builtins[name] = partial(_BUDGETED[name], budget)
        if ticks:
            builtins[TICK] = budget.tick
        return builtins
