"""Real kiosk processes on a service page, and the time an emergency takes to cover them.

Used by ``bench/fleet_ops.py`` and its short version in ``tests/reliability``; plain code, no
pytest fixtures. Each kiosk is paired through the server's front (nginx in a
:class:`~tests.reliability.stack.Stack`) like any device, then runs as its own process: the
``community-kiosk`` entry point (:func:`kiosk_app.main.main`, offscreen Qt, libVLC, its real
threads and long-polls) with a resident who taps, as a finger would, from the attract loop to the
first service's page and stays there (``python -m tests.reliability.kiosks`` is that process).

:func:`emergency_ms` creates an emergency through the operators' API and times it to the server
receiving each kiosk's heartbeat that names it on show (its stored last-seen time): the kiosk
names an emergency only once its overlay has painted the notice, and beats at once
(kiosk_app.app.ShownEmergency). A screenshot command then confirms what is on screen is the
overlay (over the service page, still open).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from tests.fixtures.server import LiveServer, PairedDevice, pair_device

if TYPE_CHECKING:
    from kiosk_app.app import KioskApp

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
SERVICE_PAGE = "detail"  # a service's own page (kiosk_app.flow.Screen.DETAIL)
OVERLAY_RGB = (0xB0, 0x00, 0x20)  # the emergency overlay's red (kiosk_app/ui/emergency.py RED)
SETTLED = ("done", "failed", "expired")  # a command's end states


class KioskError(RuntimeError):
    """A kiosk process did not come up or did not answer; the message carries the tail of its log."""


@dataclass
class KioskProcess:
    """One ``community-kiosk`` process, paired through ``front``, on a service page once :meth:`ready`."""

    name: str
    device: PairedDevice
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_file: Path
    _log: IO[bytes]

    @classmethod
    def start(cls, front: LiveServer, base: Path, name: str) -> KioskProcess:
        from signage_player import DeviceIdentity

        device = pair_device(front, kind="kiosk", name=name, orientation="portrait")
        data = base / name
        DeviceIdentity(device.private_key, device.device_id, device.device_key,
                       device.server_public_key or None).save(data)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
        env |= {
            "QT_QPA_PLATFORM": "offscreen",
            "KIOSK_WINDOW": "true",  # 1080x1920, as a kiosk's screen (offscreen has no real one)
            "KIOSK_HEARTBEAT_INTERVAL_S": "2",
            "KIOSK_IDLE_SECONDS": "600",  # the resident stays on the page for the whole run
            "KIOSK_READ_ALOUD": "false",  # no sound card here
        }
        log_file = base / f"{name}.log"
        out = log_file.open("wb")
        argv = [sys.executable, "-m", "tests.reliability.kiosks", "--server", front.url,
                "--data-dir", str(data)]
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        return cls(name, device, data, proc, log_file, out)

    @property
    def id(self) -> str:
        return self.device.device_id

    def tail(self, chars: int = 3000) -> str:
        return self.log_file.read_text(errors="replace")[-chars:]

    def page(self, front: LiveServer, headers: dict[str, str]) -> str | None:
        """The page the kiosk's last heartbeat named (None before its first); ``headers``: an operator's."""
        r = httpx.get(f"{front.api}/screens/{self.id}/status", headers=headers, timeout=30)
        r.raise_for_status()
        page: str | None = (r.json().get("heartbeat") or {}).get("page")
        return page

    def ready(self, front: LiveServer, headers: dict[str, str], timeout_s: float = 180) -> None:
        """Wait until the kiosk's heartbeat says it shows the service page (``headers``: an operator's)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise KioskError(f"kiosk {self.id} ended with {self.proc.returncode}:\n{self.tail()}")
            if self.page(front, headers) == SERVICE_PAGE:
                return
            time.sleep(0.5)
        raise KioskError(f"kiosk {self.id} not on a service page after {timeout_s:.0f} s:\n{self.tail()}")

    def stop(self) -> int | None:
        """SIGTERM (a clean stop, as systemd does), then kill if it hangs; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def start_kiosks(front: LiveServer, base: Path, count: int, timeout_s: float = 180) -> list[KioskProcess]:
    """``count`` kiosk processes started together, each on a service page when this returns."""
    kiosks: list[KioskProcess] = []
    try:
        for i in range(count):
            kiosks.append(KioskProcess.start(front, base, f"bench-kiosk-{i + 1}"))
        headers = front.auth(front.operator)  # one sign-in: the login route is rate-limited
        with ThreadPoolExecutor(max(1, count)) as pool:
            list(pool.map(lambda k: k.ready(front, headers, timeout_s), kiosks))
    except BaseException:
        for k in kiosks:
            k.stop()
        raise
    return kiosks


def shows_overlay(png: bytes) -> bool:
    """Whether most of the picture is the emergency overlay's red (its text is the rest)."""
    from PIL import Image

    picture = Image.open(io.BytesIO(png)).convert("RGB")
    colours = picture.getcolors(picture.width * picture.height) or []
    red = sum(n for n, rgb in colours if rgb == OVERLAY_RGB)
    return red > 0.5 * picture.width * picture.height


