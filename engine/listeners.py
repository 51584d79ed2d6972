"""Procedure-specific code that follows instances (registers, titles) registers here.

The engine calls every listener of an instance's process in the same transaction as the state
change, so a register row never disagrees with the instance it came from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlalchemy.orm import Session

from .models import ProcessInstance

#: listener(session, instance, data) — `data` is the instance's current process data.
InstanceListener = Callable[[Session, ProcessInstance, dict], None]

_listeners: dict[str, list[InstanceListener]] = defaultdict(list)


def on_instance_saved(process_id: str) -> Callable[[InstanceListener], InstanceListener]:
    """Decorator: call the function whenever an instance of `process_id` is saved."""

    def register(listener: InstanceListener) -> InstanceListener:
        if listener not in _listeners[process_id]:
            _listeners[process_id].append(listener)
        return listener

    return register


def notify_instance_saved(session: Session, instance: ProcessInstance, data: dict) -> None:
    for listener in _listeners.get(instance.process_id, ()):
        listener(session, instance, data)
