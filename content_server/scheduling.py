"""The one place the server calls the scheduling engine (``schedules``), so API changes touch one file."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Sequence
from typing import Any

from content_server.errors import Invalid
from schedules.errors import ScheduleError
from schedules.model import Campaign, Catalogue, Screen, Slot, Targeting


def targets(targeting: Targeting, screen: Screen) -> bool:
    from schedules.targeting import matches

    try:
        return matches(targeting, screen)
    except ScheduleError as exc:
        raise Invalid(f"targeting: {exc}") from exc


def validate_targeting(targeting: Targeting) -> None:
    """Refuse unparsable tag expressions up front (clear 422 instead of a failure at manifest time)."""
    if targeting.tag_expr:
        from schedules.targeting import parse_tag_expr

        try:
            parse_tag_expr(targeting.tag_expr)
        except ScheduleError as exc:
            raise Invalid(f"targeting.tag_expr: {exc}") from exc


def check_availability(
    screens: Sequence[Screen], catalogue: Catalogue, request: Campaign, *, start: dt.datetime | None = None
) -> Any:
    """``schedules.availability.check_availability`` -> Availability(fits, max_share_percent, conflicts)."""
    availability = importlib.import_module("schedules.availability")
    try:
        return availability.check_availability(list(screens), catalogue, request, start=start)
    except ScheduleError as exc:
        raise Invalid(str(exc)) from exc


def slots(screen: Screen, catalogue: Catalogue, start: dt.datetime, end: dt.datetime) -> list[Slot]:
    """The screen's timeline between ``start`` and ``end``."""
    timeline = importlib.import_module("schedules.timeline")
    return list(timeline.timeline(screen, catalogue, start, end).slots())
