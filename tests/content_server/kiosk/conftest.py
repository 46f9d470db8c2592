"""Fixtures for the kiosk back end: a seeded server (in-process or live on loopback) and a kiosk."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.db import make_engine, make_sessionmaker
from content_server.core.delivery.policy import DeliveryState, Outcome
from content_server.kiosk.models import CommunityPayTrade, ServiceRow, SlotRow
from content_server.kiosk.runtime import KioskRuntime, reconcile_all
from signage_demo.kiosk_catalogue import seed_demo_catalogue
from tests.fixtures.server import AppClient, LiveServer, PairedDevice, free_port, pair_device


class ClientNotifier:
    """Delivers community-pay notifications through the in-process TestClient (no socket)."""

    def __init__(self, client: AppClient) -> None:
        self.client = client
        self.sent: list[tuple[bytes, dict[str, str]]] = []
        self.deliver = True

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        self.sent.append((body, dict(headers)))
        if not self.deliver:
            return Outcome(False, "lost on the way (test)")
        status = self.client.post(urlsplit(url).path, content=body, headers=dict(headers)).status_code
        return Outcome(status == 200, f"HTTP {status}")


def success_notification(
    sessions: sessionmaker[Session], order_id: object, paid_at: dt.datetime, **override: Any
) -> bytes:
    """The body community pay would send for this order's trade, with fields a test may override."""
    with sessions() as s:
        trade = s.scalars(select(CommunityPayTrade).where(CommunityPayTrade.out_trade_no == order_id)).one()
        body = {
            "notification_id": f"{trade.trade_no}-success",
            "out_trade_no": order_id,
            "trade_no": trade.trade_no,
            "status": "success",
            "amount_minor": trade.amount_minor,
            "currency": "CNY",
            "paid_at": paid_at.isoformat(),
        }
    body.update(override)
    return json.dumps(body).encode()


@dataclass
class Bookable:
    service_id: str
    slot_id: str
    price_minor: int


LEAD = dt.timedelta(minutes=10)


def pick_slot(
    sessions: sessionmaker[Session], now: dt.datetime, name_en: str = "Health check visit"
) -> Bookable:
    """The service's first slot that starts at least ``LEAD`` after ``now``: the slot starting next
    could start while a test on a loaded machine walks to its order, which the server then refuses
    (a test picking at 10:59:50 books the 11:00 slot at 11:00:30)."""
    with sessions() as s:
        service = s.scalars(select(ServiceRow).where(ServiceRow.name_en == name_en)).one()
        slot = s.scalars(
            select(SlotRow)
            .where(SlotRow.service_id == service.id, SlotRow.start > now + LEAD)
            .order_by(SlotRow.start)
        ).first()
        assert slot is not None
        return Bookable(service.id, slot.id, service.price_minor)


@dataclass
class InProcess:
    client: AppClient
    kiosk: PairedDevice
    notifier: ClientNotifier

    @property
    def sessions(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = self.client.app.state.sessions  # type: ignore[attr-defined]
        return factory

    def now(self) -> dt.datetime:
        now: dt.datetime = self.client.clock.now()
        return now

    def advance(self, **kw: float) -> None:
        self.client.clock.advance(dt.timedelta(**kw).total_seconds())

    def order(self, body: dict[str, Any]) -> httpx.Response:
        return self.client.post("/api/v1/kiosk/orders", json=body, headers=self.kiosk.headers)

    def deliver(self) -> list[DeliveryState]:
        """Send what the delivery queue has due now (the worker thread is off in-process)."""
        states: list[DeliveryState] = self.client.app.state.deliveries.run_due()  # type: ignore[attr-defined]
        return states

    def reconcile(self) -> dict[str, int]:
        """One pass of the scheduled reconciliation job, at the test's clock."""
        runtime: KioskRuntime = self.client.app.state.kiosk  # type: ignore[attr-defined]
        return reconcile_all(runtime, self.sessions, self.now())


def _in_process(client: AppClient) -> InProcess:
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        seed_demo_catalogue(s, client.clock.now(), days=2)
    notifier = ClientNotifier(client)
    client.app.state.kiosk.community_pay.notifier = notifier  # type: ignore[attr-defined]
    return InProcess(client, pair_device(client, kind="kiosk"), notifier)


@pytest.fixture
def kiosk_env(app_client: AppClient) -> InProcess:
    """In-process server (movable clock) on SQLite with the demo catalogue and a paired kiosk."""
    return _in_process(app_client)


@pytest.fixture
def kiosk_env_any_db(any_db_client: AppClient) -> InProcess:
    """The same, once on SQLite and once on PostgreSQL (marked ``postgres``)."""
    return _in_process(any_db_client)


@dataclass
class Live:
    server: LiveServer
    kiosk: PairedDevice
    sessions: sessionmaker[Session]

    def order(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            self.server.api + "/kiosk/orders", json=body, headers=self.kiosk.headers, timeout=10
        )


def seeded_live(server: LiveServer) -> Generator[Live, None, None]:
    engine = make_engine(server.database_url or f"sqlite:///{server.data_dir / 'signage.db'}")
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        seed_demo_catalogue(s, dt.datetime.now(dt.UTC), days=2)
    try:
        yield Live(server, pair_device(server, kind="kiosk"), sessions)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def live_kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A real server on loopback, seeded, with a paired kiosk; shared by the live tests to save start-ups.

    Tests using it create their own orders and never assume they are alone on the server.
    """
    server = LiveServer(data_dir=tmp_path_factory.mktemp("kiosk-server"), port=free_port())
    server.create_operator()
    server.start()
    try:
        yield from seeded_live(server)
    finally:
        server.stop()


@pytest.fixture
def live_kiosk_factory(live_server_factory: Callable[..., LiveServer]) -> Iterator[Callable[..., Live]]:
    made: list[Generator[Live, None, None]] = []

    def make(**kw: Any) -> Live:
        gen = seeded_live(live_server_factory(**kw))
        made.append(gen)
        return next(gen)

    yield make
    for gen in made:
        gen.close()
