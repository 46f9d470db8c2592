"""The live_server fixture itself: real uvicorn subprocess, restart on the same data, kill -9."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.server import LiveServer, pair_device


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
