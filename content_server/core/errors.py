"""The content server's base error and the HTTP-flavoured subclasses services raise.

Services raise these (no FastAPI import needed); the app turns them into JSON
``{"detail": message}`` responses with ``status_code``.
"""

from typing import Self


class ServerError(Exception):
    """Base class for the content server's own errors; a client mistake unless a subclass says otherwise.

    ``texts`` optionally carries the message for people in both languages (``{"zh", "en"}``);
    answers then hold it as ``reason`` next to ``detail``, so the portal can show the reader's
    language.
    """

    status_code = 400
    retry_after_s: float | None = None  # sent as ``Retry-After``: when the same request may succeed
    texts: dict[str, str] | None = None
    details: dict[str, object] | None = None  # structured facts for the caller (what conflicts)

    def in_both(self, zh: str, en: str) -> Self:
        self.texts = {"zh": zh, "en": en}
        return self


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


class Busy(ServerError):
    """Too much work queued right now (a fleet starting at once): nothing was done; the same request
    succeeds after ``retry_after_s``, which the server spreads so that the callers do not return
    together."""

    status_code = 503
    retry_after_s: float

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("the server is busy; try again after the time in Retry-After")
        self.retry_after_s = retry_after_s
