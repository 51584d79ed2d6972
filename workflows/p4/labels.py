"""zh_CN/en labels of the pass register's columns and codes."""

from __future__ import annotations

COLUMNS: dict[str, tuple[str, str]] = {
    "pass_no": ("证件号", "Pass no."),
    "pass_type": ("证件类型", "Type"),
    "holder_name": ("持证人", "Holder"),
    "holder_id_no": ("身份证号码", "ID number"),
    "unit": ("单元", "Unit"),
    "phone": ("联系电话", "Phone"),
    "owner_name": ("业主", "Owner"),
    "issued_on": ("办证日期", "Issued"),
    "valid_from": ("有效期自", "Valid from"),
    "valid_until": ("有效期至", "Valid until"),
    "state": ("状态", "Status"),
    "deposit_held": ("押金（元）", "Deposit held (¥)"),
    "receipt_no": ("收据号", "Receipt no."),
    "renewals": ("续办次数", "Renewals"),
    "returned_on": ("退证日期", "Returned"),
    "lease_start": ("租赁起始日", "Lease start"),
    "lease_end": ("租赁到期日", "Lease end"),
    "renovation_application_no": ("装修申请表编号", "Renovation application"),
    "company": ("装修单位", "Company"),
    "issued_by": ("经办人", "Issued by"),
    "at": ("日期", "Date"),
    "kind": ("摘要", "Entry"),
    "deposit_in": ("收押金", "Deposit taken"),
    "deposit_out": ("退押金", "Deposit refunded"),
    "fee": ("工本费", "Fee"),
    "balance": ("押金余额", "Deposit balance"),
    "recorded_by": ("经手人", "Recorded by"),
}

PASS_TYPES: dict[str, tuple[str, str]] = {
    "resident": ("住户证", "Resident pass"),
    "tenant": ("租户证", "Tenant pass"),
    "temporary": ("临时出入证", "Temporary pass"),
}

STATES: dict[str, tuple[str, str]] = {
    "active": ("有效", "Active"),
    "expired": ("已过期", "Expired"),
    "returned": ("已退回", "Returned"),
}

ENTRY_KINDS: dict[str, tuple[str, str]] = {
    "issue": ("办证收费", "Pass issued"),
    "renewal": ("续办收费", "Renewal"),
    "refund": ("退押金", "Deposit refund"),
}

_VALUES = {"pass_type": PASS_TYPES, "state": STATES, "kind": ENTRY_KINDS}


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[1] if locale.startswith("en") else pair[0]


def column_label(column: str, locale: str = "zh_CN") -> str:
    return _pick(COLUMNS[column], locale) if column in COLUMNS else column


def value_label(column: str, value, locale: str = "zh_CN") -> str:
    """The label of a code (`tenant` → 租户证); other values as text."""
    if value is None:
        return ""
    pairs = _VALUES.get(column)
    if pairs and value in pairs:
        return _pick(pairs[value], locale)
    return str(value)