def status(client: httpx.Client, api: str, screen_id: str) -> dict[str, Any]:
    r = client.get(f"{api}/screens/{screen_id}/status")
    r.raise_for_status()
    out: dict[str, Any] = r.json()
    return out


def status_or_none(client: httpx.Client, api: str, screen_id: str) -> dict[str, Any] | None:
    """The screen's status, or None when the answer took over 5 s or the connection failed (a
    loaded server: the caller asks again until its own deadline, it does not give up measuring)."""
    try:
        r = client.get(f"{api}/screens/{screen_id}/status", timeout=5)
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out
    except httpx.TransportError as exc:  # timeouts included
        log.warning("status of %s: %s; asking again", screen_id, exc)
        return None


def screenshot(client: httpx.Client, api: str, screen_id: str, timeout_s: float = 120) -> bytes | None:
    """A screenshot command to one screen, waited for; the PNG it uploaded (None: not done in
    ``timeout_s``, a ceiling for a loaded machine: the device takes, encodes and uploads it)."""
    r = client.post(f"{api}/commands", json={"kind": "screenshot", "selector": {"screen_ids": [screen_id]}})
    r.raise_for_status()
    send_id = r.json()["id"]
    deadline, state = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        try:
            state = client.get(f"{api}/commands/{send_id}").json()["devices"][0]["state"]
        except httpx.TransportError:  # a slow answer: ask again
            continue
        if state in SETTLED:
            break
        time.sleep(0.05)
    if state != "done":
        return None
    shot = client.get(f"{api}/screens/{screen_id}/screenshot")
    shot.raise_for_status()
    return shot.content


@dataclass(frozen=True)
class Painted:
    """One kiosk's answer to the emergency: ms to the heartbeat naming it on show (None: not within
    the time allowed), the page under the overlay, and whether the screenshot shows the overlay."""

    ms: float | None
    page: str | None
    overlay_in_screenshot: bool
    screenshot_taken: bool = True  # False: the screenshot command did not finish in time


