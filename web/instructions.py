"""A task's instructions: Markdown with Jinja2 placeholders for the instance data.

The template runs in Jinja2's sandbox (no attribute tricks into Python internals) and the
Markdown renderer refuses raw HTML, so a diagram cannot inject script into the page."""

from __future__ import annotations

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

_jinja = ImmutableSandboxedEnvironment(autoescape=False)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_instructions(text: str | None, data: dict) -> Markup | None:
    if not text:
        return None
    try:
        source = _jinja.from_string(text).render(**data)
    except TemplateError:
        source = text  # a broken placeholder shows the raw instructions, not an error page
    return Markup(_markdown.render(source))
