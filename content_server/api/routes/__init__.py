"""Routers of the JSON API, registered under the API prefix by :func:`register_api`."""

from __future__ import annotations

from fastapi import FastAPI


def register_api(app: FastAPI, prefix: str) -> None:
    from content_server.api.routes import (
        accounts,
        alerts,
        bookings,
        bundles,
        devices,
        media,
        reports,
        screens,
        system,
    )

    for module in (system, accounts, devices, screens, media, bookings, reports, bundles, alerts):
        app.include_router(module.router, prefix=prefix)
