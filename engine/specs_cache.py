"""Process versions are immutable, so their parsed specs are cached by version id."""

from __future__ import annotations

import threading
from collections import OrderedDict

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec

from .models import ProcessVersion
from .serialization import load_specs

MAX_VERSIONS = 64

_cache: OrderedDict[int, tuple[BpmnProcessSpec, dict]] = OrderedDict()
_lock = threading.Lock()


def specs_for(version: ProcessVersion) -> tuple[BpmnProcessSpec, dict]:
    """The version's (spec, subprocess_specs), deserialized once per process."""
    with _lock:
        if version.id in _cache:
            _cache.move_to_end(version.id)
            return _cache[version.id]
    specs = load_specs(version.spec_json)
    with _lock:
        _cache[version.id] = specs
        while len(_cache) > MAX_VERSIONS:
            _cache.popitem(last=False)
    return specs
