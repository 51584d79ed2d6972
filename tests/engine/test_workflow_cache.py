"""The cache of saved workflows never stands in for another state than the row's."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import update

from engine import runtime, workflow_cache
from engine.db import make_engine, make_session_factory, perform
from engine.errors import FormInvalid
from engine.models import ProcessInstance
from workflows import scenarios
from workflows.p3 import PROCESS_ID, samples

CONTACT = samples.complaint_path("front_clerk")[0]


@pytest.fixture(autouse=True)
def _empty_cache():
    workflow_cache.clear()
    yield
    workflow_cache.clear()


def _locked(session, instance_id):
    return runtime.load_instance(session, instance_id, for_update=True)


def test_the_next_change_gets_the_workflow_it_saved(session):
    instance = scenarios.start(session, PROCESS_ID, "front_clerk")
    assert workflow_cache.size() == 1

    def look(s):
        row = _locked(s, instance.id)
        return workflow_cache.take(s, row) is not None

    assert perform(session, look) is True
    assert workflow_cache.size() == 0  # handed out once


def test_a_state_written_elsewhere_is_restored_from_the_row(session):
    instance = scenarios.start(session, PROCESS_ID, "front_clerk")
    # Another process saved a new state of the same instance (its text differs).
    other = runtime.load_workflow(_locked(session, instance.id))
    session.rollback()
    other.data["changed_elsewhere"] = True
    with session.begin():
        session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance.id)
            .values(state_json=runtime.dump_state(other))
        )

    def look(s):
        return workflow_cache.take(s, _locked(s, instance.id))

    assert perform(session, look) is None
    task_spec, data = CONTACT
    done = scenarios.complete_step(session, instance.id, task_spec, data, "front_clerk")
    assert runtime.load_workflow(done).data.get("changed_elsewhere") is True


def test_the_same_instance_id_in_another_database_is_not_mixed_up(session, p3_url, tmp_path):
    copy = tmp_path / "other.sqlite3"
    shutil.copy(p3_url.split("///", 1)[1], copy)
    first = scenarios.start(session, PROCESS_ID, "front_clerk")
    engine = make_engine(f"sqlite:///{copy}")
    other = make_session_factory(engine)()
    try:
        second = scenarios.start(other, PROCESS_ID, "front_clerk", data={"in_copy": True})
        assert first.id == second.id  # same id, different databases

        def look(s):
            return workflow_cache.take(s, _locked(s, second.id))

        workflow = perform(other, look)
        assert workflow is not None and runtime.instance_data(workflow).get("in_copy") is True
        workflow = perform(session, lambda s: workflow_cache.take(s, _locked(s, first.id)))
        assert workflow is not None and "in_copy" not in runtime.instance_data(workflow)
    finally:
        other.close()
        engine.dispose()


def test_a_change_that_fails_leaves_nothing_behind(session):
    instance = scenarios.start(session, PROCESS_ID, "front_clerk")
    saved_version = instance.lock_version
    task_id = scenarios.open_task(session, instance.id, CONTACT[0]).id
    clerk = scenarios.get_user(session, "front_clerk")
    with pytest.raises(FormInvalid):
        perform(session, lambda s: runtime.complete_task(s, task_id, clerk, {"category": "?"}))
    # The refused change took the entry and ran nothing worth keeping: the next change
    # restores from the row, and completes the task as if nothing had happened.
    assert workflow_cache.size() == 0
    done = scenarios.complete_step(session, instance.id, *CONTACT, "front_clerk")
    assert done.lock_version == saved_version + 1
