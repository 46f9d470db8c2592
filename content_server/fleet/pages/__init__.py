"""The fleet feature's portal pages: the wall, alerts, rules, channels, deliveries, the audit trail."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from content_server.fleet.pages import alerts, assets, audit, channels, deliveries, rules, wall
from content_server.portal.shell import NavLink

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NAV = (
    NavLink("operator", "fleet", "nav.fleet", "/portal/fleet"),
    NavLink("operator", "audit", "nav.audit", "/portal/fleet/audit"),
)

router = APIRouter()
for _module in (wall, alerts, rules, channels, deliveries, audit, assets):
    router.include_router(_module.router)
