"""Delivery forecast: expected plays of a campaign per screen on one local day.

The advertiser sees this before booking, so the campaign need not be in the catalogue yet:
it is added (replacing one with the same id) and the real timelines are computed, with every
rule the player applies (shares, caps, separation, emergencies already announced, operating
hours). Screens with equivalent inputs are computed once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from schedules.engine import engine_for, validate_screen
from schedules.model import Campaign, Catalogue, Screen
from schedules.targeting import predicate
from schedules.wallclock import hours_key, local_to_utc, validate_campaign, zone


class Forecast(BaseModel):
    model_config = ConfigDict(frozen=True)

    campaign_id: str
    day: dt.date  # local to each screen
    plays: dict[str, int]  # screen id -> expected plays that day (targeted screens only)
    total: int


def forecast(screens: Sequence[Screen], catalogue: Catalogue, campaign: Campaign, day: dt.date) -> Forecast:
    """Expected plays of ``campaign`` on each targeted screen during local ``day``, and the total."""
    validate_campaign(campaign)
    if campaign not in catalogue.campaigns:
        others = tuple(c for c in catalogue.campaigns if c.id != campaign.id)
        catalogue = catalogue.model_copy(update={"campaigns": (*others, campaign)})
    engine = engine_for(catalogue)
    wanted = predicate(campaign.targeting)
    done: dict[tuple[object, ...], int] = {}
    plays: dict[str, int] = {}
    for s in screens:
        if not wanted(s):
            continue
        validate_screen(s)
        key = (s.timezone, hours_key(s.hours), s.screen_class, s.orientation, engine.eligible(s))
        n = done.get(key)
        if n is None:
            tz = zone(s.timezone)
            start = local_to_utc(day, dt.time(0), tz)
            end = local_to_utc(day + dt.timedelta(days=1), dt.time(0), tz)
            tl = engine.timeline(s, start, end)
            n = tl.count_plays(campaign.id)
            done[key] = n
        plays[s.id] = n
    return Forecast(campaign_id=campaign.id, day=day, plays=plays, total=sum(plays.values()))
