"""What a campaign is doing on a given day, for lists and pages: the state an operator decided and
the flight dates make one phase (pending, scheduled, running, paused, finished, rejected, ended).

Pure: no ORM queries, no web framework; the local date is passed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from content_server.signage.models import CampaignRow

# the list's filters: which phases each shows (the keys name the tabs)
FILTERS: dict[str, frozenset[str]] = {
    "running": frozenset({"running"}),
    "scheduled": frozenset({"scheduled"}),
    "paused": frozenset({"paused"}),
    "pending": frozenset({"pending"}),
    "finished": frozenset({"finished", "ended", "rejected"}),
}


def phase(state: str, flight_start: dt.date, flight_end: dt.date, today: dt.date) -> str:
    """``approved`` splits into scheduled (not started), running and finished (its flight is over)."""
    if state == "approved":
        if today < flight_start:
            return "scheduled"
        return "running" if today <= flight_end else "finished"
    if state == "paused" and today > flight_end:
        return "finished"
    return state


@dataclass(frozen=True)
class CampaignView:
    id: str
    name: str
    state: str
    phase: str
    advertiser: str
    flight_start: dt.date
    flight_end: dt.date
    share_percent: float | None
    plays_per_hour: int | None
    reason: str


def view(c: CampaignRow, today: dt.date, *, advertiser: str = "") -> CampaignView:
    return CampaignView(
        id=c.id,
        name=c.name,
        state=c.state,
        phase=phase(c.state, c.flight_start, c.flight_end, today),
        advertiser=advertiser,
        flight_start=c.flight_start,
        flight_end=c.flight_end,
        share_percent=c.share_percent,
        plays_per_hour=c.plays_per_hour,
        reason=c.reason,
    )
