"""The Alembic ``kiosk`` branch creates exactly the ORM's tables and can be downgraded again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import content_server.kiosk.models  # noqa: F401  (registers the kiosk tables)
from content_server.core.db import make_engine
from content_server.core.migrate import alembic_config, upgrade
from content_server.core.models import Base


def test_kiosk_branch_matches_models_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    kiosk_diff = [d for d in diff if "kiosk" in repr(d) or "community_pay" in repr(d)]
    assert kiosk_diff == []
    tables = set(inspect(engine).get_table_names())
    assert {"kiosk_orders", "kiosk_cases", "community_pay_trades"} <= tables
    assert "kiosk_audit" not in tables  # its records joined the one audit trail (k0004i16)
    command.downgrade(alembic_config(url), "kiosk@base")
    left = set(inspect(engine).get_table_names())
    assert not any(t.startswith(("kiosk_", "community_pay")) for t in left) and "users" in left
    engine.dispose()
