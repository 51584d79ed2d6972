"""Procedure-specific code that follows instances (registers, titles) registers here.

The engine calls every listener of an instance's process in the same transaction as the state
change, so a register row never disagrees with the instance it came from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlalchemy.orm import Session

from .models import HumanTask, ProcessInstance

#: listener(session, instance, data) — `data` is the instance's current process data.
InstanceListener = Callable[[Session, ProcessInstance, dict], None]

_listeners: dict[str, list[InstanceListener]] = defaultdict(list)

#: listener(session, instance, rows, actor) — human tasks that opened in this state change,
#: and who caused it (a username, or `system:worker` for a timer firing).
TaskListener = Callable[[Session, ProcessInstance, list[HumanTask], str], None]

_task_listeners: list[TaskListener] = []


def on_instance_saved(process_id: str) -> Callable[[InstanceListener], InstanceListener]:
    """Decorator: call the function whenever an instance of `process_id` is saved."""

    def register(listener: InstanceListener) -> InstanceListener:
        if listener not in _listeners[process_id]:
            _listeners[process_id].append(listener)
        return listener

    return register


def notify_instance_saved(
    session: Session, instance: ProcessInstance, data: Callable[[], dict]
) -> None:
    """`data` gives the process data; it is worked out only for processes with listeners."""
    listeners = _listeners.get(instance.process_id, ())
    if listeners:
        current = data()
        for listener in listeners:
            listener(session, instance, current)


def on_tasks_opened(listener: TaskListener) -> TaskListener:
    """Decorator: call the function with the human tasks each state change opens."""
    if listener not in _task_listeners:
        _task_listeners.append(listener)
    return listener


def notify_tasks_opened(
    session: Session, instance: ProcessInstance, rows: list[HumanTask], actor: str
) -> None:
    if not rows:
        return
    for listener in _task_listeners:
        listener(session, instance, rows, actor)
