"""The signage feature's JSON API: one router that ``create_app`` mounts under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from content_server.signage.routes import alerts, bookings, bundles, devices, media, reports, screens

router = APIRouter()
for _module in (devices, screens, media, bookings, reports, bundles, alerts):
    router.include_router(_module.router)
