"""Moving running instances to another version of their process when that is safe.

SpiffWorkflow's `SpiffWorkflow.bpmn.util.diff` aligns the instance's task specs with the
target version's (by BPMN id, then by structure). An instance may move when every task it has
already run or is at (completed, ready, waiting, started) exists in the target version, and the
sub-processes it has started exist there too; otherwise it stays untouched and the reason is
given. Moving is one transaction per instance, audited as `instance:migrate`; moving back
is the same operation towards the older version, allowed by the same rule."""

from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit_chain
from .db import perform
from .errors import JiedaiError, NotFound
from .lanes import role_codes
from .models import (
    HumanTask,
    HumanTaskCandidate,
    InstanceStatus,
    ProcessInstance,
    ProcessVersion,
    TaskStatus,
    User,
)
from .projection import task_properties
from .runtime import advance, load_instance, load_workflow
from .serialization import _SERIALIZER
from .specs_cache import specs_for

# Tasks that have happened or are happening: their specs must survive the move.
_LIVE = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED
_LIVE = _LIVE | TaskState.ERROR


class MigrationRefused(JiedaiError):
    """The instance cannot move; `reasons` say why (zh, en) pairs."""

    def __init__(self, reasons: list[tuple[str, str]]):
        super().__init__(
            "无法迁移：" + "；".join(zh for zh, _ in reasons),
            "Cannot migrate: " + "; ".join(en for _, en in reasons),
        )
        self.reasons = reasons


@dataclass
class MigrationCheck:
    instance_id: int
    business_key: str
    from_number: int
    ok: bool
    reasons: list[tuple[str, str]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # active tasks whose spec changed

    def reason(self, locale: str = "zh_CN") -> str:
        index = 1 if locale.startswith("en") else 0
        return "; ".join(pair[index] for pair in self.reasons)


def get_version(session: Session, version_id: int) -> ProcessVersion:
    version = session.get(ProcessVersion, version_id)
    if version is None:
        raise NotFound(f"版本 {version_id} 不存在", f"Version {version_id} not found")
    return version


def version_by_number(session: Session, process_id: str, number: int) -> ProcessVersion:
    from .models import ProcessModel

    version = session.scalar(
        select(ProcessVersion)
        .join(ProcessModel)
        .where(ProcessModel.process_id == process_id, ProcessVersion.number == number)
    )
    if version is None:
        raise NotFound(
            f"流程“{process_id}”没有版本 {number}",
            f"Process '{process_id}' has no version {number}",
        )
    return version


def check_instance(instance: ProcessInstance, target: ProcessVersion) -> MigrationCheck:
    """Whether `instance` can move to `target`, and why not."""
    check = MigrationCheck(instance.id, instance.business_key, instance.version.number, True)
    reasons = _precondition_reasons(instance, target)
    if not reasons:
        workflow = load_workflow(instance)
        reasons, check.changed = _diff_reasons(workflow, target)
    check.reasons = reasons
    check.ok = not reasons
    return check


def preview(
    session: Session, source: ProcessVersion, target: ProcessVersion
) -> list[MigrationCheck]:
    """One check per running instance of `source`."""
    rows = session.scalars(
        select(ProcessInstance)
        .where(
            ProcessInstance.version_id == source.id,
            ProcessInstance.status == InstanceStatus.RUNNING,
        )
        .order_by(ProcessInstance.id)
    ).all()
    checks = []
    for instance in rows:
        instance = load_instance(session, instance.id)
        checks.append(check_instance(instance, target))
    return checks


def migrate_instance(
    session: Session, instance_id: int, target_version_id: int, user: User | str
) -> ProcessInstance:
    """Move one instance to the target version; `MigrationRefused` (nothing changed) if not
    safe. Call inside `perform`: one transaction per instance."""
    actor = user.username if isinstance(user, User) else user
    instance = load_instance(session, instance_id, for_update=True)
    target = get_version(session, target_version_id)
    reasons = _precondition_reasons(instance, target)
    if reasons:
        raise MigrationRefused(reasons)
    workflow = load_workflow(instance)
    reasons, changed = _diff_reasons(workflow, target)
    if reasons:
        raise MigrationRefused(reasons)
    spec, subprocess_specs = specs_for(target)
    top_diff, sub_diffs = diff_workflow(_SERIALIZER.registry, workflow, spec, subprocess_specs)
    migrate_workflow(top_diff, workflow, spec)
    for sub_id, sub_diff in sub_diffs.items():
        sub = workflow.subprocesses[sub_id]
        migrate_workflow(sub_diff, sub, subprocess_specs[sub.spec.name])
    workflow.subprocess_specs = subprocess_specs
    source = instance.version
    instance.version = target
    instance.version_id = target.id
    audit_chain.record(
        session,
        "instance:migrate",
        actor=actor,
        instance_id=instance.id,
        version_id=target.id,
        payload={
            "from_version": source.number,
            "from_version_id": source.id,
            "to_version": target.number,
            "to_version_id": target.id,
            "changed_tasks": changed,
        },
    )
    # Reset tasks are predicted again and ready ones re-created; nothing runs that had run.
    advance(session, instance, workflow, actor=actor, replay={"action": "steps"})
    _refresh_open_rows(session, instance, workflow)
    return instance


def migrate_many(
    session: Session, instance_ids: list[int], target: ProcessVersion, user: User | str
) -> tuple[list[int], list[tuple[int, list[tuple[str, str]]]]]:
    """Migrate each instance in a transaction of its own (`perform`); refused ones are left
    as they were. Returns the moved ids and (id, reasons) for the refused ones."""
    moved: list[int] = []
    refused: list[tuple[int, list[tuple[str, str]]]] = []
    target_id = target.id
    for instance_id in instance_ids:
        try:
            perform(session, lambda s, i=instance_id: migrate_instance(s, i, target_id, user))
        except MigrationRefused as exc:
            refused.append((instance_id, exc.reasons))
        else:
            moved.append(instance_id)
    return moved, refused


def _refresh_open_rows(session: Session, instance: ProcessInstance, workflow) -> None:
    """Open task rows that survived the move show the target version's name, lane and form."""
    tasks = {str(task.id): task for task in workflow.get_tasks(state=TaskState.READY)}
    rows = session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN
        )
    ).all()
    for row in rows:
        task = tasks.get(row.task_guid)
        if task is None:
            continue
        spec = task.task_spec
        props = task_properties(task)
        row.task_spec = spec.bpmn_id
        row.name = spec.bpmn_name or spec.bpmn_id
        row.form_file = props.get("formJsonSchemaFilename")
        row.instructions = (spec.extensions or {}).get("instructionsForEndUser")
        if row.lane != spec.lane:
            row.lane = spec.lane
            row.candidates = [HumanTaskCandidate(role_code=code) for code in role_codes(spec.lane)]


