"""The sync loop's work, free of Qt: fetch the manifest, fill the cache, switch when complete.

A new manifest is kept as *pending* (on disk, so a restart continues) until every asset it
needs is verified in the cache; only then does it replace the *live* one, in one atomic
rename. The live manifest is what the player plays, for days without network.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from schedules.protocol.device import AssetRef, Manifest
from signage_player.cache import AssetCache, CacheError
from signage_player.device_api import DeviceApi
from signage_player.errors import PlayerError
from signage_player.files import atomic_write
from signage_player.syncplan import plan_sync, referenced

log = logging.getLogger(__name__)

LIVE = "manifest.json"
PENDING = "manifest.pending.json"


@dataclass
class SyncStatus:
    last_sync_at: dt.datetime | None = None  # last time the server answered the manifest request
    live_version: str | None = None
    missing: tuple[str, ...] = ()
    errors: list[str] = field(default_factory=list)

    def note_error(self, message: str) -> None:
        self.errors = [*self.errors[-19:], message]


def load_manifest(path: Path) -> Manifest | None:
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        log.error("ignoring unreadable manifest %s: %s", path, exc)
        return None


class Syncer:
    def __init__(self, client: DeviceApi | None, cache: AssetCache, data_dir: Path,
                 now: Callable[[], dt.datetime], on_live: Callable[[Manifest], None] | None = None) -> None:
        self.client = client
        self.cache = cache
        self.data_dir = Path(data_dir)
        self.now = now
        self.on_live = on_live
        self.status = SyncStatus()
        self._lock = threading.Lock()  # one sync at a time (scheduler, USB import, "sync now" hint)
        self.live = load_manifest(self.data_dir / LIVE)
        self.pending = load_manifest(self.data_dir / PENDING)
        self.status.live_version = self.live.version if self.live else None

    def sync_once(self, *, refetch: bool = False) -> bool:
        """One round; True when a new manifest went live. Network errors propagate (caller backs off).

        ``refetch``: clear the cache first and ask for the whole manifest (no ETag), so every asset
        is downloaded and verified again; the live manifest keeps playing meanwhile.
        """
        if self.client is None:
            raise PlayerError("no server configured: only bundles can be installed")
        with self._lock:
            if refetch:
                self.cache.clear()
            known = None if refetch else self.pending or self.live
            result = self.client.manifest(etag=_etag(known.version) if known else None)
            self.status.last_sync_at = self.now()
            m = result.manifest
            if m is not None and (self.live is None or m.version != self.live.version):
                self.pending = m
                atomic_write(self.data_dir / PENDING, m.model_dump_json().encode(), 0o644)
            elif m is not None:  # the server went back to what is already live
                self._drop_pending()
            return self._fill_and_switch()

    def install(self, manifest: Manifest) -> bool:
        """Take a manifest from elsewhere (USB bundle) as pending and switch if its assets are here."""
        with self._lock:
            self.pending = manifest
            atomic_write(self.data_dir / PENDING, manifest.model_dump_json().encode(), 0o644)
            return self._fill_and_switch(download=False)

    def _fill_and_switch(self, download: bool = True) -> bool:
        keep = referenced(self.live, self.pending)
        wanted = [m for m in (self.pending, self.live) if m is not None]
        missing: list[str] = []
        for m in wanted:
            plan = plan_sync(m, self.cache.verified())
            if not plan.ready and download:
                self.cache.evict(keep, plan.missing_bytes)
                for ref in plan.missing:
                    try:
                        self.cache.fetch(ref, self._downloader(ref))
                    except CacheError as exc:  # one bad asset must not stop the others
                        self.status.note_error(str(exc))
                        log.warning("%s", exc)
                plan = plan_sync(m, self.cache.verified())
            missing += [a.sha256 for a in plan.missing if a.sha256 not in missing]
        self.status.missing = tuple(missing)
        self.cache.save_stamps()
        if self.pending is None or not plan_sync(self.pending, self.cache.verified()).ready:
            return False
        live = self.pending
        atomic_write(self.data_dir / LIVE, live.model_dump_json().encode(), 0o644)
        self.live = live
        self._drop_pending()
        self.status.live_version = live.version
        self.cache.evict(referenced(live))
        log.info("manifest %s is live (%d assets verified)", live.version[:12], len(live.assets))
        if self.on_live is not None:
            self.on_live(live)
        return True

    def _downloader(self, ref: AssetRef) -> Callable[[Path], int]:
        def download(part: Path) -> int:
            assert self.client is not None
            return self.client.download(ref.url, part, ref.size)

        return download

    def _drop_pending(self) -> None:
        self.pending = None
        (self.data_dir / PENDING).unlink(missing_ok=True)


def _etag(version: str) -> str:
    return f'"{version}"'
