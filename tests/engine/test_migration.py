"""Moving running instances between versions when the diff allows it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import audit_chain
from engine.bundles import DEFAULT_BPMN_DIR, Bundle, collect_bundle
from engine.db import perform
from engine.deploy import deploy_bundle
from engine.identity import get_user
from engine.migration import MigrationRefused, migrate_instance, migrate_many, preview
from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskStatus
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples

BPMN = "p3_owner_reception.bpmn"
P3_FILES = collect_bundle(DEFAULT_BPMN_DIR / BPMN).files


def _deploy(session, *replacements, text=None):
    files = dict(P3_FILES)
    if text is not None:
        files[BPMN] = text
    for old, new in replacements:
        assert old in files[BPMN], old
        files[BPMN] = files[BPMN].replace(old, new)
    return perform(session, lambda s: deploy_bundle(s, Bundle(files), "owner")).version


def _without(task_id: str, flow_in: str, flow_out: str, after: str) -> str:
    """P3 with `task_id` removed: its incoming flow goes straight to `after`."""
    text = P3_FILES[BPMN]
    text = re.sub(rf'\s*<bpmn:userTask id="{task_id}".*?</bpmn:userTask>', "", text, flags=re.S)
    text = re.sub(rf'\s*<bpmn:sequenceFlow id="{flow_out}"[^>]*/>', "", text)
    text = re.sub(rf"\s*<bpmn:flowNodeRef>{task_id}</bpmn:flowNodeRef>", "", text)
    text = re.sub(
        rf'\s*<bpmndi:BPMNShape id="{task_id}_di".*?</bpmndi:BPMNShape>', "", text, flags=re.S
    )
    text = re.sub(
        rf'\s*<bpmndi:BPMNEdge id="{flow_out}_di".*?</bpmndi:BPMNEdge>', "", text, flags=re.S
    )
    text = text.replace(
        f"<bpmn:incoming>{flow_out}</bpmn:incoming>", f"<bpmn:incoming>{flow_in}</bpmn:incoming>"
    )
    return re.sub(rf'(id="{flow_in}"[^>]*targetRef=")[^"]+', rf"\g<1>{after}", text)


def _at_record_complaint(session):
    instance = scenarios.start(session, P3, "front_clerk")
    scenarios.run_steps(session, instance.id, [samples.contact("complaint")])
    return instance


def test_renamed_task_migrates_and_the_inbox_shows_the_new_name(session):
    instance = _at_record_complaint(session)
    v2 = _deploy(session, ('name="记录投诉详情"', 'name="记录投诉内容"'))
    owner = get_user(session, "process_owner")
    (check,) = preview(session, instance.version, v2)
    assert check.ok and check.changed == ["record_complaint"]
    perform(session, lambda s: migrate_instance(s, instance.id, v2.id, owner))
    session.expire_all()
    moved = session.get(ProcessInstance, instance.id)
    assert moved.version_id == v2.id
    row = scenarios.open_task(session, instance.id, "record_complaint")
    assert row.name == "记录投诉内容"
    event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "instance:migrate")).one()
    assert event.payload["from_version"] == 1 and event.payload["to_version"] == 2
    # It still runs to the end on the new version.
    scenarios.run_steps(session, instance.id, samples.complaint_path("front_clerk")[1:])
    session.expire_all()
    assert session.get(ProcessInstance, instance.id).status == "completed"


def test_instance_at_a_removed_task_is_refused_and_untouched(session):
    instance = scenarios.start(session, P3, "front_clerk")
    scenarios.run_steps(session, instance.id, [samples.contact("repair")])
    v1 = instance.version
    v2 = _deploy(
        session,
        text=_without(
            "repair_work_order", "Flow_route_repair", "Flow_repair_work_order_done", "close_merge"
        ),
    )
    owner = get_user(session, "process_owner")
    (check,) = preview(session, v1, v2)
    assert not check.ok and "repair_work_order" in check.reason("en")
    with pytest.raises(MigrationRefused):
        perform(session, lambda s: migrate_instance(s, instance.id, v2.id, owner))
    session.expire_all()
    assert session.get(ProcessInstance, instance.id).version_id == v1.id
    assert scenarios.open_task(session, instance.id, "repair_work_order").status == TaskStatus.OPEN


def test_migrating_back_is_allowed_by_the_same_rule(session):
    instance = _at_record_complaint(session)
    v1 = instance.version
    v2 = _deploy(session, ('name="记录投诉详情"', 'name="记录投诉内容"'))
    owner = get_user(session, "process_owner")
    perform(session, lambda s: migrate_instance(s, instance.id, v2.id, owner))
    perform(session, lambda s: migrate_instance(s, instance.id, v1.id, owner))
    session.expire_all()
    assert session.get(ProcessInstance, instance.id).version_id == v1.id
    open_rows = session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN
        )
    ).all()
    assert [row.name for row in open_rows] == ["记录投诉详情"]


def test_bulk_preview_mixes_movable_and_blocked(session):
    at_complaint = [_at_record_complaint(session) for _ in range(3)]
    at_repair = []
    for _ in range(2):
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.run_steps(session, instance.id, [samples.contact("repair")])
        at_repair.append(instance)
    v2 = _deploy(
        session,
        text=_without(
            "repair_work_order", "Flow_route_repair", "Flow_repair_work_order_done", "close_merge"
        ),
    )
    checks = preview(session, at_complaint[0].version, v2)
    ok = {c.instance_id for c in checks if c.ok}
    assert ok == {i.id for i in at_complaint}
    assert {c.instance_id for c in checks if not c.ok} == {i.id for i in at_repair}


def test_cli_migrate_moves_one_instance_or_says_why_not(session, p3_url, monkeypatch):
    from click.testing import CliRunner

    from web.cli import main

    instance = _at_record_complaint(session)
    _deploy(session, ('name="记录投诉详情"', 'name="记录投诉内容"'))
    session.close()
    monkeypatch.setenv("DATABASE_URL", p3_url)
    monkeypatch.setenv("JIEDAI_LANG", "en")
    result = CliRunner().invoke(main, ["migrate", str(instance.id), "--to-version", "2"])
    assert result.exit_code == 0, result.output
    assert f"migrated {instance.business_key} to v2" in result.output
    again = CliRunner().invoke(main, ["migrate", str(instance.id), "--to-version", "2"])
    assert again.exit_code == 1 and "already on that version" in again.output
    missing = CliRunner().invoke(main, ["migrate", str(instance.id), "--to-version", "9"])
    assert missing.exit_code == 2 and "no version 9" in missing.output


def test_bulk_migration_of_100_instances_moves_the_movable_and_leaves_the_blocked(session):
    """60 instances at "record complaint" (renamed in v2: movable) and 40 at the repair work
    order (removed in v2: blocked), all moved in one call, one transaction each."""
    movable = [_at_record_complaint(session).id for _ in range(60)]
    blocked = []
    for _ in range(40):
        instance = scenarios.start(session, P3, "front_clerk")
        scenarios.run_steps(session, instance.id, [samples.contact("repair")])
        blocked.append(instance.id)
    v1 = session.get(ProcessInstance, movable[0]).version
    text = _without(
        "repair_work_order", "Flow_route_repair", "Flow_repair_work_order_done", "close_merge"
    ).replace('name="记录投诉详情"', 'name="记录投诉内容"')
    v2 = _deploy(session, text=text)
    session.expire_all()
    before = {i: session.get(ProcessInstance, i).state_json for i in blocked}

    checks = preview(session, v1, v2)
    assert len(checks) == 100
    assert {c.instance_id for c in checks if c.ok} == set(movable)
    for check in checks:
        if check.ok:
            assert check.changed == ["record_complaint"] and not check.reasons
        else:
            assert "repair_work_order" in check.reason("en")
            assert "repair_work_order" in check.reason("zh_CN")

    owner = get_user(session, "process_owner")
    moved, refused = migrate_many(session, [c.instance_id for c in checks], v2, owner)
    assert moved == movable
    assert [i for i, _ in refused] == blocked
    assert all(any("repair_work_order" in en for _, en in reasons) for _, reasons in refused)

    session.expire_all()
    for instance_id in movable:
        assert session.get(ProcessInstance, instance_id).version_id == v2.id
    for instance_id in blocked:
        instance = session.get(ProcessInstance, instance_id)
        assert instance.version_id == v1.id and instance.state_json == before[instance_id]
        assert scenarios.open_task(session, instance_id, "repair_work_order")
    assert {
        row.name
        for row in session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id.in_(movable), HumanTask.status == TaskStatus.OPEN
            )
        )
    } == {"记录投诉内容"}
    migrations = session.scalars(
        select(AuditEvent).where(AuditEvent.kind == "instance:migrate")
    ).all()
    assert sorted(e.instance_id for e in migrations) == movable
    assert audit_chain.verify(session).ok
