"""Seeding the default alert rules of new rule kinds, shared by the fleet revisions that add one
(f0002 ``rollout``, f0003 ``refused_plays``, …): a server made before the kind existed gets its
default rule once; one that already has a rule of the kind is left as it is."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from content_server.core.models import UTCDateTime
from content_server.fleet.rule_kinds import DEFAULT_RULES, seed_row

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


def add_default_rules(kinds: Sequence[str]) -> None:
    """Insert the default rule of each of ``kinds`` that has no rule yet."""
    have = set(op.get_bind().scalars(sa.select(rules.c.kind).where(rules.c.kind.in_(kinds))))
    now = datetime.datetime.now(datetime.UTC)
    missing = [d for d in DEFAULT_RULES if d.kind.value in kinds and d.kind.value not in have]
    if missing:
        op.bulk_insert(rules, [seed_row(d, now) for d in missing])


def remove_rules(kinds: Sequence[str]) -> None:
    op.execute(rules.delete().where(rules.c.kind.in_(kinds)))
