"""The studio's errors: each says, for a person, why an input was refused (no paths, no decoder internals)."""

from __future__ import annotations

from content_server.core.errors import ServerError


class StudioError(ServerError):
    """Base class: a refused input (422 unless a subclass says otherwise)."""

    status_code = 422


class FieldProblem(StudioError):
    """One or more template fields are unacceptable; ``problems`` maps field key -> reason."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in self.problems.items()))


class PdfRefused(StudioError):
    """An uploaded PDF that is not rendered and not stored (encrypted, malformed, hostile, too big)."""


class NotAPdf(PdfRefused):
    status_code = 415


class PdfTooLarge(PdfRefused):
    status_code = 413


class FetchRefused(StudioError):
    """A data source URL the server will not fetch (scheme, forbidden address, too many redirects)."""

    status_code = 400


class FetchFailed(StudioError):
    """A fetch that was tried and failed (timeout, too large, bad status): the last good data stays."""

    status_code = 502


class DataProblem(StudioError):
    """Fetched data that cannot be parsed or mapped onto its template."""

    status_code = 502
