"""The jiedai CLI: one line and an exit code for every failure, the happy path end to end."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from web.cli import main
from workflows.p3 import samples


@pytest.fixture
def cli(p3_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", p3_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


def test_start_tasks_complete(cli):
    started = cli("start", "p3_owner_reception", "--user", "front_clerk")
    assert started.exit_code == 0 and "started JD" in started.output
    listed = cli("tasks", "--user", "front_clerk")
    task_id = listed.output.split()[0]
    data = json.dumps(samples.contact("praise")[1], ensure_ascii=False)
    done = cli("complete", task_id, "--user", "front_clerk", "--data", data)
    assert done.exit_code == 0 and "completed task" in done.output
    assert "核实表扬并转人事" in cli("tasks", "--user", "hr").output


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (("start", "nope", "--user", "front_clerk"), 2, "nope"),
        (("start", "p3_owner_reception", "--user", "nobody"), 2, "nobody"),
        (("start", "p3_owner_reception", "--user", "hr"), 1, "不能发起"),
        (("start", "p3_owner_reception", "--user", "front_clerk", "--data", "{x"), 2, "JSON"),
        (("start", "p3_owner_reception", "--user", "front_clerk", "--data", "[1]"), 2, "JSON"),
        (("complete", "999999", "--user", "front_clerk", "--data", "{}"), 2, "999999"),
        (("tasks", "--user", "nobody"), 2, "nobody"),
        (("signal", "999999", "p2_material_request", "--user", "front_clerk"), 2, "999999"),
    ],
)
def test_failures_print_one_line(cli, args, code, text):
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert text in result.output and len(result.output.strip().splitlines()) == 1


def test_invalid_form_data_names_the_fields_and_saves_nothing(cli):
    cli("start", "p3_owner_reception", "--user", "front_clerk")
    task_id = cli("tasks", "--user", "front_clerk").output.split()[0]
    refused = cli("complete", task_id, "--user", "front_clerk", "--data", '{"channel": "fax"}')
    assert refused.exit_code == 2
    assert "channel" in refused.output and "owner_name" in refused.output
    assert cli("tasks", "--user", "front_clerk").output.split()[0] == task_id
