"""fleet: the default alert rule for devices whose proof of play is refused

Servers made before rule kind ``refused_plays`` existed (issue 21) get its default rule
(``fleet.rule_kinds.DEFAULT_RULES``), as f0002 did for ``rollout``; a server that already has a
rule of the kind (a new one, seeded by f0001) is left as it is.

Revision ID: f0003
Revises: f0002
Create Date: 2026-12-16 10:30:00
"""

from collections.abc import Sequence

from content_server.migrations.fleet_rules import add_default_rules, remove_rules

revision: str = "f0003"
down_revision: str | Sequence[str] | None = "f0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("refused_plays",)  # the kinds whose default rules this revision adds


def upgrade() -> None:
    add_default_rules(KINDS)


def downgrade() -> None:
    remove_rules(KINDS)
