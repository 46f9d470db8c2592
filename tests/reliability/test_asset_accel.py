"""Asset downloads in the shipped deployment: the app authorises, nginx sends the file.

The stack (``stack.py``: PostgreSQL, a server process with ``deploy/env/server.env``'s
``SIGNAGE_ACCEL_REDIRECT_PREFIX``, nginx with ``deploy/nginx/signage.conf``) next to a reference
process on the same database and store without the setting: the app sending the bytes itself,
as the demo does and as every device saw before. Through nginx a device must see what the
reference sends (bytes, Range, ETag and 304, types and caching), while the app's own answer to
the download is an empty redirect; refusals stay the app's JSON, and the store itself is not
reachable from outside.
"""

from __future__ import annotations

import email.utils
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from schedules.protocol.device import Manifest
from tests.fixtures.server import LiveServer, PairedDevice, free_port, pair_device
from tests.fixtures.waiting import eventually
from tests.reliability.stack import ACCEL, PG_BIN, Stack, shipped_setting
from tests.signage_player.serverkit import Operator

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL 15 binaries missing"),
]

# what a device sees of a download, and must see the same whoever sends the bytes (nginx says
# Accept-Ranges on whole answers only, the app on partial ones too: a 206 says it by itself)
SAME_HEADERS = (
    "content-type", "etag", "cache-control", "x-content-type-options", "content-length", "content-range",
    "last-modified",
)  # fmt: skip


@dataclass
class Deployment:
    stack: Stack
    reference: LiveServer  # the same database and store, the app sending the bytes

    @property
    def app(self) -> LiveServer:
        return self.stack.servers[0]

    @property
    def front(self) -> LiveServer:
        return self.stack.front

    def stored(self, sha: str) -> bytes:
        return (self.stack.data_dir / "media" / sha[:2] / sha[2:4] / sha).read_bytes()


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with Stack(servers=1, SIGNAGE_POLL_CACHE_S="0.2") as stack:
        app = stack.servers[0]
        reference = LiveServer(
            stack.data_dir,
            free_port(),
            app.database_url,
            {ACCEL: "", "SIGNAGE_SCHEDULER_ENABLED": "0"},
            operator=stack.operator,
        )
        reference.start()
        try:
            yield Deployment(stack, reference)
        finally:
            reference.stop()


def _picture(tmp_path: Path, name: str, seed: int) -> Path:
    """A noisy PNG of a few hundred kB: big enough that nginx, not a small buffer, sends it."""
    img = Image.effect_noise((640, 360), 60 + seed).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


def _get(
    server: LiveServer, sha: str, dev: PairedDevice, method: str = "GET", **headers: str
) -> httpx.Response:
    url = server.api + f"/assets/{sha}"
    return httpx.request(method, url, headers={**dev.headers, **headers}, timeout=30)


def _same_answer(through_nginx: httpx.Response, itself: httpx.Response) -> None:
    assert through_nginx.status_code == itself.status_code
    if itself.status_code == 416:  # a range past the end: only the status and the size matter
        assert through_nginx.headers["content-range"] == itself.headers["content-range"]
        return
    assert through_nginx.content == itself.content
    for name in SAME_HEADERS:
        assert through_nginx.headers.get(name) == itself.headers.get(name), name
    assert "x-accel-redirect" not in through_nginx.headers


