"""Every register table, so Alembic's autogenerate sees them all."""

from .p1.models import Visit  # noqa: F401
from .p2.models import MeetingBooking  # noqa: F401
from .p3.models import MonthlyReport, OwnerContact  # noqa: F401
from .p4.models import DepositEntry, Pass, PassCounter  # noqa: F401
