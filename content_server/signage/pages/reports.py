"""Proof of play for people: per day in the community's time, by screen class, with names; the
chart, the table and the file say the same numbers. Operators see every campaign, advertisers
their own."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import CampaignsPage, Page, problem_text
from content_server.portal.svg import ChartSeries, stacked_bar_chart
from content_server.signage.services import bookings, plays
from schedules.model import ScreenClass

router = APIRouter()


@dataclass(frozen=True)
class DayClassRow:
    day: str
    screen_class: str
    plays: int
    seconds: float


@dataclass(frozen=True)
class DayCampaignRow:
    day: str
    campaign: str
    advertiser: str
    plays: int
    completed: int
    seconds: float


def _named(
    session: Any,
    page: Page,
    *,
    campaign_id: str | None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    by_hour: bool = False,
) -> list[plays.NamedRow]:
    assert page.user is not None
    rows = plays.report(
        session, page.user, campaign_id=campaign_id, screen_id=None, start=start, end=end, by_hour=by_hour,
        tz=page.tz,
    )  # fmt: skip
    return plays.named(session, rows)


def day_class_rows(session: Any, page: Page, *, campaign_id: str | None) -> list[DayClassRow]:
    """Plays per local day and screen class (what the campaign page's chart and table show)."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for n in _named(session, page, campaign_id=campaign_id):
        acc = sums[(n.row.day.isoformat(), n.screen_class or ScreenClass.KIOSK.value)]
        acc[0] += n.row.plays
        acc[1] += n.row.seconds
    return [DayClassRow(day, sc, int(v[0]), v[1]) for (day, sc), v in sorted(sums.items())]


def chart(page: Page, rows: list[DayClassRow]) -> str:
    """Plays per day, one colour per screen class; whole numbers on the axis."""
    days = sorted({r.day for r in rows})
    series = [
        ChartSeries(page.t(f"class.{sc}"), {r.day: r.plays for r in rows if r.screen_class == sc})
        for sc in sorted({r.screen_class for r in rows})
    ]
    return stacked_bar_chart(days, series, title=page.t("report.chart_title"), whole=True)


CSV_HEADER = ("report.day", "report.hour", "report.campaign", "approvals.advertiser", "report.screen",
              "report.screen_class", "report.plays", "report.completed", "report.seconds")  # fmt: skip


def csv_response(
    page: Page,
    session: Any,
    *,
    campaign_id: str | None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Response:
    """The proof-of-play file: one row per local day, hour and screen, with names and the reader's
    headers (written by the one CSV writer, which neutralises spreadsheet formulas)."""
    assert page.user is not None
    if campaign_id is not None:
        bookings.visible_campaign(session, page.user, campaign_id)  # 404 for someone else's
    rows = _named(session, page, campaign_id=campaign_id, start=start, end=end, by_hour=True)
    classes = {c.value: page.t(f"class.{c.value}") for c in ScreenClass}
    text = plays.named_csv([page.t(k) for k in CSV_HEADER], rows, classes)
    name = f"proof-of-play-{campaign_id or 'all'}.csv"
    response = Response("\ufeff" + text, media_type="text/csv; charset=utf-8")  # BOM: spreadsheets read UTF-8
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return page.finish(response)


def _range(page: Page, first: str, last: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Local dates typed in the filter as a UTC range [first day 00:00, the day after the last)."""
    start = dt.datetime.combine(forms.parse_date(first), dt.time(), page.tz) if first else None
    end = (
        dt.datetime.combine(forms.parse_date(last) + dt.timedelta(days=1), dt.time(), page.tz)
        if last
        else None
    )
    return start, end


@router.get("/report")
def report_page(
    page: CampaignsPage, session: SessionDep, now: NowDep, first: str = "", last: str = ""
) -> Response:
    """Proof of play over every campaign one may see, per day and campaign, for a date range."""
    assert page.user is not None
    today = now.astimezone(page.tz).date()
    first = first or (today - dt.timedelta(days=13)).isoformat()
    last = last or today.isoformat()
    errors: list[str] = []
    try:
        start, end = _range(page, first, last)
        named = _named(session, page, campaign_id=None, start=start, end=end)
    except (forms.FormError, ServerError) as exc:
        errors, named = [problem_text(page, exc)], []
    per_day: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    per_class: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for n in named:
        acc = per_day[(n.row.day.isoformat(), n.campaign, n.advertiser)]
        acc[0] += n.row.plays
        acc[1] += n.row.completed_plays
        acc[2] += n.row.seconds
        cls = per_class[(n.row.day.isoformat(), n.screen_class or ScreenClass.KIOSK.value)]
        cls[0] += n.row.plays
        cls[1] += n.row.seconds
    rows = [DayCampaignRow(d, c, a, int(v[0]), int(v[1]), v[2]) for (d, c, a), v in sorted(per_day.items())]
    class_rows = [DayClassRow(d, sc, int(v[0]), v[1]) for (d, sc), v in sorted(per_class.items())]
    context = {
        "section": "report",
        "rows": rows,
        "chart_svg": chart(page, class_rows) if class_rows else "",
        "first": first,
        "last": last,
        "form_errors": errors,
        "operator": page.user.role == "operator",
        "csv_url": f"/portal/report.csv?first={first}&last={last}",
        "total": sum(r.plays for r in rows),
    }
    return page.render(
        "report_page.html", context, title_key="report.title", status_code=422 if errors else 200
    )


@router.get("/report.csv")
def report_csv(
    page: CampaignsPage, session: SessionDep, campaign: str | None = None, first: str = "", last: str = ""
) -> Response:
    try:
        start, end = _range(page, first, last)
    except forms.FormError:
        start = end = None
    return csv_response(page, session, campaign_id=campaign, start=start, end=end)
