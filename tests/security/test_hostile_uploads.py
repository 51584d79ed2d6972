"""Hostile uploads (issue 8): XML bombs and external entities, hostile JSON, size limits and
file names, through `parse_xml`, `check_bundle`, `jiedai deploy --check` and the upload routes."""

from __future__ import annotations

import http.server
import io
import socketserver
import threading

import pytest
from click.testing import CliRunner
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from engine.bundles import DEFAULT_BPMN_DIR, Bundle, collect_bundle
from engine.deploy import check_bundle
from engine.errors import DeployRefused
from engine.xml_safety import MAX_XML_BYTES, UnsafeXml, parse_xml
from forms.schema import SchemaLoadError, load_schema
from web.cli import main as cli
from workflows.procedures import register_procedures

PASSWD_MARKERS = ("root:x:0", "root:*:0", "/bin/bash", "/usr/sbin/nologin")


@pytest.fixture(scope="module")
def dtd_server():
    """A local HTTP server that counts requests: a parser fetching a DTD would show up."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 — the http.server API
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY x "fetched">')

        def log_message(self, *args):
            pass

    server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]><lolz>&lol9;</lolz>"
)


def hostile_documents(base_url: str) -> dict[str, str]:
    return {
        "billion-laughs": LAUGHS,
        "xxe-passwd": '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
        "remote-dtd": f'<!DOCTYPE d SYSTEM "{base_url}/remote.dtd"><d/>',
        "public-dtd": f'<!DOCTYPE d PUBLIC "-//X//DTD//EN" "{base_url}/public.dtd"><d/>',
        "parameter-entity": (
            f'<!DOCTYPE d [<!ENTITY % p SYSTEM "{base_url}/param.dtd"> %p;]><d>&x;</d>'
        ),
        "parameter-entity-local": (
            '<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><d/>'
        ),
        "quadratic-blowup": (
            '<!DOCTYPE d [<!ENTITY a "' + "x" * 50_000 + '">]><d>' + "&a;" * 5_000 + "</d>"
        ),
    }


KINDS = sorted(hostile_documents("http://x"))


@pytest.mark.parametrize("kind", KINDS)
def test_parse_xml_refuses_entities_and_dtds(dtd_server, kind):
    base_url, hits = dtd_server
    with pytest.raises(UnsafeXml):
        parse_xml(hostile_documents(base_url)[kind].encode("utf-8"))
    assert hits == []


def test_parse_xml_refuses_a_dtd_in_utf16_too():
    document = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'
    )
    with pytest.raises(UnsafeXml):
        parse_xml(document.encode("utf-16"))


def test_xinclude_is_never_processed():
    root = parse_xml(
        b'<d xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="file:///etc/passwd" parse="text"/></d>'
    )
    text = "".join(root.itertext())
    assert not any(marker in text for marker in PASSWD_MARKERS)


def test_parse_xml_limits_size_and_depth():
    with pytest.raises(UnsafeXml):
        parse_xml(b"<d>" + b" " * (MAX_XML_BYTES + 1) + b"</d>")
    from lxml import etree

    with pytest.raises(etree.XMLSyntaxError):  # libxml2's depth limit without huge_tree
        parse_xml(b"<a>" * 100_000 + b"</a>" * 100_000)


# --- through the deploy check -------------------------------------------------------------


@pytest.fixture(scope="module")
def p3_bundle() -> Bundle:
    register_procedures()
    return collect_bundle(DEFAULT_BPMN_DIR / "p3_owner_reception.bpmn")


def _replace(bundle: Bundle, suffix: str, text: str) -> Bundle:
    files = dict(bundle.files)
    name = bundle.names(suffix)[0]
    files[name] = text
    return Bundle(files)


def _bpmn_with_dtd(bundle: Bundle, doctype: str) -> str:
    original = bundle.files[bundle.names(".bpmn")[0]]
    body = original.split("?>", 1)[1] if original.startswith("<?xml") else original
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + body


@pytest.mark.parametrize("suffix", [".bpmn", ".dmn"])
@pytest.mark.parametrize("kind", KINDS)
def test_check_bundle_refuses_hostile_xml(dtd_server, p3_bundle, kind, suffix):
    base_url, hits = dtd_server
    hostile = _replace(p3_bundle, suffix, hostile_documents(base_url)[kind])
    with pytest.raises(DeployRefused) as refused:
        check_bundle(hostile)
    text = refused.value.message("en") + repr(refused.value.problems)
    assert not any(marker in text for marker in PASSWD_MARKERS)
    assert hits == []


def test_check_bundle_refuses_a_real_diagram_with_an_entity(p3_bundle):
    doctype = '<!DOCTYPE bpmn:definitions [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    with pytest.raises(DeployRefused) as refused:
        check_bundle(_replace(p3_bundle, ".bpmn", _bpmn_with_dtd(p3_bundle, doctype)))
    assert "DTD" in refused.value.problems[0].reason_en


HOSTILE_JSON = {
    "nested-arrays": "[" * 100_000 + "]" * 100_000,
    "nested-objects": '{"a":' * 5_000 + "1" + "}" * 5_000,
    "long-integer": '{"type": "object", "x": ' + "9" * 10_000 + "}",
    "not-an-object": "[1, 2, 3]",
    "nan": '{"type": NaN}',
    "deep-but-parseable": '{"type": "object", "properties": {"a": '
    + '{"type": "object", "properties": {"a": ' * 300
    + "{}"
    + "}}" * 300
    + "}}",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_JSON))
def test_check_bundle_refuses_hostile_form_json(p3_bundle, kind):
    # Hostile JSON used to escape as RecursionError / ValueError (a 500 on upload).
    with pytest.raises(DeployRefused):
        check_bundle(_replace(p3_bundle, ".json", HOSTILE_JSON[kind]))


@pytest.mark.parametrize("kind", sorted(set(HOSTILE_JSON) - {"deep-but-parseable", "nan"}))
def test_load_schema_refuses_hostile_json_with_a_message(kind):
    with pytest.raises(SchemaLoadError) as refused:
        load_schema(HOSTILE_JSON[kind].encode("utf-8"))
    assert refused.value.reason_zh and refused.value.reason_en


def test_load_schema_never_reads_a_path_from_uploaded_bytes():
    with pytest.raises(SchemaLoadError):
        load_schema(b"/etc/passwd")


def test_cli_deploy_check_refuses_an_xxe_diagram(tmp_path, p3_bundle):
    doctype = '<!DOCTYPE bpmn:definitions [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    path = tmp_path / "p3_owner_reception.bpmn"
    path.write_text(_bpmn_with_dtd(p3_bundle, doctype), encoding="utf-8")
    for name in p3_bundle.names(".dmn"):
        (tmp_path / name).write_text(p3_bundle.files[name], encoding="utf-8")
    result = CliRunner().invoke(cli, ["deploy", "--check", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not any(marker in result.output for marker in PASSWD_MARKERS)


# --- through the upload routes ------------------------------------------------------------


def _upload(client, url, token, files, **fields):
    # Encoded in memory: the test client would spool a big body to a temporary file that it
    # never closes (a ResourceWarning, an error in this suite).
    data = {"csrf_token": token, **fields}
    data.update(files)
    boundary, body = encode_multipart(_as_file_storages(data))
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _as_file_storages(data: dict) -> MultiDict:
    values = MultiDict()
    for key, value in data.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, tuple):
                stream, filename = item
                values.add(key, FileStorage(stream=stream, filename=filename))
            else:
                values.add(key, item)
    return values


def test_models_upload_refuses_hostile_files(app, db_session, sign_in, p3_bundle, dtd_server):
    if "models.upload" not in app.view_functions:
        pytest.skip("the models editor is not registered")
    base_url, hits = dtd_server
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    token = sign_in(client, "process_owner")
    cases = [
        (hostile_documents(base_url)["xxe-passwd"], "../../../../etc/passwd.bpmn"),
        (hostile_documents(base_url)["billion-laughs"], "laughs.bpmn"),
        (hostile_documents(base_url)["remote-dtd"], "..\\..\\remote.bpmn"),
        (HOSTILE_JSON["nested-objects"], "p3_contact_record.json"),
        (HOSTILE_JSON["long-integer"], "p3_contact_record.json"),
    ]
    for content, filename in cases:
        files = {"files": [(io.BytesIO(content.encode("utf-8")), filename)]}
        if filename.endswith(".json"):
            bpmn = p3_bundle.files[p3_bundle.names(".bpmn")[0]]
            files["files"].append((io.BytesIO(bpmn.encode("utf-8")), "p3_owner_reception.bpmn"))
        response = _upload(client, "/models/upload", token, files)
        body = response.get_data(as_text=True)
        assert response.status_code < 500, (filename, response.status_code)
        assert not any(marker in body for marker in PASSWD_MARKERS)
        followed = client.get(response.headers.get("Location", "/models/"))
        assert not any(marker in followed.get_data(as_text=True) for marker in PASSWD_MARKERS)
    assert hits == []


def test_models_upload_is_limited_in_size(app, db_session, sign_in):
    if "models.upload" not in app.view_functions:
        pytest.skip("the models editor is not registered")
    client = app.test_client()
    token = sign_in(client, "process_owner")
    big = io.BytesIO(b"<x>" + b" " * (6 * 1024 * 1024) + b"</x>")
    response = _upload(client, "/models/upload", token, {"files": [(big, "big.bpmn")]})
    assert response.status_code in (302, 413)
    assert response.status_code == 413 or "5 MB" in client.get("/models/").get_data(as_text=True)


def _p3_instance(db_session):
    from workflows import scenarios
    from workflows.p3 import PROCESS_ID

    return scenarios.start(db_session, PROCESS_ID, "front_clerk")


def test_attachment_names_are_never_paths(app, db_session, sign_in, tmp_path):
    from engine.attachments import Attachment

    storage = tmp_path / "attachments"
    app.config["JIEDAI_ATTACHMENTS_DIR"] = str(storage)
    instance = _p3_instance(db_session)
    client = app.test_client()
    token = sign_in(client, "front_clerk")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    for name in ("../../../../tmp/evil.pdf", "..\\..\\evil.pdf", "/etc/cron.d/x.pdf"):
        response = _upload(
            client,
            f"/attachments/instances/{instance.id}",
            token,
            {"file": (io.BytesIO(pdf), name)},
        )
        assert response.status_code == 302
    db_session.expire_all()
    rows = db_session.query(Attachment).filter_by(instance_id=instance.id).all()
    assert rows and all("/" not in r.filename and "\\" not in r.filename for r in rows)
    stored = [p for p in storage.rglob("*") if p.is_file()]
    assert stored and all(p.resolve().is_relative_to(storage.resolve()) for p in stored)
    assert not (tmp_path / "evil.pdf").exists()


def test_attachments_are_checked_by_content_and_size(app, db_session, sign_in, tmp_path):
    from engine.attachments import MAX_BYTES, Attachment

    app.config["JIEDAI_ATTACHMENTS_DIR"] = str(tmp_path / "attachments")
    instance = _p3_instance(db_session)
    client = app.test_client()
    token = sign_in(client, "front_clerk")
    url = f"/attachments/instances/{instance.id}"
    html = io.BytesIO(b"<html><script>alert(1)</script></html>")
    assert _upload(client, url, token, {"file": (html, "photo.pdf")}).status_code == 302
    too_big = io.BytesIO(b"%PDF-1.4\n" + b"0" * (MAX_BYTES + 1))
    assert _upload(client, url, token, {"file": (too_big, "big.pdf")}).status_code in (302, 413)
    db_session.expire_all()
    assert db_session.query(Attachment).filter_by(instance_id=instance.id).count() == 0


def test_calendar_import_is_limited(app, db_session, sign_in):
    client = app.test_client()
    token = sign_in(client, "admin")
    huge = io.BytesIO(b"date,type,name\n" + b"2026-10-01,holiday,x\n" * 200_000)
    response = _upload(client, "/admin/calendar/import", token, {"file": (huge, "../../x.csv")})
    assert response.status_code in (302, 413)
