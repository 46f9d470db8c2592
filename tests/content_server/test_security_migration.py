"""The Alembic ``security`` branch creates exactly the ORM's tables, gives existing accounts their
username keys (look-alikes kept apart), and downgrades again."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import content_server.kiosk.models
import content_server.signage.models  # noqa: F401  (registers the feature tables)
from content_server.core.db import make_engine
from content_server.core.migrate import alembic_config, upgrade
from content_server.core.models import Base

MINE = ("throttle_state", "served_manifests", "play_refusals", "username_key", "kiosk_lookup_failures")


def test_security_branch_matches_models_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if any(name in repr(d) for name in MINE)] == []
    command.downgrade(alembic_config(url), "security@base")
    tables = set(inspect(engine).get_table_names())
    assert "throttle_state" not in tables and "kiosk_lookup_failures" in tables
    assert "username_key" not in {c["name"] for c in inspect(engine).get_columns("users")}
    engine.dispose()


def test_existing_accounts_get_keys_and_look_alikes_stay_apart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    command.upgrade(alembic_config(url), "s0001")
    command.upgrade(alembic_config(url), "k0001")
    with engine.begin() as conn:
        for i, name in enumerate(["operator", "Operator", "bakery"]):
            conn.execute(
                text("INSERT INTO users (id, username, password_hash, role, approved, display_name, disabled,"
                     " created_at) VALUES (:id, :name, 'x', 'operator', 1, '', 0, :at)"),
                {"id": f"u{i}", "name": name, "at": dt.datetime(2026, 1, 1, i, tzinfo=dt.UTC)},
            )
    upgrade(engine)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT username, username_key FROM users")).all())
    assert keys == {"operator": "operator", "Operator": "operator#u1", "bakery": "bakery"}
    engine.dispose()


def test_refusal_counts_move_from_days_to_minutes_and_back(tmp_path: Path) -> None:
    """sec0002: a day's count moves to its first UTC minute (the report adds up the same); back again,
    a day's minutes are summed."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    command.downgrade(alembic_config(url), "sec0001")
    with sqlite3.connect(tmp_path / "db.sqlite") as raw:
        raw.execute("INSERT INTO devices (id, name, kind, key_sha256, public_key, screen_class, orientation,"
                    " width, height, groups, tags, timezone, hours, created_at, player_version,"
                    " screenshot_requested) VALUES ('d1', 'lobby', 'player', 'k', 'p', 'indoor_small',"
                    " 'portrait', 1080, 1920, '[]', '[]', 'Asia/Shanghai', '{}', '2026-12-01 00:00:00',"
                    " '1', 0)")
        raw.execute("INSERT INTO play_refusals (device_id, day, reason, count, last_at)"
                    " VALUES ('d1', '2026-12-01', 'future', 7, '2026-12-01 09:30:00.000000')")
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT device_id, minute, reason, count FROM play_refusals")).all()
    assert [(d, str(m)[:16], r, n) for d, m, r, n in rows] == [("d1", "2026-12-01 00:00", "future", 7)]
    with sqlite3.connect(tmp_path / "db.sqlite") as raw:
        raw.execute("INSERT INTO play_refusals (device_id, minute, reason, count, last_at)"
                    " VALUES ('d1', '2026-12-01 09:30:00.000000', 'future', 3, '2026-12-01 09:30:00.000000')")
    command.downgrade(alembic_config(url), "sec0001")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT device_id, day, reason, count FROM play_refusals")).all()
    assert [tuple(r) for r in rows] == [("d1", "2026-12-01", "future", 10)]
    engine.dispose()
