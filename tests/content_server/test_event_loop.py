"""A locked database never freezes the event loop: polls keep answering while writers wait.

Uploads, screenshots, CAP alerts and provider pictures are ``async`` routes: their bodies stream
on the event loop, and their database work runs on a worker thread with its own short session.
So when another connection holds SQLite's write lock (here for 5 s: a long migration, a backup,
a stuck job), the writers wait on their threads while manifest polls and emergency checks in the
same server process keep answering. Real uvicorn on loopback, real HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import sqlite3
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.content_server.test_cap import ALERT
from tests.fixtures.server import LiveServer, pair_device

LOCK_S = 5.0
# A poll that waited for the lock would take about LOCK_S; one answered beside it takes
# milliseconds. The bound sits far from both, so a loaded machine (2 cores, stress-ng beside the
# suite: 128-200 ms seen against a 100 ms bound; five suites side by side with swap: a long-poll
# 535 ms late against 500 ms) cannot fail it and a blocked poll cannot
# pass it. How fast polls are is the benchmarks' business (bench/server_poll.py).
P99_LIMIT_S = LOCK_S / 4


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 40, 40)).save(out, "PNG")  # big enough for an indoor screen
    return out.getvalue()


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


@pytest.mark.slow
def test_polls_answer_while_another_connection_holds_the_write_lock(
    live_server: LiveServer, media_dir: Path
) -> None:
    api = live_server.api
    op = live_server.auth(live_server.operator)
    provider = live_server.auth(live_server.create_user("picture-shop", "provider"))
    screen = pair_device(live_server, screen_class="indoor_small", groups=["lobby"])
    photo = (media_dir / "small.jpg").read_bytes()
    img = httpx.post(f"{api}/media?filename=filler.jpg", content=photo, headers=op).json()
    assert httpx.patch(f"{api}/media/{img['id']}", json={"filler": True}, headers=op).is_success
    areas = {"name": "city", "area_groups": {"Lobby": ["lobby"]}}
    feed = httpx.post(f"{api}/alert-feeds", json=areas, headers=op).json()
    first = httpx.get(f"{api}/device/manifest", headers=screen.headers)
    assert first.status_code == 200
    # the screenshot is asked for (an unasked one is refused before any database work)
    assert httpx.post(f"{api}/screens/{screen.device_id}/screenshot-request", headers=op).is_success
    poll_headers = {**screen.headers, "If-None-Match": first.headers["etag"]}
    emergency = f"{api}/device/emergency"
    known = httpx.get(f"{api}/device/emergency", headers=screen.headers).json()["version"]
    cap = ALERT.format(ident=uuid.uuid4(), msg_type="Alert", refs="", area="Lobby").encode()
    signed = {"X-Signature": "sha256=" + hmac.new(feed["secret"].encode(), cap, hashlib.sha256).hexdigest()}

    writers: dict[str, Callable[[], httpx.Response]] = {
        "media upload": lambda: httpx.post(
            f"{api}/media?filename=late.png", content=png(), headers=op, timeout=60
        ),
        "screenshot": lambda: httpx.post(
            f"{api}/device/screenshot", content=png(), headers=screen.headers, timeout=60
        ),
        "CAP alert": lambda: httpx.post(
            live_server.url + feed["post_url"], content=cap, headers=signed, timeout=60
        ),
        "provider picture": lambda: httpx.post(
            f"{api}/provider/images", content=photo, headers=provider, timeout=60
        ),
    }
    answers: dict[str, tuple[int, float]] = {}
    long_poll_overshoot: list[float] = []
    stop = threading.Event()

    def write(name: str) -> None:
        started = time.monotonic()
        answers[name] = (writers[name]().status_code, time.monotonic() - started)

    def long_polls() -> None:
        """A screen's emergency long-poll (1 s here): it must end on time, not when the lock goes."""
        with httpx.Client(timeout=10) as poller:
            while not stop.is_set():
                t0 = time.monotonic()
                r = poller.get(emergency, params={"known": known, "wait": 1}, headers=screen.headers)
                assert r.status_code == 200
                long_poll_overshoot.append(time.monotonic() - t0 - 1.0)

    poll_times: list[float] = []
    emergency_times: list[float] = []
    with httpx.Client(timeout=10) as client:
        for _ in range(20):  # warm: connections open, the fast path knows the screen
            assert client.get(f"{api}/device/manifest", headers=poll_headers).status_code == 304
        lock = sqlite3.connect(live_server.data_dir / "signage.db", isolation_level=None, timeout=30)
        lock.execute("BEGIN IMMEDIATE")
        locked_at = time.monotonic()
        threads = [threading.Thread(target=write, args=(name,)) for name in writers]
        threads.append(threading.Thread(target=long_polls))
        for t in threads:
            t.start()
        try:
            while time.monotonic() - locked_at < LOCK_S:
                t0 = time.monotonic()
                assert client.get(f"{api}/device/manifest", headers=poll_headers).status_code == 304
                t1 = time.monotonic()
                r = client.get(emergency, params={"known": known, "wait": 0}, headers=screen.headers)
                t2 = time.monotonic()
                assert r.status_code == 200 and r.json()["version"] == known
                poll_times.append(t1 - t0)
                emergency_times.append(t2 - t1)
            assert answers == {}, f"a writer finished while the lock was held: {answers}"
        finally:
            stop.set()
            lock.execute("COMMIT")
            lock.close()
        for t in threads:
            t.join(60)
    assert len(poll_times) > 50
    assert p99(poll_times) < P99_LIMIT_S, f"manifest polls p99 {p99(poll_times) * 1000:.0f} ms"
    assert p99(emergency_times) < P99_LIMIT_S, f"emergency checks p99 {p99(emergency_times) * 1000:.0f} ms"
    assert len(long_poll_overshoot) >= 4 and max(long_poll_overshoot) < P99_LIMIT_S, long_poll_overshoot
    # and the writers got through once the lock was gone
    assert {name: status for name, (status, _) in answers.items()} == {
        "media upload": 201,
        "screenshot": 204,
        "CAP alert": 201,
        "provider picture": 201,
    }
    assert all(elapsed >= LOCK_S - 1 for _, elapsed in answers.values())
