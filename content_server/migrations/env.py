"""Alembic environment: uses the connection handed over by ``content_server.core.migrate``, or the URL."""

from __future__ import annotations

import importlib.util

from alembic import context
from sqlalchemy import engine_from_config, pool

from content_server.core.models import Base

if importlib.util.find_spec("content_server.kiosk.models") is not None:
    import content_server.kiosk.models  # noqa: F401  (registers the kiosk tables on Base)

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
