"""jiedai's SpiffWorkflow script engine: the sandboxed environment plus service-task dispatch.

The engine is not serialized with a workflow: attach `make_script_engine()` again to every
workflow loaded from storage, or it runs with SpiffWorkflow's default (unsafe) engine."""

from __future__ import annotations

import copy
import json
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .sandbox import SandboxedEnvironment, SandboxLimits, SandboxViolation
from .service_tasks import service_handler
from .working_days import WorkdayCalendar

MAX_MESSAGE = 500


def describe_error(error: BaseException) -> str:
    """`Type: message`, bounded: the message a person sees in the incident."""
    message = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], str) else ""
    if not message:
        try:
            message = str(error)
        except Exception:  # noqa: BLE001 — a broken __str__ must not hide the real error
            message = ""
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + "…"
    name = type(error).__name__
    return f"{name}: {message}" if message else name


class JiedaiScriptEngine(PythonScriptEngine):
    """`PythonScriptEngine` running in `SandboxedEnvironment`, with service tasks dispatched
    to the handlers of `engine.service_tasks`."""

    def __init__(self, environment: SandboxedEnvironment | None = None):
        super().__init__(environment=environment or SandboxedEnvironment())

    def evaluate(self, task, expression, external_context=None):
        """As SpiffWorkflow's, but the cause's message is kept in the error (SpiffWorkflow
        keeps only its type), so an incident says *why* an expression failed."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as error:
            error.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as error:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {describe_error(error)}",
                task=task,
                exception=error,
                line_number=error.line if isinstance(error, SandboxViolation) else None,
            ) from error

    def call_service(
        self, task, operation_name: str = "", operation_params: dict | None = None, **kwargs: Any
    ) -> str:
        """Run the handler registered for `operation_name`.

        Its returned dict is merged into the task data. The result is also returned as JSON,
        because SpiffWorkflow's ServiceTask `json.loads` it into the operator's result
        variable. Any failure is raised as a `WorkflowTaskException` on the task carrying the
        handler's own message (SpiffWorkflow 3.2's own error path raises NameError)."""
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        try:
            handler = service_handler(operation_name)
            result = handler(copy.deepcopy(task.data), params)
            if result is not None and not isinstance(result, dict):
                raise TypeError(f"handler returned {type(result).__name__}, expected dict or None")
            text = json.dumps(result, default=str, ensure_ascii=False)
        except Exception as error:
            raise WorkflowTaskException(
                f"Service task '{operation_name}' failed: {describe_error(error)}",
                task=task,
                exception=error,
            ) from error
        if result:
            task.data.update(result)
        return text

    def create_task_exec_exception(self, task, script, err):
        """As SpiffWorkflow's, with a message that survives non-text arguments and the line
        of a statically refused script."""
        if isinstance(err, SpiffWorkflowException):
            return super().create_task_exec_exception(task, script, err)
        line_number, error_line = self.get_error_line_number_and_content(script, err)
        if isinstance(err, SandboxViolation) and err.line and not line_number:
            line_number = err.line
            lines = script.splitlines()
            error_line = lines[line_number - 1] if line_number <= len(lines) else ""
        return WorkflowTaskException(
            describe_error(err),
            task=task,
            exception=err,
            line_number=line_number,
            error_line=error_line,
        )


def make_script_engine(
    *, limits: SandboxLimits | None = None, calendar: WorkdayCalendar | None = None
) -> JiedaiScriptEngine:
    """A new sandboxed engine (attach one to every workflow created or loaded)."""
    return JiedaiScriptEngine(SandboxedEnvironment(limits=limits, calendar=calendar))
