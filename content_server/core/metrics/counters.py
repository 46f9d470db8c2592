"""This process's counters: cheap enough for the poll fast path (a lock and an addition)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

from starlette.types import Scope


class Counters:
    """Counts since the last :meth:`take`; thread-safe."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._gauges: dict[str, Callable[[], float]] = {}

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def take(self) -> dict[str, int]:
        """The counts since the last take, and start again from zero."""
        with self._lock:
            counts, self._counts = dict(self._counts), defaultdict(int)
        return counts

    def give_back(self, counts: dict[str, int]) -> None:
        """Counts a failed flush could not store are added again (nothing is lost)."""
        with self._lock:
            for name, n in counts.items():
                self._counts[name] += n

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        """A per-process value read at each flush (e.g. long-polls waiting now)."""
        self._gauges[name] = read

    def gauges(self) -> dict[str, float]:
        return {name: float(read()) for name, read in self._gauges.items()}


class RequestCounter:
    """Counts requests by method and path (exact paths or prefixes), before any other layer.

    ``ContentServer`` calls it for every request, so the poll fast path and the normal routes
    are counted in one place.
    """

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._exact: dict[tuple[str, str], str] = {}
        self._prefixes: list[tuple[str, str, str]] = []

    def count(self, method: str, path: str, name: str, *, prefix: bool = False) -> None:
        if prefix:
            self._prefixes.append((method, path, name))
        else:
            self._exact[(method, path)] = name

    def __call__(self, scope: Scope) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        name = self._exact.get((method, path))
        if name is None:
            name = next((n for m, p, n in self._prefixes if m == method and path.startswith(p)), None)
        if name is not None:
            self._counters.add(name)
