"""kiosk audit rows join the one audit trail

The kiosk back end kept its own audit table; its rows are appended, in their order, to the core
trail (hash-chained after whatever it already holds), and the table is dropped. Actors keep
their labels: ``user:<id>`` (with the account's name and role), ``kiosk:<id>`` (a device),
``provider:<name>``, ``system``.

Revision ID: k0004i16
Revises: k0003i14k
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from content_server.core.audit.chain import Entry, jsonable, link
from content_server.core.models import UTCDateTime

revision: str = "k0004i16"
down_revision: str | Sequence[str] | None = "k0003i14k"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "c0001"

KINDS = {"user": "user", "kiosk": "device", "provider": "provider", "system": "system"}


def _actor(label: str, users: dict[str, tuple[str, str]]) -> tuple[str, str, str, str]:
    prefix, _, ident = label.partition(":")
    kind = KINDS.get(prefix, prefix)
    if kind == "system":
        return "system", "system", "system", "system"
    if kind == "user" and ident in users:
        name, role = users[ident]
        return "user", ident, name, role
    return kind, ident or prefix, ident, "kiosk" if kind == "device" else kind


def upgrade() -> None:
    conn = op.get_bind()
    users = {
        r.id: (r.username, r.role) for r in conn.execute(sa.text("SELECT id, username, role FROM users"))
    }
    head = conn.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
    seq, prev = head.seq, head.hash
    kiosk_audit = sa.table(
        "kiosk_audit",
        sa.column("id", sa.Integer),
        sa.column("at", UTCDateTime()),
        *(sa.column(c, sa.String) for c in ("actor", "action", "entity", "entity_id")),
        sa.column("before", sa.JSON),
        sa.column("after", sa.JSON),
    )
    old = conn.execute(sa.select(kiosk_audit).order_by(kiosk_audit.c.id))
    records = sa.table(
        "audit_records",
        sa.column("at", UTCDateTime()),
        *(
            sa.column(c)
            for c in (
                "seq",
                "actor_kind",
                "actor_id",
                "actor_name",
                "role",
                "address",
                "action",
                "entity",
                "entity_id",
                "prev_hash",
                "hash",
            )
        ),
        sa.column("before", sa.JSON),
        sa.column("after", sa.JSON),
    )
    rows: list[dict[str, Any]] = []
    for r in old:
        at = r.at
        kind, ident, name, role = _actor(r.actor, users)
        before = jsonable(r.before) if r.before is not None else None
        after = jsonable(r.after) if r.after is not None else None
        entry = Entry(at, kind, ident, name, role, "", r.action, r.entity, r.entity_id, before, after)
        chained = link(seq + 1, prev, entry)
        seq, prev = chained.seq, chained.hash
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor_kind": kind,
                "actor_id": ident,
                "actor_name": name,
                "role": role,
                "address": "",
                "action": r.action,
                "entity": r.entity,
                "entity_id": r.entity_id,
                "before": before,
                "after": after,
                "prev_hash": chained.prev_hash,
                "hash": chained.hash,
            }
        )
    if rows:
        op.bulk_insert(records, rows)
        bump = sa.text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1")
        conn.execute(bump, {"seq": seq, "hash": prev})
    with op.batch_alter_table("kiosk_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_audit_entity_id"))
        batch_op.drop_index(batch_op.f("ix_kiosk_audit_at"))
    op.drop_table("kiosk_audit")


def downgrade() -> None:
    """The kiosk table comes back empty: its records stay in the one trail (it is append-only)."""
    op.create_table(
        "kiosk_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_audit")),
    )
    with op.batch_alter_table("kiosk_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kiosk_audit_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_kiosk_audit_entity_id"), ["entity_id"], unique=False)
