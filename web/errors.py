"""Error pages: every HTTP error and every `JiedaiError` becomes a friendly zh_CN/en page.

Never a traceback: unexpected exceptions are logged by Flask and shown as the 500 page. If even
the error page cannot be rendered (say the database is gone), a plain static page is returned.
Requests under `/api/` or asking for JSON get `{"error": code, "message": text}` instead."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import (
    Conflict,
    Forbidden,
    InstanceFailed,
    InstanceInError,
    InstanceNotRunning,
    JiedaiError,
    NotFound,
)

from .i18n import current_locale

#: HTTP status → (title, explanation) shown on the error page.
ERROR_TEXTS = {
    400: (_l("Bad request"), _l("The request could not be understood. Check what you entered.")),
    401: (_l("Sign-in required"), _l("Please sign in to continue.")),
    403: (_l("Access denied"), _l("You do not have permission to open this page.")),
    404: (_l("Page not found"), _l("The page or record you asked for does not exist.")),
    405: (_l("Method not allowed"), _l("This address cannot be used that way.")),
    409: (
        _l("Conflict"),
        _l("Someone else changed this first. Nothing of yours was saved; reload and try again."),
    ),
    413: (_l("Too large"), _l("What you sent is too large.")),
    429: (_l("Too many requests"), _l("Too many requests. Wait a moment and try again.")),
    500: (
        _l("Something went wrong"),
        _l("An unexpected error occurred. It has been logged; please try again later."),
    ),
}

#: Named failures → HTTP status; the first matching class wins, others are 400.
JIEDAI_ERROR_STATUS: list[tuple[type[JiedaiError], int]] = [
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (InstanceInError, 409),
    (InstanceNotRunning, 409),
    (InstanceFailed, 500),
]

_FALLBACK_PAGE = """<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><title>{code} 出错了 / Error</title>
<body><h1>{code}</h1><p>系统出错了，请稍后再试。</p>
<p>Something went wrong; please try again later.</p>
<p><a href="/">首页 / Home</a></p></body></html>"""


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def render_error(
    code: int, message: str | None = None, title: str | None = None, headers: list | None = None
):
    """The response for an error: the page (or JSON) with the status `code`."""
    headers = headers or []
    default_title, default_message = ERROR_TEXTS.get(code, ERROR_TEXTS[500 if code >= 500 else 400])
    title = title or str(default_title)
    message = message or str(default_message)
    if _wants_json():
        return jsonify(error=code, title=title, message=message), code, headers
    try:
        page = render_template("errors/error.html", code=code, title=title, message=message)
    except Exception:  # the error page itself failed: never show a traceback
        page = _FALLBACK_PAGE.format(code=code)
    return page, code, headers


def handle_http_exception(error: HTTPException):
    # Keep headers such as `Allow` (405) or `Retry-After` (429); the body is ours.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return render_error(error.code or 500, headers=headers)


def handle_csrf_error(_error: CSRFError):
    return render_error(
        400,
        gettext(
            "This form has expired or was sent without its security token. "
            "Go back, reload the page and submit again."
        ),
        gettext("Form expired"),
    )


def handle_jiedai_error(error: JiedaiError):
    status = next(
        (code for cls, code in JIEDAI_ERROR_STATUS if isinstance(error, cls)),
        400,
    )
    return render_error(status, error.message(current_locale()))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(JiedaiError, handle_jiedai_error)
