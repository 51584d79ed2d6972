"""Alembic environment: runs against the connection `engine.schema.migrate` hands over."""

from alembic import context

import engine.archive  # noqa: F401 — tables outside engine.models, for autogenerate
import engine.notifications  # noqa: F401
import engine.settings  # noqa: F401
import workflows.models  # noqa: F401 — the registers' tables, for autogenerate
from engine.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
