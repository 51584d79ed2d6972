"""Identity: the role and department codes, users and their passwords.

Every function takes the caller's `Session` and never commits (house rule 3): the request, CLI
command or test that opened the transaction decides. Passwords are hashed with scrypt through
werkzeug, which stores the method and its parameters in the hash string."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import Conflict, JiedaiError, NotFound
from .models import Role, User

#: Every role code of PROCEDURES.md: code → (zh_CN label, English label).
ROLE_LABELS: dict[str, tuple[str, str]] = {
    "reception_officer": ("接待专员", "Reception officer"),
    "deputy_director": ("分管主任", "Deputy director"),
    "director": ("主任", "Director"),
    "univ_leader": ("校领导", "University leader"),
    "party_office": ("党委办公室", "Party committee office"),
    "dept_liaison": ("协办部门联络人", "Co-organising department liaison"),
    "hotline": ("服务热线值班员", "Service hotline operator"),
    "meeting_lead": ("会议接待负责人", "Meeting reception lead"),
    "meeting_attendant": ("会议接待员", "Meeting attendant"),
    "av_tech": ("弱电技术员", "AV technician"),
    "cashier": ("收费员/财务", "Cashier / finance"),
    "front_clerk": ("前台文员/客服接待员", "Front-desk clerk"),
    "manager_assistant": ("经理助理", "Manager's assistant"),
    "project_manager": ("项目经理", "Project manager"),
    "dept_supervisor": ("责任部门主管", "Responsible department supervisor"),
    "after_sales": ("售后", "After-sales"),
    "maintenance": ("维修班", "Maintenance team"),
    "hr": ("人事", "Human resources"),
    "vice_president": ("项目分管副总经理", "Vice president in charge"),
    "sales": ("销售顾问", "Sales consultant"),
    "sales_manager": ("销售经理", "Sales manager"),
    "auditor": ("审计", "Auditor"),
    "process_owner": ("流程管理员", "Process owner"),
    "admin": ("系统管理员", "System administrator"),
}

#: Departments users belong to (and complaints are made about): code → (zh_CN, English).
DEPARTMENTS: dict[str, tuple[str, str]] = {
    "security": ("安保部", "Security"),
    "cleaning": ("保洁部", "Cleaning"),
    "landscaping": ("绿化部", "Landscaping"),
    "engineering": ("工程部", "Engineering"),
    "customer_service": ("客服中心", "Customer service centre"),
    "management": ("管理处", "Property management office"),
}

#: University offices users may belong to: the co-hosting departments of P1 official visits
#: (dept_liaison). Kept apart from the property company's departments above.
UNIVERSITY_OFFICES: dict[str, tuple[str, str]] = {
    "president_office": ("校长办公室", "President's office"),
    "academic_affairs": ("教务处", "Academic affairs office"),
    "research_office": ("科学技术研究部", "Research office"),
    "international_office": ("国际合作交流处", "International cooperation office"),
    "personnel_office": ("人事处", "Personnel office"),
    "student_affairs": ("学生工作部", "Student affairs department"),
    "graduate_school": ("研究生院", "Graduate school"),
    "publicity_dept": ("党委宣传部", "Publicity department"),
    "logistics_office": ("后勤管理处", "Logistics office"),
    "finance_office": ("财务处", "Finance office"),
    "campus_security": ("保卫处", "Campus security office"),
}

MIN_PASSWORD_LENGTH = 8
#: Refused whatever their length: the first guesses of any password-spraying run.
COMMON_PASSWORDS = frozenset(
    {
        "12345678", "123456789", "1234567890", "11111111", "88888888", "66666666",
        "00000000", "87654321", "12341234", "11223344", "password", "password1",
        "passw0rd", "qwertyui", "qwerty123", "1qaz2wsx", "abc12345", "abcd1234",
        "a1234567", "iloveyou", "woaini1314", "admin123", "admin888", "changeme",
    }
)  # fmt: skip
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


# --- named failures -------------------------------------------------------------------------


class UnknownRole(JiedaiError):
    def __init__(self, codes: Iterable[str]):
        listed = ", ".join(sorted(codes))
        super().__init__(f"未知的角色代码：{listed}", f"Unknown role code: {listed}")
        self.codes = sorted(codes)


class UnknownDepartment(JiedaiError):
    def __init__(self, code: str):
        super().__init__(f"未知的部门代码：{code}", f"Unknown department code: {code}")
        self.code = code


class InvalidUsername(JiedaiError):
    def __init__(self, username: str):
        super().__init__(
            f"用户名“{username}”无效：只能使用字母、数字和 _ . @ -，以字母或数字开头，最长 64 位",
            f"Username '{username}' is invalid: use letters, digits and _ . @ -, "
            "starting with a letter or digit, at most 64 characters",
        )
        self.username = username


class DuplicateUsername(Conflict):
    def __init__(self, username: str):
        super().__init__(f"用户名“{username}”已存在", f"Username '{username}' is already taken")
        self.username = username


class WeakPassword(JiedaiError):
    def __init__(self, minimum: int = MIN_PASSWORD_LENGTH):
        super().__init__(
            f"密码至少需要 {minimum} 个字符",
            f"The password must have at least {minimum} characters",
        )


class GuessablePassword(WeakPassword):
    def __init__(self):
        JiedaiError.__init__(
            self,
            "密码不能与用户名相同，也不能是常见密码（如 12345678、password）",
            "The password must not be the username or a common password "
            "(such as 12345678 or password)",
        )


class UserNotFound(NotFound):
    def __init__(self, username: str):
        super().__init__(f"找不到用户“{username}”", f"No user named '{username}'")
        self.username = username


# --- labels ---------------------------------------------------------------------------------


def role_label(code: str, locale: str = "zh_CN") -> str:
    """The label of a role code in `locale`; the code itself when it is not a known role."""
    labels = ROLE_LABELS.get(code)
    if labels is None:
        return code
    return labels[1] if locale.startswith("en") else labels[0]


def department_label(code: str | None, locale: str = "zh_CN") -> str:
    """The label of a department code in `locale`; "" for none, the code when unknown."""
    if not code:
        return ""
    labels = DEPARTMENTS.get(code) or UNIVERSITY_OFFICES.get(code)
    if labels is None:
        return code
    return labels[1] if locale.startswith("en") else labels[0]


# --- roles ----------------------------------------------------------------------------------


def ensure_roles(session: Session) -> list[Role]:
    """Insert the roles of `ROLE_LABELS` that are missing and refresh the labels of the others.

    Idempotent; roles in the table but not in `ROLE_LABELS` are left alone."""
    existing = {role.code: role for role in session.scalars(select(Role))}
    roles = []
    for code, (label_zh, label_en) in ROLE_LABELS.items():
        role = existing.get(code)
        if role is None:
            role = Role(code=code, label_zh=label_zh, label_en=label_en)
            session.add(role)
        else:
            role.label_zh, role.label_en = label_zh, label_en
        roles.append(role)
    return roles


def _roles_for(session: Session, codes: Iterable[str]) -> list[Role]:
    """The `Role` rows for `codes`, creating rows for known codes not stored yet."""
    wanted = list(dict.fromkeys(codes))  # keep order, drop repeats
    stored = {
        role.code: role for role in session.scalars(select(Role).where(Role.code.in_(wanted)))
    }
    unknown = [code for code in wanted if code not in stored and code not in ROLE_LABELS]
    if unknown:
        raise UnknownRole(unknown)
    roles = []
    for code in wanted:
        role = stored.get(code)
        if role is None:
            label_zh, label_en = ROLE_LABELS[code]
            role = Role(code=code, label_zh=label_zh, label_en=label_en)
            session.add(role)
        roles.append(role)
    return roles


# --- passwords ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password` (werkzeug's format, method and parameters included)."""
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash`; False for an empty or malformed hash."""
    if not password_hash:
        return False
    try:
        return check_password_hash(password_hash, password)
    except ValueError:  # a hash in a format werkzeug does not know
        return False


def check_password_policy(password: str, username: str = "") -> None:
    """Raise `WeakPassword` if `password` is shorter than `MIN_PASSWORD_LENGTH`, or
    `GuessablePassword` if it is the username or a common password (case-insensitive)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword()
    folded = password.strip().lower()
    if folded in COMMON_PASSWORDS or (username and folded == username.strip().lower()):
        raise GuessablePassword()


@cache
def _dummy_hash() -> str:
    # Checked against when the username is unknown, so a failed login costs the same time
    # whether or not the user exists (no username probing by timing).
    return hash_password("jiedai-no-such-user")


# --- users ----------------------------------------------------------------------------------


def create_user(
    session: Session,
    username: str,
    display_name: str,
    password: str,
    roles: list[str],
    department: str | None = None,
) -> User:
    """Add an active user holding `roles` (codes), optionally in `department`.

    Raises `InvalidUsername`, `DuplicateUsername`, `WeakPassword`, `UnknownRole` or
    `UnknownDepartment`; nothing is added then. Does not commit."""
    username = username.strip()
    if not USERNAME_PATTERN.match(username):
        raise InvalidUsername(username)
    check_password_policy(password, username)
    if department is not None and department not in DEPARTMENTS | UNIVERSITY_OFFICES:
        raise UnknownDepartment(department)
    role_rows = _roles_for(session, roles)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DuplicateUsername(username)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=hash_password(password),
        department=department,
        active=True,
        roles=role_rows,
    )
    session.add(user)
    return user


def get_user(session: Session, username: str) -> User:
    """The user named `username`; raises `UserNotFound`."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise UserNotFound(username)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None.

    Always checks one scrypt hash, so the time taken does not tell whether the user exists."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    return user
