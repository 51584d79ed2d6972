"""The sandboxed script engine in real SpiffWorkflow runs: BPMN, DMN, serialization, services."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.sandbox import SandboxedEnvironment, SandboxViolation
from engine.script_engine import JiedaiScriptEngine, make_script_engine
from engine.service_tasks import (
    UnknownServiceOperator,
    register_service,
    registered_operators,
    service_handler,
    unregister_service,
)

BPMN_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="defs" targetNamespace="http://jiedai/tests">
"""

ROUTING_BPMN = (
    BPMN_HEAD
    + """
  <bpmn:process id="routing_demo" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare"/>
    <bpmn:scriptTask id="prepare" name="Prepare">
      <bpmn:script>doubled = amount * 2
label = f"{category}:{doubled}"
tags = sorted({category, "contact"})</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="route"/>
    <bpmn:businessRuleTask id="route" name="Route">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>routing</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f3" sourceRef="route" targetRef="gateway"/>
    <bpmn:exclusiveGateway id="gateway" default="to_end"/>
    <bpmn:sequenceFlow id="to_review" sourceRef="gateway" targetRef="review">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        route == "fast" and doubled &gt; 100
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_end" sourceRef="gateway" targetRef="end"/>
    <bpmn:userTask id="review" name="Review"/>
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="after_review"/>
    <bpmn:scriptTask id="after_review" name="After review">
      <bpmn:script>leak = ().__class__.__name__</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f5" sourceRef="after_review" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
)

ROUTING_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dmn_defs"
    name="Routing" namespace="http://jiedai/tests">
  <decision id="routing" name="Routing">
    <decisionTable id="routing_table" hitPolicy="UNIQUE">
      <input id="in_category" label="Category">
        <inputExpression id="ie_category" typeRef="string"><text>category</text></inputExpression>
      </input>
      <input id="in_amount" label="Amount">
        <inputExpression id="ie_amount" typeRef="number"><text>amount</text></inputExpression>
      </input>
      <output id="out_route" label="Route" name="route" typeRef="string"/>
      <rule id="r1">
        <inputEntry id="r1c"><text>"complaint"</text></inputEntry>
        <inputEntry id="r1a"><text>&gt; 100</text></inputEntry>
        <outputEntry id="r1o"><text>"fast"</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="r2c"><text>? in ("complaint", "repair")</text></inputEntry>
        <inputEntry id="r2a"><text>-</text></inputEntry>
        <outputEntry id="r2o"><text>"normal"</text></outputEntry>
      </rule>
      <rule id="r3">
        <inputEntry id="r3c"><text>-</text></inputEntry>
        <inputEntry id="r3a"><text>-</text></inputEntry>
        <outputEntry id="r3o"><text>"other"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""

SERVICE_BPMN = (
    BPMN_HEAD
    + """
  <bpmn:process id="service_demo" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <bpmn:serviceTask id="call" name="Call">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="OPERATOR" resultVariable="lookup">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="unit" type="str" value="unit"/>
            <spiffworkflow:parameter id="suffix" type="str" value="'-' + str(floor)"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
)


def start_workflow(
    bpmn: str,
    process_id: str,
    data: dict,
    dmn: str | None = None,
    script_engine: PythonScriptEngine | None = None,
) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(bpmn.encode())
    if dmn:
        parser.add_dmn_str(dmn.encode())
    workflow = BpmnWorkflow(parser.get_spec(process_id), script_engine=script_engine)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    workflow.do_engine_steps()
    return workflow


