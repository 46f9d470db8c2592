"""The signage feature's JSON API: one router that ``create_app`` mounts under ``/api/v1``."""

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

router = APIRouter()
for _module in (devices, screens, media, bookings, reports, bundles, alerts, house_rules):
    router.include_router(_module.router)
