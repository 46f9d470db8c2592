"""The fleet feature's errors: a setting that cannot work names its field, so pages can say which."""

from __future__ import annotations

from content_server.core.errors import Invalid


class FieldInvalid(Invalid):
    """``field`` (a form field: ``config.host``, ``quiet_start``, ``minutes``) cannot be used as given."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message
