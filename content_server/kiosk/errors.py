"""Errors of the kiosk back end, all under the server's base error."""

from __future__ import annotations

from content_server.core.errors import ServerError


class KioskServerError(ServerError):
    """Base class for kiosk back-end errors."""


class IllegalTransition(KioskServerError):
    """A state machine was asked for a change its current state does not allow."""

    status_code = 409

    def __init__(self, machine: str, state: str, target: str) -> None:
        super().__init__(f"{machine}: cannot go from {state!r} to {target!r}")
        self.state = state
        self.target = target


class InvalidInput(KioskServerError):
    """Input failed validation; ``field`` names it."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotificationRejected(KioskServerError):
    """A payment notification failed verification; it changes nothing and is logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"notification rejected: {reason}")
        self.reason = reason


class TokenRejected(KioskServerError):
    """An offline order token is forged, altered, expired or malformed."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"offline order token rejected: {reason}")
        self.reason = reason


class ProviderError(KioskServerError):
    """A payment provider refused or failed a call."""

    status_code = 502
