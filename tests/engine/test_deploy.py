"""Deploying bundles: immutable versions, and broken diagrams refused with file, element and
reason before anything is stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.bundles import DEFAULT_BPMN_DIR, DEFAULT_FORMS_DIR, collect_bundle
from engine.db import perform
from engine.deploy import deploy_bundle
from engine.errors import DeployRefused
from engine.models import ProcessInstance, ProcessVersion
from web.cli import main
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3

P3_BPMN = DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn"
P3_DMN = DEFAULT_BPMN_DIR / "p3_contact_routing.dmn"


def _versions(session) -> int:
    return session.scalar(select(func.count()).select_from(ProcessVersion))


def _variant(tmp_path: Path, bpmn=None, dmn=None, forms: dict | None = None) -> Path:
    """A copy of P3 with text replacements in its BPMN / DMN and extra or changed forms."""
    folder = tmp_path / "variant"
    forms_dir = folder / "forms"
    forms_dir.mkdir(parents=True)
    for form in DEFAULT_FORMS_DIR.glob("p3_*.json"):
        shutil.copy(form, forms_dir)
    for name, text in (forms or {}).items():
        (forms_dir / name).write_text(text, encoding="utf-8")
    bpmn_text, dmn_text = P3_BPMN.read_text("utf-8"), P3_DMN.read_text("utf-8")
    for old, new in bpmn or []:
        assert old in bpmn_text, old
        bpmn_text = bpmn_text.replace(old, new, 1)
    for old, new in dmn or []:
        assert old in dmn_text, old
        dmn_text = dmn_text.replace(old, new, 1)
    (folder / P3_BPMN.name).write_text(bpmn_text, encoding="utf-8")
    (folder / P3_DMN.name).write_text(dmn_text, encoding="utf-8")
    return folder


def _deploy_variant(session, tmp_path, **changes):
    folder = _variant(tmp_path, **changes)
    bundle = collect_bundle(folder / P3_BPMN.name, forms_dir=folder / "forms")
    return perform(session, lambda s: deploy_bundle(s, bundle, "system:test"))


def test_identical_redeploy_is_a_no_op(session):
    before = _versions(session)
    result = perform(session, lambda s: deploy_bundle(s, collect_bundle(P3_BPMN), "someone"))
    assert not result.created and result.version.number == 1
    assert _versions(session) == before


def test_a_change_is_a_new_version_and_running_instances_stay(session, tmp_path):
    running = scenarios.start(session, P3, "front_clerk")
    result = _deploy_variant(session, tmp_path, bpmn=[("登记业主接待记录", "登记业主来访记录")])
    assert result.created and result.version.number == 2
    assert session.get(ProcessInstance, running.id).version.number == 1
    assert scenarios.start(session, P3, "front_clerk").version.number == 2


BROKEN = {
    "malformed xml": (dict(bpmn=[("</bpmn:process>", "</bpmn:proces>")]), "XML"),
    "unknown role in a lane": (
        dict(bpmn=[('name="front_clerk"', 'name="front_desk"')]),
        "front_desk",
    ),
    "missing form": (
        dict(bpmn=[('value="p3_result_report.json"', 'value="p3_nope.json"')]),
        "p3_nope.json",
    ),
    "import in a script": (dict(bpmn=[('record_status = "closed"', "import os")]), "import"),
    "unquoted duration": (dict(bpmn=[("working_days(2)", "P2D")]), "P2D"),
    "unknown name in a condition": (
        dict(bpmn=[('route == "complaint"', 'rout == "complaint"')]),
        "rout",
    ),
    "dunder in a condition": (dict(bpmn=[('route == "complaint"', "route.__class__")]), "_"),
    "missing decision table": (
        dict(bpmn=[(">p3_contact_routing<", ">p3_routing_v2<")]),
        "p3_routing_v2",
    ),
    "feel list in a dmn entry": (
        dict(dmn=[('<text>"complaint"</text>', '<text>"complaint","praise"</text>')]),
        "FEEL",
    ),
    "unknown department field": (
        dict(bpmn=[('value="complained_department"', 'value="dept"')]),
        "dept",
    ),
    "field shadowing a helper": (
        dict(
            forms={
                "p3_result_report.json": (DEFAULT_FORMS_DIR / "p3_result_report.json")
                .read_text("utf-8")
                .replace('"result_summary"', '"len"')
            }
        ),
        "len",
    ),
    "external entity": (
        dict(
            bpmn=[
                (
                    '<?xml version="1.0" encoding="UTF-8"?>',
                    '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x ['
                    '<!ENTITY e SYSTEM "file:///etc/passwd">]>',
                )
            ]
        ),
        "DTD",
    ),
}


NO_LINE = {"field shadowing a helper", "external entity"}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_bundles_are_refused_with_a_reason(session, tmp_path, case):
    changes, expected = BROKEN[case]
    before = _versions(session)
    with pytest.raises(DeployRefused) as refused:
        _deploy_variant(session, tmp_path, **changes)
    problems = refused.value.problems
    text = " | ".join(p.describe("en") for p in problems)
    assert expected in text, text
    assert all(p.file for p in problems)
    # A whole-file refusal (unsafe XML) or a form problem has no line in the BPMN.
    assert any(p.line for p in problems) or case in NO_LINE, text
    assert problems[0].reason_zh and problems[0].reason_en
    assert _versions(session) == before


def test_refused_element_is_named(session, tmp_path):
    with pytest.raises(DeployRefused) as refused:
        _deploy_variant(session, tmp_path, bpmn=[('record_status = "closed"', "import os")])
    (problem,) = refused.value.problems
    assert problem.element_id == "close_record"
    assert problem.file == P3_BPMN.name


def test_cli_check_reports_one_line_and_exit_2(tmp_path, p3_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", p3_url)
    folder = _variant(tmp_path, bpmn=[("working_days(2)", "P2D")])
    result = CliRunner().invoke(main, ["deploy", "--check", str(folder / P3_BPMN.name)])
    assert result.exit_code == 2
    assert "P2D" in result.output and len(result.output.strip().splitlines()) == 1
    ok = CliRunner().invoke(main, ["deploy", "--check", str(P3_BPMN)])
    assert ok.exit_code == 0 and "OK p3_owner_reception" in ok.output
