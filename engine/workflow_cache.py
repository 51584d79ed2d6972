"""Workflows this process saved last, kept deserialized for the instance's next state change.

Restoring a workflow from its JSON is a third of the engine's own work per step; the next
step of an instance (the next approval, a claim then a completion, a timer) often comes to the
same process. An entry is the workflow together with the exact JSON text that was saved from
it; it is handed out only for a row that holds that very text (one string comparison), so it can
never stand in for another state: not after a change by another process, nor for an instance
of the same id in another database. It is added only after its transaction committed and
handed out at most once (`take` removes it), so a change that fails and rolls back never leaves
a half-run workflow behind: the next change restores from the row. Read-only pages never use
it."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import event
from sqlalchemy.orm import Session

from .models import ProcessInstance

SIZE_SETTING = "JIEDAI_WORKFLOW_CACHE"
DEFAULT_SIZE = 100
_SAVED = "jiedai_workflows_saved"

_entries: OrderedDict[tuple[str, int], tuple[str, BpmnWorkflow]] = OrderedDict()
_lock = threading.Lock()


def capacity() -> int:
    return max(0, int(os.environ.get(SIZE_SETTING, DEFAULT_SIZE)))


def take(session: Session, instance: ProcessInstance) -> BpmnWorkflow | None:
    """The workflow saved as exactly the state `instance`'s row holds, if this process kept it."""
    with _lock:
        entry = _entries.pop(_key(session, instance), None)
    if entry is None:
        return None
    text, workflow = entry
    return workflow if text == instance.state_json else None


def keep_when_committed(
    session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, text: str
) -> None:
    """Offer `workflow`, just saved for `instance` as `text`, to the next change once committed."""
    session.info.setdefault(_SAVED, {})[_key(session, instance)] = (text, workflow)


def _key(session: Session, instance: ProcessInstance) -> tuple[str, int]:
    return (str(session.get_bind().engine.url), instance.id)  # an Engine or a Connection


def clear() -> None:
    with _lock:
        _entries.clear()


def size() -> int:
    return len(_entries)


@event.listens_for(Session, "after_commit")
def _keep_saved(session: Session) -> None:
    saved = session.info.pop(_SAVED, None)
    limit = capacity()
    if not saved or not limit:
        return
    with _lock:
        for key, entry in saved.items():
            _entries[key] = entry
            _entries.move_to_end(key)
        while len(_entries) > limit:
            _entries.popitem(last=False)


@event.listens_for(Session, "after_rollback")
def _drop_saved(session: Session) -> None:
    session.info.pop(_SAVED, None)
