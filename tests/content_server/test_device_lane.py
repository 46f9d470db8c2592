"""Screens starting together never hold up an operator or a kiosk.

A district's screens starting at once (after a power cut) keep every one of the screens' worker
threads busy for a while (``signage/device_lane.py``): here each thread is held until the test
lets go. Meanwhile an operator's screen status, a kiosk's emergency check and the kiosk
catalogue answer at once, while a screen's first manifest poll waits its turn and is served as
soon as a thread is free. Once the queue is longer than the lane works through in its
``max_wait_s``, a screen is sent away at once with 503 and its own ``Retry-After`` slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import anyio
import httpx
import pytest

from content_server.core.errors import Busy
from content_server.signage.device_lane import ALWAYS_QUEUED, MAX_RETRY_S, THREADS, DeviceLane
from tests.fixtures.server import AppClient, pair_device
from tests.reliability.fleet import run_in_own_loop  # pytest's thread may run Playwright's loop

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


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def _sent_away(lane: DeviceLane, threads: int, tries: int, work: Callable[[], object]) -> list[float]:
    """With every thread held and the always-joined queue full, the ``Retry-After`` of each try
    to have ``work`` done."""
    queued = threads * ALWAYS_QUEUED
    release = threading.Event()
    retries: list[float] = []
    async with anyio.create_task_group() as tg:
        for _ in range(threads + queued):
            tg.start_soon(lane.run, release.wait)
        while lane.waiting < queued:
            await anyio.sleep(0.001)
        try:
            for _ in range(tries):
                with pytest.raises(Busy) as sent_away:
                    await lane.run(work)
                retries.append(sent_away.value.retry_after_s)
        finally:
            release.set()
    return retries


def test_a_long_queue_sends_screens_away_with_slots_spaced_at_the_lanes_pace() -> None:
    clock = _Clock(100.0)
    counted: list[str] = []
    lane = DeviceLane(threads=2, max_wait_s=1.0, clock=clock, count=counted.append)
    ran: list[int] = []

    async def main() -> list[float]:
        for i in range(10):  # 10 done at t=100: a pace of 5 a second, seen at t=102
            await lane.run(ran.append, i)
        clock.t = 102.0
        assert lane.pace() == 5.0
        # 9 ahead at 5 a second is 1.8 s, over the 1 s worth joining
        return await _sent_away(lane, 2, 3, lambda: ran.append(-1))

    retries: list[float] = run_in_own_loop(main)
    # the first comes back when the 8 queued are done (8 / 5 a second), the next ones a pace apart
    assert retries == pytest.approx([1.6, 1.8, 2.0])
    assert ran == list(range(10)), "nothing was done for a screen sent away"
    assert counted == ["device_lane_busy"] * 3
    assert lane.waiting == 0


def test_with_no_pace_known_a_full_queue_sends_away_for_its_wait_and_slots_stop_at_the_cap() -> None:
    lane = DeviceLane(threads=1, max_wait_s=5.0, clock=_Clock(0.0))
    retries: list[float] = run_in_own_loop(lambda: _sent_away(lane, 1, 500, lambda: None))
    assert retries[0] == pytest.approx(5.0)  # the whole max wait: nothing says the queue moves
    assert retries == sorted(retries) and retries[1] > retries[0]  # each one later than the last
    assert max(retries) == MAX_RETRY_S  # never further than the cap, however many were sent away


def test_a_screen_is_sent_away_with_retry_after_while_operators_are_still_answered(
    app_client: AppClient,
) -> None:
    screen = pair_device(app_client, kind="player", name="Lobby 1")
    op = app_client.auth(app_client.operator)
    lane: DeviceLane = app_client.app.state.device_lane  # type: ignore[attr-defined]
    portal = app_client.portal
    assert portal is not None
    release = threading.Event()
    queued = THREADS * ALWAYS_QUEUED
    held = [portal.start_task_soon(lane.run, release.wait) for _ in range(THREADS + queued)]
    try:
        deadline = time.monotonic() + ANSWER_S
        while lane.waiting < queued and time.monotonic() < deadline:
            time.sleep(0.01)
        with ThreadPoolExecutor(1) as pool:  # queued instead of sent away, it would wait for the release
            asked = pool.submit(app_client.get, "/api/v1/device/manifest", headers=screen.headers)
            busy = asked.result(ANSWER_S)
        assert busy.status_code == 503
        assert 1 <= int(busy.headers["retry-after"]) <= MAX_RETRY_S
        assert "Retry-After" in busy.json()["detail"]
        assert app_client.get(f"/api/v1/screens/{screen.device_id}/status", headers=op).status_code == 200
        gauges = app_client.app.state.counters.gauges()  # type: ignore[attr-defined]
        assert gauges["device_lane_waiting"] == queued  # /metrics shows the queue
    finally:
        release.set()
    for h in held:
        h.result(ANSWER_S)
    served = app_client.get("/api/v1/device/manifest", headers=screen.headers)  # when it comes back
    assert served.status_code == 200 and served.json()["screen"]["id"] == screen.device_id
