"""Validating a bundle and storing it as an immutable process version.

Nothing is deployed unless every check passes; each problem names the file, the element and
the reason, because SpiffWorkflow alone reports some errors only when a flow is taken."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forms.schema import check_schema

from . import audit_chain, dmn_tests
from .bundles import FORM_PREFIX, SPIFF_NS, Bundle
from .errors import DeployRefused, Problem
from .identity import ROLE_LABELS
from .lanes import role_codes
from .models import ProcessModel, ProcessVersion, User
from .parsing import BPMN_NS, ParsedBundle, executable_process, parse_bundle
from .sandbox import RESERVED_NAMES, check_dmn_entry, check_source
from .serialization import SERIALIZER_VERSION, dump_specs
from .service_tasks import registered_operators
from .xml_safety import UnsafeXml, parse_xml

B = f"{{{BPMN_NS}}}"
S = f"{{{SPIFF_NS}}}"


@dataclass
class DeployResult:
    version: ProcessVersion
    created: bool


def deploy_bundle(session: Session, bundle: Bundle, deployed_by: User | str) -> DeployResult:
    """Store `bundle` as the next version of its process; identical to the latest: no-op."""
    parsed = check_bundle(bundle)
    actor = deployed_by.username if isinstance(deployed_by, User) else deployed_by
    model = session.scalar(select(ProcessModel).where(ProcessModel.process_id == parsed.process_id))
    if model is None:
        model = ProcessModel(process_id=parsed.process_id, name=parsed.process_name)
        session.add(model)
    latest = model.versions[-1] if model.versions else None
    if latest is not None and latest.checksum == bundle.checksum:
        return DeployResult(latest, created=False)
    model.name = parsed.process_name
    number = (
        (
            session.scalar(
                select(func.max(ProcessVersion.number)).where(ProcessVersion.model_id == model.id)
            )
            or 0
        )
        + 1
        if model.id
        else 1
    )
    version = ProcessVersion(
        model=model,
        number=number,
        checksum=bundle.checksum,
        files=dict(bundle.files),
        spec_json=dump_specs(parsed.spec, parsed.subprocess_specs),
        serializer_version=SERIALIZER_VERSION,
        deployed_by=actor,
    )
    session.add(version)
    session.flush()  # why: the audit event names the new version's id
    audit_chain.record(
        session,
        "version:deploy",
        actor=actor,
        version_id=version.id,
        payload={
            "process_id": model.process_id,
            "number": number,
            "checksum": version.checksum,
            "files": sorted(bundle.files),
        },
    )
    return DeployResult(version, created=True)


def check_bundle(bundle: Bundle) -> ParsedBundle:
    """Every check of the bundle; raises `DeployRefused` with all problems found."""
    bpmn_names = bundle.names(".bpmn")
    if len(bpmn_names) != 1:
        raise DeployRefused(
            [
                Problem(
                    "-",
                    "一个部署包须恰好包含一个 BPMN 文件",
                    "A bundle must contain exactly one BPMN file",
                )
            ]
        )
    roots, problems = _parse_documents(bundle)
    if problems:
        raise DeployRefused(problems)
    problems += _check_forms(bundle)
    known = _known_names(bundle, roots)
    bpmn_name = bpmn_names[0]
    problems += _check_bpmn(bundle, bpmn_name, roots[bpmn_name], known)
    problems += _check_flows(bpmn_name, roots[bpmn_name])
    for dmn_name in bundle.names(".dmn"):
        problems += _check_dmn(dmn_name, roots[dmn_name], known)
    if problems:
        raise DeployRefused(problems)
    try:
        parsed = parse_bundle(bundle)
    except SpiffWorkflowException as exc:
        raise DeployRefused([_spiff_problem(bpmn_name, exc)]) from exc
    problems = dmn_tests.bundle_problems(bundle)  # needs tables that parse: run last
    if problems:
        raise DeployRefused(problems)
    return parsed


def _parse_documents(bundle: Bundle) -> tuple[dict, list[Problem]]:
    roots, problems = {}, []
    for name in bundle.names(".bpmn") + bundle.names(".dmn"):
        data = bundle.files[name].encode("utf-8")
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            # Refused before parsing: an entity bomb or external entity never reaches lxml.
            problems.append(
                Problem(
                    name,
                    "不安全的 XML：不允许 DTD 和实体声明",
                    "Unsafe XML: DTD and entity declarations are not allowed",
                    line=data[: data.find(b"<!")].count(b"\n") + 1,
                )
            )
            continue
        try:
            roots[name] = parse_xml(data)
        except etree.XMLSyntaxError as exc:
            problems.append(
                Problem(
                    name, f"XML 格式错误：{exc.msg}", f"Malformed XML: {exc.msg}", line=exc.lineno
                )
            )
        except UnsafeXml as exc:
            problems.append(Problem(name, f"不安全的 XML：{exc}", f"Unsafe XML: {exc}"))
    for name, root in roots.items():
        if name.endswith(".bpmn") and executable_process(root) is None:
            problems.append(Problem(name, "文件中没有 bpmn:process", "No bpmn:process in the file"))
    return roots, problems


def _schemas(bundle: Bundle) -> dict[str, dict]:
    schemas = {}
    for name in bundle.names(".json"):
        if not name.startswith(FORM_PREFIX):
            continue  # e.g. a table's test cases, `<name>.dmn.tests.json` (engine.dmn_tests)
        try:
            schemas[name] = json.loads(bundle.files[name])
        except (ValueError, RecursionError):
            # Not JSON, or hostile JSON: nested past the recursion limit, or an integer of more
            # digits than Python converts (both raise outside JSONDecodeError).
            schemas[name] = None
    return schemas


def _check_forms(bundle: Bundle) -> list[Problem]:
    problems = []
    for name, schema in _schemas(bundle).items():
        if schema is None:
            problems.append(Problem(name, "不是有效的 JSON", "Not valid JSON"))
            continue
        for problem in check_schema(schema, reserved_names=RESERVED_NAMES):
            problems.append(
                Problem(
                    name,
                    f"{problem.pointer}: {problem.reason_zh}",
                    f"{problem.pointer}: {problem.reason_en}",
                )
            )
    return problems


def _known_names(bundle: Bundle, roots: dict) -> frozenset[str]:
    """Names a script or expression may read: form fields, DMN outputs and inputs' labels,
    and names that scripts assign."""
    names = set()
    for schema in _schemas(bundle).values():
        if isinstance(schema, dict):
            names.update((schema.get("properties") or {}).keys())
    for name, root in roots.items():
        if name.endswith(".dmn"):
            names.update(
                el.get("name")
                for el in root.iter()
                if _local(el.tag) == "output" and el.get("name")
            )
        else:
            for script in root.iter(f"{B}script", f"{S}preScript", f"{S}postScript"):
                names.update(_assigned_names(script.text or ""))
            # A service task stores its handler's result under its resultVariable.
            names.update(
                op.get("resultVariable")
                for op in root.iter(f"{S}serviceTaskOperator")
                if op.get("resultVariable")
            )
            # A multi-instance child holds its item (e.g. `department`) as a data field.
            names.update(
                item.get("name") or item.get("id")
                for item in root.iter(f"{B}inputDataItem", f"{B}outputDataItem")
                if item.get("name") or item.get("id")
            )
    return frozenset(names)


def _assigned_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


def _check_bpmn(bundle: Bundle, file: str, root, known: frozenset[str]) -> list[Problem]:
    problems = []
    for lane in root.iter(f"{B}lane"):
        for code in role_codes(lane.get("name")):
            if code not in ROLE_LABELS:
                problems.append(
                    _problem(
                        file,
                        lane,
                        f"泳道名中的角色代码“{code}”不存在",
                        f"Unknown role code '{code}' in lane name",
                    )
                )
    for element in root.iter(f"{B}userTask"):
        problems += _check_user_task(bundle, file, element, known)
    for element in root.iter(f"{B}script", f"{S}preScript", f"{S}postScript"):
        problems += _sandbox_problems(file, _owner(element), element.text or "", "exec", known)
    for element in root.iter(f"{B}conditionExpression"):
        problems += _sandbox_problems(file, element.getparent(), element.text or "", "eval", known)
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        for element in root.iter(f"{B}{tag}"):
            owner = _flow_element(element)
            problems += _sandbox_problems(file, owner, element.text or "", "eval", known)
    operators = registered_operators()
    for element in root.iter(f"{S}serviceTaskOperator"):
        if element.get("id") not in operators:
            problems.append(
                _problem(
                    file,
                    _flow_element(element),
                    f"服务任务处理程序“{element.get('id')}”未注册",
                    f"Service task handler '{element.get('id')}' is not registered",
                )
            )
    decisions = {
        el.get("id")
        for name in bundle.names(".dmn")
        for el in parse_xml(bundle.files[name].encode()).iter()
        if _local(el.tag) == "decision"
    }
    for element in root.iter(f"{S}calledDecisionId"):
        if (element.text or "").strip() not in decisions:
            problems.append(
                _problem(
                    file,
                    _owner(element),
                    f"决策表“{element.text}”不在部署包中（bpmn/ 下缺少 .dmn 文件）",
                    f"Decision table '{element.text}' is not in the bundle",
                )
            )
    return problems


def _check_user_task(bundle: Bundle, file: str, element, known: frozenset[str]) -> list[Problem]:
    problems = []
    props = {p.get("name"): p.get("value") for p in element.iter(f"{S}property")}
    form = props.get("formJsonSchemaFilename")
    if form and bundle.form(form) is None:
        problems.append(
            _problem(
                file,
                element,
                f"表单文件“{form}”在 forms/schemas/ 中不存在",
                f"Form file '{form}' not found in forms/schemas/",
            )
        )
    for key in ("candidateDepartmentField", "assigneeField"):
        if props.get(key) and props[key] not in known:
            problems.append(
                _problem(
                    file,
                    element,
                    f"{key} 指向未知的数据字段“{props[key]}”",
                    f"{key} names an unknown data field '{props[key]}'",
                )
            )
    return problems


def _check_dmn(file: str, root, known: frozenset[str]) -> list[Problem]:
    problems = []
    for element in root.iter():
        tag = _local(element.tag)
        text = _child_text(element)
        if tag == "inputExpression":
            problems += _sandbox_problems(file, element, text, "eval", known)
        elif tag == "inputEntry":
            for problem in check_dmn_entry(text, known):
                problems.append(
                    _problem(
                        file,
                        _dmn_rule(element),
                        problem.reason_zh,
                        problem.reason_en,
                        line=element.sourceline,
                    )
                )
        elif tag == "outputEntry" and text.strip():
            problems += _sandbox_problems(
                file, _dmn_rule(element), text, "eval", known, line=element.sourceline
            )
    return problems


# --- flows: missing targets, unreachable elements, dead ends ----------------------------------

_FLOW_NODES = frozenset(
    {
        "task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "manualTask",
        "sendTask", "receiveTask", "callActivity", "subProcess", "transaction",
        "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
        "complexGateway", "startEvent", "endEvent", "intermediateCatchEvent",
        "intermediateThrowEvent", "boundaryEvent",
    }
)  # fmt: skip


def _check_flows(file: str, root) -> list[Problem]:
    """Per process and sub-process: every sequence flow joins two elements of it, every
    element can be reached from a start event, and only end events have no way out.

    SpiffWorkflow reports a flow to a missing target with a misleading message and treats a
    task without outgoing flow as an implicit end, so both are checked here first."""
    problems = []
    for container in root.iter(f"{B}process", f"{B}subProcess", f"{B}transaction"):
        problems += _check_container_flows(file, container)
    return problems


def _check_container_flows(file: str, container) -> list[Problem]:
    nodes = {el.get("id"): el for el in container if _local(el.tag) in _FLOW_NODES and el.get("id")}
    flows = [el for el in container if _local(el.tag) == "sequenceFlow"]
    problems, outgoing = [], {node_id: [] for node_id in nodes}
    for flow in flows:
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        for role, ref in (("target", target), ("source", source)):
            if ref not in nodes:
                zh_role = "目标" if role == "target" else "起点"
                problems.append(
                    _problem(
                        file,
                        flow,
                        f"顺序流“{flow.get('id')}”的{zh_role}“{ref or ''}”不存在",
                        f"Sequence flow '{flow.get('id')}' has a {role} '{ref or ''}' "
                        "that does not exist",
                    )
                )
        if source in nodes and target in nodes:
            outgoing[source].append(target)
    for node_id, node in nodes.items():
        if _local(node.tag) == "boundaryEvent" and node.get("attachedToRef") in outgoing:
            outgoing[node.get("attachedToRef")].append(node_id)
    if problems:
        return problems  # reachability on a broken graph would only repeat them
    # Entry points: start events, event sub-processes and link catch events.
    starts = [
        node_id
        for node_id, node in nodes.items()
        if _local(node.tag) == "startEvent"
        or _event_subprocess(node)
        or (_local(node.tag) == "intermediateCatchEvent" and _is_link(node))
    ]
    reached, queue = set(starts), list(starts)
    while queue:
        for nxt in outgoing.get(queue.pop(), []):
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    for node_id, node in nodes.items():
        tag = _local(node.tag)
        if starts and node_id not in reached:
            problems.append(
                _problem(
                    file,
                    node,
                    "该元素无法从开始事件到达（没有顺序流指向它）",
                    "This element cannot be reached from a start event",
                )
            )
        if tag == "endEvent" or _event_subprocess(node):
            continue
        if tag == "intermediateThrowEvent" and _is_link(node):
            continue
        if not any(f.get("sourceRef") == node_id for f in flows):
            problems.append(
                _problem(
                    file,
                    node,
                    "死路：该元素没有流出的顺序流，且不是结束事件",
                    "Dead end: no outgoing sequence flow and not an end event",
                )
            )
    return problems


def _event_subprocess(node) -> bool:
    return _local(node.tag) in ("subProcess", "transaction") and (
        node.get("triggeredByEvent") == "true"
    )


def _is_link(node) -> bool:
    return any(_local(child.tag) == "linkEventDefinition" for child in node)


def _sandbox_problems(file, element, source, mode, known, line=None) -> list[Problem]:
    base = line or element.sourceline
    return [
        _problem(file, element, p.reason_zh, p.reason_en, line=base + (p.line - 1 if p.line else 0))
        for p in check_source(source, mode=mode, known_names=known)
    ]


def _problem(file, element, reason_zh, reason_en, line=None) -> Problem:
    return Problem(
        file,
        reason_zh,
        reason_en,
        element_id=element.get("id"),
        element_name=element.get("name") or element.get("label"),
        line=line or element.sourceline,
    )


def _spiff_problem(file: str, exc: SpiffWorkflowException) -> Problem:
    message = str(exc)
    return Problem(
        getattr(exc, "file_name", "") or file,
        f"SpiffWorkflow 解析失败：{message}",
        f"SpiffWorkflow could not parse it: {message}",
        element_id=getattr(exc, "id", None) or None,
        element_name=getattr(exc, "name", None) or None,
        line=getattr(exc, "line_number", None) or None,
    )


def _owner(element):
    """The flow element (task, event) that an inner element such as <script> belongs to."""
    while element is not None and element.get("id") is None:
        element = element.getparent()
    return element


def _flow_element(element):
    """The task, event or gateway (a child of a process) that `element` is part of, so the
    editor can highlight a shape rather than an event definition or an operator."""
    node = element
    while node is not None and node.getparent() is not None:
        if _local(node.getparent().tag) in ("process", "subProcess", "transaction"):
            return node
        node = node.getparent()
    return _owner(element)


def _dmn_rule(element):
    return _owner(element.getparent()) if element.get("id") is None else element


def _child_text(element) -> str:
    for child in element:
        if _local(child.tag) == "text":
            return child.text or ""
    return ""


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""
