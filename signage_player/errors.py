"""The signage player's base error."""


class PlayerError(Exception):
    """Base class for the player's own errors."""
