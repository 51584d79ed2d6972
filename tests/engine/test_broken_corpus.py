"""The broken corpus: each folder of `tests/engine/broken/` is a bundle that must be refused,
and its `expected.json` names the problem: file, element id and name, line, and a part of the
English and Chinese reasons. Nothing of any of them may be deployed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.bundles import Bundle
from engine.db import perform
from engine.deploy import check_bundle, deploy_bundle
from engine.errors import DeployRefused
from engine.models import ProcessVersion
from web.cli import main
from workflows.procedures import register_procedures

CORPUS = Path(__file__).parent / "broken"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())


def _bundle(case: str) -> Bundle:
    folder = CORPUS / case
    return Bundle(
        {
            path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != "expected.json"
        }
    )


def test_the_corpus_has_at_least_fifteen_cases():
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES)
def test_each_broken_bundle_is_refused_with_its_message(case):
    register_procedures()
    expected = json.loads((CORPUS / case / "expected.json").read_text("utf-8"))
    with pytest.raises(DeployRefused) as refused:
        check_bundle(_bundle(case))
    problems = refused.value.problems
    matching = [
        p
        for p in problems
        if p.file == expected["file"]
        and expected["en"] in p.reason_en
        and expected["zh"] in p.reason_zh
        and ("element_id" not in expected or p.element_id == expected["element_id"])
        and ("element_name" not in expected or p.element_name == expected["element_name"])
        and ("line" not in expected or p.line == expected["line"])
    ]
    assert matching, f"{case}: expected {expected}, got {problems}"


@pytest.mark.parametrize("case", CASES)
def test_nothing_of_a_broken_bundle_is_deployed(session, case):
    before = session.scalar(select(func.count()).select_from(ProcessVersion))
    with pytest.raises(DeployRefused):
        perform(session, lambda s: deploy_bundle(s, _bundle(case), "owner"))
    assert session.scalar(select(func.count()).select_from(ProcessVersion)) == before


def test_cli_check_prints_every_problem_one_per_line(tmp_path, monkeypatch, p3_url):
    folder = tmp_path / "two_problems"
    folder.mkdir()
    text = (CORPUS / "unknown_lane_role" / "broken.bpmn").read_text("utf-8")
    text = text.replace('value="register.json"', 'value="nowhere.json"')
    (folder / "broken.bpmn").write_text(text, encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", p3_url)
    for lang, words in (
        ("en", ("Unknown role code", "not found")),
        ("zh_CN", ("角色代码", "不存在")),
    ):
        monkeypatch.setenv("JIEDAI_LANG", lang)
        result = CliRunner().invoke(main, ["deploy", "--check", str(folder / "broken.bpmn")])
        assert result.exit_code == 2
        lines = [line for line in result.output.splitlines() if "broken.bpmn" in line]
        assert len(lines) == 2, result.output
        assert words[0] in lines[0] + lines[1] and words[1] in lines[0] + lines[1]
