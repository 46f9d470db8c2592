"""JSON API under ``/api/v1``: typed dependencies in :mod:`deps`, one router module per feature."""
