"""The content server's base error."""


class ServerError(Exception):
    """Base class for the content server's own errors."""
