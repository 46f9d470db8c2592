"""Proof-of-play reports: per campaign, screen, UTC day or hour; JSON or CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from content_server.core.deps import NowDep, Operator, OperatorOrAdvertiser, SessionDep
from content_server.core.errors import Invalid
from content_server.signage.services import plays

router = APIRouter(tags=["reports"])


class ReportRowOut(BaseModel):
    campaign_id: str
    screen_id: str
    date_utc: dt.date
    hour_utc: int | None
    plays: int
    completed_plays: int
    seconds: float


@router.get(
    "/reports/plays",
    response_model=list[ReportRowOut],
    responses={200: {"content": {"text/csv": {}}}},
)
def play_report(
    session: SessionDep,
    user: OperatorOrAdvertiser,
    campaign_id: Annotated[str | None, Query(max_length=64)] = None,
    screen_id: Annotated[str | None, Query(max_length=64)] = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    group_by: Literal["day", "hour"] = "day",
    format: Literal["json", "csv"] = "json",
) -> Response | list[ReportRowOut]:
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise Invalid(f"{name}: needs a time zone offset")
    rows = plays.report(
        session,
        user,
        campaign_id=campaign_id,
        screen_id=screen_id,
        start=start,
        end=end,
        by_hour=group_by == "hour",
    )
    if format == "csv":
        return Response(
            plays.to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="plays.csv"'},
        )
    return [
        ReportRowOut(
            campaign_id=r.campaign_id,
            screen_id=r.screen_id,
            date_utc=r.day,
            hour_utc=r.hour,
            plays=r.plays,
            completed_plays=r.completed_plays,
            seconds=r.seconds,
        )
        for r in rows
    ]


class RefusedPlaysOut(BaseModel):
    screen_id: str
    refused: int
    reasons: dict[str, int]


@router.get("/reports/refused-plays", response_model=list[RefusedPlaysOut])
def refused_plays(
    session: SessionDep, now: NowDep, _op: Operator, days: Annotated[int, Query(ge=1, le=31)] = 1
) -> list[RefusedPlaysOut]:
    """Proof-of-play records refused per screen over the last ``days`` UTC days, most first: a screen
    that sends many is broken or compromised (the fleet's alerts read the same counts)."""
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = plays.refusals_since(session, today - dt.timedelta(days=days - 1))
    out = [RefusedPlaysOut(screen_id=d, refused=sum(r.values()), reasons=r) for d, r in counts.items()]
    return sorted(out, key=lambda o: (-o.refused, o.screen_id))
