"""Fixtures for the forms tests: the shipped P3 schemas and the names scripts reserve."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import pytest

from forms.schema import SCHEMAS_DIR, load_schema

# What the deploy check will pass as reserved_names: builtins plus the sandbox helpers.
RESERVED = frozenset(dir(builtins)) | {
    "working_days",
    "add_working_days",
    "now",
    "today",
    "date",
    "datetime",
    "timedelta",
    "decimal",
}


@pytest.fixture
def reserved() -> frozenset[str]:
    return RESERVED


@pytest.fixture
def schema() -> Callable[[str], dict[str, Any]]:
    """Load a shipped schema by its name without `.json`."""

    def load(name: str) -> dict[str, Any]:
        return load_schema(SCHEMAS_DIR / f"{name}.json")

    return load
