"""change scopes: a change invalidates only the caches whose inputs it touched

``change_scopes`` holds, per scope key (``group:<name>``, ``screen:<id>``, ``media:<id>``,
``kiosk-catalogue``, ``all``, ``keys``, ...), the generation of the last change that touched it
(``core.changes``). The device-key trigger of s0002 now also stamps ``keys``, so a key revoked by
hand-written SQL still drops every process's memory of that key's grant.

Revision ID: s0005i15
Revises: s0004i17
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "s0005i15"
down_revision: str | Sequence[str] | None = "s0004i17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE manifest_state SET generation = generation + 1 WHERE id = 1"
STAMP = (
    "UPDATE change_scopes SET generation = (SELECT generation FROM manifest_state WHERE id = 1), "
    "changed_at = {now} WHERE scope = 'keys'"
)


def _triggers(dialect: str, body: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS devices_key_changed")
        op.execute("DROP TRIGGER IF EXISTS devices_deleted")
        op.execute(
            "CREATE TRIGGER devices_key_changed AFTER UPDATE OF revoked_at, key_sha256 ON devices "
            "WHEN OLD.revoked_at IS NOT NEW.revoked_at OR OLD.key_sha256 IS NOT NEW.key_sha256 "
            f"BEGIN {body}; END"
        )
        op.execute(f"CREATE TRIGGER devices_deleted AFTER DELETE ON devices BEGIN {body}; END")
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION devices_key_changed() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {body}; RETURN NULL; END $$"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    now = "CURRENT_TIMESTAMP" if dialect == "sqlite" else "now()"
    op.create_table(
        "change_scopes",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_change_scopes")),
    )
    op.create_index(op.f("ix_change_scopes_generation"), "change_scopes", ["generation"])
    op.execute(
        "INSERT INTO change_scopes (scope, generation, changed_at) "
        f"SELECT 'keys', generation, {now} FROM manifest_state WHERE id = 1"
    )
    _triggers(dialect, f"{BUMP}; {STAMP.format(now=now)}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _triggers(dialect, BUMP)
    op.drop_index(op.f("ix_change_scopes_generation"), table_name="change_scopes")
    op.drop_table("change_scopes")
