"""The signage feature's portal pages: one router, its templates and its navigation links."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from content_server.portal.shell import NavLink
from content_server.signage.pages import announcements, approvals, campaigns, media, reports, rules, screens

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NAV = (
    NavLink("advertiser", "media", "nav.media", "/portal/media"),
    NavLink("advertiser", "campaigns", "nav.campaigns", "/portal/campaigns"),
    NavLink("advertiser", "report", "nav.report", "/portal/report"),
    NavLink("operator", "media", "nav.media", "/portal/media"),
    NavLink("operator", "approvals", "nav.approvals", "/portal/approvals"),
    NavLink("operator", "campaigns", "nav.campaigns", "/portal/campaigns"),
    NavLink("operator", "report", "nav.report", "/portal/report"),
    NavLink("operator", "screens", "nav.screens", "/portal/screens"),
    NavLink("operator", "announcements", "nav.announcements", "/portal/announcements"),
    NavLink("operator", "emergency", "nav.emergency", "/portal/emergency", "nav-emergency"),
    NavLink("operator", "bundles", "nav.bundles", "/portal/bundles"),
    NavLink("operator", "house_rules", "nav.house_rules", "/portal/house-rules"),
    NavLink("operator", "alerts", "nav.alert_feeds", "/portal/alert-feeds"),
)

router = APIRouter()
for _module in (media, reports, campaigns, approvals, screens, announcements, rules):
    router.include_router(_module.router)
