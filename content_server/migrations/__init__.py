"""Alembic migrations (branches ``signage`` and ``kiosk``), applied programmatically at start."""
