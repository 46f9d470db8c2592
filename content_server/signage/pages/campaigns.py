"""Signage pages for campaigns: advertisers book, change, withdraw, pause and resume them (the form
checks availability live); operators list everyone's; each campaign's page shows everything that
will play and its proof of play."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import Response
from pydantic import ValidationError

from content_server.accounts import services as accounts
from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import AdvertiserPage, CampaignsPage, Csrf, Page, PortalError, problem_text
from content_server.signage import campaign_view
from content_server.signage import forms as signage_forms
from content_server.signage.models import CampaignRow
from content_server.signage.pages import reports
from content_server.signage.pages.describe import (
    buildings_of,
    cap_text,
    daypart_text,
    orientations_of,
    preview_srcs,
    targeting_text,
)
from content_server.signage.services import bookings, library, screens
from schedules.model import Daypart, ScreenClass, Targeting

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

    @classmethod
    def of(cls, row: CampaignRow) -> CampaignForm:
        """A submitted campaign back in its form, to change it while it waits for approval."""
        dayparts = [Daypart.model_validate(d) for d in row.dayparts or []]
        spans = [(f"{d.start:%H:%M}", f"{d.end:%H:%M}") for d in dayparts][:2] + [("", "")] * 2
        days = sorted(dayparts[0].weekdays) if dayparts and len(dayparts[0].weekdays) < 7 else []
        rule = Targeting.model_validate(row.targeting or {})
        return cls(
            name=row.name, category=row.category, media_ids=list(row.media_ids or []),
            screen_classes=sorted(c.value for c in rule.screen_classes), groups=sorted(rule.groups),
            buildings=buildings_of(rule.tag_expr or ""), flight_start=row.flight_start.isoformat(),
            flight_end=row.flight_end.isoformat(), weekdays=days, daypart_start=spans[0][0],
            daypart_end=spans[0][1], daypart2_start=spans[1][0], daypart2_end=spans[1][1],
            share_percent=f"{row.share_percent:g}" if row.share_percent is not None else "",
            frequency_cap=str(row.frequency_cap_per_hour or ""),
        )  # fmt: skip

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
    page: Page,
    session: Any,
    form: CampaignForm,
    errors: list[str],
    status_code: int = 200,
    *,
    editing: CampaignRow | None = None,
) -> Response:
    assert page.user is not None
    media = library.list_for(session, page.user)
    chosen = {mid: n for n, mid in enumerate(form.media_ids)}  # ticked first, in the campaign's order
    media.sort(key=lambda m: chosen.get(m.id, len(chosen)))  # (the order its spots take turns in)
    context = {
        "section": "campaigns",
        "form": form,
        "form_errors": errors,
        "media": media,
        "shapes": {m.id: orientations_of(m) for m in media},
        "screen_classes": [c.value for c in ScreenClass if c is not ScreenClass.KIOSK],
        "groups": screens.group_names(session),
        "buildings": screens.building_tags(session),
        "editing": editing,
        "action": f"/portal/campaigns/{editing.id}/edit" if editing else "/portal/campaigns",
    }
    title = "campaigns.edit" if editing else "campaigns.new"
    return page.render("campaign_new.html", context, title_key=title, status_code=status_code)


def _owner(session: Any, c: CampaignRow) -> str:
    return accounts.account_name(session, c.advertiser_id)


@router.get("/campaigns")
def campaigns_page(page: CampaignsPage, session: SessionDep, now: NowDep, show: str = "") -> Response:
    """Advertisers: their campaigns. Operators: everyone's, by what they are doing now."""
    assert page.user is not None
    operator = page.user.role == "operator"
    today = now.astimezone(page.tz).date()
    rows = [
        campaign_view.view(c, today, advertiser=_owner(session, c) if operator else "")
        for c in reversed(bookings.list_campaigns(session, page.user, None))
    ]
    if show in campaign_view.FILTERS:
        rows = [r for r in rows if r.phase in campaign_view.FILTERS[show]]
    context = {
        "section": "campaigns", "campaigns": rows, "operator": operator, "show": show,
        "filters": list(campaign_view.FILTERS),
    }  # fmt: skip
    return page.render("campaigns.html", context, title_key="campaigns.title")


@router.get("/campaigns/new")
def new_campaign(
    page: AdvertiserPage,
    session: SessionDep,
    now: NowDep,
    name: Annotated[str, Query(max_length=200)] = "",
    media: Annotated[list[str], Query(max_length=bookings.MAX_CAMPAIGN_MEDIA)] = [],  # noqa: B006
) -> Response:
    """The empty form; ``name`` and ``media`` fill it in (the studio's link for an ad's PDF pages)."""
    today = now.astimezone(page.tz).date()
    form = CampaignForm(
        name=name,
        media_ids=media,  # ids not in the advertiser's library tick nothing (the form lists only theirs)
        flight_start=(today + dt.timedelta(days=1)).isoformat(),
        flight_end=(today + dt.timedelta(days=14)).isoformat(),
    )
    return _form_page(page, session, form, [])


INCOMPLETE = frozenset({"campaign.need_name", "campaign.need_media"})


