"""Cross-request change signal for emergencies, cheap enough for thousands of long-polls.

Every process caches the database's emergency generation counter and re-reads it at most
every ``refresh_s``; waiters compare against the cache, so N long-polls cost one query per
interval per process. A change made in this process is seen at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

POLL_STEP_S = 0.2


class EmergencyNotifier:
    def __init__(self, refresh_s: float = 0.5) -> None:
        self.refresh_s = refresh_s
        self._generation: int | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()
        self._closed = False

    def invalidate(self) -> None:
        """Force the next check to read the database (after this process committed a change)."""
        with self._lock:
            self._read_at = 0.0

    def generation(self, read_db: Callable[[], int]) -> int:
        """The cached generation, re-read from the database when stale."""
        with self._lock:
            fresh = self._generation is not None and time.monotonic() - self._read_at < self.refresh_s
            if fresh and self._generation is not None:
                return self._generation
        value = read_db()
        with self._lock:
            self._generation = value
            self._read_at = time.monotonic()
        return value

    async def wait_for_change(self, known: int, timeout_s: float, read_db: Callable[[], int]) -> int:
        """Return the generation as soon as it differs from ``known``, or after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            gen = await loop.run_in_executor(None, self.generation, read_db)
            if gen != known or self._closed or loop.time() >= deadline:
                return gen
            await asyncio.sleep(min(POLL_STEP_S, max(0.0, deadline - loop.time())))

    def close(self) -> None:
        self._closed = True
