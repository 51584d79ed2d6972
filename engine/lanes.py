"""Lane names: one role code, or several separated by commas (CONVENTIONS.md)."""

from __future__ import annotations


def role_codes(lane_name: str | None) -> list[str]:
    """Role codes of a lane name (`deputy_director,director` → both)."""
    return [code.strip() for code in (lane_name or "").split(",") if code.strip()]
