"""USB import of signed offline bundles: udev watcher, polling-directory fallback, and the import.

Where udev runs, a USB stick's partition appearing (pyudev monitor) makes the watcher look
for bundles at its mount point. In containers there is no udev: a configured directory is
polled instead. Either way the bundle is verified by :mod:`signage_player.bundle_reader` (server
signature, then every asset's SHA-256) before anything reaches the cache or goes live.
:class:`BundleImporter` is the part the player runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from schedules.protocol.bundle import BundleError
from schedules.protocol.device import Manifest
from signage_player.bundle_reader import copy_asset, open_bundle
from signage_player.cache import AssetCache, VerificationFailed
from signage_player.device import Device
from signage_player.errors import PlayerError
from signage_player.sync import Syncer

log = logging.getLogger(__name__)
BUNDLE_SUFFIXES = (".tar", ".signage-bundle")


class BundleRefused(PlayerError):
    """An unsigned, tampered or foreign bundle: nothing was imported."""


def find_bundles(root: Path) -> list[Path]:
    """Bundle files at the top of ``root`` or in its ``signage/`` folder, newest name last."""
    found: list[Path] = []
    for d in (root, root / "signage"):
        try:
            found += [p for p in d.iterdir() if p.is_file() and p.name.endswith(BUNDLE_SUFFIXES)]
        except OSError:
            continue
    return sorted(found)


def import_bundle(path: Path, server_public_key: str | None, screen_id: str, cache: AssetCache) -> Manifest:
    """Verify ``path``, copy its assets for ``screen_id`` into the cache, return that screen's manifest."""
    if not server_public_key:
        raise BundleRefused("no server key yet: pair the player once before importing bundles")
    try:
        index, members = open_bundle(path, server_public_key)
    except BundleError as exc:
        raise BundleRefused(f"{path.name}: {exc}") from exc
    manifest = index.manifest_for(screen_id)
    if manifest is None:
        raise BundleRefused(f"{path.name}: has no manifest for this screen ({screen_id})")
    for ref in manifest.assets:
        if cache.is_valid(ref.sha256):
            continue
        member = members.get(ref.sha256)
        if member is None:
            raise BundleRefused(f"{path.name}: asset {ref.sha256[:12]} is missing")

        def write(tmp: Path, member: Any = member, sha: str = ref.sha256) -> None:
            with open(tmp, "wb") as out:
                copy_asset(path, member, out, sha)

        try:
            cache.add_verified_file(ref.sha256, write)
        except (BundleError, VerificationFailed) as exc:
            raise BundleRefused(f"{path.name}: {exc}") from exc
    log.info("bundle %s verified: manifest %s with %d assets", path.name, manifest.version[:12],
             len(manifest.assets))
    return manifest


