"""The signage feature's JSON API, mounted by ``create_app`` under ``/api/v1``: ``device_router``
(what screens call, most of a server's requests: mounted before every other route, since
FastAPI tries routes in order and each try costs) and ``router`` (the rest)."""

from __future__ import annotations

from fastapi import APIRouter

from content_server.signage.routes import (
    alerts,
    bookings,
    bundles,
    devices,
    house_rules,
    media,
    reports,
    screens,
)

device_router = devices.router
router = APIRouter()
for _module in (screens, media, bookings, reports, bundles, alerts, house_rules):
    router.include_router(_module.router)