def emergency_ms(front: LiveServer, kiosks: list[KioskProcess], timeout_s: float = 30,
                 shots: Path | None = None, headers: dict[str, str] | None = None) -> dict[str, Painted]:
    """Kiosk id -> how an emergency aimed at ``kiosks`` reached it: from the request creating it to
    the server receiving the kiosk's heartbeat that names it on show (its stored last-seen time;
    the kiosk names it once the overlay has painted, and beats at once); then a screenshot
    command's picture must show the overlay (saved into ``shots`` for the eye). The emergency is
    ended afterwards. ``headers``: an operator's, signed in beforehand (a sign-in under a loaded
    fleet is slow, and not what is timed)."""
    headers = headers or front.auth(front.operator)
    with httpx.Client(headers=headers, timeout=30) as client:
        before = {k.id: (_status_within(client, front.api, k.id, timeout_s)["heartbeat"] or {})
                  .get("emergency_version") for k in kiosks}
        now = dt.datetime.now(dt.UTC)
        body = {
            "title": f"bench emergency {now.timestamp()}",
            "media_ids": [],
            "text": {"zh": "燃气泄漏 请立即离开大堂", "en": "Gas leak: leave the lobby now"},
            "ticker_text": {},
            "duration_s": 10,
            "priority": "emergency",
            "valid_from": (now - dt.timedelta(minutes=5)).isoformat(),
            "valid_until": (now + dt.timedelta(hours=1)).isoformat(),
            "targeting": {"screen_ids": [k.id for k in kiosks]},
        }
        created = time.time()
        r = client.post(f"{front.api}/announcements", json=body)
        r.raise_for_status()
        announcement = r.json()["id"]

        def until_shown(k: KioskProcess) -> Painted:
            with httpx.Client(headers=headers, timeout=30) as own:
                ms, page = None, None
                while time.time() - created < timeout_s:
                    st = status_or_none(own, front.api, k.id)
                    if st is None:
                        continue
                    beat = st["heartbeat"] or {}
                    if beat.get("emergency_version") not in (None, "none", before[k.id]):
                        stored = dt.datetime.fromisoformat(st["last_seen_at"]).timestamp()
                        ms, page = (stored - created) * 1000, beat.get("page")
                        break
                    time.sleep(0.05)
                png = screenshot(own, front.api, k.id) if ms is not None else None
                if png is not None and shots is not None:
                    shots.mkdir(parents=True, exist_ok=True)
                    (shots / f"{k.name}-emergency.png").write_bytes(png)
                return Painted(ms, page, png is not None and shows_overlay(png), png is not None)

        try:
            with ThreadPoolExecutor(len(kiosks)) as pool:
                return dict(zip([k.id for k in kiosks], pool.map(until_shown, kiosks), strict=True))
        finally:
            _end(client, front.api, announcement)


def _end(client: httpx.Client, api: str, announcement: str, tries: int = 3) -> None:
    """End the emergency, asking again after a slow answer (409 then: the first one ended it)."""
    for attempt in range(tries):
        try:
            r = client.post(f"{api}/announcements/{announcement}/end")
        except httpx.TransportError:
            if attempt == tries - 1:
                raise
            continue
        if not (r.status_code == 409 and attempt > 0):
            r.raise_for_status()
        return


def _status_within(client: httpx.Client, api: str, screen_id: str, timeout_s: float) -> dict[str, Any]:
    """The screen's status, asked again after a slow answer for up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        st = status_or_none(client, api, screen_id)
        if st is not None:
            return st
        if time.monotonic() >= deadline:
            raise KioskError(f"no status of {screen_id} within {timeout_s:.0f} s")


def _walk_to_service(app: KioskApp) -> None:
    """GUI thread, every 200 ms: tap start, the first category, the first service; stop on its page."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QWidget

    from kiosk_app.flow import Screen

    steps: dict[Screen, Callable[[str], bool]] = {
        Screen.ATTRACT: lambda name: name == "start",
        Screen.HOME: lambda name: name.startswith("category:"),
        Screen.CATEGORY: lambda name: name.startswith("service:"),
    }
    timer = QTimer(app.window)

    def step() -> None:
        screen = app.flow.state.screen
        if screen is Screen.DETAIL:
            timer.stop()
            log.info("on the service page")
            return
        wanted = steps.get(screen)
        if wanted is None or app.flow.state.catalogue is None:
            return
        for w in app.window.findChildren(QWidget):
            name = w.property("testName")
            if isinstance(name, str) and wanted(name) and w.isVisible():
                QTest.mouseClick(w, Qt.MouseButton.LeftButton)
                return

    timer.timeout.connect(step)
    timer.start(200)


if __name__ == "__main__":
    from kiosk_app.main import main

    sys.exit(main(sys.argv[1:], started=_walk_to_service))
