"""fleet: the default alert rule for rollouts that pause themselves

Servers made before rule kind ``rollout`` existed get its default rule
(``fleet.rule_kinds.DEFAULT_RULES``), as f0001 gives a new server every default rule; a server
that already has a rule of the kind (a new one, seeded by f0001) is left as it is.

Revision ID: f0002
Revises: f0001
Create Date: 2026-12-14 20:00:00
"""

from collections.abc import Sequence

from content_server.migrations.fleet_rules import add_default_rules, remove_rules

revision: str = "f0002"
down_revision: str | Sequence[str] | None = "f0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("rollout",)  # the kinds whose default rules this revision adds


def upgrade() -> None:
    add_default_rules(KINDS)


def downgrade() -> None:
    remove_rules(KINDS)
