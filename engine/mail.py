"""Sending e-mail through SMTP: the settings, and one connection per batch of letters.

Settings (environment, read when used so the web processes and the worker agree):
  SMTP_HOST      the server; unset or empty: e-mail is off (in-app notifications still work)
  SMTP_PORT      default 465 with SMTP_SSL, 587 with SMTP_STARTTLS, else 25
  SMTP_USERNAME, SMTP_PASSWORD   log in when a user name is given
  SMTP_FROM      the sender address (default jiedai@localhost)
  SMTP_STARTTLS  1/true: upgrade a plain connection with STARTTLS
  SMTP_SSL       1/true: connect with TLS from the start (SMTPS)
  SMTP_TIMEOUT   seconds to wait for the server (default 10)
  JIEDAI_BASE_URL  the address people open the app at, for absolute links in letters
                   (default http://127.0.0.1:5000, what `jiedai serve` listens on)

This module never touches the database: `engine.notifications` keeps the outbox and decides
what to send; a failed letter is reported back, not raised."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

DEFAULT_BASE_URL = "http://127.0.0.1:5000"
DEFAULT_SENDER = "jiedai@localhost"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    sender: str = DEFAULT_SENDER
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Letter:
    to: str
    to_name: str
    subject: str
    body: str


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def smtp_settings(environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """The SMTP settings, or None when SMTP_HOST is not set (e-mail off)."""
    env = os.environ if environ is None else environ
    host = (env.get("SMTP_HOST") or "").strip()
    if not host:
        return None
    use_ssl, starttls = _flag(env.get("SMTP_SSL")), _flag(env.get("SMTP_STARTTLS"))
    if use_ssl and starttls:
        raise ValueError("SMTP_SSL and SMTP_STARTTLS are both set: choose one")
    default_port = 465 if use_ssl else 587 if starttls else 25
    port_text = (env.get("SMTP_PORT") or "").strip()
    if port_text and not port_text.isdigit():
        raise ValueError(f"SMTP_PORT must be a number, not {port_text!r}")
    return SmtpSettings(
        host=host,
        port=int(port_text) if port_text else default_port,
        username=(env.get("SMTP_USERNAME") or "").strip() or None,
        password=env.get("SMTP_PASSWORD") or None,
        sender=(env.get("SMTP_FROM") or "").strip() or DEFAULT_SENDER,
        starttls=starttls,
        use_ssl=use_ssl,
        timeout=float(env.get("SMTP_TIMEOUT") or DEFAULT_TIMEOUT),
    )


def base_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return ((env.get("JIEDAI_BASE_URL") or "").strip() or DEFAULT_BASE_URL).rstrip("/")


def task_url(task_id: int) -> str:
    """The task's page (web/blueprints/tasks.py `tasks.show`); it sends a person on to the
    instance once the task is done."""
    return f"{base_url()}/tasks/{task_id}"


def _message(settings: SmtpSettings, letter: Letter) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr(("接待 jiedai", settings.sender))
    message["To"] = formataddr((letter.to_name, letter.to))
    message["Subject"] = letter.subject
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(letter.body)  # UTF-8; the Chinese text survives any relay
    return message


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if settings.use_ssl:
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.starttls:
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:500]


def send(settings: SmtpSettings, letters: list[Letter]) -> list[str | None]:
    """Send `letters` over one connection; for each, None when the server took it, else the
    error. A server that cannot be reached fails every letter with the same error."""
    if not letters:
        return []
    try:
        smtp = _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        return [_describe(exc)] * len(letters)
    results: list[str | None] = []
    try:
        for letter in letters:
            try:
                refused = smtp.send_message(_message(settings, letter))
            except smtplib.SMTPServerDisconnected as exc:
                # The rest cannot go either: the same error for each of them.
                results += [_describe(exc)] * (len(letters) - len(results))
                break
            except (OSError, smtplib.SMTPException) as exc:
                results.append(_describe(exc))
                continue
            results.append(f"refused: {refused}" if refused else None)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return results
