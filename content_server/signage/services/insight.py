"""What the scheduling engine says, shaped for pages: forecasts, a screen's day, explanations.

The engine is reached through ``content_server.signage.scheduling`` like everywhere else;
catalogues always come from ``catalogue_for`` so pages show exactly what the screens compute.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from content_server.signage import scheduling
from content_server.signage.models import CampaignRow, Device
from content_server.signage.services.catalogue import catalogue_for, to_campaign
from content_server.signage.services.screens import all_devices, to_screen
from schedules.model import Catalogue, Screen, Slot, SlotSource, Targeting, Zone
from schedules.wallclock import earliest_local_date


def live_screens(session: Session) -> list[Screen]:
    """Every paired, unrevoked screen ads can play on: players, and kiosks (their attract loop)."""
    return [to_screen(d) for d in all_devices(session) if d.revoked_at is None]


def targeted(session: Session, targeting: Targeting) -> list[Screen]:
    """The one rule for which screens a booking reaches (availability, forecasts, previews)."""
    return [s for s in live_screens(session) if scheduling.targets(targeting, s)]


def daily_forecast(session: Session, row: CampaignRow, now: dt.datetime) -> int:
    """Expected plays on the first flight day still to come, over every targeted screen."""
    campaign = to_campaign(row)
    screens = targeted(session, campaign.targeting)
    if not screens:
        return 0
    catalogue = catalogue_for(session, screens, now, extra_campaigns=[row])
    day = max(campaign.flight_start, earliest_local_date(now, {s.timezone for s in screens}))
    if day > campaign.flight_end:
        return 0
    return scheduling.forecast_plays(screens, catalogue, campaign, day)


def _label(slot: Slot, catalogue: Catalogue) -> str:
    item = catalogue.items.get(slot.item_id)
    title = item.title if item and item.title else slot.item_id
    if slot.source is SlotSource.CAMPAIGN:
        campaign = next((c for c in catalogue.campaigns if c.id == slot.source_id), None)
        if campaign is not None and campaign.name:
            return f"{campaign.name} ({title})"
    return title


def day_slots(
    session: Session, device: Device, start: dt.datetime, hours: int = 24
) -> list[tuple[Slot, str]]:
    """The screen's main-zone slots from ``start`` for ``hours``, each with a label for people."""
    screen = to_screen(device)
    catalogue = catalogue_for(session, [screen], start)
    slots = scheduling.slots(screen, catalogue, start, start + dt.timedelta(hours=hours))
    return [
        (s, _label(s, catalogue)) for s in slots if s.zone is Zone.MAIN
    ]


def explain_at(session: Session, device: Device, at: dt.datetime, lang: str) -> tuple[str, str] | None:
    """(what plays at ``at``, the engine's reasons in ``lang``), or None when nothing plays."""
    screen = to_screen(device)
    catalogue = catalogue_for(session, [screen], at)
    slot = scheduling.main_slot_at(screen, catalogue, at)
    if slot is None:
        return None
    return _label(slot, catalogue), scheduling.explain_slot(screen, catalogue, slot, lang)
