"""fleet: the default alert rule for devices whose proof of play is refused

Servers made before rule kind ``refused_plays`` existed (issue 21) get its default rule
(``fleet.rule_kinds.DEFAULT_RULES``), as f0002 did for ``rollout``; a server that already has a
rule of the kind (a new one, seeded by f0001) is left as it is.

Revision ID: f0003
Revises: f0002
Create Date: 2026-12-16 10:30:00
"""

import datetime
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from content_server.core.models import UTCDateTime
from content_server.fleet.rule_kinds import DEFAULT_RULES, seed_row

revision: str = "f0003"
down_revision: str | Sequence[str] | None = "f0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("refused_plays",)  # the kinds whose default rules this revision adds

rules = sa.table(
    "fleet_rules",
    sa.column("id", sa.String),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("enabled", sa.Boolean),
    sa.column("selector", sa.JSON),
    sa.column("params", sa.JSON),
    sa.column("hold_for_s", sa.Integer),
    sa.column("clear_for_s", sa.Integer),
    sa.column("group_wait_s", sa.Integer),
    sa.column("group_by", sa.String),
    sa.column("escalate_after_s", sa.Integer),
    sa.column("channel_ids", sa.JSON),
    sa.column("escalate_channel_ids", sa.JSON),
    sa.column("builtin", sa.Boolean),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def upgrade() -> None:
    have = set(op.get_bind().scalars(sa.select(rules.c.kind).where(rules.c.kind.in_(KINDS))))
    now = datetime.datetime.now(datetime.UTC)
    missing = [d for d in DEFAULT_RULES if d.kind.value in KINDS and d.kind.value not in have]
    if not missing:
        return
    op.bulk_insert(rules, [seed_row(d, now) for d in missing])


def downgrade() -> None:
    op.execute(rules.delete().where(rules.c.kind.in_(KINDS)))
