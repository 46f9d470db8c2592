"""Portal pages of the kiosk back end: clerks' government-affairs cases, providers' services and
bookings, over the kiosk's own services. One router, its templates and its navigation links."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from content_server.kiosk.pages import cases, providers
from content_server.portal.shell import NavLink

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NAV = (
    NavLink("clerk", "cases", "nav.cases", "/portal/cases"),
    NavLink("provider", "services", "nav.services", "/portal/services"),
    NavLink("provider", "bookings", "nav.bookings", "/portal/bookings"),
)

router = APIRouter()
for _module in (cases, providers):
    router.include_router(_module.router)
