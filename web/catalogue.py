"""The zh_CN catalogue: what the code asks to translate, and merging translations in.

`python -m web.catalogue` extracts every message id (babel.cfg), merges the files in
`web/translations/pending/` into `messages.po` (sorted, no source locations), deletes the merged
files and lists the ids still untranslated; exit 1 while any is."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "web" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
PENDING = ROOT / "web" / "translations" / "pending"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def extracted_ids() -> set[str]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def read_catalogue(path: Path = CATALOGUE) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale="zh_CN")


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(strings) and all(strings)


def _key(message) -> str:
    """The singular id: plural messages have a (singular, plural) tuple as their id."""
    return message.id[0] if isinstance(message.id, tuple) else message.id


def untranslated(catalogue: Catalog, ids: set[str]) -> list[str]:
    return sorted(i for i in ids if i not in catalogue or not _translated(catalogue[i]))


def merge_pending(catalogue: Catalog) -> list[Path]:
    merged = []
    for path in sorted(PENDING.glob("*.po")):
        for message in read_catalogue(path):
            if message.id and _translated(message):
                catalogue.add(message.id, message.string)
        merged.append(path)
    return merged


def write_catalogue(catalogue: Catalog, path: Path = CATALOGUE) -> None:
    header = path.read_text(encoding="utf-8").split('msgid ""', 1)[0]
    ordered = Catalog(locale="zh_CN", header_comment="", project="jiedai", version="0.1")
    ordered.mime_headers = catalogue.mime_headers
    for message in sorted((m for m in catalogue if m.id), key=_key):
        ordered.add(message.id, message.string)
    with path.open("wb") as file:
        write_po(file, ordered, omit_header=True, no_location=True, width=100)
    body = path.read_text(encoding="utf-8")
    meta = 'msgid ""\nmsgstr ""\n' + "".join(
        f'"{key}: {value}\\n"\n'
        for key, value in catalogue.mime_headers
        if key
        in (
            "Project-Id-Version",
            "Language",
            "Language-Team",
            "Plural-Forms",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
        )
    )
    path.write_text(header + meta + "\n" + body, encoding="utf-8")


def main() -> int:
    catalogue = read_catalogue()
    merged = merge_pending(catalogue)
    write_catalogue(catalogue)
    for path in merged:
        path.unlink()
    missing = untranslated(read_catalogue(), extracted_ids())
    for message_id in missing:
        print(f"untranslated: {message_id!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
