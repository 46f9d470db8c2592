"""``signage-demo``: the whole suite on one machine, seeded with real-looking community content.

Start-up is explicit and logged, step by step:

1. demo media (Pillow + ffmpeg, cached under ``var/demo/media``),
2. database migration and demo accounts (in-process, the server's own services),
3. the kiosk service catalogue (the kiosk back end's seeder),
4. the content server as a child process on ``127.0.0.1:8080`` (SQLite + files under ``var/demo/server``),
5. pairing of every device through the real pairing API, claimed by the demo operator,
6. announcements, merchants' media and approved campaigns through the HTTP API,
7. one outdoor_large player, one portrait indoor_small player and one kiosk as child processes
   (Qt offscreen when there is no display), each writing a screenshot every few seconds under
   ``var/demo/screens/<name>/``.

Ctrl-C (SIGINT) or SIGTERM stops every child (process groups, SIGTERM then SIGKILL) and exits.
A second run reuses everything: the media are cached and the seeding finds what exists.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from signage_demo import secret
from signage_demo.errors import DemoError
from signage_demo.media import DemoMedia, generate_demo_media, make_demo_videos
from signage_demo.processes import Child, Supervisor
from signage_demo.seed import (
    ACCOUNTS,
    DEVICES,
    OPERATOR,
    DemoApi,
    DemoDevice,
    SeedError,
    migrate_database,
    pair_device,
    seed_accounts,
    seed_content,
    seed_kiosk_catalogue,
    seed_provider,
    seed_videos,
)
from signage_demo.settings import DemoSettings

log = logging.getLogger(__name__)

RUN_FILE = "run.json"  # var/demo/run.json: URLs and child pids of the running demo


class Interrupted(DemoError):
    """Ctrl-C arrived while the demo was still starting."""


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn will
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


class Launcher:
    """Runs the demo: :meth:`start` brings everything up, :meth:`wait` until a stop, :meth:`stop`."""

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self.port = settings.port or free_port(settings.host)
        # Browsers and devices on this machine reach a wildcard bind through loopback.
        reach = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        self.base_url = f"http://{reach}:{self.port}"
        self.supervisor = Supervisor(settings.logs_dir)
        self.stopping = threading.Event()
        self.server: Child | None = None
        self.media: DemoMedia | None = None
        self._video_thread: threading.Thread | None = None
        self._reported_dead: set[str] = set()

    # ------------------------------------------------------------------ environment

    @property
    def database_url(self) -> str:
        return f"sqlite:///{(self.settings.server_dir / 'signage.db').resolve()}"

    def server_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "SIGNAGE_DEMO": "1",
                "SIGNAGE_SECRET_KEY": secret.load_or_create(self.settings.demo_dir),
                "SIGNAGE_DATA_DIR": str(self.settings.server_dir.resolve()),
                "SIGNAGE_DATABASE_URL": self.database_url,
                "SIGNAGE_PUBLIC_URL": self.base_url,
                "SIGNAGE_HOST": self.settings.host,
                "SIGNAGE_PORT": str(self.port),
                "SIGNAGE_SECURE_COOKIES": "0",
                "SIGNAGE_LOG_LEVEL": self.settings.log_level,
            }
        )
        return env

    def app_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"  # without a display Qt would abort
        env.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
        # The player saves screen.png this often; the kiosk saves each screen as it is shown.
        env["SIGNAGE_PLAYER_SCREENSHOT_EVERY_S"] = str(self.settings.screenshot_interval_s)
        return env

    # ------------------------------------------------------------------ start-up

    def start(self) -> None:
        s = self.settings
        t0 = time.monotonic()
        if not port_is_free(s.host, self.port):
            raise DemoError(
                f"port {self.port} on {s.host} is in use (another demo or server?); "
                "stop it or pass --port (0 picks a free one)"
            )
        for d in (s.demo_dir, s.server_dir, s.media_dir, s.screens_dir, s.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)

        log.info("step 1/7: demo media in %s", s.media_dir)
        assets = s.assets_dir if s.assets_dir.is_dir() else None
        self.media = generate_demo_media(s.media_dir, assets_dir=assets, videos=False)

        log.info("step 2/7: database migration and demo accounts (%s)", self.database_url)
        migrate_database(self.database_url)
        created = seed_accounts(self.database_url, now)
        log.info("accounts: %s", f"created {', '.join(created)}" if created else "all present")

        log.info("step 3/7: kiosk service catalogue")
        seed_kiosk_catalogue(self.database_url, now)

        log.info("step 4/7: content server on %s", self.base_url)
        self.server = self.supervisor.start(
            "server",
            [
                sys.executable,
                "-m",
                "content_server.main",
                "serve",
                "--host",
                s.host,
                "--port",
                str(self.port),
            ],
            env=self.server_env(),
        )
        api = DemoApi(self.base_url)
        server = self.server
        waited = api.wait_healthy(
            s.startup_timeout_s, alive=lambda: server.alive() and not self.stopping.is_set()
        )
        log.info("server answered /health after %.1f s", waited)

        operator = api.login(OPERATOR)
        self._check_stop()
        # Every demo screen is paired, even one whose app is not started, so bookings that
        # target it fit and the portal shows the whole community.
        log.info("step 5/7: pairing %d device(s) through the pairing API", len(DEVICES))
        for device in DEVICES:
            pair_device(api, operator, device, self.device_dir(device))
        devices = self._wanted_devices()

        self._check_stop()
        log.info("step 6/7: announcements, merchants' media and campaigns, a provider's service")
        try:
            seed_content(api, operator, self.media, now)
            seed_provider(api, s.assets_dir / "icons" / "housekeeping.png", now)
        except SeedError as exc:  # boundary: the apps still start and show what is there
            log.error("content seeding stopped: %s (see %s)", exc, self.server.log_path)

        self._check_stop()
        log.info("step 7/7: starting the apps")
        for device in devices:
            self._start_app(device)
        self.write_run_file()
        log.info("demo up in %.1f s", time.monotonic() - t0)
        if s.videos:
            self._video_thread = threading.Thread(
                target=self._videos, args=(api, operator, now), name="demo-videos", daemon=True
            )
            self._video_thread.start()

    def _check_stop(self) -> None:
        if self.stopping.is_set():
            raise Interrupted("stopped during start-up")

    def _wanted_devices(self) -> list[DemoDevice]:
        wanted = []
        for device in DEVICES:
            module = "signage_player.main" if device.kind == "player" else "kiosk_app.main"
            enabled = self.settings.players if device.kind == "player" else self.settings.kiosk
            if not enabled:
                continue
            if not _has_module(module):
                log.warning("%s: %s is not available yet; not started", device.name, module)
                continue
            wanted.append(device)
        return wanted

    def device_dir(self, device: DemoDevice) -> Path:
        return self.settings.demo_dir / device.name

    def _start_app(self, device: DemoDevice) -> Child:
        shots = self.settings.screens_dir / device.name
        shots.mkdir(parents=True, exist_ok=True)
        module = "signage_player.main" if device.kind == "player" else "kiosk_app.main"
        argv = [
            sys.executable,
            "-m",
            module,
            "--server",
            self.base_url,
            "--data-dir",
            str(self.device_dir(device).resolve()),
            "--screenshot-dir",
            str(shots.resolve()),
        ]
        env = self.app_env()
        if device.kind == "player":  # the physical panel's size, as an installer would configure it
            env["SIGNAGE_PLAYER_WIDTH"] = str(device.width)
            env["SIGNAGE_PLAYER_HEIGHT"] = str(device.height)
        return self.supervisor.start(device.name, argv, env=env)

    def _videos(self, api: DemoApi, operator: DemoApi, now: dt.datetime) -> None:
        """Make the ad videos (slow the first time) and book them once they exist."""
        try:
            videos = make_demo_videos(self.settings.media_dir, stop=self.stopping)
            if self.stopping.is_set():
                return
            seed_videos(api, operator, videos, now)
            log.info("ad videos seeded; screens pick them up at their next poll")
        except DemoError as exc:  # boundary: the demo keeps running on images
            log.error("ad videos not seeded: %s", exc)

    def write_run_file(self) -> None:
        doc = {
            "url": self.base_url,
            "portal": f"{self.base_url}/portal/",
            "api_docs": f"{self.base_url}/api/v1/docs",
            "launcher_pid": os.getpid(),
            "children": {c.name: c.pid for c in self.supervisor.children},
            "screens_dir": str(self.settings.screens_dir.resolve()),
        }
        (self.settings.demo_dir / RUN_FILE).write_text(json.dumps(doc, indent=2))

    def banner(self) -> str:
        lines = [
            "",
            "Community signage demo is running.",
            f"  Portal:       {self.base_url}/portal/",
            f"  API docs:     {self.base_url}/api/v1/docs",
            f"  Screenshots:  {self.settings.screens_dir.resolve()}/<app>/",
            f"  Logs:         {self.settings.logs_dir.resolve()}/",
            "  Demo log-ins (user / password / role):",
        ]
        lines += [f"    {a.username:<10} {a.password:<16} {a.role}" for a in ACCOUNTS]
        lines += ["Press Ctrl-C to stop everything.", ""]
        return "\n".join(lines)

    # ------------------------------------------------------------------ running

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self.stopping.set()

    def wait(self) -> int:
        """Block until a stop is requested or the server dies; return the exit code."""
        while not self.stopping.wait(1.0):
            for child in self.supervisor.dead():
                if child.name in self._reported_dead:
                    continue
                self._reported_dead.add(child.name)
                log.error(
                    "%s exited with code %s; last lines of %s:\n%s",
                    child.name,
                    child.popen.returncode,
                    child.log_path,
                    child.log_tail(),
                )
                if child is self.server:
                    return 1
        return 0

    def stop(self) -> None:
        self.stopping.set()
        self.supervisor.stop_all()
        if self._video_thread is not None:
            self._video_thread.join(timeout=10)  # it kills its ffmpeg when it sees the stop
        run_file = self.settings.demo_dir / RUN_FILE
        run_file.unlink(missing_ok=True)
        log.info("demo stopped")


def parse_args(argv: Sequence[str] | None) -> dict[str, object]:
    p = argparse.ArgumentParser(prog="signage-demo", description="Seed and run the whole suite locally.")
    p.add_argument("--port", type=int, help="content server port (default 8080; 0 = a free one)")
    p.add_argument("--host", help="content server address (default 127.0.0.1)")
    p.add_argument("--var-dir", type=Path, help="root of the demo's state (default ./var)")
    p.add_argument("--assets-dir", type=Path, help="committed artwork (default ./assets)")
    p.add_argument("--no-videos", action="store_true", help="skip making and seeding the ad videos")
    p.add_argument("--no-players", action="store_true", help="do not start the players")
    p.add_argument("--no-kiosk", action="store_true", help="do not start the kiosk")
    p.add_argument("--screenshot-interval", type=float, help="seconds between app screenshots (default 5)")
    args = p.parse_args(argv)
    overrides: dict[str, object] = {}
    for key, value in (
        ("port", args.port),
        ("host", args.host),
        ("var_dir", args.var_dir),
        ("assets_dir", args.assets_dir),
        ("screenshot_interval_s", args.screenshot_interval),
    ):
        if value is not None:
            overrides[key] = value
    if args.no_videos:
        overrides["videos"] = False
    if args.no_players:
        overrides["players"] = False
    if args.no_kiosk:
        overrides["kiosk"] = False
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    overrides = parse_args(argv)
    try:
        settings = DemoSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        for err in exc.errors():
            print(f"configuration error: {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # per-plugin INFO lines drown the steps
    launcher = Launcher(settings)
    previous = {sig: signal.signal(sig, launcher.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        launcher.start()
        if launcher.stopping.is_set():
            return 0
        print(launcher.banner(), flush=True)
        code = launcher.wait()
    except Interrupted:
        code = 0
    except (DemoError, OSError) as exc:
        if launcher.stopping.is_set():  # Ctrl-C during start-up cut a step short: not a failure
            log.info("stopped during start-up (%s)", exc)
            return 0
        log.error("demo failed: %s", exc)
        if launcher.server is not None and not launcher.server.alive():
            log.error("server log tail:\n%s", launcher.server.log_tail())
        code = 1
    finally:
        launcher.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
