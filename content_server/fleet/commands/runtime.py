"""Wiring of remote commands into a running server: the long-polls' notifier, started and stopped."""

from __future__ import annotations

import logging

from content_server.core.api import ContentServer
from content_server.fleet.commands.notifier import CommandNotifier

log = logging.getLogger(__name__)


def prepare(app: ContentServer) -> None:
    """In ``create_app``: the notifier exists before any request (it starts with the database)."""
    app.state.command_notifier = CommandNotifier()


def start(app: ContentServer) -> None:
    """Start-up hook (on the event loop, the database ready): watch for new commands."""
    app.state.command_notifier.start(app.state.sessions)
    log.info("command long-polls ready")


def stop(app: ContentServer) -> None:
    """Shutdown hook: waiting command long-polls answer now."""
    notifier: CommandNotifier = app.state.command_notifier
    notifier.close()
