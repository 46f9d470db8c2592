"""studio: designed slides, PDF notices and their pages, live data sources

Revision ID: st0001
Revises:
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from content_server.core.models import UTCDateTime

revision: str = "st0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("studio",)
depends_on: str | Sequence[str] | None = "s0001"


def upgrade() -> None:
    op.create_table(
        "studio_templates",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "owner_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("design", sa.String(32), nullable=False),
        sa.Column("palette", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column(
            "photo_media_id", sa.String(32), sa.ForeignKey("media.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("media_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "studio_pdfs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "owner_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("upload_sha256", sa.String(64), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "studio_pdf_pages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "document_id",
            sa.String(32),
            sa.ForeignKey("studio_pdfs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("dwell_s", sa.Float(), nullable=False),
        sa.Column("text_chars", sa.Integer(), nullable=False),
        sa.Column("thumbnail_sha256", sa.String(64), nullable=False),
        sa.Column("media_ids", sa.JSON(), nullable=False),
    )
    op.create_table(
        "studio_sources",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "owner_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("allow_networks", sa.JSON(), nullable=False),
        sa.Column("etag", sa.String(256), nullable=True),
        sa.Column("last_modified", sa.String(64), nullable=True),
        sa.Column("fetched_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("ticker", sa.Text(), nullable=False),
        sa.Column("media_ids", sa.JSON(), nullable=False),
        sa.Column(
            "announcement_id",
            sa.String(32),
            sa.ForeignKey("announcements.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("studio_sources")
    op.drop_table("studio_pdf_pages")
    op.drop_table("studio_pdfs")
    op.drop_table("studio_templates")
