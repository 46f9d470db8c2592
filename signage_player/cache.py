"""Content-addressed asset cache: files named by SHA-256, only ever complete and verified.

Downloads go to ``partial/<sha>.part`` (resumable with Range), are hashed, fsynced and renamed
into ``assets/<sha>``: a file under ``assets/`` has been verified once. Each file's stat stamp
at verification is remembered, so a file changed on disk afterwards is re-hashed before use
and dropped when it no longer matches. Use order (for LRU eviction) is kept in file mtimes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from schedules.protocol.device import AssetRef
from signage_player.errors import PlayerError
from signage_player.files import atomic_write, fsync_dir
from signage_player.syncplan import CachedAsset, plan_eviction

log = logging.getLogger(__name__)
_CHUNK = 1024 * 1024
STAMPS_FILE = "verified.json"


class CacheError(PlayerError):
    """A download did not verify, or the disk is full."""


class VerificationFailed(CacheError):
    def __init__(self, sha256: str, got: str) -> None:
        super().__init__(f"asset {sha256[:12]}: downloaded bytes hash to {got[:12]}")
        self.sha256 = sha256


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


Stamp = tuple[int, int, int]  # size, mtime_ns, inode


def _stamp(path: Path) -> Stamp:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


class AssetCache:
    """Thread-safe; ``fetch`` runs on the sync thread while the play loop calls ``path_if_valid``."""

    def __init__(self, root: Path, budget_bytes: int) -> None:
        self.root = Path(root)
        self.assets_dir = self.root / "assets"
        self.partial_dir = self.root / "partial"
        self.assets_dir.mkdir(parents=True, exist_ok=True)
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self.budget_bytes = budget_bytes
        self._lock = threading.Lock()
        self._stamps: dict[str, Stamp] = self._load_stamps()

    def path(self, sha256: str) -> Path:
        return self.assets_dir / sha256

    def verify_all(self) -> list[str]:
        """Re-hash every cached file (at start-up); removes and returns the ones that do not match."""
        bad = []
        for p in sorted(self.assets_dir.iterdir()):
            if p.name.startswith("."):
                continue
            if not self._verify(p.name):
                bad.append(p.name)
        return bad

    def is_valid(self, sha256: str) -> bool:
        """True when the file is there and unchanged since verified (re-hashes if it changed)."""
        p = self.path(sha256)
        try:
            stamp = _stamp(p)
        except FileNotFoundError:
            return False
        with self._lock:
            if self._stamps.get(sha256) == stamp:
                return True
        return self._verify(sha256)

    def path_if_valid(self, sha256: str) -> Path | None:
        """The file to play, or None when missing or corrupt (then it is removed for refetch)."""
        if not self.is_valid(sha256):
            return None
        p = self.path(sha256)
        self.touch(sha256)
        return p

    def touch(self, sha256: str) -> None:
        """Mark as used now (LRU); keeps the verification stamp in step."""
        p = self.path(sha256)
        try:
            with self._lock:
                known = self._stamps.get(sha256)
                before = _stamp(p)
                os.utime(p)
                if known == before:
                    self._stamps[sha256] = _stamp(p)
        except FileNotFoundError:
            pass

    def verified(self) -> set[str]:
        names = [p.name for p in self.assets_dir.iterdir() if not p.name.startswith(".")]
        return {n for n in names if self.is_valid(n)}

    def usage_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.assets_dir.iterdir() if p.is_file())

    def fetch(self, ref: AssetRef, download: Callable[[Path], int]) -> Path:
        """Download (resuming any partial file), verify, fsync, rename. ``download`` appends to the path."""
        final = self.path(ref.sha256)
        if self.is_valid(ref.sha256):
            return final
        part = self.partial_dir / f"{ref.sha256}.part"
        download(part)
        got = sha256_file(part)
        if got != ref.sha256:
            part.unlink(missing_ok=True)  # never resume from bytes that do not verify
            raise VerificationFailed(ref.sha256, got)
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, final)
        fsync_dir(self.assets_dir)
        with self._lock:
            self._stamps[ref.sha256] = _stamp(final)
        log.info("asset %s verified and cached (%d bytes)", ref.sha256[:12], ref.size)
        return final

    def add_verified_file(self, sha256: str, write: Callable[[Path], None]) -> Path:
        """Import bytes from elsewhere (USB bundle): ``write`` fills a temp file, which must hash right."""
        part = self.partial_dir / f"{sha256}.import"
        part.unlink(missing_ok=True)
        try:
            write(part)
            got = sha256_file(part)
            if got != sha256:
                raise VerificationFailed(sha256, got)
            with open(part, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(part, self.path(sha256))
        finally:
            part.unlink(missing_ok=True)
        fsync_dir(self.assets_dir)
        with self._lock:
            self._stamps[sha256] = _stamp(self.path(sha256))
        return self.path(sha256)

    def evict(self, keep: frozenset[str], incoming_bytes: int = 0) -> list[str]:
        """Delete unreferenced assets, least recently used first, until the budget allows ``incoming``."""
        cached = []
        for p in self.assets_dir.iterdir():
            if p.is_file() and not p.name.startswith("."):
                st = p.stat()
                cached.append(CachedAsset(p.name, st.st_size, st.st_mtime))
        victims = plan_eviction(cached, keep, self.budget_bytes, incoming_bytes)
        for sha in victims:
            self.path(sha).unlink(missing_ok=True)
            with self._lock:
                self._stamps.pop(sha, None)
            log.info("evicted unreferenced asset %s", sha[:12])
        # partial downloads of assets nobody wants any more
        for part in self.partial_dir.iterdir():
            if part.name.split(".")[0] not in keep and time.time() - part.stat().st_mtime > 3600:
                part.unlink(missing_ok=True)
        return victims

    def clear(self) -> int:
        """Delete every cached asset and partial download (an operator's "clear the cache");
        returns how many assets went. What is on screen stays until its item ends."""
        gone = 0
        for directory in (self.assets_dir, self.partial_dir):
            for p in directory.iterdir():
                if p.is_file():
                    p.unlink(missing_ok=True)
                    gone += directory is self.assets_dir
        with self._lock:
            self._stamps.clear()
        fsync_dir(self.assets_dir)
        self.save_stamps()
        log.info("cache cleared (%d assets)", gone)
        return gone

    def save_stamps(self) -> None:
        """Remember what was verified, so a restart plays at once instead of re-hashing on first use.

        A file changed since (size, mtime or inode differ) is hashed again before it is played;
        :meth:`verify_all` (run in the background at start-up) also catches silent bit rot.
        """
        with self._lock:
            doc = {k: list(v) for k, v in self._stamps.items()}
        atomic_write(self.root / STAMPS_FILE, json.dumps(doc).encode(), 0o644)

    def _load_stamps(self) -> dict[str, Stamp]:
        try:
            doc = json.loads((self.root / STAMPS_FILE).read_text())
            return {k: (int(v[0]), int(v[1]), int(v[2])) for k, v in doc.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            return {}

    def _verify(self, sha256: str) -> bool:
        p = self.path(sha256)
        try:
            before = _stamp(p)
            ok = sha256_file(p) == sha256
        except FileNotFoundError:
            return False
        with self._lock:
            if ok:
                self._stamps[sha256] = before
                return True
            self._stamps.pop(sha256, None)
        log.warning("cached asset %s is corrupt: removed, will be fetched again", sha256[:12])
        p.unlink(missing_ok=True)
        return False
