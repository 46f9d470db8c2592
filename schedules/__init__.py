"""Shared scheduling engine: pure Python (no Qt, no database, no network); time is passed in."""
