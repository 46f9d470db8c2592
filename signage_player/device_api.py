"""What a screen asks of the server, as one typed interface, with an in-memory server beside it.

:class:`DeviceApi` is every call a device makes (:mod:`schedules.protocol.device`): pairing, the
manifest with its ETag, asset downloads that resume with ``Range``, heartbeats, proof-of-play
batches, screenshots and the emergency long-poll. :class:`~signage_player.client.ServerClient` is
the real one (requests over HTTP). :class:`FakeDeviceServer` keeps the server's contract in memory
(ETag/304, resumed downloads, idempotent play batches, 401 once a key is revoked, a long-poll that
answers the moment the emergency changes); ``server.client()`` is a :class:`DeviceApi` onto it, in
the spirit of httpx's ``MockTransport``. Tests that do not test the wire run on the fake; the live
tests keep the real server. No HTTP library and no Qt here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from schedules.clock import Clock, SystemClock
from schedules.model import ContentItem
from schedules.protocol.device import (
    AssetRef,
    CommandAck,
    CommandKind,
    CommandList,
    DeviceCommand,
    EmergencyState,
    Heartbeat,
    HeartbeatReply,
    Loudness,
    Manifest,
    PairingStarted,
    PairingStatus,
    PlayBatch,
    PlayBatchResult,
    PlayRecord,
)
from schedules.protocol.release import UpdateAssignment
from signage_player.errors import PlayerError

API = "/api/v1"


class ClientError(PlayerError):
    """The server could not be reached or answered wrongly."""

    retry_after_s: float | None = None  # the server said when to ask again (503 or 429 ``Retry-After``)


class NetworkError(ClientError):
    """Connection refused, timed out, reset."""


class HttpStatusError(ClientError):
    def __init__(self, status: int, url: str, body: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(f"HTTP {status} from {url}: {body[:200]}")
        self.status = status
        self.retry_after_s = retry_after_s


class Unauthorized(HttpStatusError):
    """The device key was refused: the device must pair again."""


class BadResponse(ClientError):
    """The body does not match the protocol."""


@dataclass(frozen=True)
class ManifestResult:
    """``manifest`` None means 304 Not Modified."""

    manifest: Manifest | None
    etag: str | None


class DeviceApi(Protocol):
    """The device routes; each failure is a :class:`ClientError` (:class:`Unauthorized`: key refused)."""

    device_key: str | None  # the bearer key; None until paired (and again after a revocation)

    def start_pairing(self, device_kind: str, player_version: str, public_key: str) -> PairingStarted: ...

    def poll_pairing(self, pairing_id: str, poll_secret: str) -> PairingStatus: ...

    def manifest(self, etag: str | None = None) -> ManifestResult: ...

    def download(self, url: str, partial: Path, expected_size: int | None = None) -> int:
        """Append the rest of ``url`` to ``partial`` (resuming where it ends); return its size."""
        ...

    def heartbeat(self, beat: Heartbeat) -> HeartbeatReply: ...

    def send_plays(self, batch: PlayBatch) -> PlayBatchResult: ...

    def send_screenshot(self, png: bytes) -> None: ...

    def emergency(self, known: str | None, wait_s: float) -> EmergencyState:
        """Long-poll: at once when the version differs from ``known``, else after at most ``wait_s``."""
        ...

    def commands(self, after: int, wait_s: float) -> CommandList:
        """Long-poll: this device's waiting commands numbered above ``after``, at once or when one is
        sent, else none after at most ``wait_s``."""
        ...

    def ack_command(self, command_id: str, ack: CommandAck) -> None:
        """What became of a command (idempotent); HttpStatusError 404 for one that is not ours."""
        ...

    def close(self) -> None: ...


def backoff_delay(attempt: int, base_s: float, cap_s: float, rand: Callable[[], float]) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 30)))
    return ceiling * rand()


RETRY_AFTER_JITTER = 0.2  # a server's time to come back is stretched by up to this share, at random


class Backoff:
    """Retry pacing for one kind of request: ``failed()`` gives the next wait, ``succeeded()`` resets.

    A server that says when to come back (``Retry-After``, e.g. while a district's screens all
    start at once) is believed: the wait is its time, stretched by up to a fifth at random so
    that screens told the same second spread out, and the backoff does not grow, since the
    server answered. Without it, waits grow exponentially with full jitter up to ``cap_s``.
    """

    def __init__(
        self, base_s: float = 2.0, cap_s: float = 300.0, rand: Callable[[], float] | None = None
    ) -> None:
        self.base_s, self.cap_s = base_s, cap_s
        self._rand = rand or random.random
        self.attempt = 0

    def failed(self, retry_after_s: float | None = None) -> float:
        if retry_after_s is not None:
            return min(self.cap_s, retry_after_s * (1 + RETRY_AFTER_JITTER * self._rand()))
        delay = backoff_delay(self.attempt, self.base_s, self.cap_s, self._rand)
        self.attempt += 1
        return max(delay, self.base_s / 2)

    def succeeded(self) -> None:
        self.attempt = 0


def resume_from(partial: Path, expected_size: int | None) -> int | None:
    """Where a download into ``partial`` goes on from; None when it is complete already.

    A partial longer than the asset cannot be a prefix of it: it is dropped and fetched anew.
    """
    have = partial.stat().st_size if partial.exists() else 0
    if expected_size is not None and have > expected_size:
        partial.unlink()
        have = 0
    if expected_size is not None and have == expected_size:
        return None
    return have


def etag_of(manifest: Manifest) -> str:
    """The manifest's strong ETag, as the server sends it."""
    return f'"{manifest.version}"'


