"""The device API's contract, run against the real server (the wire) and against the fake beside it.

The same steps pass on both, so the fake that most player tests use behaves as the server does:
pairing hands the key out once, the manifest answers 304 to its own ETag, downloads resume,
play batches are counted once, a screenshot is asked for in the heartbeat reply, the emergency
long-poll answers as soon as the emergency starts, the command long-poll as soon as a command is
sent (acknowledged once, 404 for another device's), and a revoked key gets 401 on every route.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from PIL import Image

from schedules.model import ItemKind
from schedules.protocol.device import (
    CommandAck,
    CommandKind,
    CommandOutcome,
    Heartbeat,
    Manifest,
    PlayBatch,
    PlayRecord,
)
from signage_player.client import ServerClient
from signage_player.device_api import (
    DeviceApi,
    FakeDeviceServer,
    HttpStatusError,
    NetworkError,
    Unauthorized,
)
from tests.fixtures.server import LiveServer
from tests.signage_player.manifests import asset_item, manifest, text_item
from tests.signage_player.serverkit import Operator


def _png() -> bytes:
    """A real (small) screenshot: the server decodes and re-encodes what it keeps."""
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


class Backstage(Protocol):
    """What an operator does to the server, the same for the real one and the fake."""

    def api(self, key: str | None = None) -> DeviceApi: ...

    def claim(self, code: str) -> str: ...

    def show_image(self, device_id: str, path: Path) -> str: ...

    def emergency(self, device_id: str, on: bool) -> None: ...

    def request_screenshot(self, device_id: str) -> None: ...

    def screenshot(self, device_id: str) -> bytes | None: ...

    def revoke(self, device_id: str) -> None: ...

    def command(self, device_id: str, kind: CommandKind, volume: int | None = None) -> str: ...

    def command_outcome(self, device_id: str, command_id: str) -> str | None: ...


class LiveBackstage:
    def __init__(self, server: LiveServer) -> None:
        self.server, self.op = server, Operator(server)
        self._emergency: dict[str, str] = {}

    def api(self, key: str | None = None) -> DeviceApi:
        return ServerClient(self.server.url, key, timeout=30)

    def claim(self, code: str) -> str:
        return str(self.op.claim(code)["id"])

    def show_image(self, device_id: str, path: Path) -> str:
        media = self.op.upload(path)
        self.op.announce(device_id, media_ids=(media["id"],))
        return str(media["sha256"])

    def emergency(self, device_id: str, on: bool) -> None:
        if on:
            ann = self.op.announce(device_id, text={"zh": "燃气泄漏 请立即撤离", "en": "Gas leak"},
                                   priority="emergency")
            self._emergency[device_id] = ann["id"]
        else:
            self.op.request("POST", f"/announcements/{self._emergency.pop(device_id)}/end")

    def request_screenshot(self, device_id: str) -> None:
        self.op.request("POST", f"/screens/{device_id}/screenshot-request")

    def screenshot(self, device_id: str) -> bytes | None:
        r = httpx.get(f"{self.server.api}/screens/{device_id}/screenshot", headers=self.op.headers)
        return r.content if r.status_code == 200 else None

    def revoke(self, device_id: str) -> None:
        self.op.request("POST", f"/screens/{device_id}/revoke")

    def command(self, device_id: str, kind: CommandKind, volume: int | None = None) -> str:
        body = {"kind": kind.value, "volume": volume, "selector": {"screen_ids": [device_id]}}
        sent = self.op.request("POST", "/commands", json=body)
        return str(sent["devices"][0]["command_id"])

    def command_outcome(self, device_id: str, command_id: str) -> str | None:
        for send in self.op.request("GET", "/commands"):
            for row in self.op.request("GET", f"/commands/{send['id']}")["devices"]:
                if row["command_id"] == command_id:
                    return None if row["state"] == "pending" else str(row["state"])
        return None


class FakeBackstage:
    def __init__(self) -> None:
        self.server = FakeDeviceServer()

    def api(self, key: str | None = None) -> DeviceApi:
        return self.server.client(key)

    def claim(self, code: str) -> str:
        return self.server.claim(code).device_id

    def show_image(self, device_id: str, path: Path) -> str:
        item, ref = asset_item("img", ItemKind.IMAGE, path)
        self.server.publish(device_id, manifest([(item, ref)], version=f"v-{ref.sha256[:8]}"),
                            {ref.sha256: path.read_bytes()})
        return ref.sha256

    def emergency(self, device_id: str, on: bool) -> None:
        item = text_item("gas", "燃气泄漏 请立即撤离", "Gas leak")
        self.server.set_emergency(device_id, item if on else None)

    def request_screenshot(self, device_id: str) -> None:
        self.server.request_screenshot(device_id)

    def screenshot(self, device_id: str) -> bytes | None:
        shots = self.server.screens[device_id].screenshots
        return shots[-1] if shots else None

    def revoke(self, device_id: str) -> None:
        self.server.revoke(device_id)

    def command(self, device_id: str, kind: CommandKind, volume: int | None = None) -> str:
        return self.server.send_command(device_id, kind, volume=volume).id

    def command_outcome(self, device_id: str, command_id: str) -> str | None:
        ack = self.server.screens[device_id].acks.get(command_id)
        return ack.outcome.value if ack is not None else None


@pytest.fixture(params=["fake", pytest.param("live", marks=pytest.mark.slow)])
def backstage(request: pytest.FixtureRequest) -> Iterator[Backstage]:
    if request.param == "live":
        yield LiveBackstage(request.getfixturevalue("live_server"))
    else:
        fake = FakeBackstage()
        yield fake
        fake.server.close()


def _pair(backstage: Backstage) -> tuple[str, DeviceApi]:
    api = backstage.api()
    started = api.start_pairing("player", "test-1", "cHVibGljLWtleQ==")
    assert api.poll_pairing(started.pairing_id, started.poll_secret).claimed is False
    assert started.code in started.claim_url and "/portal/" in started.claim_url
    device_id = backstage.claim(started.code)
    status = api.poll_pairing(started.pairing_id, started.poll_secret)
    assert status.claimed and status.device_id == device_id and status.device_key
    with pytest.raises(HttpStatusError) as again:  # the key is handed out once
        api.poll_pairing(started.pairing_id, started.poll_secret)
    assert again.value.status == 404 and not isinstance(again.value, Unauthorized)
    with pytest.raises(HttpStatusError, match="404"):
        api.poll_pairing(started.pairing_id, "not-the-secret")
    api.device_key = status.device_key
    return device_id, api


def _plays(manifest: Manifest, sha: str, n: int, first: int = 0) -> list[PlayRecord]:
    """``n`` plays of the shown picture, one after another from now, as the manifest vouches."""
    item = next(i for i in manifest.catalogue.items.values() if i.asset_sha256 == sha)
    ann = next((a.id for a in manifest.catalogue.announcements if item.id in a.item_ids), None)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return [PlayRecord(id=uuid.uuid4(), item_id=item.id, announcement_id=ann,
                       started_at=start + dt.timedelta(seconds=5 * (first + i)), duration_s=5,
                       completed=True) for i in range(n)]


def test_pairing_manifest_downloads_and_reports(backstage: Backstage, media_dir: Path,
                                                 tmp_path: Path) -> None:
    device_id, api = _pair(backstage)
    sha = backstage.show_image(device_id, media_dir / "landscape.png")
    first = api.manifest()
    assert first.manifest is not None and first.etag == f'"{first.manifest.version}"'
    assert api.manifest(first.etag).manifest is None  # 304 to its own ETag
    assert api.manifest('"something-else"').manifest is not None
    ref = next(a for a in first.manifest.assets if a.sha256 == sha)

    body = (media_dir / "landscape.png").read_bytes()
    part = tmp_path / "asset.part"
    part.write_bytes(body[:1000])  # what arrived before the connection dropped
    assert api.download(ref.url, part, ref.size) == ref.size and part.read_bytes() == body
    assert api.download(ref.url, part, ref.size) == ref.size  # already complete: nothing fetched

    plays = _plays(first.manifest, sha, 3)
    sent = api.send_plays(PlayBatch(records=plays))
    assert (sent.accepted, sent.duplicates, sent.refused) == (3, 0, 0), sent
    # the reply was lost: resent with one more
    retried = api.send_plays(PlayBatch(records=[*plays, *_plays(first.manifest, sha, 1, first=3)]))
    assert (retried.accepted, retried.duplicates, retried.refused) == (1, 3, 0), retried

    beat = Heartbeat(sent_at=dt.datetime.now(dt.UTC), player_version="test-1",
                     manifest_version=first.manifest.version)
    reply = api.heartbeat(beat)
    assert reply.screenshot_requested is False and reply.manifest_version == first.manifest.version
    backstage.request_screenshot(device_id)
    assert api.heartbeat(beat).screenshot_requested is True
    with pytest.raises(HttpStatusError) as not_png:
        api.send_screenshot(b"GIF89a not a png")
    assert 400 <= not_png.value.status < 500 and not isinstance(not_png.value, Unauthorized)
    api.send_screenshot(PNG)
    assert backstage.screenshot(device_id) == PNG
    assert api.heartbeat(beat).screenshot_requested is False
    api.close()


def test_emergency_long_poll_answers_when_it_starts_and_ends(backstage: Backstage) -> None:
    device_id, api = _pair(backstage)
    quiet = api.emergency(None, 0)
    assert quiet.active is False
    answers: list[Any] = []

    def long_poll(known: str) -> Callable[[], None]:
        return lambda: answers.append(api.emergency(known, 20))

    waiter = threading.Thread(target=long_poll(quiet.version))
    waiter.start()  # waiting (or about to): either way its answer is the new state
    backstage.emergency(device_id, True)
    waiter.join(15)
    assert not waiter.is_alive() and answers[-1].active and answers[-1].item is not None
    assert "燃气泄漏" in answers[-1].item.text["zh"]
    waiter = threading.Thread(target=long_poll(answers[-1].version))
    waiter.start()
    backstage.emergency(device_id, False)
    waiter.join(15)
    assert not waiter.is_alive() and answers[-1].active is False
    api.close()


def test_command_long_poll_answers_when_one_is_sent_and_an_ack_counts_once(backstage: Backstage) -> None:
    device_id, api = _pair(backstage)
    other_id, other = _pair(backstage)
    assert api.commands(0, 0).commands == []
    answers: list[Any] = []
    waiter = threading.Thread(target=lambda: answers.append(api.commands(0, 20)))
    waiter.start()  # waiting (or about to): either way its answer holds the command
    command_id = backstage.command(device_id, CommandKind.SET_VOLUME, volume=40)
    waiter.join(15)
    assert not waiter.is_alive()
    [cmd] = answers[-1].commands
    assert (cmd.id, cmd.device_id, cmd.kind) == (command_id, device_id, CommandKind.SET_VOLUME)
    assert cmd.volume == 40
    assert api.commands(cmd.seq, 0).commands == [] and other.commands(0, 0).commands == []
    done = CommandAck(outcome=CommandOutcome.DONE, detail="volume 40 %", finished_at=dt.datetime.now(dt.UTC))
    with pytest.raises(HttpStatusError) as theirs:  # another device cannot answer for it
        other.ack_command(cmd.id, done)
    assert theirs.value.status == 404 and not isinstance(theirs.value, Unauthorized)
    api.ack_command(cmd.id, done)
    api.ack_command(cmd.id, done.model_copy(update={"outcome": CommandOutcome.FAILED}))  # a repeat: harmless
    assert backstage.command_outcome(device_id, cmd.id) == "done"
    assert api.commands(0, 0).commands == []  # answered: not handed out again
    assert other_id != device_id
    api.close()
    other.close()


def test_a_revoked_key_is_refused_everywhere(backstage: Backstage, tmp_path: Path) -> None:
    device_id, api = _pair(backstage)
    # refused for the key before anything looks at what was played
    plays = PlayBatch(records=[PlayRecord(id=uuid.uuid4(), item_id="i", duration_s=5,
                                          started_at=dt.datetime.now(dt.UTC), completed=True)])
    backstage.revoke(device_id)
    calls: list[Callable[[], object]] = [
        api.manifest,
        lambda: api.heartbeat(Heartbeat(sent_at=dt.datetime.now(dt.UTC), player_version="t")),
        lambda: api.send_plays(plays),
        lambda: api.send_screenshot(PNG),
        lambda: api.emergency(None, 0),
        lambda: api.commands(0, 0),
    ]
    for call in calls:
        with pytest.raises(Unauthorized):
            call()
    with pytest.raises(Unauthorized):
        backstage.api("never-issued").manifest()
    api.close()


def test_the_fake_fails_like_a_network_when_offline_or_cut(media_dir: Path, tmp_path: Path) -> None:
    fake = FakeBackstage()
    device_id, api = _pair(fake)
    sha = fake.show_image(device_id, media_dir / "landscape.png")
    ref = next(a for a in fake.server.screens[device_id].manifest.assets if a.sha256 == sha)  # type: ignore[union-attr]
    fake.server.cut_downloads_after(700)
    part = tmp_path / "a.part"
    with pytest.raises(NetworkError):
        api.download(ref.url, part, ref.size)
    assert part.stat().st_size == 700  # what arrived is kept for the resume
    fake.server.cut_downloads_after(None)
    assert api.download(ref.url, part, ref.size) == ref.size
    assert fake.server.calls[-2:] == ["download", "download bytes=700-"]
    fake.server.online = False
    with pytest.raises(NetworkError):
        api.manifest()
    fake.server.online = True
    waiter_answer: list[BaseException] = []

    def wait() -> None:
        try:
            api.emergency(api.emergency(None, 0).version, 30)
        except NetworkError as exc:
            waiter_answer.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    fake.server.close()  # the server goes away under a waiting long-poll
    waiter.join(5)
    assert not waiter.is_alive() and waiter_answer
