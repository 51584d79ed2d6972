"""Process versions are immutable, so what is parsed from them is cached per process.

The key is the bundle's checksum, not the row id: the same id can name different bundles in
two databases (tests, a restored backup), the same checksum never does."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec

from .bundles import FORM_PREFIX
from .models import ProcessVersion
from .serialization import load_specs

MAX_VERSIONS = 64
T = TypeVar("T")


class _VersionCache:
    """A small LRU of values derived from immutable versions, keyed by bundle checksum."""

    def __init__(self, load: Callable[[ProcessVersion], T]):
        self._load = load
        self._values: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: ProcessVersion) -> T:
        key = version.checksum
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = self._load(version)  # outside the lock: deserializing takes milliseconds
        with self._lock:
            self._values[key] = value
            while len(self._values) > MAX_VERSIONS:
                self._values.popitem(last=False)
        return value


def _form_schemas(version: ProcessVersion) -> dict[str, dict]:
    return {
        name.removeprefix(FORM_PREFIX): json.loads(text)
        for name, text in version.files.items()
        if name.startswith(FORM_PREFIX)
    }


_specs = _VersionCache(lambda version: load_specs(version.spec_json))
_forms = _VersionCache(_form_schemas)


def specs_for(version: ProcessVersion) -> tuple[BpmnProcessSpec, dict]:
    """The version's (spec, subprocess_specs), deserialized once per process."""
    return _specs.get(version)


def form_schemas(version: ProcessVersion) -> dict[str, dict]:
    """The version's form schemas by file name, parsed once per process. Do not mutate."""
    return _forms.get(version)
