"""Sending an event to a running instance from outside: a signal caught by a start event of an
event sub-process or by an intermediate catch event (P2's ad-hoc material request).

Like every state change it is one transaction in the caller's `perform`: load with the lock →
send the event → engine steps → save state, projections and audit event."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.task import TaskState
from sqlalchemy.orm import Session

from . import audit_chain, runtime
from .errors import Forbidden, InstanceInError, InstanceNotRunning, JiedaiError
from .models import InstanceStatus, ProcessInstance, User
from .visibility import can_view_instance


class NotWaitingForSignal(JiedaiError):
    """The instance has no event waiting for this signal (the meeting is over, say)."""

    def __init__(self, name: str):
        super().__init__(
            f"该流程当前不接收“{name}”事件", f"This process is not waiting for '{name}' now"
        )


def waiting_signals(workflow) -> dict[str, SignalEventDefinition]:
    """Signal names the workflow can catch now, with the definition to send (its own class:
    SpiffWorkflow matches events by class and name, and the spiff parser has its own class)."""
    found = {}
    for task in workflow.get_tasks(state=TaskState.WAITING | TaskState.READY):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, SignalEventDefinition):
            found.setdefault(definition.name, definition)
    # Event sub-processes of the top process wait without a task: SpiffWorkflow starts them
    # from the process start's trigger list when a matching event arrives.
    for name in workflow.spec.start.trigger_specs:
        spec = workflow.subprocess_specs.get(name)
        for start_event in spec.bpmn_start_events if spec is not None else ():
            definition = start_event.event_definition
            if isinstance(definition, SignalEventDefinition):
                found.setdefault(definition.name, definition)
    return found


def send_signal(
    session: Session, instance_id: int, name: str, payload: dict | None, user: User
) -> ProcessInstance:
    """Send signal `name` with `payload` to instance `instance_id` and run to the next wait
    state. Only someone who may see the instance may send it; the caller checks roles the
    procedure asks for (a blueprint knows who may request material during a meeting)."""
    instance = runtime.load_instance(session, instance_id, for_update=True)
    if not can_view_instance(session, user, instance):
        raise Forbidden()
    if instance.status == InstanceStatus.ERROR:
        raise InstanceInError()
    if instance.status != InstanceStatus.RUNNING:
        raise InstanceNotRunning()
    # The specs are shared by every instance of the version: `serialization.load_specs` has
    # linked the event sub-processes so that SpiffWorkflow does not rewire them here.
    workflow = runtime.load_workflow_for_change(session, instance)
    definition = waiting_signals(workflow).get(name)
    if definition is None:
        raise NotWaitingForSignal(name)
    workflow.send_event(BpmnEvent(definition, payload or {}))
    audit_chain.record(
        session,
        "instance:signal",
        actor=user.username,
        instance_id=instance.id,
        version_id=instance.version_id,
        payload={"signal": name, "data": payload or {}},
    )
    # A failure while stepping is an incident; a retry re-runs the engine steps on the state
    # saved before the signal (the signal itself must then be sent again).
    runtime.advance(session, instance, workflow, actor=user.username, replay={"action": "steps"})
    return instance
