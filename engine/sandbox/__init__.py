"""The script sandbox: static check, RestrictedPython environment, bounds and helpers.

Public API:
    check_source(source, *, mode, known_names) -> list[SandboxProblem]
    check_dmn_entry(entry_text, known_names, *, input_expression=None, output=False)
    SandboxedEnvironment(*, limits=None, calendar=None)   # a SpiffWorkflow environment
    SandboxLimits, SandboxProblem, SandboxViolation, SandboxLimitExceeded
    RESERVED_NAMES   # helpers + whitelisted builtins: form fields may not take these names
"""

from .budget import SandboxLimits
from .checker import check_source
from .dmn import check_dmn_entry
from .environment import SandboxedEnvironment
from .errors import SandboxLimitExceeded, SandboxProblem, SandboxViolation
from .policy import HELPER_NAMES, RESERVED_NAMES, SAFE_BUILTIN_NAMES

__all__ = [
    "HELPER_NAMES",
    "RESERVED_NAMES",
    "SAFE_BUILTIN_NAMES",
    "SandboxLimitExceeded",
    "SandboxLimits",
    "SandboxProblem",
    "SandboxViolation",
    "SandboxedEnvironment",
    "check_dmn_entry",
    "check_source",
]