@router.post("/campaigns/check")
def check_campaign(
    page: AdvertiserPage, session: SessionDep, now: NowDep, form: FormDep, csrf_token: Csrf = ""
) -> Response:
    """Live availability and forecast while the advertiser fills in the form (JSON for the page's script).

    A form not filled in far enough to check (no name, no media yet) gets a neutral hint, not an error."""
    page.require_csrf(page.request.headers.get("x-csrf-token") or csrf_token)
    assert page.user is not None
    try:
        preview = bookings.preview_campaign(session, page.user, form.to_request(), now=now)
    except forms.FormError as exc:
        if exc.key in INCOMPLETE:
            return page.json({"fits": None, "message": page.t("availability.hint")})
        return page.json({"fits": False, "message": problem_text(page, exc)}, status_code=422)
    except (ValidationError, ServerError) as exc:
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


@router.get("/campaigns/{campaign_id}/edit")
def edit_form(page: AdvertiserPage, session: SessionDep, campaign_id: str) -> Response:
    """A campaign waiting for approval, back in its form."""
    assert page.user is not None
    row = bookings.visible_campaign(session, page.user, campaign_id)
    if row.state != "pending":
        raise PortalError("campaign.only_pending", 409)
    return _form_page(page, session, CampaignForm.of(row), [], editing=row)


@router.post("/campaigns/{campaign_id}/edit")
def save_edit(
    page: AdvertiserPage,
    session: SessionDep,
    now: NowDep,
    campaign_id: str,
    form: FormDep,
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    row = bookings.visible_campaign(session, page.user, campaign_id)
    try:
        bookings.update_campaign(session, page.user, campaign_id, form.to_request(), now=now)
    except (forms.FormError, ValidationError, ServerError) as exc:
        session.rollback()
        return _form_page(page, session, form, [problem_text(page, exc)], status_code=422, editing=row)
    return page.redirect(f"/portal/campaigns/{campaign_id}", notice="campaign_changed")


# ---- one campaign: what will play, its state, proof of play ------------------------------------


def _campaign_page(
    page: CampaignsPage,
    session: Any,
    now: dt.datetime,
    campaign_id: str,
    confirm: str = "",
    errors: list[str] | None = None,
) -> Response:
    assert page.user is not None
    campaign = bookings.visible_campaign(session, page.user, campaign_id)
    operator = page.user.role == "operator"
    today = now.astimezone(page.tz).date()
    rows = reports.day_class_rows(session, page, campaign_id=campaign.id)
    context = {
        "section": "campaigns",
        "campaign": campaign,
        "view": campaign_view.view(campaign, today, advertiser=_owner(session, campaign)),
        "operator": operator,
        "own": campaign.advertiser_id == page.user.id,
        "confirm": confirm,
        "form_errors": errors or [],
        "targeting_text": targeting_text(page, campaign.targeting),
        "daypart_text": daypart_text(page, campaign.dayparts),
        "cap_text": cap_text(page, campaign.frequency_cap_per_hour),
        "previews": preview_srcs(session, page.user, campaign.media_ids),
        "report_rows": rows,
        "chart_svg": reports.chart(page, rows),
        "csv_url": f"/portal/report.csv?campaign={campaign.id}",
    }
    status_code = 409 if errors else 200
    return page.render("campaign_detail.html", context, title_key="campaigns.title", status_code=status_code)


@router.get("/campaigns/{campaign_id}")
def campaign_page(page: CampaignsPage, session: SessionDep, now: NowDep, campaign_id: str) -> Response:
    return _campaign_page(page, session, now, campaign_id)


@router.get("/campaigns/{campaign_id}/report.csv")
def campaign_csv(page: CampaignsPage, session: SessionDep, campaign_id: str) -> Response:
    """The campaign's proof of play as a file (the report page's, for this campaign)."""
    return reports.csv_response(page, session, campaign_id=campaign_id)


MOVES = {"pause": "campaign_paused", "resume": "campaign_resumed", "end": "campaign_ended",
         "withdraw": "campaign_withdrawn"}  # fmt: skip
NEEDS_CONFIRMING = frozenset({"pause", "end", "withdraw"})  # what takes a campaign off the screens


@router.post("/campaigns/{campaign_id}/{action}")
def move_campaign(
    page: CampaignsPage,
    session: SessionDep,
    now: NowDep,
    campaign_id: str,
    action: str,
    confirmed: Annotated[str, Form(max_length=8)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """Pause, resume, end or withdraw. What takes a campaign off the screens asks first: the first
    post shows the campaign page with a confirmation, only the confirmed second one acts.

    Merchants pause and resume their own; an operator who pauses or ends one says why (the merchant
    reads it), and a campaign the community paused is resumed by the community only."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    if action not in MOVES:
        raise PortalError("error.not_found", 404)
    campaign = bookings.visible_campaign(session, page.user, campaign_id)
    operator = page.user.role == "operator"
    if action in NEEDS_CONFIRMING and (confirmed != "yes" or (operator and not reason.strip())):
        return _campaign_page(page, session, now, campaign.id, confirm=action)
    if action == "withdraw" and campaign.advertiser_id != page.user.id:
        raise PortalError("error.forbidden", 403)
    if action == "resume" and not operator and campaign.reason:
        raise PortalError("campaign.paused_by_operator", 403)
    try:
        if action == "withdraw":
            bookings.withdraw_campaign(session, page.user, campaign.id, now=now)
        else:
            said = reason.strip() if operator else ""
            bookings.decide_campaign(session, page.user, campaign.id, action, reason=said, now=now)
    except ServerError as exc:
        session.rollback()
        return _campaign_page(page, session, now, campaign.id, errors=[problem_text(page, exc)])
    return page.redirect(f"/portal/campaigns/{campaign.id}", notice=MOVES[action])
