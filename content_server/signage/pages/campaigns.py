"""Signage pages for advertisers: the campaign form with live availability, campaigns, proof of play."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response
from pydantic import ValidationError

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import AdvertiserPage, Csrf, Page, problem_text
from content_server.portal.svg import ChartSeries, stacked_bar_chart
from content_server.signage import forms as signage_forms
from content_server.signage.models import CampaignRow
from content_server.signage.pages.describe import daypart_text, preview_src, targeting_text
from content_server.signage.services import bookings, library, plays, screens
from schedules.model import ScreenClass

log = logging.getLogger(__name__)
router = APIRouter()

Text = Annotated[str, Form(max_length=200)]
Many = Annotated[list[str] | None, Form()]


# ---- the campaign form -------------------------------------------------------------------------


@dataclass
class CampaignForm:
    """The campaign form as typed, kept to re-render it with the user's input after an error."""

    name: str = ""
    category: str = ""
    media_ids: list[str] = field(default_factory=list)
    screen_classes: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    buildings: list[str] = field(default_factory=list)
    flight_start: str = ""
    flight_end: str = ""
    weekdays: list[int] = field(default_factory=list)
    daypart_start: str = ""
    daypart_end: str = ""
    daypart2_start: str = ""
    daypart2_end: str = ""
    share_percent: str = "10"
    frequency_cap: str = ""
    rrule: str = ""  # RFC 5545, e.g. FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=9,10,11

    def to_request(self) -> bookings.CampaignIn:
        """The server's booking request; FormError or ValidationError when a field is wrong."""
        if not self.name.strip():
            raise forms.FormError("campaign.need_name")
        if not self.media_ids:
            raise forms.FormError("campaign.need_media")
        start, end = forms.parse_date(self.flight_start), forms.parse_date(self.flight_end)
        if end < start:
            raise forms.FormError("campaign.dates_order")
        share = forms.parse_number(self.share_percent, "share_percent", low=0.5, high=100)
        cap = forms.parse_number(self.frequency_cap, "frequency_cap", low=1, high=720)
        return bookings.CampaignIn(
            name=self.name.strip(),
            category=self.category.strip(),
            media_ids=self.media_ids,
            flight_start=start,
            flight_end=end,
            dayparts=list(
                signage_forms.daypart(
                    [str(d) for d in self.weekdays],
                    (self.daypart_start, self.daypart_end),
                    (self.daypart2_start, self.daypart2_end),
                )
            ),
            targeting=signage_forms.targeting(self.screen_classes, self.groups, self.buildings),
            share_percent=share,
            frequency_cap_per_hour=int(cap) if cap is not None else None,
            rrule=self.rrule.strip().removeprefix("RRULE:") or None,
        )


def campaign_form(
    name: Text = "",
    category: Annotated[str, Form(max_length=64)] = "",
    media_ids: Many = None,
    screen_classes: Many = None,
    groups: Many = None,
    buildings: Many = None,
    flight_start: Annotated[str, Form(max_length=10)] = "",
    flight_end: Annotated[str, Form(max_length=10)] = "",
    weekdays: Many = None,
    daypart_start: Annotated[str, Form(max_length=8)] = "",
    daypart_end: Annotated[str, Form(max_length=8)] = "",
    daypart2_start: Annotated[str, Form(max_length=8)] = "",
    daypart2_end: Annotated[str, Form(max_length=8)] = "",
    share_percent: Annotated[str, Form(max_length=8)] = "",
    frequency_cap: Annotated[str, Form(max_length=8)] = "",
    rrule: Annotated[str, Form(max_length=200)] = "",
) -> CampaignForm:
    return CampaignForm(
        name=name, category=category, media_ids=media_ids or [], screen_classes=screen_classes or [],
        groups=groups or [], buildings=buildings or [], flight_start=flight_start, flight_end=flight_end,
        weekdays=[int(d) for d in weekdays or [] if d.isdigit()], daypart_start=daypart_start,
        daypart_end=daypart_end, daypart2_start=daypart2_start, daypart2_end=daypart2_end,
        share_percent=share_percent, frequency_cap=frequency_cap, rrule=rrule,
    )  # fmt: skip


FormDep = Annotated[CampaignForm, Depends(campaign_form)]


def _form_page(
    page: Page, session: Any, form: CampaignForm, errors: list[str], status_code: int = 200
) -> Response:
    assert page.user is not None
    context = {
        "section": "campaigns",
        "form": form,
        "form_errors": errors,
        "media": library.list_for(session, page.user),
        "screen_classes": [c.value for c in ScreenClass if c is not ScreenClass.KIOSK],
        "groups": screens.group_names(session),
        "buildings": screens.building_tags(session),
    }
    return page.render("campaign_new.html", context, title_key="campaigns.new", status_code=status_code)


@router.get("/campaigns")
def campaigns_page(page: AdvertiserPage, session: SessionDep) -> Response:
    assert page.user is not None
    rows = list(reversed(bookings.list_campaigns(session, page.user, None)))
    return page.render(
        "campaigns.html", {"section": "campaigns", "campaigns": rows}, title_key="campaigns.title"
    )


