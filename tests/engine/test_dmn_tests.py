"""DMN test cases stored beside a table: run on their own and at deploy."""

from __future__ import annotations

import json

import pytest

from engine.bundles import DEFAULT_BPMN_DIR, Bundle, collect_bundle
from engine.deploy import check_bundle
from engine.dmn_tests import CasesInvalid, bundle_problems, load_cases, run_cases
from engine.errors import DeployRefused

P4_DMN = (DEFAULT_BPMN_DIR / "p4_pass_rules.dmn").read_text("utf-8")
P3 = collect_bundle(DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn")
SIDECAR = "p3_contact_routing.dmn.tests.json"


def _cases(*cases) -> str:
    return json.dumps({"cases": list(cases)})


def test_passing_and_failing_cases():
    results = run_cases(
        P4_DMN,
        [
            {
                "name": "renew",
                "inputs": {"pass_type": "tenant", "request_type": "renew"},
                "expected": {"fee": "2.00", "fees_due": True},
            },
            {
                "name": "wrong",
                "inputs": {"pass_type": "tenant", "request_type": "renew"},
                "expected": {"fee": "10.00"},
            },
            {
                "name": "none",
                "inputs": {"pass_type": "nope", "request_type": "renew"},
                "expected": {"fee": "0.00"},
            },
        ],
    )
    assert [r.ok for r in results] == [True, False, False]
    assert results[0].rules == ["Rule_tenant_renew"]
    assert results[1].actual["fee"] == "2.00"
    assert results[2].error == "no rule matched"


def test_a_feel_list_never_matches_and_its_case_says_so():
    table = P3.files["p3_contact_routing.dmn"].replace(
        '<text>"praise"</text>', '<text>"praise","suggestion"</text>', 1
    )
    (result,) = run_cases(
        table, [{"inputs": {"category": "praise"}, "expected": {"route": "praise"}}]
    )
    assert not result.ok


def test_deploy_is_refused_by_a_failing_case_and_passes_with_good_ones():
    good = _cases(
        {
            "name": "complaint",
            "inputs": {"category": "complaint"},
            "expected": {"route": "complaint"},
        }
    )
    check_bundle(Bundle(dict(P3.files, **{SIDECAR: good})))
    bad = _cases(
        {"name": "complaint", "inputs": {"category": "complaint"}, "expected": {"route": "repair"}}
    )
    with pytest.raises(DeployRefused) as refused:
        check_bundle(Bundle(dict(P3.files, **{SIDECAR: bad})))
    (problem,) = refused.value.problems
    assert problem.file == SIDECAR
    assert "complaint" in problem.reason_en and "repair" in problem.reason_en
    assert problem.element_id == "Rule_complaint"


@pytest.mark.parametrize("text", ["[", "[]", '{"cases": [{"inputs": 1}]}'])
def test_malformed_test_files_are_problems(text):
    with pytest.raises(CasesInvalid):
        load_cases(text)
    (problem,) = bundle_problems(Bundle(dict(P3.files, **{SIDECAR: text})))
    assert problem.file == SIDECAR


def test_cli_check_runs_the_test_cases_beside_a_table(tmp_path, monkeypatch, p3_url):
    import shutil

    from click.testing import CliRunner

    from web.cli import main

    shutil.copy(DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn", tmp_path)
    shutil.copy(DEFAULT_BPMN_DIR / "p3_contact_routing.dmn", tmp_path)
    bad = _cases({"name": "praise", "inputs": {"category": "praise"}, "expected": {"route": "x"}})
    (tmp_path / SIDECAR).write_text(bad, encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", p3_url)
    monkeypatch.setenv("JIEDAI_LANG", "en")
    result = CliRunner().invoke(
        main, ["deploy", "--check", str(tmp_path / "p3_owner_reception.bpmn")]
    )
    assert result.exit_code == 2 and "Test case 'praise' failed" in result.output
