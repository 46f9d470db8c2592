"""The kiosk app's base error."""


class KioskError(Exception):
    """Base class for the kiosk app's own errors."""
