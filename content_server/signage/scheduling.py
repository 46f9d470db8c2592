"""The one place the server calls the scheduling engine (``schedules``), so API changes touch one file.

Other modules use the engine's data types (``schedules.model``, ``schedules.protocol``) freely, but
its computations (targeting, validation, availability, timelines, forecasts, explanations) only
through here; an import-linter contract in pyproject.toml holds everyone else to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from content_server.core.errors import Invalid
from schedules import availability, engine, explain, house_rules, targeting, wallclock
from schedules import forecast as forecasting
from schedules import timeline as timelines
from schedules.errors import ScheduleError
from schedules.model import Campaign, Catalogue, Screen, Slot, Targeting, Zone


def targets(rule: Targeting, screen: Screen) -> bool:
    try:
        return targeting.matches(rule, screen)
    except ScheduleError as exc:
        raise Invalid(f"targeting: {exc}") from exc


def validate_screen(screen: Screen) -> None:
    """Refuse settings the engine cannot schedule (unknown zone, impossible hours) with a clear 422."""
    try:
        engine.validate_screen(screen)
    except ScheduleError as exc:
        raise Invalid(str(exc)) from exc


def validate_targeting(rule: Targeting) -> None:
    """Refuse unparsable tag expressions up front (clear 422 instead of a failure at manifest time)."""
    if rule.tag_expr:
        try:
            targeting.parse_tag_expr(rule.tag_expr)
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
    try:
        result = availability.check_availability(list(screens), catalogue, request, start=start)
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
    return list(timelines.timeline(screen, catalogue, start, end).slots())


def main_slot_at(screen: Screen, catalogue: Catalogue, at: dt.datetime) -> Slot | None:
    """The main-zone slot playing at ``at``, or None."""
    window = dt.timedelta(minutes=10)
    for s in timelines.timeline(screen, catalogue, at - window, at + window).slots():
        if s.zone is Zone.MAIN and s.start <= at < s.end:
            return s
    return None


def forecast_plays(screens: Sequence[Screen], catalogue: Catalogue, campaign: Campaign, day: dt.date) -> int:
    """Expected plays of ``campaign`` on ``day`` over ``screens``."""
    return forecasting.forecast(list(screens), catalogue, campaign, day).total


def explain_slot(screen: Screen, catalogue: Catalogue, slot: Slot, lang: str) -> str:
    """The engine's reasons for ``slot``, in ``lang``."""
    return explain.explain_slot(screen, catalogue, slot).text(lang)


RulesCheck = house_rules.RulesCheck
UnderDelivered = house_rules.UnderDelivered


def check_house_rules_change(
    screens: Sequence[Screen], current: Catalogue, proposed: Catalogue, *, start: dt.datetime, days: int = 28
) -> house_rules.RulesCheck:
    """The booked campaigns a change of house rules would under-deliver (see ``schedules.house_rules``)."""
    try:
        return house_rules.check_house_rules_change(screens, current, proposed, start=start, days=days)
    except ScheduleError as exc:
        raise Invalid(str(exc)) from exc


def validate_catalogue(catalogue: Catalogue) -> None:
    """Refuse rules the engine cannot honour (a 2 s loop, an ad share of 120 %), naming the field."""
    try:
        engine.validate_catalogue(catalogue)
    except ScheduleError as exc:
        raise Invalid(str(exc)) from exc


def campaign_problem(campaign: Campaign) -> str | None:
    """Why the engine cannot schedule a stored campaign (a rule the engine now refuses, such as an
    RRULE with BYMINUTE booked before such rules were checked), or None when it can."""
    try:
        wallclock.validate_campaign(campaign)
    except ScheduleError as exc:
        return str(exc)
    return None


def required_tags(tag_expr: str) -> frozenset[str] | None:
    """Tags of which every screen an expression matches holds one (None: no such set, or the
    expression does not parse): what a change to a rule with this expression can reach."""
    try:
        return targeting.required_tags(targeting.parse_tag_expr(tag_expr))
    except ScheduleError:
        return None