def _precondition_reasons(instance: ProcessInstance, target: ProcessVersion) -> list:
    reasons = []
    if instance.version.model_id != target.model_id:
        reasons.append(("目标版本属于另一个流程", "The target version belongs to another process"))
    if instance.version_id == target.id:
        reasons.append(("实例已在该版本上", "The instance is already on that version"))
    if instance.status != InstanceStatus.RUNNING:
        reasons.append(
            (
                f"实例状态为 {instance.status}，只能迁移运行中的实例",
                f"The instance is {instance.status}; only running instances can move",
            )
        )
    return reasons


def _diff_reasons(workflow, target: ProcessVersion) -> tuple[list, list[str]]:
    spec, subprocess_specs = specs_for(target)
    top_diff, sub_diffs = diff_workflow(_SERIALIZER.registry, workflow, spec, subprocess_specs)
    reasons = []
    for task in top_diff.removed:
        if task.state & _LIVE and task.task_spec.bpmn_id:
            name = task.task_spec.bpmn_name or task.task_spec.bpmn_id
            state = "当前所在" if task.state & (TaskState.READY | TaskState.WAITING) else "已完成"
            reasons.append(
                (
                    f"{state}的步骤“{name}”（{task.task_spec.bpmn_id}）在目标版本中不存在",
                    f"Step '{name}' ({task.task_spec.bpmn_id}), which the instance "
                    f"{'is at' if state == '当前所在' else 'has completed'}, is not in the "
                    "target version",
                )
            )
    for sub_id, sub_diff in sub_diffs.items():
        if sub_diff is None:
            reasons.append(
                (
                    f"已启动的子流程 {sub_id} 在目标版本中不存在",
                    f"Started sub-process {sub_id} is not in the target version",
                )
            )
    changed = sorted(
        {
            task.task_spec.bpmn_id
            for task in top_diff.changed
            if task.state & (TaskState.READY | TaskState.WAITING) and task.task_spec.bpmn_id
        }
    )
    # Duplicate reasons (a multi-instance's children) say the same thing once.
    return list(dict.fromkeys(reasons)), changed
