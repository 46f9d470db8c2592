"""Content-addressed media store: files named by SHA-256, written atomically, read with ranges."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import BinaryIO

from content_server.core.errors import Invalid, StorageFull, TooLarge

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024
# stored files: the server's group may read them (nginx, in that group, sends them after the app's
# X-Accel-Redirect: deploy/nginx/signage.conf); temp files stay private (mkstemp's 0600) until then
STORED_MODE = 0o640
_FULL = {errno.ENOSPC, errno.EDQUOT}


@contextlib.contextmanager
def _clear_when_full() -> Iterator[None]:
    """A full disk becomes StorageFull (507 with a reason), not an anonymous 500."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise StorageFull("not enough space in the media store: nothing was stored; try again later") \
                from exc
        raise


def _flush_and_sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


class StagedFile:
    """An uploaded file in the store's temp dir, hashed while it was written; commit or discard it."""

    def __init__(self, store: MediaStore, path: Path, sha256: str, size: int) -> None:
        self.store, self.path, self.sha256, self.size = store, path, sha256, size

    def commit(self) -> Path:
        """Move into place (atomic rename); a file already there with this hash is kept (dedup)."""
        final = self.store.path_for(self.sha256)
        if final.exists():
            self.discard()
            return final
        with _clear_when_full():
            final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, STORED_MODE)
        os.replace(self.path, final)
        return final

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class MediaStore:
    """Files live at ``root/ab/cd/<sha256>``; immutable once written, readable by the group."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / self.relative_path(sha256)

    @staticmethod
    def relative_path(sha256: str) -> str:
        """``ab/cd/<sha256>``: where a file lives under the root (nginx's internal location too)."""
        if not SHA256_RE.match(sha256):
            raise Invalid("not a SHA-256 hex digest")
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    async def stage_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StagedFile:
        """Stream chunks to a temp file, hashing as we go; TooLarge past ``max_bytes`` (file removed).

        The event loop only collects chunks: hashing, writing and the final fsync run on a worker
        thread, a batch at a time, so a slow disk never stalls other requests.
        """
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        path = Path(name)
        digest = hashlib.sha256()
        size = 0
        batch: list[bytes] = []
        batched = 0

        def write(parts: list[bytes], out: BinaryIO) -> None:
            for part in parts:
                digest.update(part)
                out.write(part)

        try:
            with _clear_when_full(), os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"file is larger than the limit of {max_bytes} bytes")
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= CHUNK:
                        await asyncio.to_thread(write, batch, out)
                        batch, batched = [], 0
                await asyncio.to_thread(write, batch, out)
                await asyncio.to_thread(_flush_and_sync, out)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return StagedFile(self, path, digest.hexdigest(), size)

    def put_file(self, path: Path) -> StagedFile:
        """Hash a file written under ``tmp`` (a rebuilt picture, a transcoded video) and move it into
        place; returns it committed (its ``sha256`` and ``size``). A copy already stored is kept."""
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
            os.fsync(f.fileno())
        staged = StagedFile(self, path, digest.hexdigest(), size)
        staged.commit()
        return staged

    def put_bytes(self, data: bytes) -> str:
        """Store small generated bytes (thumbnails, screenshots); returns the SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        final = self.path_for(sha)
        if final.exists():
            return sha
        with _clear_when_full():
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.tmp, prefix="put-")
            try:
                with os.fdopen(fd, "wb") as out:
                    os.fchmod(out.fileno(), STORED_MODE)
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
        os.replace(name, final)
        return sha
