"""Every route × every role (and anonymous) against the one declared table in
`access_matrix.py`; plus CSRF on every write and 405 for the wrong method."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import url_for
from sqlalchemy import select, text

from engine import attachments
from engine.db import perform
from engine.identity import ROLE_LABELS, get_user
from engine.models import ProcessInstance
from workflows import scenarios
from workflows.p3 import PROCESS_ID as P3

from .access_matrix import ANONYMOUS, MATRIX, PARAMS

IGNORED_METHODS = {"HEAD", "OPTIONS"}
MISSING_ID = 987654
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
IDENTITIES = [ANONYMOUS, *ROLE_LABELS]


def user_of(identity: str) -> str | None:
    """The demo user standing for a role (dept_supervisor: the security department's)."""
    if identity == ANONYMOUS:
        return None
    return "sup_security" if identity == "dept_supervisor" else identity


@dataclass
class Objects:
    values: dict[str, int]

    def resolve(self, value: str):
        if value.startswith("@"):
            return self.values[value[1:]]
        return value


def _first_id(session, table: str) -> int:
    found = session.execute(text(f"SELECT min(id) FROM {table}")).scalar()
    assert found is not None, f"the demo data has no row in {table}"
    return found


@pytest.fixture
def objects(app, db_session, tmp_path) -> Objects:
    app.config["JIEDAI_ATTACHMENTS_DIR"] = str(tmp_path / "attachments")
    # A view that raises answers 500 as in production, and shows up as a mismatch.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    instance = scenarios.start(db_session, P3, "front_clerk")
    task = scenarios.open_task(db_session, instance.id, "record_contact")
    clerk = get_user(db_session, "front_clerk")
    attachment = perform(
        db_session,
        lambda s: attachments.save_attachment(
            s,
            storage_dir=tmp_path / "attachments",
            instance=s.get(ProcessInstance, instance.id),
            user=clerk,
            filename="plan.pdf",
            content=PDF,
        ),
    )
    values = {
        "p3_instance": instance.id,
        "p3_task": task.id,
        "attachment": attachment.id,
        "visit": _first_id(db_session, "p1_visit"),
        "booking": _first_id(db_session, "p2_booking"),
        "pass": _first_id(db_session, "p4_pass"),
        "p3_version": db_session.execute(
            text(
                "SELECT max(v.id) FROM process_version v JOIN process_model m "
                "ON m.id = v.model_id WHERE m.process_id = :p"
            ),
            {"p": P3},
        ).scalar(),
        "missing": MISSING_ID,
    }
    db_session.commit()
    return Objects(values)


def _rules(app, endpoint: str):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]


def _url(app, rule, objects: Objects, args: dict[str, str]) -> str:
    values = {}
    for name in rule.arguments:
        declared = args.get(name, PARAMS.get(name))
        assert declared is not None, (
            f"{rule.endpoint}: no value for URL parameter '{name}'; add it to PARAMS or to the "
            "entry's args in tests/security/access_matrix.py"
        )
        values[name] = objects.resolve(declared)
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _request(app, db_session, sign_in, identity, method, url):
    """One request as `identity`, undone afterwards (a savepoint around it)."""
    connection = db_session.get_bind()
    savepoint = connection.begin_nested()
    try:
        client = app.test_client()
        token = sign_in(client, user_of(identity))
        data = {"csrf_token": token} if method not in ("GET", "HEAD") else None
        response = client.open(url, method=method, data=data)
        response.close()  # a download holds its file open until closed
        return response.status_code
    finally:
        savepoint.rollback()


def test_every_route_is_declared(app):
    methods = {}
    for rule in app.url_map.iter_rules():
        methods.setdefault(rule.endpoint, set()).update(rule.methods - IGNORED_METHODS)
    undeclared = [
        f"{endpoint} {method}"
        for endpoint, wanted in sorted(methods.items())
        for method in sorted(wanted)
        if method not in MATRIX.get(endpoint, {})
    ]
    assert not undeclared, (
        "Routes missing from the access-control matrix: "
        + ", ".join(undeclared)
        + ". Declare who may use each in tests/security/access_matrix.py (MATRIX)."
    )
    stale = sorted(set(MATRIX) - set(methods))
    assert not stale, f"MATRIX declares endpoints the app no longer has: {stale}"


@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_route_answers_every_role_as_declared(app, db_session, objects, sign_in, endpoint):
    rules = _rules(app, endpoint)
    if not rules:
        pytest.fail(f"{endpoint} is declared but not registered (see test_every_route...)")
    mismatches = []
    for method, expect in MATRIX[endpoint].items():
        for rule in rules:
            if method not in rule.methods:
                continue
            url = _url(app, rule, objects, expect.args)
            for identity in IDENTITIES:
                got = _request(app, db_session, sign_in, identity, method, url)
                wanted = expect.status_for(identity)
                if got != wanted:
                    mismatches.append(f"{method} {url} as {identity}: {got}, declared {wanted}")
    assert not mismatches, "\n".join(mismatches)


def test_every_write_needs_a_csrf_token(app, db_session, objects, sign_in):
    refused = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - IGNORED_METHODS - {"GET"}):
            expect = MATRIX.get(rule.endpoint, {}).get(method)
            url = _url(app, rule, objects, expect.args if expect else {})
            for identity in ("front_clerk", "admin"):
                connection = db_session.get_bind()
                savepoint = connection.begin_nested()
                try:
                    client = app.test_client()
                    sign_in(client, user_of(identity))
                    response = client.open(url, method=method, data={})
                    response.close()
                    status = response.status_code
                finally:
                    savepoint.rollback()
                if status != 400:
                    refused.append(f"{method} {url} as {identity}: {status}")
    assert not refused, "writes accepted without a CSRF token:\n" + "\n".join(refused)


def test_wrong_method_is_405(app, db_session, objects, sign_in):
    wrong = []
    served_by_get = {rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods or rule.rule in served_by_get:
            continue
        url = _url(app, rule, objects, {})
        status = _request(app, db_session, sign_in, "admin", "GET", url)
        if status != 405:
            wrong.append(f"GET {url}: {status}")
    assert not wrong, "\n".join(wrong)


def test_ids_that_do_not_exist_are_404_for_allowed_roles(app, db_session, objects, sign_in):
    cases = [
        ("front_clerk", "/tasks/{}"),
        ("auditor", "/instances/{}"),
        ("auditor", "/attachments/{}"),
        ("auditor", "/registers/visits/{}"),
        ("auditor", "/registers/bookings/{}"),
        ("auditor", "/registers/passes/{}"),
        ("auditor", "/audit/instances/{}"),
    ]
    for identity, pattern in cases:
        url = pattern.format(MISSING_ID)
        assert _request(app, db_session, sign_in, identity, "GET", url) == 404, url


def test_template_users_hold_exactly_their_role(db_session):
    for identity in ROLE_LABELS:
        user = get_user(db_session, user_of(identity))
        assert user.role_codes == {identity}, user.username
    # The matrix would prove little if every demo user could see everything.
    assert db_session.scalar(select(ProcessInstance.id).limit(1)) is not None
