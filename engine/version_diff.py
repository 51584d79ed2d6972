"""What changed between two bundles (two versions, or a version and a draft).

Elements are matched by BPMN id: added, removed, or changed (which aspects: name, lane,
form, script, condition, timer, handler, table, flow ends, properties). DMN rows are matched by
rule id per table; form fields by property name per form file. Lines are not compared: a
diagram moved on the canvas has no change that matters to an instance."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from lxml import etree

from .bundles import FORM_PREFIX, SPIFF_NS
from .parsing import BPMN_NS
from .xml_safety import UnsafeXml, parse_xml

B = f"{{{BPMN_NS}}}"
S = f"{{{SPIFF_NS}}}"
ADDED, REMOVED, CHANGED = "added", "removed", "changed"
_SKIP_TAGS = {"definitions", "extensionElements", "incoming", "outgoing", "flowNodeRef"}


@dataclass
class Change:
    kind: str  # added / removed / changed
    id: str
    name: str = ""
    what: list[str] = field(default_factory=list)  # the aspects that changed
    where: str = ""  # file (DMN, forms) or element type (BPMN)


@dataclass
class ChangeSummary:
    elements: list[Change] = field(default_factory=list)
    dmn_rows: list[Change] = field(default_factory=list)
    form_fields: list[Change] = field(default_factory=list)
    files: list[Change] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.elements or self.dmn_rows or self.form_fields or self.files)

    def element_ids(self, kind: str) -> list[str]:
        return [c.id for c in self.elements if c.kind == kind]

    def as_dict(self) -> dict:
        return {
            "elements": [asdict(c) for c in self.elements],
            "dmn_rows": [asdict(c) for c in self.dmn_rows],
            "form_fields": [asdict(c) for c in self.form_fields],
            "files": [asdict(c) for c in self.files],
        }


def diff_bundles(old: dict[str, str] | None, new: dict[str, str]) -> ChangeSummary:
    """The change summary from `old` files to `new` files (`old` None: everything added)."""
    old = old or {}
    summary = ChangeSummary()
    for name in sorted(set(old) | set(new)):
        if name not in new:
            summary.files.append(Change(REMOVED, name, name))
        elif name not in old:
            summary.files.append(Change(ADDED, name, name))
        elif old[name] != new[name]:
            summary.files.append(Change(CHANGED, name, name))
    bpmn_old = next((old[n] for n in sorted(old) if n.endswith(".bpmn")), None)
    bpmn_new = next((new[n] for n in sorted(new) if n.endswith(".bpmn")), None)
    if bpmn_new is not None and bpmn_old != bpmn_new:
        summary.elements = _diff_items(_bpmn_elements(bpmn_old), _bpmn_elements(bpmn_new))
    for name in sorted(n for n in set(old) | set(new) if n.endswith(".dmn")):
        if old.get(name) != new.get(name):
            rows = _diff_items(_dmn_rules(old.get(name)), _dmn_rules(new.get(name)))
            summary.dmn_rows += [_at(change, name) for change in rows]
    for name in sorted(n for n in set(old) | set(new) if n.startswith(FORM_PREFIX)):
        if old.get(name) != new.get(name):
            fields = _diff_items(_form_fields(old.get(name)), _form_fields(new.get(name)))
            summary.form_fields += [_at(change, name) for change in fields]
    return summary


def _at(change: Change, where: str) -> Change:
    change.where = where
    return change


def _diff_items(old: dict[str, dict], new: dict[str, dict]) -> list[Change]:
    changes = []
    for key, item in new.items():
        if key not in old:
            changes.append(Change(ADDED, key, item.get("name", ""), where=item.get("type", "")))
    for key, item in old.items():
        if key not in new:
            changes.append(Change(REMOVED, key, item.get("name", ""), where=item.get("type", "")))
    for key, item in new.items():
        before = old.get(key)
        if before is not None and before != item:
            what = sorted(k for k in set(before) | set(item) if before.get(k) != item.get(k))
            changes.append(Change(CHANGED, key, item.get("name", ""), what, item.get("type", "")))
    return changes


def _root(text: str | None):
    if not text:
        return None
    try:
        return parse_xml(text.encode("utf-8"))
    except (etree.XMLSyntaxError, UnsafeXml):
        return None


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _bpmn_elements(text: str | None) -> dict[str, dict]:
    """Every semantic element with an id (diagram interchange left out) → its aspects."""
    root = _root(text)
    if root is None:
        return {}
    lanes = {}
    for lane in root.iter(f"{B}lane"):
        for ref in lane.iter(f"{B}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("name") or ""
    elements = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or el.get("id") is None:
            continue
        if not el.tag.startswith(B) or _local(el.tag) in _SKIP_TAGS:
            continue
        if _local(el.tag).endswith("EventDefinition") or _local(el.tag) in (
            "conditionExpression",
            "timeDuration",
            "timeDate",
            "timeCycle",
        ):
            continue  # part of their owner's aspects
        elements[el.get("id")] = _aspects(el, lanes)
    return elements


def _aspects(el, lanes: dict[str, str]) -> dict:
    aspects = {"type": _local(el.tag), "name": el.get("name") or ""}
    for attr in ("sourceRef", "targetRef", "attachedToRef", "cancelActivity"):
        if el.get(attr) is not None:
            aspects[attr] = el.get(attr)
    if el.get("id") in lanes:
        aspects["lane"] = lanes[el.get("id")]
    props = {}
    for prop in el.iterchildren(f"{B}extensionElements"):
        for p in prop.iter(f"{S}property"):
            props[p.get("name")] = p.get("value")
        for tag, key in (
            ("calledDecisionId", "table"),
            ("instructionsForEndUser", "instructions"),
            ("preScript", "pre_script"),
            ("postScript", "post_script"),
        ):
            for child in prop.iter(f"{S}{tag}"):
                aspects[key] = (child.text or "").strip()
        for op in prop.iter(f"{S}serviceTaskOperator"):
            params = sorted((p.get("id"), p.get("value")) for p in op.iter(f"{S}parameter"))
            aspects["handler"] = json.dumps([op.get("id"), op.get("resultVariable"), params])
    if props:
        aspects["properties"] = json.dumps(props, sort_keys=True, ensure_ascii=False)
    for child in el.iterchildren(f"{B}script"):
        aspects["script"] = (child.text or "").strip()
    for child in el.iterchildren(f"{B}conditionExpression"):
        aspects["condition"] = (child.text or "").strip()
    for definition in el.iterchildren():
        if _local(definition.tag).endswith("EventDefinition"):
            aspects["event"] = _local(definition.tag)
            for timer in definition:
                if _local(timer.tag) in ("timeDuration", "timeDate", "timeCycle"):
                    aspects["timer"] = f"{_local(timer.tag)}: {(timer.text or '').strip()}"
    if _local(el.tag) == "lane":
        aspects["members"] = " ".join(
            sorted((r.text or "").strip() for r in el.iter(f"{B}flowNodeRef"))
        )
    return aspects


def _dmn_rules(text: str | None) -> dict[str, dict]:
    root = _root(text)
    if root is None:
        return {}
    rules = {}
    for table in root.iter():
        if _local(table.tag) != "decisionTable":
            continue
        for index, rule in enumerate(c for c in table if _local(c.tag) == "rule"):
            entries = [
                "".join(t.text or "" for t in entry if _local(t.tag) == "text").strip()
                for entry in rule
                if _local(entry.tag) in ("inputEntry", "outputEntry")
            ]
            description = next((c.text or "" for c in rule if _local(c.tag) == "description"), "")
            rules[rule.get("id") or f"row {index + 1}"] = {
                "type": "rule",
                "name": description.strip()[:80],
                "entries": " | ".join(entries),
                "row": str(index + 1),
            }
    return rules


def _form_fields(text: str | None) -> dict[str, dict]:
    try:
        schema = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return {}
    required = set(schema.get("required") or [])
    fields = {}
    for name, prop in props.items():
        prop = prop if isinstance(prop, dict) else {}
        fields[name] = {
            "type": "field",
            "name": str(prop.get("title") or ""),
            "definition": json.dumps(prop, sort_keys=True, ensure_ascii=False),
            "required": str(name in required),
        }
    return fields
