"""Telling a USB barcode scanner (a keyboard that types very fast and ends with Enter) from a person.

Pure: keystrokes come in with the time the keyboard sent them (the key event's own timestamp,
never the moment the GUI thread got round to them: a busy GUI thread must not split a burst).
A burst of at least ``min_length`` characters, each within ``max_gap`` of the last, closed by
Enter, is a scan; anything slower is typing. A fast tail that follows another fast run is a
broken scan: the whole input is handed on (never the tail alone), so a fragment is never looked up.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

# Case numbers open with a letter (the case type, ``GA-20261203-522703``): a run of digits alone
# is a fragment of one, never a whole number.
_CASE_RE = re.compile(r"^[A-Z][A-Z0-9-]{3,31}$")
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"  # the server's: no look-alikes (0/O, 1/I/L)
_REFERENCE_RE = re.compile(rf"^L?[{REFERENCE_ALPHABET}]{{3}}-?[{REFERENCE_ALPHABET}]{{3}}$")


class ScanKind(StrEnum):
    CASE = "case"
    ORDER = "order"


@dataclass(frozen=True)
class ScannedCode:
    """What a scanned QR means to the kiosk: a case to look up or an order to show."""

    kind: ScanKind
    value: str


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


def _order_part(text: str) -> str | None:
    """The part of an order link or ``ORDER:`` code that should be a reference; None if not order-shaped."""
    raw = text.strip()
    if "://" in raw:
        path = urlsplit(raw).path
        return path.rstrip("/").rsplit("/", 1)[-1] if "/orders/" in path or "/o/" in path else None
    return raw[6:] if raw.upper().startswith("ORDER:") else None


def order_reference_from_scan(text: str) -> str | None:
    """The order reference in an order receipt's QR: ``ORDER:<ref>``, or a link to the order's page."""
    raw = _order_part(text)
    if raw is None:
        return None
    raw = raw.strip().upper()
    if not _REFERENCE_RE.fullmatch(raw):
        return None
    bare = raw.replace("-", "")
    return f"{bare[:-3]}-{bare[-3:]}"


def parse_scan(text: str) -> ScannedCode | None:
    """A scanned text as a case number or an order reference; None when it is neither."""
    if _order_part(text) is not None:
        reference = order_reference_from_scan(text)
        return ScannedCode(ScanKind.ORDER, reference) if reference is not None else None
    number = case_number_from_scan(text)
    return ScannedCode(ScanKind.CASE, number) if number is not None else None


_MAX_KEPT = 256  # longer than any code a receipt carries


class BurstKind(StrEnum):
    SCAN = "scan"  # one unbroken fast burst: the scanner's whole text
    BROKEN = "broken"  # fast runs with a pause between: the text is everything typed since the last Enter


@dataclass(frozen=True)
class Burst:
    kind: BurstKind
    text: str


@dataclass
class ScanDetector:
    """Feed it characters and Enter with their times (seconds, any monotonic origin).

    ``enter`` answers with the scanned burst, or None when a person typed. Keys closer than
    ``rejoin_s`` to a fast burst belong to it: a scanner paused by a busy machine, or a person who
    pressed a key just before scanning. Either way the whole input is returned as BROKEN.
    """

    max_gap_s: float = 0.060
    min_length: int = 4
    rejoin_s: float = 1.0
    _chars: list[str] = field(default_factory=list)
    _times: list[float] = field(default_factory=list)

    def char(self, ch: str, at: float) -> None:
        self._chars.append(ch)
        self._times.append(at)
        if len(self._chars) > _MAX_KEPT:  # keys typed with no Enter for a long while
            del self._chars[0], self._times[0]

    def reset(self) -> None:
        self._chars.clear()
        self._times.clear()

    def enter(self, at: float) -> Burst | None:
        """The scan that Enter closes, if the characters before it came as a fast burst."""
        chars, times = list(self._chars), list(self._times)
        self.reset()
        if not chars or at - times[-1] > self.max_gap_s:
            return None  # a person pressed Enter
        start = len(times) - 1
        while start > 0 and times[start] - times[start - 1] <= self.max_gap_s:
            start -= 1
        first = start
        while first > 0 and times[first] - times[first - 1] <= self.rejoin_s:
            first -= 1
        if first == start:
            tail = "".join(chars[start:])
            return Burst(BurstKind.SCAN, tail) if len(tail) >= self.min_length else None
        if _fast_keys(times[first:], self.max_gap_s) + 1 < self.min_length:
            return None  # a person's keys, the last one followed quickly by Enter
        return Burst(BurstKind.BROKEN, "".join(chars[first:]))


def _fast_keys(times: list[float], max_gap_s: float) -> int:
    """How many keys came within ``max_gap_s`` of the key before them (a scanner's pace)."""
    return sum(1 for a, b in pairwise(times) if b - a <= max_gap_s)


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
