"""Web hardening installed by `create_app`: response headers, cookie settings, body size.

Headers on every response:
  Content-Security-Policy  scripts only from this site (no inline scripts or handlers: the
                           templates use `static/js/*.js`); styles from this site plus inline
                           `<style>` blocks and `style=""` attributes, which the print pages
                           and tables use and bpmn-js sets on the SVG it draws; no plugins, no
                           framing (`frame-ancestors 'none'`), forms post only to this site.
  X-Content-Type-Options   nosniff;  X-Frame-Options DENY (older browsers);
  Referrer-Policy          same-origin;  Permissions-Policy: no camera, microphone, location;
  Cross-Origin-Opener-Policy same-origin;
  Strict-Transport-Security when the request came over HTTPS, or always with
                           `JIEDAI_HSTS=True` (behind a TLS proxy that does not say so);
  Cache-Control: no-store  on pages for a signed-in person (owners' personal data must not
                           stay in shared browser caches), unless the view set its own.

Cookies: the session (and Flask-Login's remember) cookie is HttpOnly and SameSite=Lax always,
and Secure in production, i.e. unless `DEBUG`, `TESTING` or `JIEDAI_DEVELOPMENT` is set
(`JIEDAI_INSECURE_COOKIES=1`, config or environment, turns Secure off for a plain-HTTP intranet
server; HSTS likewise with `JIEDAI_HSTS=1`). `MAX_CONTENT_LENGTH` defaults to
`MAX_BODY_BYTES`; views that take bigger files raise it per request."""

from __future__ import annotations

import os

from flask import Flask, current_app, g, request
from werkzeug.routing import IntegerConverter

MAX_BODY_BYTES = 16 * 1024 * 1024

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

HSTS = "max-age=31536000; includeSubDomains"

#: The largest id a database column holds (BIGINT); SQLite raises OverflowError beyond it.
MAX_ID = 2**63 - 1


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in URLs, bounded: `/tasks/9223372036854775808` is a 404, not a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def is_production(app: Flask) -> bool:
    """Not a debug, test or development run: secure cookies, a secret key is required."""
    return not (app.debug or app.testing or app.config.get("JIEDAI_DEVELOPMENT"))


def init_app(app: Flask) -> None:
    """Set the cookie and size defaults, bound `<int:>` URL parts and add the headers to every
    response. Call before registering blueprints (their rules take the converter then)."""
    app.url_map.converters["int"] = DatabaseIdConverter
    production = is_production(app)
    insecure = bool(app.config.get("JIEDAI_INSECURE_COOKIES")) or _env_flag(
        "JIEDAI_INSECURE_COOKIES"
    )
    secure = production and not insecure
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["SESSION_COOKIE_SECURE"] = secure or bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config.setdefault("JIEDAI_HSTS", _env_flag("JIEDAI_HSTS"))
    app.after_request(security_headers)


def security_headers(response):
    """Add the headers above; a view's own value (a download's Cache-Control) is kept."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure or current_app.config.get("JIEDAI_HSTS"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    # `g._login_user` is set once Flask-Login loaded the person: no extra query here.
    user = getattr(g, "_login_user", None)
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if signed_in and request.endpoint != "static" and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
