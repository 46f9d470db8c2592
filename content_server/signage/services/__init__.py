"""Signage business logic: plain functions over a SQLAlchemy session, shared by the JSON API and
the portal's pages; each function that changes something commits it (routes never commit)."""