class BundleWatcher(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class DirectoryWatcher:
    """Polls a directory (the fallback where udev is absent); reports each new or changed bundle once.

    A file is reported only when its size and mtime are the same on two polls in a row, so a
    bundle still being copied is not opened half-written.
    """

    def __init__(self, directory: Path, on_bundle: Callable[[Path], None], interval_s: float = 5.0) -> None:
        self.directory = Path(directory)
        self.on_bundle = on_bundle
        self.interval_s = interval_s
        self._seen: dict[Path, tuple[int, int]] = {}
        self._candidates: dict[Path, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> list[Path]:
        reported = []
        for p in find_bundles(self.directory):
            try:
                st = p.stat()
            except OSError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if self._seen.get(p) == sig:
                continue
            if self._candidates.get(p) == sig:
                self._seen[p] = sig
                self._candidates.pop(p, None)
                reported.append(p)
                self.on_bundle(p)
            else:
                self._candidates[p] = sig
        return reported

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bundle-dir-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.poll_once()
            except Exception:  # the watcher boundary: keep watching
                log.exception("bundle directory poll failed")


def mount_points(device_node: str, mounts_file: Path = Path("/proc/mounts")) -> list[Path]:
    """Where ``device_node`` is mounted (octal escapes in /proc/mounts decoded)."""
    points = []
    for line in mounts_file.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == device_node:
            points.append(Path(parts[1].encode().decode("unicode_escape")))
    return points


class UdevWatcher:
    """Reacts to block devices being added (a USB stick) and scans their mount points for bundles.

    ``handle_device`` takes a pyudev ``Device``; the monitor thread feeds it, and tests feed it
    device objects directly. Mounting is the system's job (udisks/automount): the watcher
    waits up to ``mount_wait_s`` for the mount to appear.
    """

    def __init__(self, on_bundle: Callable[[Path], None], mounts_file: Path = Path("/proc/mounts"),
                 mount_wait_s: float = 10.0, context: Any = None) -> None:
        self.on_bundle = on_bundle
        self.mounts_file = mounts_file
        self.mount_wait_s = mount_wait_s
        self._context = context
        self._observer: Any = None
        self._stop = threading.Event()

    def handle_device(self, device: Any, action: str = "add") -> list[Path]:
        if action != "add" or device is None:
            return []
        if getattr(device, "subsystem", None) != "block":
            return []
        node = device.device_node
        if node is None:
            return []
        points: list[Path] = []
        waited = 0.0
        while True:
            points = mount_points(node, self.mounts_file)
            if points or waited >= self.mount_wait_s or self._stop.is_set():
                break
            self._stop.wait(0.5)
            waited += 0.5
        found = [b for p in points for b in find_bundles(p)]
        for bundle in found:
            self.on_bundle(bundle)
        return found

    def start(self) -> None:
        import pyudev

        context = self._context or pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(context, source="udev")
        monitor.filter_by(subsystem="block")
        self._observer = pyudev.MonitorObserver(monitor, callback=self._on_event, name="usb-watcher")
        self._observer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()

    def _on_event(self, device: Any) -> None:
        try:
            self.handle_device(device, device.action or "")
        except Exception:  # the watcher boundary: keep watching
            log.exception("USB device handling failed")


def udev_available(run_dir: Path = Path("/run/udev")) -> bool:
    """udev delivers events only where its daemon runs (not in most containers)."""
    return run_dir.is_dir() and (run_dir / "control").exists()



class BundleImporter(QObject):
    """The player's USB import: watches (udev, else a directory), verifies, hands bundles to the syncer.

    A refused bundle changes nothing: it is logged, noted for the next heartbeat and announced as
    :attr:`refused` (the screen shows nothing; an operator sees it on the screen's status page).
    """

    refused = Signal(str)  # why, from the watcher thread

    def __init__(self, device: Device, syncer: Syncer, cache: AssetCache, *, usb: bool = True,
                 import_dir: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device, self.syncer, self.cache = device, syncer, cache
        self.usb, self.import_dir = usb, import_dir
        self.watchers: list[BundleWatcher] = []

    def start(self) -> None:
        if self.usb and udev_available():
            w: BundleWatcher = UdevWatcher(self.import_path)
            try:
                w.start()
                self.watchers.append(w)
                log.info("watching USB sticks through udev")
            except Exception as exc:  # udev present but unusable: fall back to the directory
                log.warning("udev watcher unavailable: %s", exc)
        if self.import_dir is not None:
            self.import_dir.mkdir(parents=True, exist_ok=True)
            d = DirectoryWatcher(self.import_dir, self.import_path)
            d.start()
            self.watchers.append(d)
            log.info("watching %s for bundles", self.import_dir)

    def stop(self) -> None:
        for w in self.watchers:
            w.stop()

    def import_path(self, path: Path) -> None:
        """Watcher thread: verify and import one bundle, then let it go live (or announce the refusal)."""
        ident = self.device.identity
        live = self.syncer.live
        screen_id = live.screen.id if live is not None else ident.device_id
        try:
            if screen_id is None:
                raise BundleRefused("this player does not know its screen yet")
            manifest = import_bundle(path, ident.server_public_key, screen_id, self.cache)
        except BundleRefused as exc:
            log.error("USB bundle refused: %s", exc)
            self.syncer.status.note_error(f"bundle refused: {exc}")
            self.refused.emit(str(exc))
            return
        self.syncer.install(manifest)
