"""Operator actions against a live content server, and set-ups on the fake one, for the player's tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage_player.config import PlayerSettings
from signage_player.device_api import FakeDeviceServer, FakeScreen
from signage_player.identity import DeviceIdentity
from tests.fixtures.server import LiveServer, PairedDevice


class Operator:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.headers = server.auth(server.operator)

    def request(self, method: str, path: str, **kw: Any) -> Any:
        r = httpx.request(method, self.server.api + path, headers=self.headers, timeout=30, **kw)
        assert r.status_code in (200, 201, 204), f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def upload(self, path: Path, title: str = "") -> dict[str, Any]:
        params = {"filename": path.name, "title": title or path.name}
        r = httpx.post(self.server.api + "/media", params=params, content=path.read_bytes(),
                       headers={**self.headers, "Content-Type": "application/octet-stream"}, timeout=60)
        assert r.status_code in (200, 201), r.text
        media: dict[str, Any] = r.json()
        return media

    def announce(self, screen_id: str, *, media_ids: tuple[str, ...] = (), text: dict[str, str] | None = None,
                 priority: str = "normal", ticker: dict[str, str] | None = None, duration_s: float = 10,
                 hours: float = 24 * 30) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        body: dict[str, Any] = {
            "title": f"test {priority} {now.timestamp()}",
            "media_ids": list(media_ids),
            "text": text or {},
            "ticker_text": ticker or {},
            "duration_s": duration_s,
            "priority": priority,
            "valid_from": (now - dt.timedelta(hours=1)).isoformat(),
            "valid_until": (now + dt.timedelta(hours=hours)).isoformat(),
            "targeting": {"screen_ids": [screen_id]},
        }
        result: dict[str, Any] = self.request("POST", "/announcements", json=body)
        return result

    def claim(self, code: str, screen_class: str = "indoor_small") -> dict[str, Any]:
        body = {"code": code, "name": f"test {code}", "screen_class": screen_class,
                "orientation": "landscape", "width": 1280, "height": 720, "groups": [], "tags": [],
                "timezone": "Asia/Shanghai"}
        result: dict[str, Any] = self.request("POST", "/screens/claim", json=body)
        return result


def paired_data_dir(data_dir: Path, device: PairedDevice) -> Path:
    """A player data dir holding the identity ``pair_device`` made (as if the player had paired)."""
    DeviceIdentity(device.private_key, device.device_id, device.device_key,
                   device.server_public_key).save(data_dir)
    return data_dir


def settings(server: LiveServer, data_dir: Path, **kw: Any) -> PlayerSettings:
    defaults: dict[str, Any] = {
        "server_url": server.url, "data_dir": data_dir, "window": True, "width": 640, "height": 360,
        "poll_interval_s": 3600, "heartbeat_interval_s": 3600, "plays_interval_s": 3600,
        "emergency_wait_s": 2, "usb": False,
    }
    defaults.update(kw)
    return PlayerSettings(**defaults)


# -- the fake server (signage_player.device_api.FakeDeviceServer) -------------------------------


def fake_paired(data_dir: Path, fake: FakeDeviceServer, kind: str = "player") -> FakeScreen:
    """A screen paired with the fake server, its identity stored in ``data_dir`` (as after pairing)."""
    key = Ed25519PrivateKey.generate()
    screen = fake.add_screen(kind)
    DeviceIdentity(key, screen.device_id, screen.device_key, fake.server_public_key).save(data_dir)
    return screen


def fake_settings(data_dir: Path, **kw: Any) -> PlayerSettings:
    """Player settings for a run on the fake server: its URL is never dialled."""
    defaults: dict[str, Any] = {
        "server_url": "http://127.0.0.1:9", "data_dir": data_dir, "window": True, "width": 640, "height": 360,
        "poll_interval_s": 3600, "heartbeat_interval_s": 3600, "plays_interval_s": 3600,
        "emergency_wait_s": 20, "usb": False,
    }
    defaults.update(kw)
    return PlayerSettings(**defaults)
