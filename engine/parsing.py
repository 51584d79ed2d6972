"""Turning a bundle's BPMN and DMN into SpiffWorkflow specs."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser import BpmnValidator
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from .bundles import Bundle
from .xml_safety import parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class JiedaiBpmnParser(SpiffBpmnParser):
    """SpiffWorkflow's parser for SpiffArena-style extensions, validating against the XSD.

    Extend behaviour here (OVERRIDE_PARSER_CLASSES), never by patching the library."""

    def __init__(self):
        super().__init__(validator=BpmnValidator())


@dataclass
class ParsedBundle:
    process_id: str
    process_name: str
    spec: BpmnProcessSpec
    subprocess_specs: dict


def executable_process(root: etree._Element) -> etree._Element | None:
    processes = root.findall(f"{{{BPMN_NS}}}process")
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    return (executable or processes or [None])[0]


def parse_bundle(bundle: Bundle) -> ParsedBundle:
    """Parse the bundle's one BPMN file and its DMN tables.

    Raises lxml or SpiffWorkflow exceptions; `deploy.check_bundle` turns them into problems."""
    parser = JiedaiBpmnParser()
    (bpmn_name,) = bundle.names(".bpmn")
    root = parse_xml(bundle.files[bpmn_name].encode("utf-8"))
    parser.add_bpmn_xml(root, filename=bpmn_name)
    for dmn_name in bundle.names(".dmn"):
        parser.add_dmn_xml(parse_xml(bundle.files[dmn_name].encode("utf-8")), filename=dmn_name)
    process = executable_process(root)
    process_id = process.get("id")
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)
    return ParsedBundle(process_id, process.get("name") or process_id, spec, subprocess_specs)