# -- the in-memory server ---------------------------------------------------------------------


@dataclass
class FakeScreen:
    """One paired device as the fake server keeps it."""

    device_id: str
    device_key: str
    kind: str
    public_key: str
    manifest: Manifest | None = None
    emergency: EmergencyState = field(default_factory=lambda: EmergencyState(version="none", active=False))
    revoked: bool = False
    screenshot_requested: bool = False
    update: UpdateAssignment | None = None  # the software version the operator assigns
    heartbeats: list[Heartbeat] = field(default_factory=list)
    screenshots: list[bytes] = field(default_factory=list)
    commands: list[DeviceCommand] = field(default_factory=list)  # as sent, acknowledged or not
    acks: dict[str, CommandAck] = field(default_factory=dict)  # command id -> the first answer


@dataclass
class _Pairing:
    started: PairingStarted
    kind: str
    public_key: str
    device_id: str | None = None
    delivered: bool = False


class FakeDeviceServer:
    """The device routes in memory, thread-safe, with the real server's contract.

    What an operator does is a method (:meth:`claim`, :meth:`publish`, :meth:`set_emergency`,
    :meth:`request_screenshot`, :meth:`revoke`); what the devices sent is kept (``plays``,
    ``FakeScreen.heartbeats``, ``calls``). ``online = False`` makes every call fail like a network
    that is down; ``busy_retry_after_s`` answers every device call 503 with that ``Retry-After``,
    as the real server does while a district starts at once; :meth:`cut_downloads_after` drops
    connections mid-download.
    """

    def __init__(self, clock: Clock | None = None, base_url: str = "http://signage.fake",
                 server_public_key: str | None = None, pairing_ttl_s: float = 600) -> None:
        self.clock = clock or SystemClock()
        self.base_url = base_url.rstrip("/")
        self.server_public_key = server_public_key
        self.pairing_ttl_s = pairing_ttl_s
        self.online = True
        self.busy_retry_after_s: float | None = None
        self.assets: dict[str, bytes] = {}
        self.plays: dict[uuid.UUID, PlayRecord] = {}
        self.calls: list[str] = []  # "manifest 200", "manifest 304", "download bytes=1000-", ...
        self.screens: dict[str, FakeScreen] = {}
        self._pairings: dict[str, _Pairing] = {}
        self._cut_after: int | None = None
        self._seq = 0  # the last command number handed out
        self._changed = threading.Condition()  # guards everything; notified on emergency changes
        self._closed = False

    def client(self, device_key: str | None = None) -> FakeDeviceApi:
        """A :class:`DeviceApi` onto this server (one per device, as each has its own key)."""
        return FakeDeviceApi(self, device_key)

    # -- what the operator does -----------------------------------------------------------------

    def add_screen(self, kind: str = "player", public_key: str = "") -> FakeScreen:
        """A device paired out of band (as ``tests.fixtures.server.pair_device`` does for real)."""
        with self._changed:
            return self._new_screen(kind, public_key)

    def claim(self, code: str) -> FakeScreen:
        """The operator types the code shown on screen; the device learns its key on its next poll."""
        with self._changed:
            now = self.clock.now()
            for p in self._pairings.values():
                if p.started.code == code and p.device_id is None and p.started.expires_at > now:
                    screen = self._new_screen(p.kind, p.public_key)
                    p.device_id = screen.device_id
                    return screen
        raise LookupError(f"no pending pairing with code {code}")

    def wait_for_pairing(self, timeout_s: float) -> PairingStarted:
        """The next code a device shows (as an operator reads it off the screen); waits for it."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                waiting = [p.started for p in self._pairings.values() if p.device_id is None]
                if waiting:
                    return waiting[-1]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise LookupError("no device started pairing")
                self._changed.wait(remaining)

    def publish(self, device_id: str, manifest: Manifest, assets: dict[str, bytes] | None = None) -> None:
        """Make ``manifest`` the screen's current one (its ETag changes with its version)."""
        with self._changed:
            self.assets.update(assets or {})
            self.screens[device_id].manifest = manifest

    def add_asset(self, data: bytes, media_type: str = "image/png") -> AssetRef:
        sha = hashlib.sha256(data).hexdigest()
        with self._changed:
            self.assets[sha] = data
        return AssetRef(sha256=sha, size=len(data), media_type=media_type, url=f"{API}/assets/{sha}")

    def set_emergency(
        self, device_id: str, item: ContentItem | None, loudness: Loudness = Loudness.FULL_SCREEN
    ) -> EmergencyState:
        """Start (``item``, as loud as ``loudness``) or end (None) the screen's emergency; waiting
        long-polls answer at once."""
        with self._changed:
            state = EmergencyState(version=uuid.uuid4().hex[:16], active=item is not None,
                                   announcement_id=item.id if item else None, item=item,
                                   started_at=self.clock.now() if item else None, loudness=loudness)
            self.screens[device_id].emergency = state
            self._changed.notify_all()
            return state

    def request_screenshot(self, device_id: str) -> None:
        with self._changed:
            self.screens[device_id].screenshot_requested = True

    def assign_update(self, device_id: str, version: str | None) -> None:
        """What a rollout or pin tells this device to run (None: stay)."""
        with self._changed:
            self.screens[device_id].update = UpdateAssignment(version=version) if version else None

    def send_command(self, device_id: str, kind: CommandKind, *, screen_on: bool | None = None,
                     volume: int | None = None, ttl_s: float = 3600, addressed_to: str | None = None,
                     screen_name: str | None = None) -> DeviceCommand:
        """An operator's command for one screen; a waiting long-poll answers at once.

        ``addressed_to`` puts another device's id on it (what a mixed-up proxy or a bug would hand
        a device): the device must refuse it.
        """
        with self._changed:
            now = self.clock.now()
            self._seq += 1
            cmd = DeviceCommand(
                id=uuid.uuid4().hex, seq=self._seq, device_id=addressed_to or device_id, kind=kind,
                screen_on=screen_on, volume=volume,
                screen_name=(screen_name or device_id) if kind is CommandKind.IDENTIFY else None,
                issued_at=now, expires_at=now + dt.timedelta(seconds=ttl_s))
            self.screens[device_id].commands.append(cmd)
            self._changed.notify_all()
            return cmd

    def revoke(self, device_id: str) -> None:
        """The key stops working at once, for waiting long-polls too."""
        with self._changed:
            self.screens[device_id].revoked = True
            self._changed.notify_all()

    def cut_downloads_after(self, n_bytes: int | None) -> None:
        """Each later download sends at most ``n_bytes`` and then drops the connection (None: whole)."""
        with self._changed:
            self._cut_after = n_bytes

    def close(self) -> None:
        """The server goes away: waiting long-polls fail as a dropped connection would."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    # -- the routes ------------------------------------------------------------------------------

    def start_pairing(self, device_kind: str, player_version: str, public_key: str) -> PairingStarted:
        with self._changed:
            self._reachable("pairing")
            n = secrets.randbelow(1_000_000)
            code = f"{n // 1000:03d}-{n % 1000:03d}"
            started = PairingStarted(
                pairing_id=uuid.uuid4().hex, code=code, poll_secret=secrets.token_urlsafe(16),
                claim_url=f"{self.base_url}/portal/screens/claim?code={code}",
                expires_at=self.clock.now() + dt.timedelta(seconds=self.pairing_ttl_s))
            self._pairings[started.pairing_id] = _Pairing(started, device_kind, public_key)
            self._changed.notify_all()
            return started

    def poll_pairing(self, pairing_id: str, poll_secret: str) -> PairingStatus:
        with self._changed:
            self._reachable("pairing poll")
            p = self._pairings.get(pairing_id)
            if p is None or not secrets.compare_digest(p.started.poll_secret, poll_secret):
                raise HttpStatusError(404, "pairing poll", "unknown pairing")
            if p.device_id is None:
                if p.started.expires_at <= self.clock.now():
                    raise HttpStatusError(404, "pairing poll", "pairing code expired; start again")
                return PairingStatus(claimed=False)
            if p.delivered:
                raise HttpStatusError(404, "pairing poll", "this pairing was already completed")
            p.delivered = True
            screen = self.screens[p.device_id]
            return PairingStatus(claimed=True, device_id=screen.device_id, device_key=screen.device_key,
                                 server_public_key=self.server_public_key)

    def manifest(self, key: str | None, etag: str | None) -> ManifestResult:
        with self._changed:
            screen = self._screen(key, "manifest")
            m = screen.manifest
            if m is None:
                raise HttpStatusError(404, "manifest", "nothing published for this screen yet")
            if etag == etag_of(m):
                self.calls.append("manifest 304")
                return ManifestResult(None, etag)
            self.calls.append("manifest 200")
            return ManifestResult(m, etag_of(m))

    def download(self, key: str | None, url: str, partial: Path, expected_size: int | None) -> int:
        have = resume_from(partial, expected_size)
        if have is None:
            return partial.stat().st_size
        with self._changed:
            self._screen(key, "download")
            parts = urlsplit(url)
            if parts.netloc and f"{parts.scheme}://{parts.netloc}" != self.base_url:
                raise NetworkError(f"download of {url}: unknown host")
            data = self.assets.get(parts.path.rsplit("/", 1)[-1])
            if data is None:
                raise HttpStatusError(404, url, "no such asset")
            cut = self._cut_after
            self.calls.append(f"download bytes={have}-" if have else "download")
        if have > len(data):  # 416: the partial is not a prefix of this asset
            partial.unlink()
            return self.download(key, url, partial, expected_size)
        rest = data[have:] if cut is None else data[have : have + cut]
        with open(partial, "ab") as fh:
            fh.write(rest)
            fh.flush()
            os.fsync(fh.fileno())
        if cut is not None and have + cut < len(data):
            raise NetworkError(f"download of {url}: connection reset after {cut} bytes")
        return partial.stat().st_size

    def heartbeat(self, key: str | None, beat: Heartbeat) -> HeartbeatReply:
        with self._changed:
            screen = self._screen(key, "heartbeat")
            screen.heartbeats.append(beat)
            latest = screen.manifest.version if screen.manifest else ""
            return HeartbeatReply(server_time=self.clock.now(), manifest_version=latest,
                                  screenshot_requested=screen.screenshot_requested, update=screen.update)

    def send_plays(self, key: str | None, batch: PlayBatch) -> PlayBatchResult:
        with self._changed:
            self._screen(key, "plays")
            fresh = [r for r in batch.records if r.id not in self.plays]
            self.plays.update((r.id, r) for r in fresh)
            return PlayBatchResult(accepted=len(fresh), duplicates=len(batch.records) - len(fresh))

    def send_screenshot(self, key: str | None, png: bytes) -> None:
        with self._changed:
            screen = self._screen(key, "screenshot")
            if not png.startswith(b"\x89PNG\r\n\x1a\n"):
                raise HttpStatusError(422, "screenshot", "screenshot must be a PNG image")
            screen.screenshots.append(png)
            screen.screenshot_requested = False

    def emergency(self, key: str | None, known: str | None, wait_s: float) -> EmergencyState:
        deadline = time.monotonic() + wait_s  # the server's own wait, not the device's clock
        with self._changed:
            screen = self._screen(key, "emergency")
            while known is not None and screen.emergency.version == known:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
                screen = self._screen(key, "emergency")
            return screen.emergency

    def commands(self, key: str | None, after: int, wait_s: float) -> CommandList:
        deadline = time.monotonic() + wait_s
        with self._changed:
            while True:
                screen = self._screen(key, "commands")
                now = self.clock.now()
                waiting = [c for c in screen.commands
                           if c.seq > after and c.id not in screen.acks and c.expires_at > now]
                remaining = deadline - time.monotonic()
                if waiting or remaining <= 0:
                    return CommandList(commands=waiting)
                self._changed.wait(remaining)

    def ack_command(self, key: str | None, command_id: str, ack: CommandAck) -> None:
        with self._changed:
            screen = self._screen(key, "command ack")
            if not any(c.id == command_id for c in screen.commands):
                raise HttpStatusError(404, "command ack", "no such command for this device")
            screen.acks.setdefault(command_id, ack)
            self._changed.notify_all()

    # -- helpers (lock held) ---------------------------------------------------------------------

    def _new_screen(self, kind: str, public_key: str) -> FakeScreen:
        screen = FakeScreen(device_id=f"{kind}-{len(self.screens) + 1}", device_key=secrets.token_urlsafe(24),
                            kind=kind, public_key=public_key)
        self.screens[screen.device_id] = screen
        return screen

    def _reachable(self, what: str) -> None:
        if not self.online or self._closed:
            raise NetworkError(f"{what}: connection refused (fake server offline)")

    def _screen(self, key: str | None, what: str) -> FakeScreen:
        self._reachable(what)
        if self.busy_retry_after_s is not None:
            self.calls.append(f"{what} 503")
            raise HttpStatusError(503, what, "busy", retry_after_s=self.busy_retry_after_s)
        screen = next((s for s in self.screens.values() if key is not None and s.device_key == key), None)
        if screen is None or screen.revoked:
            raise Unauthorized(401, what, "unknown or revoked device key")
        return screen


class FakeDeviceApi:
    """A :class:`DeviceApi` onto a :class:`FakeDeviceServer`, holding one device's key."""

    def __init__(self, server: FakeDeviceServer, device_key: str | None = None) -> None:
        self.server = server
        self.device_key = device_key
        self.closed = False

    def start_pairing(self, device_kind: str, player_version: str, public_key: str) -> PairingStarted:
        return self.server.start_pairing(device_kind, player_version, public_key)

    def poll_pairing(self, pairing_id: str, poll_secret: str) -> PairingStatus:
        return self.server.poll_pairing(pairing_id, poll_secret)

    def manifest(self, etag: str | None = None) -> ManifestResult:
        return self.server.manifest(self.device_key, etag)

    def download(self, url: str, partial: Path, expected_size: int | None = None) -> int:
        return self.server.download(self.device_key, url, partial, expected_size)

    def heartbeat(self, beat: Heartbeat) -> HeartbeatReply:
        return self.server.heartbeat(self.device_key, beat)

    def send_plays(self, batch: PlayBatch) -> PlayBatchResult:
        return self.server.send_plays(self.device_key, batch)

    def send_screenshot(self, png: bytes) -> None:
        self.server.send_screenshot(self.device_key, png)

    def emergency(self, known: str | None, wait_s: float) -> EmergencyState:
        return self.server.emergency(self.device_key, known, wait_s)

    def commands(self, after: int, wait_s: float) -> CommandList:
        return self.server.commands(self.device_key, after, wait_s)

    def ack_command(self, command_id: str, ack: CommandAck) -> None:
        self.server.ack_command(self.device_key, command_id, ack)

    def close(self) -> None:
        self.closed = True
