"""What the sandbox reports: problems found before running, and exceptions raised while running."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import JiedaiError


@dataclass(frozen=True)
class SandboxProblem:
    """One reason a script or expression is refused; `line` is 1-based within the source."""

    line: int | None
    reason_zh: str
    reason_en: str

    def describe(self, locale: str = "zh_CN") -> str:
        """The reason in one language, prefixed with the line when known."""
        english = locale.startswith("en")
        reason = self.reason_en if english else self.reason_zh
        if self.line is None:
            return reason
        return f"line {self.line}: {reason}" if english else f"第{self.line}行：{reason}"


class SandboxViolation(JiedaiError):
    """A script or expression tried something the sandbox refuses.

    `args[0]` is the English message (SpiffWorkflow concatenates it into its own error);
    `message_zh` / `message_en` carry both languages, `line` the first offending line."""

    prefix_zh = "脚本被沙箱拒绝："
    prefix_en = "Refused by the sandbox: "

    def __init__(
        self,
        reason_zh: str,
        reason_en: str,
        *,
        line: int | None = None,
        problems: Sequence[SandboxProblem] = (),
    ):
        super().__init__(self.prefix_zh + reason_zh, self.prefix_en + reason_en)
        self.line = line
        self.problems = list(problems) or [SandboxProblem(line, reason_zh, reason_en)]

    @classmethod
    def from_problems(cls, problems: Sequence[SandboxProblem]) -> SandboxViolation:
        """One exception listing every problem (static check results)."""
        return cls(
            "；".join(p.describe("zh_CN") for p in problems),
            "; ".join(p.describe("en") for p in problems),
            line=next((p.line for p in problems if p.line is not None), None),
            problems=problems,
        )


class SandboxLimitExceeded(SandboxViolation):
    """A running script went over its operation, size, depth or time budget."""

    prefix_zh = "脚本超出限制："
    prefix_en = "Script limit exceeded: "
