"""Realistic P4 step data (valid against the P4 forms) for demo data and tests.

Dates are relative to today's business date, so the samples stay valid whenever they run."""

from __future__ import annotations

from datetime import date, timedelta

from .rules import add_months, business_today

#: Valid mainland ID numbers (GB 11643 check characters), made up for samples.
IDS = (
    "440304198503121235",
    "110105199001010010",
    "310115197808082024",
    "320106199511203037",
    "510107198802154041",
    "440106199207075058",
    "330102198709096064",
    "420106199311117074",
    "350203198606068082",
)
OWNER_ID = IDS[0]
INVALID_ID = "440304198503121236"  # the check character is wrong

Step = tuple[str, dict]


def _iso(day: date) -> str:
    return day.isoformat()


def request(request_type: str, pass_type: str | None = None, pass_no: str | None = None) -> Step:
    data = {"request_type": request_type}
    if pass_type:
        data["pass_type"] = pass_type
    if pass_no:
        data["pass_no"] = pass_no
    return ("record_request", data)


def _checks() -> dict:
    return {"id_card_checked": True, "photo_received": True, "copies_filed": True}


def resident(
    *,
    holder: str = "王建国",
    id_no: str = OWNER_ID,
    unit: str = "3栋2单元1502",
    proxy: bool = False,
    authorised_name: str | None = None,
    authorised_id_no: str | None = None,
) -> Step:
    data = {
        "holder_name": holder,
        "holder_id_no": id_no,
        "unit": unit,
        "phone": "13812345678",
        "owner_name": "王建国" if proxy else holder,
        "applicant_is_owner": not proxy,
        **_checks(),
    }
    if proxy:
        data |= {
            "authorisation_signed": True,
            "owner_id_copy": True,
            "authorised_name": authorised_name or holder,
            "authorised_id_no": authorised_id_no or id_no,
        }
    return ("check_resident_documents", data)


def tenant(
    *,
    holder: str = "李娜",
    id_no: str = IDS[1],
    unit: str = "5栋801",
    months: int = 12,
    lease_months: int = 24,
    start: date | None = None,
    lease_start: date | None = None,
) -> Step:
    start = start or business_today()
    lease_start = lease_start or start - timedelta(days=30)
    return (
        "check_tenant_documents",
        {
            "holder_name": holder,
            "holder_id_no": id_no,
            "unit": unit,
            "phone": "13900001111",
            "owner_name": "陈业主",
            "lease_contract": True,
            "supplementary_agreement": True,
            "lease_start": _iso(lease_start),
            "lease_end": _iso(add_months(lease_start, lease_months) - timedelta(days=1)),
            "valid_from": _iso(start),
            "valid_until": _iso(add_months(start, months) - timedelta(days=1)),
            **_checks(),
        },
    )


def temporary(
    *,
    holder: str = "张师傅",
    id_no: str = IDS[2],
    unit: str = "6栋203",
    months: int = 3,
    start: date | None = None,
) -> Step:
    start = start or business_today()
    return (
        "check_temporary_documents",
        {
            "holder_name": holder,
            "holder_id_no": id_no,
            "unit": unit,
            "phone": "13700002222",
            "owner_name": "孙伟",
            "owner_present": True,
            "renovation_application_no": "ZX-2026-031",
            "company": "安居装饰工程有限公司",
            "valid_from": _iso(start),
            "valid_until": _iso(add_months(start, months) - timedelta(days=1)),
            **_checks(),
        },
    )


def payment(amount: str = "15.00", receipt_no: str = "SJ-20261123-01") -> Step:
    return (
        "record_payment",
        {"receipt_no": receipt_no, "amount_received": amount, "payment_method": "cash"},
    )


HANDOVER: Step = ("hand_over_pass", {"pass_handed_over": True, "receipt_sighted": True})
REMINDER: Step = ("remind_holder", {"reminder_method": "phone", "reminder_note": "已电话提醒。"})


def renewal(valid_until: date, lease_end: date | None = None) -> Step:
    data = {"old_pass_collected": True, "valid_until": _iso(valid_until)}
    if lease_end:
        data["lease_end"] = _iso(lease_end)
    return ("check_renewal", data)


def take_back(*, receipt_noted: bool = True) -> Step:
    return (
        "take_back_pass",
        {"pass_collected": True, "returned_count": 1, "receipt_noted": receipt_noted},
    )


def refund(amount: str = "10.00", receipt_no: str = "SJ-20261123-01") -> Step:
    return (
        "refund_deposit",
        {"pass_received": True, "deposit_receipt_no": receipt_no, "refund_amount": amount},
    )


def issue_path(pass_type: str, receipt_no: str = "SJ-20261123-01", **kwargs) -> list[Step]:
    """Every step from the request to the pass handed over."""
    documents = {"resident": resident, "tenant": tenant, "temporary": temporary}[pass_type]
    steps = [request("issue", pass_type), documents(**kwargs)]
    if pass_type != "resident":
        steps.append(payment("15.00", receipt_no))
    return steps + [HANDOVER]
