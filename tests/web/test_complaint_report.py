"""The monthly complaint report page: figures, charts, exports and the schedule switch."""

from __future__ import annotations

from io import BytesIO

import pytest
from openpyxl import load_workbook

from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3
from workflows.p3 import samples


@pytest.fixture
def database_url(p3_url):
    return p3_url


def test_report_page_shows_figures_and_charts(db_session, login_as):
    done = scenarios.start(db_session, P3, "front_clerk")
    scenarios.run_steps(db_session, done.id, samples.complaint_path("front_clerk"))
    client = login_as("manager_assistant")
    page = client.get("/registers/complaints/report").get_data(as_text=True)
    assert "投诉情况月汇总表" in page and "<svg" in page
    assert "有效投诉率" in page
    assert "100.0%" in page
    assert "王建国" in page
    csv_text = client.get("/registers/complaints/report.csv").get_data(as_text=True)
    assert "投诉总数,1" in csv_text
    xlsx = client.get("/registers/complaints/report.xlsx")
    values = [c.value for row in load_workbook(BytesIO(xlsx.data)).active.iter_rows() for c in row]
    assert "王建国" in values
    assert client.get("/registers/complaints/report?month=2026-13").status_code == 400
    assert login_as("hr").get("/registers/complaints/report").status_code == 403


def test_only_a_process_owner_switches_the_schedule(db_session, login_as, form_post):
    assistant = login_as("manager_assistant")
    url = "/registers/complaints/report/schedule"
    page = "/registers/complaints/report"
    assert form_post(assistant, url, {"schedule": "count_on_27th"}, page=page).status_code == 403
    owner = login_as("process_owner")
    response = form_post(
        owner, url, {"schedule": "count_on_27th"}, page="/tasks/", follow_redirects=True
    )
    assert "28日" in response.get_data(as_text=True) or "28th" in response.get_data(as_text=True)
    refused = form_post(owner, url, {"schedule": "weekly"}, page="/tasks/", follow_redirects=True)
    assert "未知" in refused.get_data(as_text=True) or "Unknown" in refused.get_data(as_text=True)
