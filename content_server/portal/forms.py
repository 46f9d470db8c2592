"""Turning portal form fields into values (dates, times, numbers, lists), with errors the page can
translate; shared by every feature's pages.

Pure functions: no web framework, no database. A bad field raises :class:`FormError` naming a
translation key, so the page re-renders with the user's input kept and a clear message.
"""

from __future__ import annotations

import datetime as dt


class FormError(ValueError):
    """A field the user must fix; ``key`` is a translation key, ``params`` its placeholders."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def split_list(text: str, *, limit: int = 50) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; Chinese commas count too."""
    parts = [p.strip() for p in text.replace("，", ",").split(",")]
    return sorted({p for p in parts if p})[:limit]


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise FormError("error.bad_date") from exc


def parse_time(text: str) -> dt.time | None:
    """``"07:30"`` -> a time; empty -> None."""
    if not text.strip():
        return None
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError as exc:
        raise FormError("error.bad_time") from exc


def parse_local_datetime(text: str, tz: dt.tzinfo) -> dt.datetime | None:
    """A ``datetime-local`` field in the operator's zone -> aware UTC; empty -> None."""
    if not text.strip():
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise FormError("error.bad_date") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC)


def parse_number(text: str, field: str, *, low: float, high: float) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise FormError("error.bad_number", field=field) from exc
    if not low <= value <= high:
        raise FormError("error.bad_number", field=field)
    return value
