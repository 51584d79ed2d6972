"""The sandbox corpus through the engine (issue 8): every escape is refused at deploy with its
reason; every exhaustion payload, run as a diagram's script task, ends in `InstanceFailed`
with an incident and nothing else saved; a few run in a resource-limited child process to show
that they stop quickly without exhausting the machine."""

from __future__ import annotations

import importlib.util
import json
import re
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select

from engine import audit_chain, runtime
from engine.bundles import Bundle
from engine.db import make_engine, make_session_factory, perform
from engine.deploy import check_bundle, deploy_bundle
from engine.errors import DeployRefused, InstanceFailed
from engine.identity import get_user
from engine.models import HumanTask, Incident, InstanceStatus, ProcessInstance
from workflows.procedures import register_procedures

ROOT = Path(__file__).resolve().parents[2]
MINIMUM_CORPUS = 40


def _load_payloads():
    spec = importlib.util.spec_from_file_location(
        "sandbox_payloads", ROOT / "tests" / "engine" / "sandbox_payloads.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_payloads = _load_payloads()
DATA, STATIC, RUNTIME = _payloads.DATA, _payloads.STATIC, _payloads.RUNTIME

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs_sec"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{process_id}" name="Sandbox payload" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="payload"/>
    <bpmn:scriptTask id="payload" name="Payload">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="payload" targetRef="end"/>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def _script(payload) -> str:
    """The payload as a script task: the corpus's data assigned first (free names must be
    known at deploy), an expression assigned to `result`."""
    data = payload.data or DATA
    prelude = "".join(f"{name} = {value!r}\n" for name, value in data.items())
    body = f"result = {payload.source}" if payload.mode == "eval" else payload.source
    return prelude + body


def _bundle(payload, process_id: str = "sec_sandbox") -> Bundle:
    text = BPMN.format(process_id=process_id, script=escape(_script(payload)))
    return Bundle({f"{process_id}.bpmn": text})


def _stopped(payload) -> str:
    """The payload's own reason, or the clock: on a loaded machine the time limit may stop a
    loop before its operation budget runs out; either is a stop with an incident."""
    return f"{payload.reason}|ran longer than"


def _reasons(refused: DeployRefused) -> str:
    return " | ".join(p.reason_en for p in refused.problems)


def test_the_corpus_has_at_least_40_payloads():
    payloads = STATIC + RUNTIME
    assert len(payloads) >= MINIMUM_CORPUS
    assert len({p.id for p in payloads}) == len(payloads)


def test_a_harmless_script_deploys_and_runs():
    register_procedures()
    harmless = _payloads.Payload("harmless", "amount * 2", "", "eval")
    check_bundle(_bundle(harmless))


@pytest.mark.parametrize("payload", STATIC, ids=lambda p: p.id)
def test_escapes_are_refused_at_deploy_with_their_reason(payload):
    with pytest.raises(DeployRefused) as refused:
        check_bundle(_bundle(payload))
    assert re.search(payload.reason, _reasons(refused.value)), _reasons(refused.value)


@pytest.fixture(scope="module")
def runtime_db(tmp_path_factory, p3_template):
    """Every RUNTIME payload deployed as its own process, in a copy of the P3 database."""
    import shutil

    path = tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite3"
    shutil.copy(p3_template, path)
    engine = make_engine(f"sqlite:///{path}")
    session = make_session_factory(engine)()
    for index, payload in enumerate(RUNTIME):
        bundle = _bundle(payload, process_id=f"sec_runtime_{index}")
        perform(session, lambda s, b=bundle: deploy_bundle(s, b, "system:test"))
    session.close()
    yield engine
    engine.dispose()


@pytest.mark.parametrize("index,payload", list(enumerate(RUNTIME)), ids=[p.id for p in RUNTIME])
def test_exhaustion_fails_the_instance_with_an_incident(runtime_db, index, payload):
    session = make_session_factory(runtime_db)()
    try:
        user = get_user(session, "front_clerk")
        head_before = audit_chain.head(session)
        instances_before = session.scalar(select(func.count()).select_from(ProcessInstance))
        started = time.perf_counter()
        with pytest.raises(InstanceFailed) as failed:
            perform(
                session,
                lambda s: runtime.start_instance(s, f"sec_runtime_{index}", user, {}),
            )
        assert time.perf_counter() - started < 5
        session.expire_all()
        incident = session.scalar(select(Incident).order_by(Incident.id.desc()).limit(1))
        assert incident is not None and incident.task_spec == "payload"
        assert re.search(_stopped(payload), incident.message), incident.message
        assert payload.reason and failed.value.message("en")
        instance = session.get(ProcessInstance, incident.instance_id)
        assert instance.status == InstanceStatus.ERROR
        # The failed start saved no task and no state past the failure.
        assert not session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id)
        ).all()
        assert session.scalar(select(func.count()).select_from(ProcessInstance)) in (
            instances_before,
            instances_before + 1,
        )
        assert audit_chain.head(session)[0] >= head_before[0]
        assert audit_chain.verify(session).ok
    finally:
        session.close()


# --- in a child process with resource limits ------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1024 * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (20, 20))
    from engine.sandbox import SandboxedEnvironment, SandboxViolation
    payload = json.loads(sys.argv[1])
    env = SandboxedEnvironment()
    data = payload["data"]
    try:
        if payload["mode"] == "eval":
            env.evaluate(payload["source"], data)
        else:
            env.execute(payload["source"], data)
    except SandboxViolation as exc:
        print("STOPPED", exc.message("en"))
        sys.exit(0)
    print("RAN TO THE END")
    sys.exit(3)
    """
)

EXHAUSTION_IDS = [
    "string-repeat",
    "huge-power",
    "doubling-concat",
    "nested-loops",
    "keep-many-strings",
    "wide-zip",
]


@pytest.mark.parametrize("payload_id", EXHAUSTION_IDS)
def test_exhaustion_stops_quickly_under_resource_limits(payload_id):
    payload = next(p for p in RUNTIME if p.id == payload_id)
    argument = json.dumps(
        {"source": payload.source, "mode": payload.mode, "data": payload.data or DATA}
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, argument],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("STOPPED") and re.search(_stopped(payload), done.stdout)
    assert elapsed < 15
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert after.ru_maxrss < 1024 * 1024 or after.ru_maxrss == before.ru_maxrss  # KiB: < 1 GiB
