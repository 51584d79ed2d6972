"""A deployable bundle: a BPMN file with the DMN tables and form schemas it names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from .xml_safety import UnsafeXml, parse_xml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BPMN_DIR = REPO_ROOT / "bpmn"
DEFAULT_FORMS_DIR = REPO_ROOT / "forms" / "schemas"

FORM_PREFIX = "forms/"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)


@dataclass(frozen=True)
class Bundle:
    """Files by name: `<name>.bpmn`, `<name>.dmn`, `forms/<name>.json`."""

    files: dict[str, str]

    @property
    def checksum(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name].encode() + b"\0")
        return digest.hexdigest()

    def names(self, suffix: str) -> list[str]:
        return sorted(name for name in self.files if name.endswith(suffix))

    def form(self, filename: str) -> str | None:
        return self.files.get(FORM_PREFIX + filename)


def collect_bundles(path: Path, forms_dir: Path = DEFAULT_FORMS_DIR) -> list[Bundle]:
    """One bundle per BPMN file: `path` is a `.bpmn` file or a folder of them."""
    path = Path(path)
    if path.is_dir():
        return [collect_bundle(p, forms_dir) for p in sorted(path.glob("*.bpmn"))]
    return [collect_bundle(path, forms_dir)]


def collect_bundle(bpmn_path: Path, forms_dir: Path = DEFAULT_FORMS_DIR) -> Bundle:
    """The BPMN file, every DMN file beside it that defines a decision it calls, and every
    form it names. What cannot be found is left out; the deploy check then names it."""
    bpmn_path = Path(bpmn_path)
    bpmn_text = bpmn_path.read_text(encoding="utf-8")
    files = {bpmn_path.name: bpmn_text}
    try:
        root = parse_xml(bpmn_text.encode("utf-8"))
    except (etree.XMLSyntaxError, UnsafeXml):
        return Bundle(files)  # the deploy check reports why, with the line
    decisions = set(_texts(root, f"{{{SPIFF_NS}}}calledDecisionId"))
    for dmn_path in sorted(bpmn_path.parent.glob("*.dmn")):
        dmn_text = dmn_path.read_text(encoding="utf-8")
        if decisions.intersection(_decision_ids(dmn_text)):
            files[dmn_path.name] = dmn_text
    for form_name in sorted(set(_form_names(root))):
        form_path = forms_dir / form_name
        if form_path.is_file() and form_path.parent == forms_dir:
            files[FORM_PREFIX + form_name] = form_path.read_text(encoding="utf-8")
    return Bundle(files)


def _texts(root, tag: str) -> list[str]:
    return [(el.text or "").strip() for el in root.iter(tag)]


def _form_names(root) -> list[str]:
    for prop in root.iter(f"{{{SPIFF_NS}}}property"):
        if prop.get("name") in ("formJsonSchemaFilename", "formUiSchemaFilename") and prop.get(
            "value"
        ):
            yield prop.get("value")


def _decision_ids(dmn_text: str) -> set[str]:
    try:
        root = parse_xml(dmn_text.encode("utf-8"))
    except (etree.XMLSyntaxError, UnsafeXml):
        return set()
    return {el.get("id") for ns in DMN_NAMESPACES for el in root.iter(f"{{{ns}}}decision")}
