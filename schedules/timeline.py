"""Public timeline API: what a screen shows between two instants, and facts at one instant.

``timeline()`` returns a compact :class:`Timeline` (segments of repeating loops); call
``slots()``, ``slot_at()`` or ``next_change()`` on it. Slots are UTC-aware, cover exactly the
screen's operating hours within [start, end), and are the same for the same inputs. The
engine behind it is cached per catalogue object (see :func:`schedules.engine.engine_for`);
hold a :class:`schedules.engine.ScheduleEngine` yourself to control its lifetime.
"""

from __future__ import annotations

import datetime as dt

from schedules.engine import by_priority, engine_for, validate_screen
from schedules.model import Announcement, Catalogue, Priority, Screen
from schedules.segments import Placed, Segment, Timeline
from schedules.wallclock import is_on_at, require_aware

__all__ = ["Placed", "Segment", "Timeline", "active_emergency", "is_on", "ticker_texts", "timeline"]


def timeline(screen: Screen, catalogue: Catalogue, start: dt.datetime, end: dt.datetime) -> Timeline:
    """The screen's schedule over [start, end); ``ScheduleError`` names the field on bad input."""
    return engine_for(catalogue).timeline(screen, start, end)


def is_on(screen: Screen, t: dt.datetime) -> bool:
    """Whether the screen is on at ``t`` (operating hours and holidays, in its local time)."""
    validate_screen(screen)
    return is_on_at(screen.hours, screen.timezone, require_aware(t, "t"))


def ticker_texts(screen: Screen, catalogue: Catalogue, at: dt.datetime) -> list[dict[str, str]]:
    """Ticker lines (lang -> text) of the announcements active on the screen, priority first."""
    anns = engine_for(catalogue).active_announcements(screen, at)
    return [dict(a.ticker_text) for a in by_priority(anns) if a.ticker_text]


def active_emergency(screen: Screen, catalogue: Catalogue, at: dt.datetime) -> Announcement | None:
    """The newest emergency announcement active on the screen at ``at``, if any."""
    anns = engine_for(catalogue).active_announcements(screen, at)
    for a in by_priority(anns):
        if a.priority is Priority.EMERGENCY:
            return a
    return None
