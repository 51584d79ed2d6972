"""Service-task handlers of the P4 diagram (`spiffworkflow:serviceTaskOperator` ids).

Checks raise `FormInvalid` with a Chinese message on the field the clerk must correct: the
engine then rolls the whole submission back and shows the form again (nothing is saved).
Writes go through the Session of the running state change (`current_context`), so a pass
number, a register row and a ledger entry commit together with the instance or not at all."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from engine.errors import FormInvalid
from engine.models import utcnow
from engine.service_tasks import current_context, register_service

from .models import DepositEntry, Pass
from .pass_numbers import next_pass_no
from .rules import business_today, last_valid_day, money, parse_date

TYPE_NAMES = {"resident": "住户证", "tenant": "租户证", "temporary": "临时出入证"}


def _pass(pass_no: str | None) -> Pass | None:
    session = current_context().session
    return session.scalar(select(Pass).where(Pass.pass_no == (pass_no or "").strip().upper()))


@register_service("p4_load_request")
def load_request(data: dict, params: dict) -> dict:
    """Renewal or return: the registered pass named by `pass_no`, refused when it cannot be."""
    if data.get("request_type") == "issue":
        return {"has_deposit": False}
    held = _pass(data.get("pass_no"))
    if held is None:
        raise FormInvalid({"pass_no": f"证件号“{data.get('pass_no')}”不存在，请核对"})
    if held.status != "active":
        raise FormInvalid({"pass_no": f"证件 {held.pass_no} 已于 {held.returned_on} 退回"})
    if data.get("request_type") == "renew" and held.valid_until is None:
        raise FormInvalid({"pass_no": "住户证长期有效，无需续办"})
    return {
        "pass_no": held.pass_no,
        "pass_type": held.pass_type,
        "holder_name": held.holder_name,
        "unit": held.unit,
        "lease_end": held.lease_end.isoformat() if held.lease_end else None,
        "current_valid_until": held.valid_until.isoformat() if held.valid_until else None,
        "has_deposit": held.deposit_held > 0,
        "deposit_held": str(held.deposit_held),
        "deposit_receipt": held.receipt_no,
    }


@register_service("p4_check_application")
def check_application(data: dict, params: dict) -> dict:
    """Validity within the table's limit (and a tenant's lease), a proxy's authorisation,
    and the amount due from the table's deposit and fee."""
    today = business_today()
    months = int(data.get("max_validity_months") or 0)
    errors: dict[str, str] = {}
    result: dict = {}
    if data.get("request_type") == "renew":
        held = _pass(data.get("pass_no"))
        if held.status != "active":  # returned since the request was taken
            raise FormInvalid({"old_pass_collected": f"证件 {held.pass_no} 已退回，不能续办"})
        valid_from = max(today, held.valid_until + timedelta(days=1))
    elif months:
        valid_from = parse_date(data.get("valid_from"))
        if valid_from < today:
            errors["valid_from"] = f"有效期起始日不能早于今天（{today}）"
    else:
        valid_from = today
    if data.get("pass_type") == "resident" and data.get("applicant_is_owner") is False:
        errors.update(_proxy_errors(data))
    if data.get("pass_type") == "tenant":
        errors.update(_lease_errors(data, today, renewal=data.get("request_type") == "renew"))
    valid_until = parse_date(data.get("valid_until")) if months else None
    if valid_until is not None and "valid_until" not in errors:
        limit = last_valid_day(valid_from, months)
        lease_end = parse_date(data.get("lease_end"))
        if valid_until < valid_from:
            errors["valid_until"] = f"有效期截止日不能早于起始日（{valid_from}）"
        elif valid_until > limit:
            errors["valid_until"] = (
                f"{TYPE_NAMES[data['pass_type']]}最长期限为 {months} 个月："
                f"自 {valid_from} 起最迟至 {limit}"
            )
        elif (
            lease_end is not None and data.get("pass_type") == "tenant" and valid_until > lease_end
        ):
            errors["valid_until"] = f"租户证有效期不能超过租赁期（租约至 {lease_end}）"
    if errors:
        raise FormInvalid(errors)
    deposit, fee = money(data.get("deposit") or "0"), money(data.get("fee") or "0")
    result.update(
        valid_from=valid_from.isoformat(),
        deposit_amount=deposit,
        fee_amount=fee,
        amount_due=deposit + fee,
    )
    if data.get("holder_id_no"):
        result["holder_id_no"] = str(data["holder_id_no"]).upper()
    return result


def _proxy_errors(data: dict) -> dict[str, str]:
    """A proxy's authorisation must name the person standing at the desk (第7篇5(1)1))."""
    errors = {}
    if (data.get("authorised_name") or "").strip() != (data.get("holder_name") or "").strip():
        errors["authorised_name"] = "委托证明书上的被委托人姓名与办证人不一致，不能代办"
    if str(data.get("authorised_id_no") or "").upper() != str(data.get("holder_id_no")).upper():
        errors["authorised_id_no"] = "委托证明书上的被委托人身份证号码与办证人不一致，不能代办"
    return errors


def _lease_errors(data: dict, today, *, renewal: bool) -> dict[str, str]:
    lease_start, lease_end = parse_date(data.get("lease_start")), parse_date(data.get("lease_end"))
    if lease_start and lease_end and lease_end < lease_start:
        return {"lease_end": "租赁到期日不能早于起始日"}
    if lease_end is not None and lease_end < today:
        if renewal:
            return {
                "lease_end": f"租赁期已于 {lease_end} 结束，不在租赁期内，不能续办；"
                "如已续租，请查验新租赁合同并填写新的租赁到期日"
            }
        return {"lease_end": f"租约已于 {lease_end} 到期，不能办理租户证"}
    return {}


