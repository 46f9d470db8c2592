"""Telling a USB barcode scanner (a keyboard that types very fast and ends with Enter) from a person.

Pure: keystrokes come in with their time. A burst of at least ``min_length`` characters, each
within ``max_gap`` of the last, closed by Enter, is a scan; anything slower is typing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

_CASE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,31}$")


def case_number_from_scan(text: str) -> str | None:
    """The case number in what a receipt's QR holds: the bare number, ``CASE:<n>`` or a URL with ``case=``."""
    raw = text.strip()
    if "://" in raw:
        parts = urlsplit(raw)
        values = parse_qs(parts.query).get("case") or [parts.path.rstrip("/").rsplit("/", 1)[-1]]
        raw = values[0]
    if raw.upper().startswith("CASE:"):
        raw = raw[5:]
    raw = raw.strip().upper()
    return raw if _CASE_RE.fullmatch(raw) else None


@dataclass
class ScanDetector:
    """Feed it characters and Enter; it answers with the scanned text, or None for human typing."""

    max_gap: dt.timedelta = dt.timedelta(milliseconds=60)
    min_length: int = 4
    _chars: list[str] = field(default_factory=list)
    _last: dt.datetime | None = None

    def char(self, ch: str, at: dt.datetime) -> None:
        if self._last is not None and at - self._last > self.max_gap:
            self._chars.clear()
        self._chars.append(ch)
        self._last = at

    def enter(self, at: dt.datetime) -> str | None:
        """The scan that Enter closes, if the characters before it came as one fast burst."""
        fast = self._last is not None and at - self._last <= self.max_gap
        text = "".join(self._chars)
        self._chars.clear()
        self._last = None
        return text if fast and len(text) >= self.min_length else None


@dataclass
class HiddenGesture:
    """``taps`` taps in a corner within ``window`` open the operator PIN screen."""

    taps: int = 5
    window: dt.timedelta = dt.timedelta(seconds=3)
    _times: list[dt.datetime] = field(default_factory=list)

    def tap(self, at: dt.datetime) -> bool:
        self._times = [t for t in self._times if at - t <= self.window] + [at]
        if len(self._times) >= self.taps:
            self._times.clear()
            return True
        return False
