"""Languages of the UI: zh_CN first (the default), English second, through Flask-Babel.

The locale of a request is, in order: a `?lang=` parameter (which is also remembered), the
language stored in the session by `/lang/<code>`, then zh_CN. Message ids are English; the
catalogue is `web/translations/zh_CN/LC_MESSAGES/messages.po`, compiled to `.mo` by
`pybabel compile -d web/translations` (or `compile_catalogs()`)."""

from __future__ import annotations

import os
import tempfile
from functools import cached_property
from pathlib import Path

from babel import Locale, support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request, session
from flask_babel import Babel, Domain, get_locale

from engine.identity import department_label as _department_label
from engine.identity import role_label as _role_label

#: Supported locales → the name shown in the language switch (always in its own language).
LANGUAGES: dict[str, str] = {"zh_CN": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_CN"
SESSION_KEY = "lang"
TRANSLATIONS = Path(__file__).with_name("translations")
_LOCALES: dict[str, Locale] = {code: Locale.parse(code) for code in LANGUAGES}


def normalise_locale(code: str | None) -> str | None:
    """`zh`, `zh-CN`, `zh_cn` → `zh_CN`; `en`, `en-GB` → `en`; anything else → None."""
    if not code:
        return None
    code = code.strip().replace("-", "_").lower()
    if code in {"zh", "zh_cn", "zh_hans", "zh_hans_cn"}:
        return "zh_CN"
    if code == "en" or code.startswith("en_"):
        return "en"
    return None


def select_locale() -> Locale:
    """Flask-Babel's locale selector. It returns parsed locales, parsed once: Flask-Babel parses
    a code on every request, and `zh_CN` has no data file of its own, so Babel searches its
    whole list of locales each time (about a millisecond of every page)."""
    if not has_request_context():
        return _LOCALES[DEFAULT_LOCALE]
    code = (
        normalise_locale(request.args.get("lang"))
        or normalise_locale(session.get(SESSION_KEY))
        or DEFAULT_LOCALE
    )
    return _LOCALES[code]


def current_locale() -> str:
    """The locale of the current request as one of `LANGUAGES`: `zh_CN` or `en`."""
    locale = get_locale()
    if locale is None:
        return DEFAULT_LOCALE
    return "en" if locale.language == "en" else DEFAULT_LOCALE


class CatalogueDomain(Domain):
    """Flask-Babel's message domain, also finding the `zh_CN` catalogue.

    Babel expands `zh_CN` to `zh_Hans_CN` (likely subtags), for which gettext only tries the
    directories `zh_Hans_CN` and `zh`; our catalogue lives in `translations/zh_CN`."""

    def get_translations(self):
        locale = get_locale()
        if locale is None:
            return support.NullTranslations()
        key = (str(locale), self.domain[0])
        if key not in self.cache:
            names = [str(locale)]
            if locale.territory:
                names.append(f"{locale.language}_{locale.territory}")
            translations = support.Translations()
            for dirname in self.translation_directories:
                catalog = support.Translations.load(dirname, names, self.domain[0])
                translations.merge(catalog)
                if hasattr(catalog, "plural"):  # merge() does not copy the plural rule
                    translations.plural = catalog.plural
            self.cache[key] = translations
        return self.cache[key]


class JiedaiBabel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:
        return CatalogueDomain(domain=self.domain)


def remember_language(code: str) -> bool:
    """Store `code` as the session's language; False if it is not a supported locale."""
    locale = normalise_locale(code)
    if locale is None:
        return False
    session[SESSION_KEY] = locale
    return True


def _remember_lang_parameter() -> None:
    if "lang" in request.args:
        remember_language(request.args["lang"])


def role_label(role, locale: str | None = None) -> str:
    """Label of a role (a `Role` row or a code) in the current locale."""
    locale = locale or current_locale()
    if hasattr(role, "code"):
        return role.label_en if locale.startswith("en") else role.label_zh
    return _role_label(role, locale)


def department_label(code: str | None, locale: str | None = None) -> str:
    """Label of a department code in the current locale."""
    return _department_label(code, locale or current_locale())


def _template_context() -> dict:
    locale = current_locale()
    return {
        "languages": LANGUAGES,
        "current_locale": locale,
        "html_lang": "zh-CN" if locale == "zh_CN" else locale,
    }


def init_app(app: Flask) -> None:
    """Configure Flask-Babel and the template helpers for languages."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault(
        "BABEL_DEFAULT_TIMEZONE", os.environ.get("JIEDAI_TIMEZONE", "Asia/Shanghai")
    )
    JiedaiBabel(app, locale_selector=select_locale)
    app.before_request(_remember_lang_parameter)
    app.context_processor(_template_context)
    app.add_template_filter(role_label, "role_label")
    app.add_template_filter(department_label, "department_label")


def compile_catalogs(directory: Path = TRANSLATIONS, force: bool = False) -> list[Path]:
    """Compile every `messages.po` under `directory` whose `.mo` is missing or older.

    Does what `pybabel compile -d web/translations` does (fuzzy entries left out); returns
    the `.mo` files written."""
    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        # Write beside the target and rename, so a concurrent reader never sees half a file.
        fd, tmp_name = tempfile.mkstemp(dir=po_path.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as mo_file:
                write_mo(mo_file, catalog)
            os.replace(tmp_name, mo_path)
        except BaseException:
            os.unlink(tmp_name)
            raise
        written.append(mo_path)
    return written