def test_nginx_sends_exactly_what_the_app_would(deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    op = Operator(d.front)
    shown, stranger = (op.upload(_picture(tmp_path, f"p{i}.png", i)) for i in range(2))
    dev = pair_device(d.front, screen_class="indoor_small")
    op.announce(dev.device_id, media_ids=(shown["id"],))
    assert httpx.get(d.front.api + "/device/manifest", headers=dev.headers).status_code == 200
    sha, prefix = shown["sha256"], shipped_setting(ACCEL)
    body = d.stored(sha)
    assert len(body) > 100_000

    # the app decides and leaves the bytes to nginx; the reference sends them itself
    own = _get(d.app, sha, dev)
    assert own.status_code == 200 and own.content == b""
    assert own.headers["x-accel-redirect"] == f"{prefix}/{sha[:2]}/{sha[2:4]}/{sha}"
    itself = _get(d.reference, sha, dev)
    assert itself.status_code == 200 and itself.content == body and "x-accel-redirect" not in itself.headers

    full = _get(d.front, sha, dev)
    assert full.status_code == 200 and full.content == body
    assert full.headers["etag"] == f'"{sha}"' and full.headers["content-type"] == "image/png"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    _same_answer(full, itself)
    assert full.headers["accept-ranges"] == "bytes" == itself.headers["accept-ranges"]

    ranged = _get(d.front, sha, dev, Range="bytes=100-199")
    assert ranged.status_code == 206 and ranged.content == body[100:200]
    assert ranged.headers["content-range"] == f"bytes 100-199/{len(body)}"
    _same_answer(ranged, _get(d.reference, sha, dev, Range="bytes=100-199"))
    # the tail, a suffix, past the end
    for asked in (f"bytes={len(body) - 10}-", "bytes=-10", f"bytes={len(body) + 5}-"):
        _same_answer(_get(d.front, sha, dev, Range=asked), _get(d.reference, sha, dev, Range=asked))

    held = _get(d.front, sha, dev, **{"If-None-Match": f'"{sha}"'})
    assert held.status_code == 304 and held.content == b"" and held.headers["etag"] == f'"{sha}"'
    reference_304 = _get(d.reference, sha, dev, **{"If-None-Match": f'"{sha}"'})
    assert held.headers["cache-control"] == reference_304.headers["cache-control"]
    stale = _get(d.front, sha, dev, **{"If-None-Match": '"an-older-file"'})
    assert stale.status_code == 200 and stale.content == body

    # resuming a download: If-Range is judged by the app's ETag; dates are not validators here
    resumed = _get(d.front, sha, dev, Range="bytes=100-199", **{"If-Range": f'"{sha}"'})
    assert resumed.status_code == 206 and resumed.content == body[100:200]
    changed = _get(d.front, sha, dev, Range="bytes=100-199", **{"If-Range": '"an-older-file"'})
    assert changed.status_code == 200 and changed.content == body
    for since in (full.headers["last-modified"], email.utils.formatdate(time.time() + 86_400, usegmt=True)):
        dated = _get(d.front, sha, dev, **{"If-Modified-Since": since})
        assert dated.status_code == 200 and dated.content == body
        _same_answer(dated, _get(d.reference, sha, dev, **{"If-Modified-Since": since}))
    head = _get(d.front, sha, dev, "HEAD")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(body) and head.headers["etag"] == f'"{sha}"'

    # refusals are the app's JSON, and nginx sends nothing of the file
    for headers in ({}, {"Authorization": "Bearer not-a-device-key"}, op.headers):
        r = httpx.get(d.front.api + f"/assets/{sha}", headers=headers)
        assert r.status_code == 401 and r.json()["detail"], (headers, r.text)
    r = _get(d.front, stranger["sha256"], dev)  # stored, known by its hash, not this screen's
    assert r.status_code == 404 and r.json()["detail"] == "unknown asset"
    assert _get(d.front, "0" * 64, dev).status_code == 404
    # the store is nginx's to read for the app only
    for path in (f"{prefix}/{sha[:2]}/{sha[2:4]}/{sha}", f"{prefix}/"):
        r = httpx.get(d.front.url + path, headers=dev.headers)
        assert r.status_code == 404 and body[:64] not in r.content


def test_the_previous_manifests_assets_too(deployment: Deployment, tmp_path: Path) -> None:
    """A screen moving to a new manifest still finishes yesterday's pictures (the route answers
    those, not the fast path): through nginx too, and no longer once they are two manifests old."""
    d = deployment
    op = Operator(d.front)
    media = [op.upload(_picture(tmp_path, f"q{i}.png", 10 + i)) for i in range(3)]
    dev = pair_device(d.front, screen_class="indoor_small")
    shas = [m["sha256"] for m in media]

    def served(sha: str) -> bool:
        r = httpx.get(d.front.api + "/device/manifest", headers=dev.headers)
        assert r.status_code == 200, r.text
        return [a.sha256 for a in Manifest.model_validate_json(r.content).assets] == [sha]

    first = op.announce(dev.device_id, media_ids=(media[0]["id"],))
    eventually(lambda: served(shas[0]), what="the first manifest")
    op.request("POST", f"/announcements/{first['id']}/end")
    op.announce(dev.device_id, media_ids=(media[1]["id"],))
    eventually(lambda: served(shas[1]), what="the next manifest")
    for sha in shas[:2]:
        own = _get(d.app, sha, dev)
        assert own.status_code == 200 and own.content == b"" and own.headers["x-accel-redirect"].endswith(sha)
        through = _get(d.front, sha, dev, Range="bytes=0-99")
        assert through.status_code == 206 and through.content == d.stored(sha)[:100]
        assert _get(d.front, sha, dev).content == d.stored(sha)
    assert _get(d.front, shas[2], dev).status_code == 404  # never in its manifests
