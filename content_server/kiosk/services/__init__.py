"""Kiosk back-end services: each function owns its transaction (commits what it changed)."""
