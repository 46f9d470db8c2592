"""Alembic environment: uses the connection handed over by ``content_server.core.migrate``, or the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

# every feature's tables on the one Base (a new feature adds its models here; autogenerate sees them)
import content_server.core.audit.models
import content_server.core.changes
import content_server.core.delivery.models
import content_server.core.leases
import content_server.core.metrics.models
import content_server.fleet.commands.models
import content_server.fleet.models
import content_server.kiosk.models
import content_server.signage.models
import content_server.studio.models
import content_server.updates.models  # noqa: F401
from content_server.core.models import Base

target_metadata = Base.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
