"""device keys bump the change counter from the database itself

A device key's revocation (``revoked_at``), replacement (``key_sha256``) or deletion bumps
``manifest_state.generation`` in a trigger, so every path that can end a key, SQL written by
hand included, moves the counter the poll fast path checks. The counter row is made here
instead of lazily on the first change.

Revision ID: s0002
Revises: s0001
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "s0002"
down_revision: str | Sequence[str] | None = "s0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE manifest_state SET generation = generation + 1 WHERE id = 1"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    now = "CURRENT_TIMESTAMP" if dialect == "sqlite" else "now()"
    op.execute(
        "INSERT INTO manifest_state (id, generation, emergency_generation, changed_at) "
        f"SELECT 1, 0, 0, {now} WHERE NOT EXISTS (SELECT 1 FROM manifest_state WHERE id = 1)"
    )
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER devices_key_changed AFTER UPDATE OF revoked_at, key_sha256 ON devices "
            "WHEN OLD.revoked_at IS NOT NEW.revoked_at OR OLD.key_sha256 IS NOT NEW.key_sha256 "
            f"BEGIN {BUMP}; END"
        )
        op.execute(f"CREATE TRIGGER devices_deleted AFTER DELETE ON devices BEGIN {BUMP}; END")
        return
    op.execute(
        "CREATE FUNCTION devices_key_changed() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER devices_key_changed AFTER UPDATE OF revoked_at, key_sha256 ON devices "
        "FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at "
        "OR OLD.key_sha256 IS DISTINCT FROM NEW.key_sha256) EXECUTE FUNCTION devices_key_changed()"
    )
    op.execute(
        "CREATE TRIGGER devices_deleted AFTER DELETE ON devices "
        "FOR EACH ROW EXECUTE FUNCTION devices_key_changed()"
    )


def downgrade() -> None:
    on = " ON devices" if op.get_bind().dialect.name == "postgresql" else ""
    op.execute(f"DROP TRIGGER IF EXISTS devices_key_changed{on}")
    op.execute(f"DROP TRIGGER IF EXISTS devices_deleted{on}")
    if on:
        op.execute("DROP FUNCTION IF EXISTS devices_key_changed()")
