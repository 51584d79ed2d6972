"""The P4 registers in the web app: filters, masking, reveal audit, exports, access."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.models import AuditEvent, HumanTask, TaskStatus
from workflows import scenarios
from workflows.p4 import PROCESS_ID as P4
from workflows.p4 import samples
from workflows.p4.models import Pass
from workflows.p4.rules import add_months, business_today

PASSWORD = "test-pass-2026"
TENANT_ID, TEMP_ID, OWNER_ID = samples.IDS[1], samples.IDS[2], samples.OWNER_ID


@pytest.fixture
def database_url(procedure_url):
    return procedure_url("p4_pass_issuance")


def _issue(db_session, pass_type, **kwargs) -> Pass:
    instance = scenarios.start(db_session, P4, "front_clerk")
    scenarios.run_steps(db_session, instance.id, samples.issue_path(pass_type, **kwargs))
    db_session.expire_all()
    return db_session.scalars(select(Pass).order_by(Pass.id.desc())).first()


@pytest.fixture
def passes(db_session):
    tenant = _issue(db_session, "tenant", holder="李娜", id_no=TENANT_ID)
    temporary = _issue(db_session, "temporary", holder="张师傅", id_no=TEMP_ID)
    resident = _issue(db_session, "resident", holder="王建国")
    returned = scenarios.start(db_session, P4, "cashier")
    scenarios.run_steps(
        db_session,
        returned.id,
        [samples.request("return", pass_no=temporary.pass_no), samples.refund()],
    )
    return {"tenant": tenant, "temporary": temporary, "resident": resident}


def test_registry_lists_masked_ids_and_filters(passes, login_as):
    client = login_as("front_clerk")
    page = client.get("/registers/passes/").get_data(as_text=True)
    for row in passes.values():
        assert row.pass_no in page
    assert "1101**********0010" in page and TENANT_ID not in page and OWNER_ID not in page
    tenants = client.get("/registers/passes/?type=tenant").get_data(as_text=True)
    assert passes["tenant"].pass_no in tenants and passes["resident"].pass_no not in tenants
    returned = client.get("/registers/passes/?status=returned").get_data(as_text=True)
    assert passes["temporary"].pass_no in returned and passes["tenant"].pass_no not in returned
    found = client.get("/registers/passes/?q=李娜").get_data(as_text=True)
    assert passes["tenant"].pass_no in found and passes["resident"].pass_no not in found


def test_expired_passes_show_as_expired(passes, login_as, db_session):
    client = login_as("front_clerk")
    row = db_session.get(Pass, passes["tenant"].id)
    row.valid_until = business_today() - timedelta(days=1)  # as if its year had passed
    db_session.commit()
    expired = client.get("/registers/passes/?status=expired").get_data(as_text=True)
    assert row.pass_no in expired and "已过期" in expired
    active = client.get("/registers/passes/?status=active").get_data(as_text=True)
    assert row.pass_no not in active and passes["resident"].pass_no in active


def test_csv_export_follows_the_filters_and_masks(passes, login_as):
    client = login_as("cashier")
    response = client.get("/registers/passes/export.csv?type=tenant")
    assert response.mimetype == "text/csv"
    header, *rows = response.get_data(as_text=True).lstrip("\ufeff").strip().splitlines()
    assert header.startswith("证件号,证件类型,持证人,身份证号码,单元")
    assert len(rows) == 1
    assert rows[0].startswith(f"{passes['tenant'].pass_no},租户证,李娜,1101**********0010,5栋801")
    assert ",139****1111," in rows[0] and "13900001111" not in rows[0]  # phones masked too
    assert ",10.00," in rows[0] and TENANT_ID not in rows[0]


def test_xlsx_export_has_the_same_content(passes, login_as):
    client = login_as("front_clerk")
    response = client.get("/registers/passes/export.xlsx?status=returned")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:4] == ["证件号", "证件类型", "持证人", "身份证号码"]
    assert len(values) == 2 and values[1][0] == passes["temporary"].pass_no
    assert values[1][3] == "3101**********2024" and values[1][9] == "已退回"
    assert client.get("/registers/passes/export.pdf").status_code == 404


def test_detail_masks_and_a_reveal_is_audited(passes, login_as, form_post, db_session):
    tenant = passes["tenant"]
    clerk = login_as("front_clerk")
    page = clerk.get(f"/registers/passes/{tenant.id}").get_data(as_text=True)
    url = f"/registers/passes/{tenant.id}/reveal"
    assert "1101**********0010" in page and TENANT_ID not in page and f'action="{url}"' in page
    shown = form_post(clerk, url, page=f"/registers/passes/{tenant.id}")
    assert shown.status_code == 200 and TENANT_ID in shown.get_data(as_text=True)
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.kind == "personal_data:reveal"))
    assert event.actor == "front_clerk" and event.role == "front_clerk"
    assert event.payload["pass_no"] == tenant.pass_no
    manager = login_as("manager_assistant")
    page = manager.get(f"/registers/passes/{tenant.id}").get_data(as_text=True)
    assert TENANT_ID not in page and f'action="{url}"' not in page
    assert form_post(manager, url, page="/registers/passes/").status_code == 403


def test_rented_units_and_deposit_ledger(passes, login_as):
    client = login_as("front_clerk")
    rented = client.get("/registers/passes/rented-units").get_data(as_text=True)
    assert passes["tenant"].pass_no in rented
    assert passes["temporary"].pass_no not in rented and passes["resident"].pass_no not in rented
    csv = client.get("/registers/passes/rented-units.csv").get_data(as_text=True)
    assert "5栋801,李娜,1101**********0010" in csv
    ledger = client.get("/registers/passes/deposits").get_data(as_text=True)
    assert "¥10.00" in ledger  # the tenant's deposit; the temporary one was refunded
    rows = client.get("/registers/passes/deposits.csv").get_data(as_text=True).splitlines()
    assert (
        rows[0].lstrip("\ufeff").startswith("日期,证件号,摘要,收据号,收押金,退押金,工本费,押金余额")
    )
    assert rows[-1].split(",")[7] == "10.00"


def test_print_view_looks_like_the_paper_form(passes, login_as):
    page = login_as("front_clerk").get("/registers/passes/print?type=tenant").get_data(as_text=True)
    assert "住户联络资料表" in page and "登记人" in page and "物业部主管" in page
    assert passes["tenant"].pass_no in page and passes["resident"].pass_no not in page


@pytest.mark.parametrize(
    "url",
    [
        "/registers/passes/",
        "/registers/passes/export.csv",
        "/registers/passes/export.xlsx",
        "/registers/passes/rented-units",
        "/registers/passes/deposits",
        "/registers/passes/deposits.xlsx",
        "/registers/passes/print",
    ],
)
@pytest.mark.parametrize("role", ["hr", "maintenance", "sales"])
def test_roles_that_may_not_see_holders_get_403(login_as, url, role):
    assert login_as(role).get(url).status_code == 403


def test_validity_over_the_limit_is_a_chinese_field_error(db_session, login_as, form_post):
    instance = scenarios.start(db_session, P4, "front_clerk")
    scenarios.complete_step(db_session, instance.id, *samples.request("issue", "temporary"))
    row = scenarios.open_task(db_session, instance.id, "check_temporary_documents")
    data = samples.temporary()[1] | {
        "valid_until": add_months(business_today(), 4).isoformat(),
        "id_card_checked": "on",
        "photo_received": "on",
        "copies_filed": "on",
        "owner_present": "on",
    }
    client = login_as("front_clerk")
    response = form_post(client, f"/tasks/{row.id}", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "临时出入证最长期限为 3 个月" in page
    db_session.expire_all()
    assert db_session.get(HumanTask, row.id).status == TaskStatus.OPEN
    assert db_session.scalar(select(Pass)) is None
