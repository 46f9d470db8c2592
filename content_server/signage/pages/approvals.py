"""Signage pages for operators: the approval queue (campaigns; accounts are approved by ``accounts``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form
from fastapi.responses import Response

from content_server.accounts import services as accounts
from content_server.core.deps import NowDep, SessionDep
from content_server.portal.page import Csrf, OperatorPage, PortalError
from content_server.signage.models import CampaignRow
from content_server.signage.pages.describe import cap_text, daypart_text, preview_srcs, targeting_text
from content_server.signage.services import bookings

router = APIRouter()


@dataclass(frozen=True)
class PendingCampaign:
    """Everything the approver must see: what plays, where, when, how often, and how it fits."""

    campaign: CampaignRow
    advertiser: str
    targeting_text: str
    daypart_text: str
    cap_text: str
    availability_text: str
    previews: dict[str, str | None]


def _availability_text(page: OperatorPage, availability: dict[str, Any] | None) -> str:
    if not availability:
        return "—"
    if availability.get("fits"):
        return page.t("approvals.fits")
    return page.t("availability.no_fit", max=f"{availability.get('max_share_percent', 0):g}")


@router.get("/approvals")
def approvals(page: OperatorPage, session: SessionDep) -> Response:
    assert page.user is not None
    pending = [
        PendingCampaign(
            campaign=c,
            advertiser=accounts.account_name(session, c.advertiser_id),
            targeting_text=targeting_text(page, c.targeting),
            daypart_text=daypart_text(page, c.dayparts),
            cap_text=cap_text(page, c.frequency_cap_per_hour),
            availability_text=_availability_text(page, c.availability),
            previews=preview_srcs(session, page.user, c.media_ids),
        )
        for c in bookings.list_campaigns(session, page.user, "pending")
    ]
    context = {"section": "approvals", "pending": pending, "accounts": accounts.pending_accounts(session)}
    return page.render("approvals.html", context, title_key="approvals.title")


@router.post("/approvals/campaigns/{campaign_id}/{action}")
def decide_campaign(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    campaign_id: str,
    action: Literal["approve", "reject"],
    reason: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    if action == "reject" and not reason.strip():
        raise PortalError("approvals.need_reason", 422)
    bookings.decide_campaign(session, page.user, campaign_id, action, reason=reason, now=now)
    notice = "campaign_approved" if action == "approve" else "campaign_rejected"
    return page.redirect("/portal/approvals", notice=notice)
