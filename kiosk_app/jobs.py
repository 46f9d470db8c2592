"""How the flow runs blocking work (network, disk) off the UI thread: a tiny ``Runner`` interface.

The Qt implementation lives in :mod:`kiosk_app.worker`; the two here are for tests and tools:
``ImmediateRunner`` runs the job at once, ``ManualRunner`` holds jobs until the test releases
them, so a test can reset the kiosk while a lookup is still "in flight".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Runner(Protocol):
    def submit(self, job: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[Exception], None]) -> None:
        """Run ``job`` elsewhere; call ``done(result)`` or ``failed(error)`` back on the caller's thread."""


class ImmediateRunner:
    """Runs each job synchronously (view-model tests, benchmarks)."""

    def submit(self, job: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[Exception], None]) -> None:
        try:
            result = job()
        except Exception as exc:
            failed(exc)
            return
        done(result)


@dataclass
class _Held:
    job: Callable[[], Any]
    done: Callable[[Any], None]
    failed: Callable[[Exception], None]


class ManualRunner:
    """Queues jobs; ``run_all()`` executes them in order, as a worker pool would later."""

    def __init__(self) -> None:
        self.queue: list[_Held] = []

    def submit(self, job: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[Exception], None]) -> None:
        self.queue.append(_Held(job, done, failed))

    def run_all(self) -> int:
        count = 0
        while self.queue:
            held = self.queue.pop(0)
            ImmediateRunner().submit(held.job, held.done, held.failed)
            count += 1
        return count
