"""Recording a failed engine step as an incident, in a transaction of its own."""

from __future__ import annotations

from sqlalchemy.orm import Session

from . import audit_chain
from .errors import EngineStepFailed
from .models import Incident, InstanceStatus, ProcessInstance
from .serialization import SERIALIZER_VERSION


def record_incident(session: Session, failure: EngineStepFailed) -> Incident:
    """Put the instance in `error` with the failing task, line and message.

    The step itself was rolled back; a failed start re-creates its instance from the snapshot
    so that there is something to retry."""
    if failure.started is not None:
        instance = _recreate_started(session, failure)
    else:
        instance = session.get(ProcessInstance, failure.instance_id, populate_existing=True)
    instance.status = InstanceStatus.ERROR
    incident = Incident(
        instance_id=instance.id,
        task_spec=failure.task_spec,
        task_name=failure.task_name,
        line_number=failure.line_number,
        message=failure.message,
        replay=failure.replay,
    )
    session.add(incident)
    session.flush()  # why: the audit event names the incident id
    audit_chain.record(
        session,
        "instance:incident",
        actor="system:engine",
        instance_id=instance.id,
        task=failure.task_spec,
        version_id=instance.version_id,
        payload={
            "incident": incident.id,
            "message": failure.message,
            "line": failure.line_number,
            "replay": failure.replay,
        },
    )
    return incident


def _recreate_started(session: Session, failure: EngineStepFailed) -> ProcessInstance:
    snapshot = failure.started
    instance = ProcessInstance(
        process_id=snapshot["process_id"],
        version_id=snapshot["version_id"],
        status=InstanceStatus.ERROR,
        business_key="",
        title=snapshot["title"],
        state_json=snapshot["state_json"],
        serializer_version=SERIALIZER_VERSION,
        started_by_id=snapshot["started_by_id"],
    )
    session.add(instance)
    session.flush()  # why: the business key and the incident need the id
    instance.assign_business_key()
    failure.instance_id = instance.id
    audit_chain.record(
        session,
        "instance:start",
        actor=snapshot["started_by"],
        instance_id=instance.id,
        version_id=instance.version_id,
        payload={"data": failure.replay.get("data", {})},
    )
    return instance
