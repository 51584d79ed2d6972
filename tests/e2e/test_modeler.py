"""Process owners in a real browser: every shipped diagram opened in the bpmn-js modeler and
saved without edits keeps its meaning (ids, names, extension properties, scripts, conditions,
timers, lanes); then P3 edited in the side panel, checked and deployed as version 2."""

import json
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine import runtime
from engine.bundles import DEFAULT_BPMN_DIR
from engine.db import make_engine, make_session_factory
from engine.models import ProcessInstance
from engine.version_diff import diff_bundles
from workflows import scenarios
from workflows.p4 import PROCESS_ID as P4
from workflows.p4 import samples as p4
from workflows.p4.models import Pass
from workflows.p4.rules import add_months
from workflows.procedures import register_procedures

pytestmark = pytest.mark.e2e

SHIPPED = sorted(DEFAULT_BPMN_DIR.glob("*.bpmn"))


def _process_id(path):
    return re.search(r'<bpmn:process id="([^"]+)"', path.read_text("utf-8")).group(1)


def _open_modeler(page, process_id):
    page.goto("/models/")
    card = page.locator(f"#model-{process_id}")
    edit = card.locator("form button[type=submit]")
    if edit.count():
        edit.click()
    else:
        card.locator("a.btn-primary").click()
    expect(page.locator("h1")).to_contain_text(process_id)
    draft_url = page.url
    page.locator("a[href$='/modeler']").click()
    expect(page.locator("#modeler.is-loaded")).to_be_visible()
    expect(page.locator("#modeler[data-problem-count]")).to_be_attached()
    return draft_url


def _save(page):
    before = page.locator("#modeler").get_attribute("data-revision")
    page.locator("#modeler-save").click()
    expect(page.locator("#modeler")).not_to_have_attribute("data-revision", before)


def _saved_text(page, draft_url, name):
    response = page.request.get(f"{draft_url}/files/{name}")
    assert response.ok
    return response.text()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_round_trip_keeps_every_shipped_diagram(page, login, screenshot, path):
    login(page, "process_owner")
    draft_url = _open_modeler(page, _process_id(path))
    _save(page)
    saved = _saved_text(page, draft_url, path.name)
    assert saved != path.read_text("utf-8")  # it really went through bpmn-js
    summary = diff_bundles({path.name: path.read_text("utf-8")}, {path.name: saved})
    assert summary.elements == [], summary.elements
    assert page.locator("#modeler-status").inner_text().count("0 ") == 0
    screenshot(page, f"modeler_roundtrip_{path.stem}")
    # Leave no draft behind for the other browser tests.
    page.goto(draft_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form[action$='/discard'] button").click()
    expect(page.locator(".flash-info")).to_be_visible()


def test_owner_renames_a_task_validates_and_deploys_version_2(page, login, screenshot):
    login(page, "process_owner")
    page.goto("/models/")
    screenshot(page, "modeler_01_models")
    draft_url = _open_modeler(page, "p3_owner_reception")
    screenshot(page, "modeler_02_opened")

    # Select the script task on the canvas and rename it in the side panel.
    page.locator("g.djs-element[data-element-id='close_record']").first.click()
    panel = page.locator("#modeler-panel")
    expect(panel).to_contain_text("ScriptTask")
    name = panel.locator("[data-key=name]")
    expect(name).to_have_value("注销台帐")
    name.fill("注销台帐记录")
    name.dispatch_event("change")
    expect(panel.locator("[data-key=script]")).to_have_value('record_status = "closed"')
    screenshot(page, "modeler_03_panel")

    # A broken script is shown on the canvas and in the list; nothing can be deployed.
    script = panel.locator("[data-key=script]")
    script.fill("import os")
    script.dispatch_event("change")
    _save(page)
    expect(page.locator("#modeler-problems li")).to_have_count(1)
    expect(
        page.locator("g.djs-element.has-problem[data-element-id='close_record']")
    ).to_be_attached()
    screenshot(page, "modeler_04_problem")
    page.goto(draft_url)
    expect(page.locator("form[action$='/deploy'] button")).to_be_disabled()
    expect(page.locator("tr.problem[data-element='close_record']")).to_be_visible()

    # Fixed: every check passes and the draft is deployed as version 2.
    page.locator("a[href$='/modeler']").click()
    expect(page.locator("#modeler.is-loaded")).to_be_visible()
    page.locator("g.djs-element[data-element-id='close_record']").first.click()
    script = page.locator("#modeler-panel [data-key=script]")
    script.fill('record_status = "closed"')
    script.dispatch_event("change")
    _save(page)
    expect(page.locator("#modeler-problems li")).to_have_count(0)
    page.goto(draft_url)
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("close_record")
    screenshot(page, "modeler_05_draft_ok")
    page.locator("form[action$='/deploy'] button").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("h1")).to_contain_text("v2")
    expect(page.locator("#diagram.is-loaded")).to_be_visible()
    expect(
        page.locator("g.djs-element.is-changed[data-element-id='close_record']")
    ).to_be_attached()
    screenshot(page, "modeler_06_version_2")
    page.goto("/models/")
    expect(page.locator("#model-p3_owner_reception")).to_contain_text("v2")
    screenshot(page, "modeler_07_models_v2")


