"""The helpers scripts get besides the builtins: value classes and business-time functions.

Functions that compute a due time return ISO 8601 text with an offset, because SpiffWorkflow
parses a timer expression's result as a string (a `datetime` object fails there). "Now" is
`datetime.now(UTC)` (UTC is `timezone.utc`), which time-machine controls in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from engine.working_days import WorkdayCalendar, add_working_days, business_timezone

from .budget import SandboxLimits
from .errors import SandboxLimitExceeded


def script_helpers(calendar: WorkdayCalendar | None, limits: SandboxLimits) -> dict[str, object]:
    """The helper names of `policy.HELPER_NAMES`, bound to a working-day calendar."""

    def working_days(days: int) -> str:
        """Now plus `days` working days, same time of day, as ISO 8601 with offset."""
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"working_days() needs a whole number, not {type(days).__name__}")
        if abs(days) > limits.max_working_days:
            raise SandboxLimitExceeded(
                f"working_days() 的天数超过 {limits.max_working_days}",
                f"working_days() beyond {limits.max_working_days} days",
            )
        return add_working_days(datetime.now(UTC), days, calendar).isoformat()

    def now_iso() -> str:
        """The current time in the business time zone, ISO 8601 with offset."""
        return datetime.now(UTC).astimezone(business_timezone()).isoformat()

    def today_iso() -> str:
        """Today's business date (Asia/Shanghai by default), YYYY-MM-DD."""
        return datetime.now(UTC).astimezone(business_timezone()).date().isoformat()

    return {
        "Decimal": Decimal,
        "date": date,
        "datetime": datetime,
        "timedelta": timedelta,
        "working_days": working_days,
        "now_iso": now_iso,
        "today_iso": today_iso,
    }
