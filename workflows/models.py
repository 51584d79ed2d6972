"""Every register table, so Alembic's autogenerate sees them all."""

from .p3.models import OwnerContact  # noqa: F401