@register_service("p4_check_payment")
def check_payment(data: dict, params: dict) -> dict:
    """The cashier's amount must be what the table asks; the pass waits for it."""
    due, received = money(data.get("amount_due")), money(data.get("amount_received"))
    if received != due:
        raise FormInvalid({"amount_received": f"实收金额须等于应收金额 ¥{due}"})
    return {"amount_received": received, "paid": True}


@register_service("p4_register_pass")
def register_pass(data: dict, params: dict) -> dict:
    """Issue: the next number, the register row and the ledger entry. Renewal: extend it."""
    context = current_context()
    due = money(data.get("amount_due") or "0")
    if due > 0 and not data.get("paid"):
        # The diagram routes every fee-paying pass through the cashier first; never issue
        # one that skipped it (an incident, not a form error: the model would be wrong).
        raise RuntimeError("未缴费的证件不能发放 (a pass with fees due reached issue unpaid)")
    if data.get("request_type") == "renew":
        return _renew(context, data)
    today = business_today()
    seq, pass_no = next_pass_no(context.session, data["pass_type"], today.year)
    row = Pass(
        pass_no=pass_no,
        pass_type=data["pass_type"],
        year=today.year,
        seq=seq,
        holder_name=data["holder_name"],
        holder_id_no=str(data["holder_id_no"]).upper(),
        unit=data["unit"],
        phone=data.get("phone"),
        owner_name=data.get("owner_name"),
        applicant_is_owner=data.get("applicant_is_owner"),
        authorised_name=data.get("authorised_name"),
        lease_start=parse_date(data.get("lease_start")),
        lease_end=parse_date(data.get("lease_end")),
        renovation_application_no=data.get("renovation_application_no"),
        company=data.get("company"),
        issued_on=today,
        valid_from=parse_date(data.get("valid_from")) or today,
        valid_until=parse_date(data.get("valid_until"))
        if data.get("max_validity_months")
        else None,
        status="active",
        deposit_held=money(data.get("deposit_amount") or "0"),
        receipt_no=data.get("receipt_no"),
        renewals=0,
        issue_instance_id=context.instance_id,
        issued_by=context.actor,
        created_at=utcnow(),
    )
    context.session.add(row)
    context.session.flush()  # why: the ledger entry refers to the new pass's id
    _ledger(context, row, "issue", row.deposit_held, money(data.get("fee_amount") or "0"), data)
    return {"pass_no": pass_no, "issued_on": today.isoformat()}


def _renew(context, data: dict) -> dict:
    row = _pass(data.get("pass_no"))
    row.valid_until = parse_date(data["valid_until"])
    if row.pass_type == "tenant" and data.get("lease_end"):
        row.lease_end = parse_date(data["lease_end"])
    row.renewals += 1
    row.receipt_no = data.get("receipt_no") or row.receipt_no
    _ledger(context, row, "renewal", Decimal("0.00"), money(data.get("fee_amount") or "0"), data)
    return {"pass_no": row.pass_no}


def _ledger(context, row: Pass, kind: str, deposit: Decimal, fee: Decimal, data: dict) -> None:
    if deposit == 0 and fee == 0:
        return  # a free resident pass moves no money
    context.session.add(
        DepositEntry(
            pass_id=row.id,
            pass_no=row.pass_no,
            at=utcnow(),
            kind=kind,
            deposit=deposit,
            fee=fee,
            receipt_no=data.get("receipt_no") or data.get("deposit_receipt_no"),
            instance_id=context.instance_id,
            recorded_by=context.actor,
        )
    )


@register_service("p4_pass_status")
def pass_status(data: dict, params: dict) -> dict:
    """Before reminding: is the pass still held, with the validity this instance gave it?"""
    row = _pass(data.get("pass_no"))
    still = (
        row is not None
        and row.status == "active"
        and row.valid_until is not None
        and row.valid_until.isoformat() == data.get("valid_until")
    )
    return {"needs_reminder": still, "pass_status": row.status if row else "missing"}


@register_service("p4_record_return")
def record_return(data: dict, params: dict) -> dict:
    """The front desk took the pass back; a tenant's deposit waits for the cashier."""
    row = _pass(data.get("pass_no"))
    if row.status != "active":
        raise FormInvalid({"pass_collected": f"证件 {row.pass_no} 已退回"})
    if row.deposit_held > 0 and not data.get("receipt_noted"):
        raise FormInvalid(
            {"receipt_noted": "须在押金收据上注明已收回证件数量，持证人凭收据到财务部退押金"}
        )
    row.status = "returned"
    row.returned_on = business_today()
    return {"returned_on": row.returned_on.isoformat()}


@register_service("p4_refund_deposit")
def refund_deposit(data: dict, params: dict) -> dict:
    """The cashier refunds exactly the deposit held; the ledger records the refund."""
    context = current_context()
    row = _pass(data.get("pass_no"))
    refund = money(data.get("refund_amount"))
    if row.deposit_held <= 0:
        raise FormInvalid({"refund_amount": f"证件 {row.pass_no} 的押金已退还"})
    if refund != row.deposit_held:
        raise FormInvalid({"refund_amount": f"退还押金须等于所收押金 ¥{row.deposit_held}"})
    _ledger(context, row, "refund", -refund, Decimal("0.00"), data)
    row.deposit_held = Decimal("0.00")
    row.status = "returned"
    row.returned_on = row.returned_on or business_today()
    return {"refunded": refund, "returned_on": row.returned_on.isoformat()}
