"""The kiosk back end's HTTP routes: one router for ``create_app`` (each part carries its prefix:
``/api/v1/kiosk``, ``/api/v1/payments``, ``/pay``, ``/api/v1/cases``, ``/api/v1/provider``,
``/api/v1/kiosk-admin``). Routes stay thin: dependencies, one service call, a response."""

from __future__ import annotations

from fastapi import APIRouter

from content_server.kiosk.routes import admin, cases, kiosks, payments, provider

device_router = kiosks.kiosk_router  # what kiosks call: mounted first, like signage's device routes
router = APIRouter()
for _router in (
    payments.payments_router,
    payments.pay_router,
    cases.clerk_router,
    provider.provider_router,
    admin.admin_router,
):
    router.include_router(_router)
