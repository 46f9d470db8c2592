"""The content server's base error and the HTTP-flavoured subclasses services raise.

Services raise these (no FastAPI import needed); the app turns them into JSON
``{"detail": message}`` responses with ``status_code``.
"""


class ServerError(Exception):
    """Base class for the content server's own errors; a client mistake unless a subclass says otherwise."""

    status_code = 400


class NotFound(ServerError):
    """Unknown id, or one the caller may not learn exists (other advertisers' things)."""

    status_code = 404


class Forbidden(ServerError):
    status_code = 403


class Unauthorized(ServerError):
    status_code = 401


class Conflict(ServerError):
    status_code = 409


class Invalid(ServerError):
    """Well-formed request whose content is unacceptable (bad media, unknown time zone, …)."""

    status_code = 422


class TooLarge(ServerError):
    status_code = 413


class UnsupportedMedia(ServerError):
    status_code = 415


class StorageFull(ServerError):
    """The server's disk is full: nothing was stored; the same request can be retried later."""

    status_code = 507
