"""The scheduling engine's own error."""


class ScheduleError(ValueError):
    """Invalid input to the engine. ``field`` names the offending input field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
