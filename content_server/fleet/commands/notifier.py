"""Command long-polls: thousands of waiting devices per process, one database read per interval.

One task per process watches the highest command number (``seq``) every ``refresh_s`` of the
event loop while a long-poll waits (a process nobody polls reads nothing), at once when this
process sent a command (:meth:`CommandNotifier.poke`, safe from
any thread). When it moves, one query names the devices that got commands, and only their
long-polls wake; the rest keep waiting without costing anything. Other processes (several
behind nginx, one database) see a new command within ``refresh_s``. No thread per device and no
database connection is held while a poll waits: each check is a short session on a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from content_server.fleet.commands import services
from schedules.protocol.device import CommandList

log = logging.getLogger(__name__)


class CommandNotifier:
    def __init__(self, refresh_s: float = 0.5) -> None:
        self.refresh_s = refresh_s
        self.waiting = 0  # long-polls waiting now (only the event loop changes it)
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._seen = 0  # highest seq already told to the waiters
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self, sessions: sessionmaker[Session]) -> None:
        """On the event loop at start-up, once the database is ready (one short read before serving)."""
        with sessions() as session:
            self._seen = services.latest_seq(session)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._watch(sessions, self._wake))

    def poke(self) -> None:
        """A command was committed in this process: look now (from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def close(self) -> None:
        """Shutting down (on the event loop): waiting polls answer now instead of holding the stop."""
        self._closed = True
        for futures in self._waiters.values():
            for f in futures:
                if not f.done():
                    f.set_result(None)
        if self._task is not None:
            self._task.cancel()

    async def long_poll(self, check: Callable[[], tuple[str, CommandList]], wait_s: float) -> CommandList:
        """``check()`` (on a worker thread) gives the device and its commands; when there are none,
        wait until that device gets one (then check again) or ``wait_s`` passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            mark = self._seen
            device_id, found = await run_in_threadpool(check)
            remaining = deadline - loop.time()
            if found.commands or remaining <= 0 or self._closed:
                return found
            if self._seen != mark:
                continue  # a change was told while we checked: check again rather than miss it
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(device_id, set()).add(future)
            self.waiting += 1
            log.debug("command long-poll waiting (%d waiting)", self.waiting)
            try:
                await asyncio.wait_for(future, remaining)
            except TimeoutError:
                return found
            finally:
                self.waiting -= 1
                waiters = self._waiters.get(device_id)
                if waiters is not None:
                    waiters.discard(future)
                    if not waiters:
                        del self._waiters[device_id]

    async def _watch(self, sessions: sessionmaker[Session], wake: asyncio.Event) -> None:
        """The watching task, on the loop that made ``wake`` (its own, even if the app were started
        again on another loop, as a test client that runs the lifespan once more does)."""
        while not self._closed:
            try:
                if self.waiting or wake.is_set():  # nobody waiting, nothing poked: no read
                    await self._look(sessions)
            except Exception:  # boundary: a failed read only delays the wake-ups to the next look
                log.exception("command notifier could not read the database")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.refresh_s)
            wake.clear()

    async def _look(self, sessions: sessionmaker[Session]) -> None:
        seen = self._seen

        def read() -> tuple[int, set[str]]:
            with sessions() as session:
                latest = services.latest_seq(session)
                if latest <= seen:
                    return latest, set()
                return latest, services.devices_with_commands(session, seen, latest)

        latest, devices = await run_in_threadpool(read)
        self._seen = latest
        for device_id in devices:
            for f in self._waiters.get(device_id, ()):
                if not f.done():
                    f.set_result(None)
