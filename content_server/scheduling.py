"""The one place the server calls the scheduling engine (``schedules``), so API changes touch one file."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Sequence
from dataclasses import dataclass

from content_server.core.errors import Invalid
from schedules.errors import ScheduleError
from schedules.model import Campaign, Catalogue, Screen, Slot, Targeting


def targets(targeting: Targeting, screen: Screen) -> bool:
    from schedules.targeting import matches

    try:
        return matches(targeting, screen)
    except ScheduleError as exc:
        raise Invalid(f"targeting: {exc}") from exc


def validate_screen(screen: Screen) -> None:
    """Refuse settings the engine cannot schedule (unknown zone, impossible hours) with a clear 422."""
    from schedules.engine import validate_screen as engine_validate

    try:
        engine_validate(screen)
    except ScheduleError as exc:
        raise Invalid(str(exc)) from exc


def validate_targeting(targeting: Targeting) -> None:
    """Refuse unparsable tag expressions up front (clear 422 instead of a failure at manifest time)."""
    if targeting.tag_expr:
        from schedules.targeting import parse_tag_expr

        try:
            parse_tag_expr(targeting.tag_expr)
        except ScheduleError as exc:
            raise Invalid(f"targeting.tag_expr: {exc}") from exc


@dataclass(frozen=True)
class AvailabilityResult:
    fits: bool
    max_share_percent: float
    conflicts: list[str]


def check_availability(
    screens: Sequence[Screen], catalogue: Catalogue, request: Campaign, *, start: dt.date | None = None
) -> AvailabilityResult:
    """Whether a booking fits next to the approved ones, with readable conflicts."""
    from schedules.availability import check_availability as engine_check

    try:
        result = engine_check(list(screens), catalogue, request, start=start)
    except ScheduleError as exc:
        raise Invalid(str(exc)) from exc
    days = "MonTueWedThuFriSatSun"
    conflicts = [
        f"screen {c.screen_id}, {days[3 * c.weekday : 3 * c.weekday + 3]} {c.start:%H:%M}-{c.end:%H:%M} "
        f"({len(c.dates)} day(s) from {min(c.dates, default='?')}): "
        f"{c.requested_percent:.0f}% requested, {c.free_percent:.0f}% free"
        for c in result.conflicts[:50]
    ]
    if result.unplayable_screen_ids:
        conflicts.append(f"{len(result.unplayable_screen_ids)} targeted screen(s) cannot play these items")
    return AvailabilityResult(result.fits, result.max_share_percent, conflicts)


def slots(screen: Screen, catalogue: Catalogue, start: dt.datetime, end: dt.datetime) -> list[Slot]:
    """The screen's timeline between ``start`` and ``end``."""
    timeline = importlib.import_module("schedules.timeline")
    return list(timeline.timeline(screen, catalogue, start, end).slots())
