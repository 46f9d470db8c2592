"""Background transcoding of uploaded videos the players would not decode well, with progress.

An upload recorded ``processing`` (see ``library.ingest``) keeps its original in the store, where
nothing serves it: it is in no manifest (the catalogue skips media that are not ready) and the
library refuses its content until it is done. One worker thread at a time runs
``media_video.transcode`` on it, writes the progress to the row (so every process's portal sees
it), then stores the result and points the row at it, or records why it failed. Jobs are the
database's rows, not this process's memory: a restart picks up every row still processing.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.settings import Settings
from content_server.core.store import MediaStore
from content_server.signage.media_intake import video_thumbnail
from content_server.signage.media_rebuild import MediaRefused, check_shape
from content_server.signage.media_video import TranscodeProgress, TranscodeStopped, probe, transcode
from content_server.signage.models import Media
from schedules.clock import Clock

log = logging.getLogger(__name__)

PROGRESS_STEP = 0.02  # write progress to the row at most every 2 % (50 short writes a job)


class TranscodeJobs:
    """Runs transcoding jobs one at a time on a worker thread; ``stop`` ends the running one."""

    def __init__(
        self, sessions: sessionmaker[Session], store: MediaStore, settings: Settings, clock: Clock
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.settings = settings
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcode")
        self._stop = threading.Event()
        self._queued: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(self, media_id: str) -> Future[None]:
        """Queue the row's transcoding (once; a queued or running job is not queued again)."""
        with self._lock:
            running = self._queued.get(media_id)
            if running is not None and not running.done():
                return running
            future = self._pool.submit(self._run, media_id)
            self._queued[media_id] = future
            return future

    def resume(self) -> int:
        """Queue every row still processing (after a restart); returns how many."""
        with self.sessions() as session:
            ids = list(session.scalars(select(Media.id).where(Media.status == "processing")))
        for media_id in ids:
            self.submit(media_id)
        return len(ids)

    def halt(self) -> None:
        """Stop the running job and any queued one (rows stay processing: the next start resumes them)."""
        self._stop.set()

    def stop(self) -> None:
        self.halt()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, media_id: str) -> None:
        try:
            self._transcode(media_id)
        except TranscodeStopped:
            log.info("transcoding of %s stopped; it resumes at the next start", media_id)
        except Exception:  # boundary: a job logs and records its failure, the worker lives on
            log.exception("transcoding of %s failed", media_id)
            self._fail(media_id, MediaRefused("transcode_failed"))

    def _transcode(self, media_id: str) -> None:
        with self.sessions() as session:
            row = session.get(Media, media_id)
            if row is None or row.status != "processing":
                return
            source = self.store.path_for(row.sha256)
        settings = self.settings
        try:
            facts = probe(source, ffprobe=settings.ffprobe_path)
        except MediaRefused as exc:
            self._fail(media_id, exc)
            return
        last = [0.0]  # the progress last written

        def report(p: TranscodeProgress) -> None:
            if p.fraction < 1.0 and p.fraction - last[0] < PROGRESS_STEP:
                return
            last[0] = p.fraction
            with self.sessions() as session:
                live = session.get(Media, media_id)
                if live is None:  # deleted while transcoding: stop the work
                    self._stop.set()
                    return
                live.progress = min(p.fraction, 0.99)
                session.commit()

        with tempfile.TemporaryDirectory(dir=self.store.tmp, prefix="transcode-") as tmp:
            out_path = Path(tmp) / "out.mp4"
            started = time.monotonic()
            try:
                out = transcode(
                    source, out_path, facts, on_progress=report, stop=self._stop,
                    ffmpeg=settings.ffmpeg_path, ffprobe=settings.ffprobe_path,
                )  # fmt: skip
            except MediaRefused as exc:
                self._fail(media_id, exc)
                return
            width, height = out.display_size
            classes = check_shape(width, height)
            thumb = video_thumbnail(out_path, settings.ffmpeg_path, min(1.0, out.seconds / 2))
            stored = self.store.put_file(out_path)
        thumb_sha = self.store.put_bytes(thumb) if thumb is not None else None
        with self.sessions() as session:
            row = session.get(Media, media_id)
            if row is None:
                return
            row.sha256, row.size, row.media_type = stored.sha256, stored.size, "video/mp4"
            row.width, row.height, row.duration_s = width, height, round(out.seconds, 3)
            row.codec, row.status, row.progress = out.video.codec, "ready", 1.0
            row.screen_classes = sorted(c.value for c in classes)
            if thumb_sha is not None:
                row.thumbnail_sha256 = thumb_sha
            session.commit()
        log.info("transcoded %s in %.1f s (%s)", media_id, time.monotonic() - started, ", ".join(row.needs))

    def _fail(self, media_id: str, exc: MediaRefused) -> None:
        with self.sessions() as session:
            row = session.get(Media, media_id)
            if row is None:
                return
            row.status, row.problem = "failed", exc.text.as_dict()
            session.commit()
