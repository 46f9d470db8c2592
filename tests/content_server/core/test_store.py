"""The media store's files as nginx meets them (deploy/nginx/signage.conf sends them)."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from content_server.core.store import MediaStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stored_files_are_readable_by_the_servers_group_and_nobody_else(tmp_path: Path) -> None:
    """nginx, in the server's group, sends them after the app's X-Accel-Redirect; an upload stays
    private to the server until it is stored; the path nginx is sent to is the file's place."""
    store = MediaStore(tmp_path / "media")

    async def upload() -> AsyncIterator[bytes]:
        yield b"an uploaded picture"

    with ThreadPoolExecutor(1) as thread:  # its own event loop, whatever an earlier test left running here
        staged = thread.submit(asyncio.run, store.stage_stream(upload(), 1000)).result()
    assert _mode(staged.path) == 0o600
    uploaded = staged.commit()
    thumbnail = store.path_for(store.put_bytes(b"a thumbnail"))
    made = store.tmp / "transcoded.mp4"
    made.write_bytes(b"a transcoded video")
    os.chmod(made, 0o600)
    transcoded = store.path_for(store.put_file(made).sha256)
    for path in (uploaded, thumbnail, transcoded):
        assert _mode(path) == 0o640, path
        assert store.root / store.relative_path(path.name) == path
        assert store.relative_path(path.name) == f"{path.name[:2]}/{path.name[2:4]}/{path.name}"