@pytest.fixture
def live_session(live_server, live_database_url):
    """A session on the live server's database, to prepare and check P4 instances."""
    register_procedures()
    engine = make_engine(live_database_url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


def _tenant_pass(session, receipt_no: str) -> Pass:
    """A fresh tenant pass, issued on the version in force, that can be renewed for 6 months."""
    instance = scenarios.start(session, P4, "front_clerk")
    scenarios.run_steps(session, instance.id, p4.issue_path("tenant", receipt_no, months=6))
    session.expire_all()
    return session.scalars(select(Pass).where(Pass.issue_instance_id == instance.id)).one()


def _renewal_up_to_the_fee(session, held: Pass, instance_id: int | None = None):
    """A renewal of `held` up to the payment step; the DMN fee is looked up on the way."""
    if instance_id is None:
        instance_id = scenarios.start(session, P4, "front_clerk").id
        scenarios.run_steps(session, instance_id, [p4.request("renew", pass_no=held.pass_no)])
    scenarios.run_steps(session, instance_id, [p4.renewal(add_months(held.valid_until, 6))])
    session.expire_all()
    instance = session.get(ProcessInstance, instance_id)
    return instance, runtime.instance_data(runtime.load_workflow(instance))


def test_owner_changes_a_fee_sees_the_case_fail_fixes_it_and_deploys(
    page, login, screenshot, live_session
):
    # A tenant renewal started on version 1, before anyone touches the fee: it waits at the
    # renewal check, before the fee table is consulted.
    running_pass = _tenant_pass(live_session, "SJ-E2E-FEE-1")
    running = scenarios.start(live_session, P4, "front_clerk")
    scenarios.run_steps(
        live_session, running.id, [p4.request("renew", pass_no=running_pass.pass_no)]
    )
    assert running.version.number == 1

    login(page, "process_owner")
    draft_url = _open_modeler(page, "p4_pass_issuance")
    page.goto(draft_url)
    page.locator("a[href*='/tables/p4_pass_rules.dmn']").click()
    expect(page.locator("#dmn-editor.is-loaded")).to_be_visible()
    expect(page.locator("#dmn-editor .tjs-table")).to_be_visible()
    # The case pins today's tenant renewal fee.
    cases = {
        "cases": [
            {
                "name": "租户证续办工本费",
                "inputs": {"pass_type": "tenant", "request_type": "renew"},
                "expected": {"fee": "2.00"},
            }
        ]
    }
    page.locator("#dmn-cases").fill(json.dumps(cases, ensure_ascii=False))
    # The owner raises the fee in the table itself...
    cell = page.locator("td[data-row-id='Rule_tenant_renew'][data-col-id='Output_fee']")
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type('"3.00"')
    page.locator("h1").click()
    page.locator("#dmn-save").click()
    # ...and the case fails: nothing with this table can be deployed.
    expect(page.locator("#dmn-results tr.case-failed")).to_have_count(1)
    expect(page.locator("#dmn-results")).to_contain_text('"fee":"3.00"')
    screenshot(page, "modeler_08_dmn_failing_case")
    page.goto(draft_url)
    expect(page.locator("form[action$='/deploy'] button")).to_be_disabled()
    page.locator("a[href*='/tables/p4_pass_rules.dmn']").click()
    expect(page.locator("#dmn-editor.is-loaded")).to_be_visible()
    cases["cases"][0]["expected"]["fee"] = "3.00"
    page.locator("#dmn-cases").fill(json.dumps(cases, ensure_ascii=False))
    page.locator("#dmn-save").click()
    expect(page.locator("#dmn-results tr.case-ok")).to_have_count(1)
    screenshot(page, "modeler_09_dmn_passing_case")

    page.goto(draft_url)
    page.locator("a[href*='/forms/']").first.click()
    expect(page.locator("#form-preview .field").first).to_be_visible()
    area = page.locator("#form-schema")
    original = area.input_value()
    area.fill(original.replace('"type": "string"', '"type": "strng"', 1))
    expect(page.locator("#form-problems li").first).to_contain_text("/properties/")
    screenshot(page, "modeler_10_form_invalid")
    page.locator("#form-save").click()
    expect(page.locator("#form-status")).to_have_class(re.compile("field-error"))

    page.goto(draft_url)
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Rule_tenant_renew")
    page.locator("form[action$='/deploy'] button").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("h1")).to_contain_text("v2")
    expect(page.locator("main")).to_contain_text("Rule_tenant_renew")
    screenshot(page, "modeler_11_p4_version_2")

    # The running renewal stays on version 1 and keeps the old fee; a new one uses the new fee.
    live_session.expire_all()
    running, old_data = _renewal_up_to_the_fee(live_session, running_pass, running.id)
    assert running.version.number == 1
    assert old_data["fee_amount"] == Decimal("2.00")
    new_pass = _tenant_pass(live_session, "SJ-E2E-FEE-2")
    fresh, new_data = _renewal_up_to_the_fee(live_session, new_pass)
    assert fresh.version.number == 2
    assert new_data["fee_amount"] == Decimal("3.00")
    assert new_data["amount_due"] == Decimal("3.00")
    # The cashier's payment task says the same amount due for each.
    page.context.clear_cookies()
    login(page, "cashier")
    for instance, amount, name in ((running, "2.00", "12"), (fresh, "3.00", "13")):
        row = scenarios.open_task(live_session, instance.id, "record_payment")
        page.goto(f"/tasks/{row.id}")
        expect(page.locator("main")).to_contain_text(f"应收 ¥{amount}")
        screenshot(page, f"modeler_{name}_p4_fee_v{instance.version.number}")
