"""What the scheduling engine says, shaped for pages: forecasts, a screen's day, explanations.

The portal's only door to ``schedules`` besides the server's own ``content_server.scheduling``
(which does not wrap forecasts and explanations yet); catalogues always come from the
server's ``catalogue_for`` so pages show exactly what the screens will compute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.orm import Session

from content_server import scheduling
from content_server.models import CampaignRow, Device
from content_server.portal import queries
from content_server.portal.svg import TimelineBlock
from content_server.services.catalogue import catalogue_for, to_campaign
from content_server.services.screens import to_screen
from schedules.explain import explain_slot
from schedules.forecast import forecast
from schedules.model import Catalogue, Screen, Slot, SlotSource, Targeting, Zone
from schedules.timeline import timeline


def live_players(session: Session) -> list[Screen]:
    return [to_screen(d) for d in queries.all_screens(session) if d.revoked_at is None and d.kind == "player"]


def targeted(session: Session, targeting: Targeting) -> list[Screen]:
    return [s for s in live_players(session) if scheduling.targets(targeting, s)]


def daily_forecast(session: Session, row: CampaignRow, now: dt.datetime) -> int:
    """Expected plays on the first flight day still to come, over every targeted screen."""
    campaign = to_campaign(row)
    screens = targeted(session, campaign.targeting)
    if not screens:
        return 0
    catalogue = catalogue_for(session, screens, now, extra_campaigns=[row])
    day = max(campaign.flight_start, now.date())
    if day > campaign.flight_end:
        return 0
    return forecast(screens, catalogue, campaign, day).total


def _kind(slot: Slot) -> str:
    return slot.source.value


def _label(slot: Slot, catalogue: Catalogue) -> str:
    item = catalogue.items.get(slot.item_id)
    title = item.title if item and item.title else slot.item_id
    if slot.source is SlotSource.CAMPAIGN:
        campaign = next((c for c in catalogue.campaigns if c.id == slot.source_id), None)
        if campaign is not None and campaign.name:
            return f"{campaign.name} ({title})"
    return title


def day_blocks(session: Session, device: Device, start: dt.datetime, hours: int = 24) -> list[TimelineBlock]:
    """The screen's main-zone slots from ``start`` for ``hours``, as picture blocks."""
    screen = to_screen(device)
    catalogue = catalogue_for(session, [screen], start)
    slots = scheduling.slots(screen, catalogue, start, start + dt.timedelta(hours=hours))
    return [
        TimelineBlock(s.start, s.end, _kind(s), _label(s, catalogue)) for s in slots if s.zone is Zone.MAIN
    ]


def explain_at(session: Session, device: Device, at: dt.datetime, lang: str) -> tuple[str, str] | None:
    """(what plays at ``at``, the engine's reasons in ``lang``), or None when nothing plays."""
    screen = to_screen(device)
    catalogue = catalogue_for(session, [screen], at)
    slot = _main_slot_at(
        timeline(screen, catalogue, at - dt.timedelta(minutes=10), at + dt.timedelta(minutes=10)).slots(), at
    )
    if slot is None:
        return None
    explanation = explain_slot(screen, catalogue, slot)
    return _label(slot, catalogue), explanation.text(lang)


def _main_slot_at(slots: Iterable[Slot], at: dt.datetime) -> Slot | None:
    for s in slots:
        if s.zone is Zone.MAIN and s.start <= at < s.end:
            return s
    return None