def ready_user_task(workflow: BpmnWorkflow):
    [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
    return task


@pytest.fixture(scope="module")
def serializer() -> BpmnWorkflowSerializer:
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


# --- script task, gateway condition and DMN through the sandbox ----------------------


def test_script_gateway_and_dmn_run_in_the_sandbox():
    workflow = start_workflow(
        ROUTING_BPMN,
        "routing_demo",
        {"category": "complaint", "amount": 150},
        ROUTING_DMN,
        make_script_engine(),
    )
    review = ready_user_task(workflow)
    assert review.task_spec.bpmn_id == "review"
    assert review.data["route"] == "fast"
    assert review.data["label"] == "complaint:300"
    assert review.data["tags"] == ["complaint", "contact"]


@pytest.mark.parametrize(
    ("category", "amount", "route"),
    [
        ("complaint", 50, "normal"),
        ("repair", 500, "normal"),
        ("praise", 500, "other"),
    ],
)
def test_dmn_entries_with_question_marks_and_dashes(category, amount, route):
    workflow = start_workflow(
        ROUTING_BPMN,
        "routing_demo",
        {"category": category, "amount": amount},
        ROUTING_DMN,
        make_script_engine(),
    )
    assert workflow.is_completed()
    assert workflow.last_task.data["route"] == route


def test_a_restored_workflow_is_sandboxed_only_once_the_engine_is_attached(serializer):
    workflow = start_workflow(
        ROUTING_BPMN,
        "routing_demo",
        {"category": "complaint", "amount": 150},
        ROUTING_DMN,
        make_script_engine(),
    )
    saved = serializer.serialize_json(workflow)

    # The engine is not part of the saved state: a plain load runs the rest of the diagram
    # with SpiffWorkflow's default engine, which executes the escape.
    unsafe = serializer.deserialize_json(saved)
    assert type(unsafe.script_engine) is PythonScriptEngine
    ready_user_task(unsafe).run()
    unsafe.do_engine_steps()
    assert unsafe.last_task.data["leak"] == "tuple"

    # Re-attached, the same step is refused.
    restored = serializer.deserialize_json(saved)
    restored.script_engine = make_script_engine()
    review = ready_user_task(restored)
    assert review.data["route"] == "fast"
    review.run()
    with pytest.raises(WorkflowTaskException) as refused:
        restored.do_engine_steps()
    assert "starting with '_'" in str(refused.value)
    assert refused.value.error_type == "SandboxViolation"
    assert refused.value.line_number == 1
    assert "leak" not in restored.get_tasks(spec_name="after_review")[0].data


def test_an_expression_error_keeps_its_reason():
    workflow = start_workflow(
        ROUTING_BPMN,
        "routing_demo",
        {"category": "complaint", "amount": 150},
        ROUTING_DMN,
        make_script_engine(),
    )
    task = ready_user_task(workflow)
    with pytest.raises(WorkflowTaskException, match="repetition.*too large"):
        workflow.script_engine.evaluate(task, "'x' * 10**9")
    with pytest.raises(WorkflowTaskException, match="Refused by the sandbox"):
        workflow.script_engine.evaluate(task, "__import__('os').system('true')")


def test_a_script_that_runs_away_fails_its_task_quickly():
    bpmn = ROUTING_BPMN.replace(
        "doubled = amount * 2", "doubled = amount * 2\nfor i in range(10**6):\n    x = [i] * 10"
    )
    with pytest.raises(WorkflowTaskException, match="operations|in total"):
        start_workflow(
            bpmn,
            "routing_demo",
            {"category": "complaint", "amount": 150},
            ROUTING_DMN,
            make_script_engine(),
        )


# --- service tasks --------------------------------------------------------------------


@pytest.fixture
def operator():
    name = "test_lookup_unit"
    yield name
    unregister_service(name)


def test_a_handler_result_lands_in_task_data(operator):
    seen = {}

    @register_service(operator)
    def lookup(data: dict, params: dict) -> dict:
        seen.update(data=data, params=params)
        data["mutated"] = True  # a copy: only the returned dict changes task data
        return {"building": params["unit"].split("-")[0] + params["suffix"]}

    assert operator in registered_operators() and service_handler(operator) is lookup
    workflow = start_workflow(
        SERVICE_BPMN.replace("OPERATOR", operator),
        "service_demo",
        {"unit": "3-1201", "floor": 12},
        script_engine=make_script_engine(),
    )
    assert workflow.is_completed()
    data = workflow.last_task.data
    assert data["building"] == "3-12"
    assert data["lookup"] == {"building": "3-12"}  # the operator's result variable
    assert "mutated" not in data
    assert seen["params"] == {"unit": "3-1201", "suffix": "-12"}


def test_a_failing_handler_reports_its_own_message(operator):
    @register_service(operator)
    def lookup(data: dict, params: dict) -> dict:
        raise RuntimeError("房号 3-1201 不存在 / unit 3-1201 not found")

    with pytest.raises(WorkflowTaskException) as failed:
        start_workflow(
            SERVICE_BPMN.replace("OPERATOR", operator),
            "service_demo",
            {"unit": "3-1201", "floor": 12},
            script_engine=make_script_engine(),
        )
    message = str(failed.value)
    assert "unit 3-1201 not found" in message and "NameError" not in message
    assert failed.value.task.task_spec.bpmn_id == "call"
    assert failed.value.error_type == "RuntimeError"


def test_an_unknown_operator_and_a_bad_result_are_reported(operator):
    with pytest.raises(WorkflowTaskException, match=f"No service handler.*'{operator}'"):
        start_workflow(
            SERVICE_BPMN.replace("OPERATOR", operator),
            "service_demo",
            {"unit": "1", "floor": 1},
            script_engine=make_script_engine(),
        )
    with pytest.raises(UnknownServiceOperator):
        service_handler(operator)

    register_service(operator)(lambda data, params: ["not", "a", "dict"])
    with pytest.raises(WorkflowTaskException, match="expected dict or None"):
        start_workflow(
            SERVICE_BPMN.replace("OPERATOR", operator),
            "service_demo",
            {"unit": "1", "floor": 1},
            script_engine=make_script_engine(),
        )


def test_registering_an_operator_twice_is_refused(operator):
    register_service(operator)(lambda data, params: None)
    with pytest.raises(ValueError, match="already registered"):
        register_service(operator)(lambda data, params: None)
    register_service(operator, replace=True)(lambda data, params: {"ok": True})
    assert service_handler(operator)({}, {}) == {"ok": True}


def test_make_script_engine_is_sandboxed():
    engine = make_script_engine()
    assert isinstance(engine, JiedaiScriptEngine)
    assert isinstance(engine.environment, SandboxedEnvironment)
    with pytest.raises(SandboxViolation):
        engine.environment.evaluate("open('/etc/passwd')", {})
