"""Signage player: offline-first playback of a screen's schedule from a verified cache."""

__version__ = "0.1.0"