@router.get("/campaigns/new")
def new_campaign(page: AdvertiserPage, session: SessionDep, now: NowDep) -> Response:
    today = now.date()
    form = CampaignForm(
        flight_start=(today + dt.timedelta(days=1)).isoformat(),
        flight_end=(today + dt.timedelta(days=14)).isoformat(),
    )
    return _form_page(page, session, form, [])


@router.post("/campaigns/check")
def check_campaign(
    page: AdvertiserPage, session: SessionDep, now: NowDep, form: FormDep, csrf_token: Csrf = ""
) -> Response:
    """Live availability and forecast while the advertiser fills in the form (JSON for the page's script)."""
    page.require_csrf(page.request.headers.get("x-csrf-token") or csrf_token)
    assert page.user is not None
    try:
        preview = bookings.preview_campaign(session, page.user, form.to_request(), now=now)
    except (forms.FormError, ValidationError, ServerError) as exc:
        return page.json({"fits": False, "message": problem_text(page, exc)}, status_code=422)
    best = preview.availability["max_share_percent"]
    if not preview.screens:
        message = page.t("availability.no_screens")
        return page.json({"fits": False, "max_share_percent": 0, "message": message})
    if not preview.availability["fits"]:
        message = page.t("availability.no_fit", max=f"{best:g}") if best > 0 else page.t("availability.zero")
        return page.json({"fits": False, "max_share_percent": best, "message": message})
    message = page.t("availability.fits", screens=preview.screens, plays=preview.daily_plays)
    body = {"fits": True, "max_share_percent": best, "daily_plays": preview.daily_plays}
    return page.json({**body, "screens": preview.screens, "message": message})


@router.post("/campaigns")
def submit_campaign(
    page: AdvertiserPage, session: SessionDep, now: NowDep, form: FormDep, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    try:
        row = bookings.submit_campaign(session, page.user, form.to_request(), now=now)
    except (forms.FormError, ValidationError, ServerError) as exc:
        session.rollback()
        return _form_page(page, session, form, [problem_text(page, exc)], status_code=422)
    log.info("campaign %s submitted by %s", row.id, page.user.username)
    return page.redirect(f"/portal/campaigns/{row.id}", notice="campaign_submitted")


# ---- one campaign: state, previews, proof of play ----------------------------------------------


@dataclass(frozen=True)
class DayClassRow:
    day: str
    screen_class: str
    plays: int
    seconds: float


def report_rows(session: Any, page: Page, campaign: CampaignRow) -> list[DayClassRow]:
    """The server's per-screen-per-day report summed per day and screen class."""
    assert page.user is not None
    rows = plays.report(
        session, page.user, campaign_id=campaign.id, screen_id=None, start=None, end=None, by_hour=False
    )
    classes = {d.id: d.screen_class for d in screens.all_devices(session)}
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for r in rows:
        acc = sums[(r.day.isoformat(), classes.get(r.screen_id, "kiosk"))]
        acc[0] += r.plays
        acc[1] += r.seconds
    return [DayClassRow(day, sc, int(v[0]), v[1]) for (day, sc), v in sorted(sums.items())]


def report_chart(page: Page, rows: list[DayClassRow]) -> str:
    days = sorted({r.day for r in rows})
    series = [
        ChartSeries(page.t(f"class.{sc}"), {r.day: r.plays for r in rows if r.screen_class == sc})
        for sc in sorted({r.screen_class for r in rows})
    ]
    return stacked_bar_chart(days, series, title=page.t("report.chart_title"))


@router.get("/campaigns/{campaign_id}")
def campaign_page(page: AdvertiserPage, session: SessionDep, campaign_id: str) -> Response:
    assert page.user is not None
    campaign = bookings.visible_campaign(session, page.user, campaign_id)
    rows = report_rows(session, page, campaign)
    context = {
        "section": "campaigns",
        "campaign": campaign,
        "targeting_text": targeting_text(page, campaign.targeting),
        "daypart_text": daypart_text(page, campaign.dayparts),
        "preview_src": preview_src(session, page.user, campaign.media_ids),
        "report_rows": rows,
        "chart_svg": report_chart(page, rows),
        "csv_url": f"/portal/campaigns/{campaign.id}/report.csv",
    }
    return page.render("campaign_detail.html", context, title_key="campaigns.title")


@router.get("/campaigns/{campaign_id}/report.csv")
def campaign_csv(page: AdvertiserPage, session: SessionDep, campaign_id: str) -> Response:
    assert page.user is not None
    campaign = bookings.visible_campaign(session, page.user, campaign_id)
    rows = plays.report(
        session, page.user, campaign_id=campaign.id, screen_id=None, start=None, end=None, by_hour=False
    )
    response = Response(plays.to_csv(rows), media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="proof-of-play-{campaign.id}.csv"'
    return page.finish(response)


@router.post("/campaigns/{campaign_id}/pause")
def pause_campaign(
    page: AdvertiserPage, session: SessionDep, now: NowDep, campaign_id: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    bookings.decide_campaign(session, page.user, campaign_id, "pause", reason="", now=now)
    return page.redirect(f"/portal/campaigns/{campaign_id}", notice="campaign_paused")
