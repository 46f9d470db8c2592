"""Screens starting together never hold up an operator or a kiosk.

A district's screens starting at once (after a power cut) keep every one of the screens' worker
threads busy for a while (``signage/device_lane.py``): here each thread is held until the test
lets go. Meanwhile an operator's screen status, a kiosk's emergency check and the kiosk
catalogue answer at once, while a screen's first manifest poll waits its turn and is served as
soon as a thread is free.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from content_server.signage.device_lane import THREADS, DeviceLane
from tests.fixtures.server import AppClient, pair_device

ANSWER_S = 10.0  # a request that needed a screens' thread would never answer while they are held


def test_operators_and_kiosks_are_answered_while_the_screens_threads_are_busy(app_client: AppClient) -> None:
    screen = pair_device(app_client, kind="player", name="Lobby 1")
    kiosk = pair_device(app_client, kind="kiosk", name="Kiosk 1", orientation="portrait")
    op = app_client.auth(app_client.operator)
    lane: DeviceLane = app_client.app.state.device_lane  # type: ignore[attr-defined]
    portal = app_client.portal
    assert portal is not None
    release = threading.Event()
    held = [portal.start_task_soon(lane.run, release.wait) for _ in range(THREADS)]
    with ThreadPoolExecutor(4) as pool:
        try:
            first_poll: Future[httpx.Response] = pool.submit(
                app_client.get, "/api/v1/device/manifest", headers=screen.headers
            )
            deadline = time.monotonic() + ANSWER_S
            while lane.waiting < 1 and time.monotonic() < deadline:  # the poll waits for a thread
                time.sleep(0.01)
            assert lane.waiting == 1 and not first_poll.done()

            status = pool.submit(app_client.get, f"/api/v1/screens/{screen.device_id}/status", headers=op)
            emergency = pool.submit(app_client.get, "/api/v1/device/emergency", headers=kiosk.headers)
            catalogue = pool.submit(app_client.get, "/api/v1/kiosk/catalogue", headers=kiosk.headers)
            assert status.result(ANSWER_S).status_code == 200
            assert emergency.result(ANSWER_S).json()["active"] is False
            assert catalogue.result(ANSWER_S).status_code == 200
            assert not first_poll.done()  # still waiting its turn
        finally:
            release.set()
        for h in held:
            h.result(ANSWER_S)
        served = first_poll.result(ANSWER_S)
    assert served.status_code == 200 and served.json()["screen"]["id"] == screen.device_id
