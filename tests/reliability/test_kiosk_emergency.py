"""The kiosk part of ``bench/fleet_ops.py``, short: real kiosk processes, an emergency, 5 s.

Two ``community-kiosk`` processes (offscreen) are paired with a real server on loopback and tapped
through to a service page (``tests/reliability/kiosks.py``, as the bench does). An emergency
created through the operators' API must be named on show by each kiosk's heartbeat within 5 s,
with the service page still open under it and the overlay in the kiosk's screenshot; ending it
takes the overlay away. The full run, beside 2,000 simulated screens behind nginx, is the bench.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from content_server.core.db import make_engine, make_sessionmaker
from signage_demo.kiosk_catalogue import seed_demo_catalogue
from tests.fixtures.server import LiveServer
from tests.fixtures.waiting import eventually
from tests.kiosk_app.conftest import ARTIFACTS
from tests.reliability.kiosks import SERVICE_PAGE, emergency_ms, start_kiosks

pytestmark = pytest.mark.slow


def test_an_emergency_covers_real_kiosks_on_a_service_page_at_once(live_server: LiveServer,
                                                                    tmp_path: Path) -> None:
    """"At once" is told from the kiosk's long-poll running out (its 20 s wait) by a 15 s bound,
    which a loaded machine keeps; the quiet machine's figure (5 s) is
    ``bench/fleet_ops.py``'s ``emergency_ms``."""
    engine = make_engine(live_server.database_url or f"sqlite:///{live_server.data_dir / 'signage.db'}")
    try:
        with make_sessionmaker(engine)() as s:
            seed_demo_catalogue(s, dt.datetime.now(dt.UTC), days=2)
            s.commit()
    finally:
        engine.dispose()
    kiosks = start_kiosks(live_server, tmp_path, 2)
    try:
        painted = emergency_ms(live_server, kiosks, shots=ARTIFACTS / "fleet_ops")
        assert len(painted) == 2
        for answer in painted.values():
            assert answer.ms is not None and 0 < answer.ms < 15_000, painted
            assert answer.screenshot_taken, f"no screenshot came back: {painted}"
            assert answer.page == SERVICE_PAGE and answer.overlay_in_screenshot, painted
        headers = live_server.auth(live_server.operator)

        def ended_everywhere() -> bool:  # emergency_ms ended it: the heartbeats say none is on show
            beats = [httpx.get(f"{live_server.api}/screens/{k.id}/status", headers=headers, timeout=10)
                     .json()["heartbeat"] for k in kiosks]
            return all(b["emergency_version"] in (None, "none") and b["page"] == SERVICE_PAGE for b in beats)

        eventually(ended_everywhere, 30, "heartbeats with the emergency ended, the service page back")
    finally:
        codes = [k.stop() for k in kiosks]
    assert codes == [0, 0], [k.tail() for k in kiosks]  # SIGTERM: a clean stop
