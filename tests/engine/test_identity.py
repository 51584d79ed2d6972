"""engine/identity.py: roles, departments, passwords, users."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import identity
from engine.errors import Conflict, NotFound
from engine.identity import (
    DEPARTMENTS,
    ROLE_LABELS,
    DuplicateUsername,
    InvalidUsername,
    UnknownDepartment,
    UnknownRole,
    UserNotFound,
    WeakPassword,
    authenticate,
    create_user,
    department_label,
    ensure_roles,
    get_user,
    hash_password,
    role_label,
    verify_password,
)
from engine.models import Role, User


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- passwords ------------------------------------------------------------------------------


def test_hash_is_salted_scrypt_and_verifies():
    first, second = hash_password("s3cret-words"), hash_password("s3cret-words")
    assert first.startswith("scrypt:")
    assert first != second  # a new salt each time
    assert "s3cret-words" not in first
    assert verify_password(first, "s3cret-words")
    assert verify_password(second, "s3cret-words")
    assert not verify_password(first, "s3cret-word")


@pytest.mark.parametrize("bad_hash", ["", "plain-text", "md5$abc$def"])
def test_verify_password_refuses_empty_or_malformed_hashes(bad_hash):
    assert verify_password(bad_hash, "anything") is False


# --- roles and labels -----------------------------------------------------------------------


def test_every_role_has_zh_and_en_labels():
    assert {"front_clerk", "dept_supervisor", "process_owner", "admin", "auditor"} <= set(
        ROLE_LABELS
    )
    assert len(ROLE_LABELS) == 24
    for code, (zh, en) in ROLE_LABELS.items():
        assert code.isascii() and code == code.lower()
        assert zh and not zh.isascii(), code
        assert en and en.isascii(), code


def test_departments():
    assert set(DEPARTMENTS) == {
        "security",
        "cleaning",
        "landscaping",
        "engineering",
        "customer_service",
        "management",
    }
    assert department_label("cleaning") == "保洁部"
    assert department_label("cleaning", "en") == "Cleaning"
    assert department_label(None) == ""
    assert department_label("moon_base") == "moon_base"


def test_role_label_by_locale():
    assert role_label("front_clerk") == "前台文员/客服接待员"
    assert role_label("front_clerk", "en") == "Front-desk clerk"
    assert role_label("not_a_role", "en") == "not_a_role"


def test_ensure_roles_is_idempotent_and_refreshes_labels(db_session):
    ensure_roles(db_session)
    db_session.flush()
    assert count(db_session, Role) == len(ROLE_LABELS)

    db_session.get(Role, "director").label_en = "Old label"
    db_session.add(Role(code="custom_role", label_zh="自定义", label_en="Custom"))
    ensure_roles(db_session)
    db_session.flush()

    assert count(db_session, Role) == len(ROLE_LABELS) + 1  # custom roles are left alone
    assert db_session.get(Role, "director").label_en == "Director"


# --- users ----------------------------------------------------------------------------------


def test_create_user(db_session):
    user = create_user(
        db_session,
        " alice ",
        "王小丽",
        "long-enough",
        ["front_clerk", "manager_assistant"],
        department="customer_service",
    )
    db_session.flush()

    assert user.id is not None
    assert user.username == "alice"
    assert user.display_name == "王小丽"
    assert user.department == "customer_service"
    assert user.active is True
    assert user.role_codes == {"front_clerk", "manager_assistant"}
    assert user.has_role("manager_assistant", "director")
    assert user.password_hash != "long-enough"
    assert verify_password(user.password_hash, "long-enough")


def test_create_user_uses_custom_roles_stored_in_the_table(db_session):
    db_session.add(Role(code="night_guard", label_zh="夜班保安", label_en="Night guard"))
    user = create_user(db_session, "bob", "Bob", "long-enough", ["night_guard"])
    assert user.role_codes == {"night_guard"}


def test_unknown_role_is_refused_and_named(db_session):
    with pytest.raises(UnknownRole) as raised:
        create_user(db_session, "carol", "Carol", "long-enough", ["front_clerk", "wizard"])
    assert raised.value.codes == ["wizard"]
    assert "wizard" in raised.value.message("zh_CN")
    assert "Unknown role" in raised.value.message("en")
    assert count(db_session, User) == 0


def test_unknown_department_is_refused(db_session):
    with pytest.raises(UnknownDepartment) as raised:
        create_user(db_session, "dan", "Dan", "long-enough", ["front_clerk"], department="moon")
    assert "moon" in raised.value.message("en")
    assert count(db_session, User) == 0


def test_duplicate_username_is_a_conflict(db_session):
    create_user(db_session, "erin", "Erin", "long-enough", ["hr"])
    db_session.flush()
    with pytest.raises(DuplicateUsername) as raised:
        create_user(db_session, "erin", "Another Erin", "long-enough", ["hr"])
    assert isinstance(raised.value, Conflict)
    assert "erin" in raised.value.message("zh_CN")


@pytest.mark.parametrize("password", ["", "short", "7-chars"])
def test_short_password_is_refused(db_session, password):
    with pytest.raises(WeakPassword) as raised:
        create_user(db_session, "frank", "Frank", password, ["hr"])
    assert "8" in raised.value.message("zh_CN")


def test_eight_characters_are_enough(db_session):
    assert create_user(db_session, "grace", "Grace", "8-chars!", ["hr"]).username == "grace"


@pytest.mark.parametrize("username", ["", "   ", "has space", "-dash-first", "x" * 65, "名字"])
def test_invalid_username_is_refused(db_session, username):
    with pytest.raises(InvalidUsername):
        create_user(db_session, username, "Someone", "long-enough", ["hr"])


def test_get_user(db_session):
    created = create_user(db_session, "heidi", "Heidi", "long-enough", ["auditor"])
    assert get_user(db_session, "heidi") is created
    with pytest.raises(UserNotFound) as raised:
        get_user(db_session, "nobody")
    assert isinstance(raised.value, NotFound)
    assert "nobody" in raised.value.message("en")


# --- authenticate ---------------------------------------------------------------------------


@pytest.fixture
def ivan(db_session):
    user = create_user(db_session, "ivan", "Ivan", "correct-horse", ["front_clerk"])
    db_session.flush()
    return user


def test_authenticate_with_the_right_password(db_session, ivan):
    assert authenticate(db_session, "ivan", "correct-horse") is ivan
    assert authenticate(db_session, " ivan ", "correct-horse") is ivan


def test_authenticate_refuses_a_wrong_password(db_session, ivan):
    assert authenticate(db_session, "ivan", "wrong-horse") is None
    assert authenticate(db_session, "IVAN", "correct-horse") is None  # usernames are exact


def test_authenticate_refuses_an_inactive_user(db_session, ivan):
    ivan.active = False
    assert authenticate(db_session, "ivan", "correct-horse") is None


def test_unknown_user_costs_one_hash_check_too(db_session, monkeypatch):
    checked = []
    real = identity.verify_password
    monkeypatch.setattr(identity, "verify_password", lambda h, p: checked.append(h) or real(h, p))
    assert authenticate(db_session, "nobody", "whatever-pw") is None
    assert len(checked) == 1 and checked[0].startswith("scrypt:")
