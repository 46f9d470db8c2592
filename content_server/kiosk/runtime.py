"""Wiring of the kiosk back end into a running server: payment providers, look-up throttling, jobs.

Built by a start-up hook once the database is ready (``app.state.kiosk``), so nothing happens
on import and each app instance has its own providers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.errors import NotFound
from content_server.core.throttle_store import ThrottleStore
from content_server.kiosk import receipts
from content_server.kiosk.lookup_guard import LookupPolicy
from content_server.kiosk.payment import PaymentProvider
from content_server.kiosk.services import catalogue, orders
from content_server.kiosk.services.catalogue import CatalogueCache
from content_server.kiosk.services.community_pay import (
    NOTIFY_SENDER,
    CommunityPay,
    HttpNotifier,
    NotificationSender,
    derive_secret,
)
from schedules.clock import Clock

log = logging.getLogger(__name__)

RECONCILE_EVERY_S = 30


@dataclass
class KioskRuntime:
    community_pay: CommunityPay
    lookups: LookupPolicy = field(default_factory=LookupPolicy)
    throttles: ThrottleStore = field(default_factory=ThrottleStore)
    public_url: str = ""
    link_secret: bytes = b""  # order status links (receipts.status_token)

    def status_url(self, reference: str) -> str:
        """The order's status page, as the receipt's QR holds it."""
        return self.public_url.rstrip("/") + receipts.status_path(self.link_secret, reference)

    @property
    def default_provider(self) -> PaymentProvider:
        """Provider for new orders. An Alipay/WeChat adapter would be chosen here (docs/payments.md)."""
        return self.community_pay

    def provider(self, name: str) -> PaymentProvider:
        if name == self.community_pay.name:
            return self.community_pay
        raise NotFound(f"unknown payment provider {name!r}")

    @property
    def providers(self) -> list[PaymentProvider]:
        return [self.community_pay]


def reconcile_all(
    runtime: KioskRuntime,
    sessions: sessionmaker[Session],
    now: dt.datetime,
    grace: dt.timedelta = orders.NOTIFICATION_GRACE,
) -> dict[str, int]:
    """One reconciliation pass over every provider."""
    total = {"checked": 0, "paid": 0, "expired": 0}
    for provider in runtime.providers:
        with sessions() as session:
            for key, value in orders.reconcile(session, provider, now, grace).items():
                total[key] += value
    return total


def _job(app: FastAPI) -> None:
    clock: Clock = app.state.clock
    try:  # boundary: a failing pass is logged and retried at the next interval
        reconcile_all(app.state.kiosk, app.state.sessions, clock.now())
    except Exception:
        log.exception("kiosk reconciliation pass failed")


def start(app: FastAPI) -> None:
    """Start-up hook: build the providers and schedule reconciliation."""
    settings = app.state.settings
    pay = CommunityPay(
        app.state.sessions,
        derive_secret(settings.secret_key),
        settings.public_url,
        HttpNotifier(),
    )
    app.state.kiosk = KioskRuntime(
        community_pay=pay,
        public_url=settings.public_url,
        link_secret=receipts.status_secret(settings.secret_key),
    )
    # the catalogue kiosks poll: its own change scope, answered from memory while current
    catalogue.watch_inputs(app.state.changes)
    app.state.kiosk_catalogue = CatalogueCache(app.state.generations, app.state.counters.add)
    app.state.deliveries.register(NOTIFY_SENDER, NotificationSender(pay))  # durable, retried (core.delivery)
    app.state.scheduler.add_job(
        _job,
        "interval",
        seconds=RECONCILE_EVERY_S,
        args=[app],
        id="kiosk-reconcile",
        max_instances=1,
        coalesce=True,
        replace_existing=True,
    )
    log.info("kiosk back end ready (payments: %s; notify URL %s)", pay.name, pay.notify_url)


def get_runtime(request: Request) -> KioskRuntime:
    runtime: KioskRuntime = request.app.state.kiosk
    return runtime
