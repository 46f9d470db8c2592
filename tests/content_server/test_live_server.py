"""The live_server fixture itself: real uvicorn subprocess, restart on the same data, kill -9."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.server import LiveServer, pair_device
from tests.fixtures.waiting import eventually


@pytest.mark.slow
def test_live_server_pairs_and_survives_restart_and_kill(live_server: LiveServer) -> None:
    dev = pair_device(live_server, kind="player", screen_class="indoor_small", orientation="portrait")
    assert httpx.get(live_server.api + "/health").json()["status"] == "ok"
    live_server.stop()
    live_server.start()
    r = httpx.get(live_server.api + "/screens", headers=live_server.auth(live_server.operator))
    assert [s["id"] for s in r.json()] == [dev.device_id]
    live_server.kill()
    live_server.start()
    assert httpx.get(live_server.api + "/health").status_code == 200


@pytest.mark.slow
def test_uvicorn_serves_a_large_asset_whole_ranged_and_concurrently(live_server: LiveServer) -> None:
    """The memory-mapped whole-file path and the ranged reader give the stored bytes exactly."""
    import hashlib
    import os
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from tests.signage_player.serverkit import Operator

    dev = pair_device(live_server, screen_class="outdoor_large")
    path = live_server.data_dir.parent / "noise.png"
    Image.frombytes("RGB", (1500, 1500), os.urandom(1500 * 1500 * 3)).save(path)
    body = path.read_bytes()  # ~6.8 MB: two map chunks
    op = Operator(live_server)
    media = op.upload(path, "noise")
    op.announce(dev.device_id, media_ids=(media["id"],))
    httpx.get(live_server.api + "/device/manifest", headers=dev.headers).raise_for_status()  # as players do
    url = live_server.api + f"/assets/{media['sha256']}"

    def whole(_: int) -> bytes:
        return httpx.get(url, headers=dev.headers, timeout=60).content

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(whole, range(8)))
    assert all(hashlib.sha256(g).hexdigest() == media["sha256"] for g in got)
    r = httpx.get(url, headers={**dev.headers, "Range": "bytes=4194300-4194400"})
    assert r.status_code == 206 and r.content == body[4194300:4194401]
    assert httpx.get(url, headers={**dev.headers, "If-None-Match": f'"{media["sha256"]}"'}).status_code == 304


@pytest.mark.slow
def test_sigterm_stops_promptly_even_with_emergency_long_polls_waiting(live_server_factory) -> None:  # type: ignore[no-untyped-def]
    import contextlib
    import signal
    import threading
    import time

    server: LiveServer = live_server_factory(SIGNAGE_SHUTDOWN_GRACE_S="1", SIGNAGE_LOG_LEVEL="DEBUG")
    dev = pair_device(server)
    first = httpx.get(server.api + "/device/emergency", headers=dev.headers).json()

    def hold() -> None:  # a player waiting for an emergency that does not come
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(server.api + "/device/emergency", params={"known": first["version"], "wait": 30},
                      headers=dev.headers, timeout=40)

    waiting = [threading.Thread(target=hold, daemon=True) for _ in range(3)]
    for t in waiting:
        t.start()
    log = server.data_dir / "server.log"
    eventually(lambda: "long-poll waiting (3 waiting)" in log.read_text(), what="three long-polls waiting")
    assert server.proc is not None
    t0 = time.monotonic()
    server.proc.terminate()
    code = server.proc.wait(25)
    assert time.monotonic() - t0 < 20, "the server waited for the long-polls' full 30 s"
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it shut down on
    assert "ERROR" not in (server.data_dir / "server.log").read_text()  # long-polls answered, none cut
