"""Instance state without the spec, and the spec once per version.

SpiffWorkflow's serializer writes the whole spec with every instance (~11 KB of a 17 KB
approval). Here the spec is serialized once when a version is deployed and re-linked when an
instance is loaded; an instance's row holds only its own state."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .script_engine import make_script_engine

#: Stored with every instance and version, so old state can be upgraded (STYLE.md rule 10).
SERIALIZER_VERSION = f"spiff-{SPIFF_SERIALIZER_VERSION}+jiedai-1"


class InstanceStateConverter(BpmnWorkflowConverter):
    """A workflow converter that leaves the specs out; `from_dict` takes them as arguments."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = InstanceStateConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # Form data holds dates and money; keep their types across a save (never float).
    registry.register(
        Decimal, lambda value: {"value": str(value)}, lambda dct: Decimal(dct["value"])
    )
    registry.register(
        date,
        lambda value: {"value": value.isoformat()},
        lambda dct: date.fromisoformat(dct["value"]),
    )
    return BpmnWorkflowSerializer(registry)


_SERIALIZER = _make_serializer()


def dump_specs(spec: BpmnProcessSpec, subprocess_specs: dict) -> str:
    """The specs of a version as JSON, written once at deploy."""
    registry = _SERIALIZER.registry
    return json.dumps(
        {
            "spec": registry.convert(spec),
            "subprocess_specs": {name: registry.convert(s) for name, s in subprocess_specs.items()},
        }
    )


def load_specs(text: str) -> tuple[BpmnProcessSpec, dict]:
    registry = _SERIALIZER.registry
    dct = json.loads(text)
    subprocess_specs = {name: registry.restore(s) for name, s in dct["subprocess_specs"].items()}
    spec = registry.restore(dct["spec"])
    link_event_subprocesses(spec)
    return spec, subprocess_specs


def link_event_subprocesses(spec: BpmnProcessSpec) -> None:
    """Give each event sub-process of the top process its input and output links up front.

    SpiffWorkflow 3.2 adds them when such a sub-process is first started
    (`BpmnStartTask.trigger_wf`): it appends the sub-process to the start spec's outputs, and
    on specs shared by every instance of a version each later instance would then start the
    sub-process at once and never complete. Linked here (start in its inputs, never in the
    start's outputs), it runs only when its event arrives and `trigger_wf` changes nothing."""
    for name in spec.start.trigger_specs:
        task_spec = spec.task_specs.get(name)
        if task_spec is None:
            continue
        if spec.start not in task_spec.inputs:
            task_spec.inputs = [*task_spec.inputs, spec.start]  # a property: assign, not append
        if not task_spec.outputs:
            task_spec.connect(spec.end)


def dump_state(workflow: BpmnWorkflow) -> str:
    """The instance's own state (tasks, data, events), without the specs."""
    return _SERIALIZER.serialize_json(workflow)


def load_state(text: str, spec: BpmnProcessSpec, subprocess_specs: dict) -> BpmnWorkflow:
    """Restore an instance on its version's specs, with the sandboxed script engine attached.

    The script engine is not serialized: a restored workflow would otherwise run scripts with
    SpiffWorkflow's default, unrestricted engine."""
    dct = json.loads(text)
    _SERIALIZER.migrate(dct)
    workflow = _SERIALIZER.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    attach_script_engine(workflow)
    return workflow


def attach_script_engine(workflow: BpmnWorkflow) -> None:
    # Subprocesses delegate to the top workflow's engine.
    workflow.script_engine = make_script_engine()


def new_workflow(spec: BpmnProcessSpec, subprocess_specs: dict) -> BpmnWorkflow:
    return BpmnWorkflow(spec, subprocess_specs, script_engine=make_script_engine())
