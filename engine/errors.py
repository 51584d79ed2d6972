"""Named failures of the engine. Each carries what a person needs, in zh_CN and English."""

from __future__ import annotations

from dataclasses import dataclass, field


class JiedaiError(Exception):
    """Base of the failures a person is shown. `message(locale)` picks the language."""

    message_zh: str = "操作失败"
    message_en: str = "The operation failed"

    def __init__(self, message_zh: str | None = None, message_en: str | None = None):
        if message_zh is not None:
            self.message_zh = message_zh
        if message_en is not None:
            self.message_en = message_en
        super().__init__(self.message_en)

    def message(self, locale: str = "zh_CN") -> str:
        return self.message_en if locale.startswith("en") else self.message_zh


class NotFound(JiedaiError):
    message_zh = "找不到该记录"
    message_en = "Not found"


class Forbidden(JiedaiError):
    message_zh = "您没有权限执行此操作"
    message_en = "You are not allowed to do this"


class Conflict(JiedaiError):
    """Someone else changed the thing first; nothing of this request was saved."""


class TaskClaimedByOther(Conflict):
    def __init__(self, holder: str):
        super().__init__(
            f"该任务已由 {holder} 认领，您的提交未保存",
            f"This task is claimed by {holder}; your submission was not saved",
        )


class TaskAlreadyDone(Conflict):
    message_zh = "该任务已被他人完成，您的提交未保存"
    message_en = "This task has already been completed; your submission was not saved"


class StaleInstance(Conflict):
    message_zh = "该流程刚被他人更新，您的提交未保存，请刷新后重试"
    message_en = (
        "This process was just changed by someone else; nothing was saved, reload and retry"
    )


class InstanceInError(JiedaiError):
    message_zh = "该流程处于故障状态，需由流程管理员处理后重试"
    message_en = "This process has an incident; a process owner must fix and retry it"


class InstanceNotRunning(JiedaiError):
    message_zh = "该流程已结束"
    message_en = "This process is no longer running"


class FormInvalid(JiedaiError):
    """Submitted data failed the task's form schema; `errors` maps field → message."""

    message_zh = "表单有错误，请修改后再提交"
    message_en = "The form has errors; correct them and submit again"

    def __init__(self, errors: dict[str, str]):
        super().__init__()
        self.errors = errors


@dataclass
class Problem:
    """One reason a deploy is refused: file, element, line where known, and why."""

    file: str
    reason_zh: str
    reason_en: str
    element_id: str | None = None
    element_name: str | None = None
    line: int | None = None

    def describe(self, locale: str = "zh_CN") -> str:
        where = self.file
        if self.element_id:
            where += f" [{self.element_id}"
            where += f" {self.element_name}]" if self.element_name else "]"
        if self.line:
            where += f" line {self.line}" if locale.startswith("en") else f" 第{self.line}行"
        reason = self.reason_en if locale.startswith("en") else self.reason_zh
        return f"{where}: {reason}"


class DeployRefused(JiedaiError):
    message_zh = "部署被拒绝，未部署任何内容"
    message_en = "Deploy refused; nothing was deployed"

    def __init__(self, problems: list[Problem]):
        super().__init__()
        self.problems = problems

    def message(self, locale: str = "zh_CN") -> str:
        lines = [super().message(locale)]
        lines += [problem.describe(locale) for problem in self.problems]
        return "\n".join(lines)


@dataclass
class EngineStepFailed(Exception):
    """A script, condition, DMN table or service handler raised during engine steps.

    Raised inside the transaction, which is then rolled back; `perform` records the incident."""

    instance_id: int
    message: str
    task_spec: str | None = None
    task_name: str | None = None
    line_number: int | None = None
    replay: dict = field(default_factory=dict)
    started: dict | None = None  # a failed start: what re-creates the instance row

    def __str__(self) -> str:
        return self.message

    def as_instance_failed(self, incident) -> InstanceFailed:
        return InstanceFailed(self, incident.id)


class InstanceFailed(JiedaiError):
    """The step failed and the instance is now in `error` with an incident."""

    def __init__(self, failure: EngineStepFailed, incident_id: int):
        where = failure.task_name or failure.task_spec or "?"
        super().__init__(
            f"流程步骤“{where}”执行出错，已记录故障（{failure.message}），流程管理员处理后可重试",
            f"Step '{where}' failed and an incident was recorded ({failure.message}); "
            "a process owner can retry it after fixing the cause",
        )
        self.failure = failure
        self.incident_id = incident_id
