"""Parsing uploaded XML without external entities, network access or entity expansion."""

from __future__ import annotations

from lxml import etree

MAX_XML_BYTES = 5 * 1024 * 1024


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


class UnsafeXml(ValueError):
    """The document declares a DTD or entities, or is too large."""


def parse_xml(data: bytes) -> etree._Element:
    """Parse `data` safely; raises `etree.XMLSyntaxError` or `UnsafeXml`."""
    if len(data) > MAX_XML_BYTES:
        raise UnsafeXml(f"larger than {MAX_XML_BYTES // 1024 // 1024} MB")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        # Refused before parsing (UTF-8 and ASCII-compatible encodings): an entity bomb never
        # reaches libxml2. Other encodings are caught by the check after parsing, and libxml2
        # refuses entity amplification on its own.
        raise UnsafeXml("DTD and entity declarations are not allowed")
    root = etree.fromstring(data, _parser())
    if root.getroottree().docinfo.internalDTD is not None or b"<!ENTITY" in data:
        raise UnsafeXml("DTD and entity declarations are not allowed")
    return root
