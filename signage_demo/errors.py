"""The demo launcher's base error: something the demo needs is missing or refused."""

from __future__ import annotations


class DemoError(Exception):
    """The demo cannot go on (a missing font or ffmpeg, a server that refused a seeding request)."""
