"""Line breaking and auto-fit: text gets the largest size at which it fits its box, never more.

Break rules: CJK characters may break between any two of them; Latin breaks at spaces (and after
a hyphen or slash); closing punctuation never starts a line and opening punctuation never ends
one; a Latin word longer than the line is hyphenated where it breaks between letters. A block is
measured from the ink boxes Pillow reports for each line at the chosen size, so what is drawn stays
inside the box. When even the smallest readable size does not fit, authored text is refused
(:class:`TextDoesNotFit`) and fetched text is cut with an ellipsis.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass
from typing import Literal

from PIL import ImageDraw

from content_server.studio.fonts import Font, FontBook
from content_server.studio.palette import RGB

NO_LINE_START = frozenset("，。、；：！？）」』】》〉〕”’…·%％‰,.;:!?)]}'\"ー々ゝゞ～〜")
NO_LINE_END = frozenset("（「『【《〈〔“‘([{$¥￥£€#")
ELLIPSIS = "…"


class TextDoesNotFit(ValueError):
    """The text does not fit its box even at the smallest readable size."""

    def __init__(self, fitting_chars: int) -> None:
        self.fitting_chars = fitting_chars
        super().__init__(f"too long for this template; about {fitting_chars} characters fit")


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h


@dataclass(frozen=True)
class Run:
    """One paragraph of a block: its own relative size, weight and colour."""

    text: str
    colour: RGB
    scale: float = 1.0
    bold: bool = False
    gap_before: float = 0.0  # extra space above, in this run's em
    marker: str | None = None  # list item: drawn before the first line; every line is indented


@dataclass(frozen=True)
class SetLine:
    text: str
    x: int
    baseline: int
    font: Font
    colour: RGB


@dataclass(frozen=True)
class Layout:
    lines: tuple[SetLine, ...]
    size: int  # the base size chosen
    ink: Box  # where the drawn text is (inside the box it was fitted to)
    truncated: bool = False

    def draw(self, draw: ImageDraw.ImageDraw) -> None:
        for line in self.lines:
            draw.text((line.x, line.baseline), line.text, font=line.font, fill=line.colour, anchor="ls")


def is_wide(ch: str) -> bool:
    """CJK ideographs, kana, hangul and full-width forms: a line may break on either side."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


@functools.lru_cache(maxsize=4096)
def _tokens(paragraph: str) -> tuple[tuple[str, bool], ...]:
    """Unbreakable pieces of a paragraph, each with whether a space separates it from the one before.

    Cached: they do not depend on the font, and auto-fit wraps the same paragraph at every size it tries.
    """
    raw: list[tuple[str, bool]] = []
    cur = ""
    space = False
    for i, ch in enumerate(paragraph):
        if ch == " ":
            if cur:
                raw.append((cur, space))
                cur = ""
            space = bool(raw)
            continue
        if is_wide(ch):
            if cur:
                raw.append((cur, space))
                cur, space = "", False
            raw.append((ch, space))
            space = False
            continue
        cur += ch
        nxt = paragraph[i + 1 : i + 2]
        if ch in "-/" and len(cur) > 1 and nxt not in ("", " ", ch):  # break after a hyphen or slash
            raw.append((cur, space))
            cur, space = "", False
    if cur:
        raw.append((cur, space))
    # keep closing punctuation with what precedes it, opening punctuation with what follows it
    merged: list[tuple[str, bool]] = []
    glue_next = False
    for text, sp in raw:
        if merged and (glue_next or (not sp and text[0] in NO_LINE_START)):
            prev, psp = merged[-1]
            merged[-1] = (prev + (" " if sp else "") + text, psp)
        else:
            merged.append((text, sp))
        glue_next = text[-1] in NO_LINE_END
    return tuple(merged)


def _split_long(word: str, font: Font, width: int) -> list[str]:
    """Break a word wider than the line; a hyphen marks a break between two letters of a real word.

    Addresses, numbers and codes (anything with digits, dots, @ or colons) break without a hyphen,
    which would read as part of them.
    """
    pieces: list[str] = []
    rest = word
    words_only = word.strip(",;!?'\"()").isalpha()

    def hyphen_at(text: str, i: int) -> str:
        return "-" if words_only and i < len(text) and text[i - 1].isalpha() and text[i].isalpha() else ""

    while rest and font.width(rest) > width:
        cut = 1
        for i in range(1, len(rest)):
            if font.width(rest[:i] + hyphen_at(rest, i)) <= width:
                cut = i
            else:
                break
        pieces.append(rest[:cut] + hyphen_at(rest, cut))
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def wrap(text: str, font: Font, width: int) -> list[str]:
    """Lines of ``text`` (``\\n`` starts a new paragraph) each at most ``width`` pixels long."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for tok, space in _tokens(paragraph):
            candidate = line + (" " if space and line else "") + tok
            if font.width(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
                line = ""
            if font.width(tok) <= width:
                line = tok
            else:
                pieces = _split_long(tok, font, width)
                lines.extend(pieces[:-1])
                line = pieces[-1]
        if lines and len(line) <= 2 and all(is_wide(ch) or ch in NO_LINE_START for ch in line):
            lines[-1], line = _no_widow(lines[-1], line)
        lines.append(line)
    return lines


def _no_widow(prev: str, last: str) -> tuple[str, str]:
    """A Chinese paragraph does not end on a line of one or two characters: take one more down."""
    if len(prev) < 5 or not is_wide(prev[-1]):
        return prev, last
    cut = len(prev) - 1
    while cut > 1 and (prev[cut] in NO_LINE_START or prev[cut - 1] in NO_LINE_END):
        cut -= 1
    return prev[:cut], prev[cut:] + last


@dataclass(frozen=True)
class _Placed:
    text: str
    indent: int
    font: Font
    colour: RGB
    baseline: int
    left: int
    right: int
    top: int
    bottom: int


def _ink(font: Font, text: str) -> tuple[int, int, int, int]:
    """Ink box of ``text`` drawn at baseline 0 (``anchor='ls'``); an empty text has the probe's height."""
    probe = font.probe
    if not text.strip():
        return 0, probe[1], 0, probe[3]
    box = font.getbbox(text, anchor="ls")
    return (
        min(math.floor(box[0]), 0),
        min(math.floor(box[1]), probe[1]),
        math.ceil(box[2]),
        max(math.ceil(box[3]), probe[3]),
    )


def _set(runs: tuple[Run, ...], book: FontBook, size: int, width: int, spacing: float) -> list[_Placed]:
    placed: list[_Placed] = []
    baseline = 0
    indent_px = round(size * 1.1)  # list items: one indent for every run, whatever its scale
    for run in runs:
        if not run.text.strip():
            continue
        px = max(1, round(size * run.scale))
        font = book.font(px, run.bold)
        pitch = round(px * spacing)
        indent = indent_px if run.marker is not None else 0
        for i, line in enumerate(wrap(run.text, font, width - indent)):
            left, top, right, bottom = _ink(font, line)
            if not placed:
                baseline = -top
            else:
                baseline += pitch + (round(px * run.gap_before) if i == 0 else 0)
            if i == 0 and run.marker:
                mfont = book.font(max(1, round(size * 0.9)), True)
                ml, mt, mr, mb = _ink(mfont, run.marker)
                placed.append(
                    _Placed(run.marker, 0, mfont, run.colour, baseline, ml, mr, baseline + mt, baseline + mb)
                )
            placed.append(
                _Placed(
                    line,
                    indent,
                    font,
                    run.colour,
                    baseline,
                    indent + left,
                    indent + right,
                    baseline + top,
                    baseline + bottom,
                )
            )
    return placed


def _fits(placed: list[_Placed], box: Box, max_lines: int | None) -> bool:
    if not placed:
        return True
    if max_lines is not None and len(placed) > max_lines:
        return False
    return placed[-1].bottom - placed[0].top <= box.h and all(
        p.right - min(p.left, 0) <= box.w for p in placed
    )


def fit(
    runs: tuple[Run, ...] | list[Run],
    box: Box,
    book: FontBook,
    *,
    max_size: int,
    min_size: int,
    spacing: float = 1.3,
    align: Literal["left", "centre", "right"] = "left",
    valign: Literal["top", "middle", "bottom"] = "top",
    max_lines: int | None = None,
    overflow: Literal["refuse", "ellipsis"] = "refuse",
) -> Layout:
    """The largest size in [min_size, max_size] at which ``runs`` fit ``box``, laid out in it."""
    runs = tuple(runs)
    lo, hi = min_size, max(min_size, max_size)
    best: list[_Placed] | None = None
    best_size = min_size
    if _fits(placed := _set(runs, book, hi, box.w, spacing), box, max_lines):
        best, best_size = placed, hi
    else:
        while lo <= hi:  # largest fitting size; the test at the end guards against non-monotone wraps
            mid = (lo + hi) // 2
            placed = _set(runs, book, mid, box.w, spacing)
            if _fits(placed, box, max_lines):
                best, best_size, lo = placed, mid, mid + 1
            else:
                hi = mid - 1
    truncated = False
    if best is None:
        placed = _set(runs, book, min_size, box.w, spacing)
        if overflow == "refuse":
            raise TextDoesNotFit(_fitting_chars(runs, placed, box))
        best, best_size, truncated = _truncate(placed, box, max_lines), min_size, True
    return _position(best, best_size, box, align, valign, truncated)


def _fitting_chars(runs: tuple[Run, ...], placed: list[_Placed], box: Box) -> int:
    total = sum(len(r.text) for r in runs)
    if not placed:
        return total
    height = placed[-1].bottom - placed[0].top
    return max(1, int(total * min(1.0, box.h / max(1, height))))


def _truncate(placed: list[_Placed], box: Box, max_lines: int | None) -> list[_Placed]:
    """Lines that fit the box's height, the last one ending in an ellipsis."""
    top = placed[0].top
    keep = [p for p in placed if p.bottom - top <= box.h]
    if max_lines is not None:
        keep = keep[:max_lines]
    if not keep:
        return []
    last = keep[-1]
    text = last.text
    while text and last.indent + last.font.width(text.rstrip() + ELLIPSIS) > box.w:
        text = text[:-1]
    text = text.rstrip() + ELLIPSIS
    left, _t, right, _b = _ink(last.font, text)
    keep[-1] = _Placed(
        text,
        last.indent,
        last.font,
        last.colour,
        last.baseline,
        last.indent + left,
        last.indent + right,
        last.top,
        last.bottom,
    )
    return keep


def _position(placed: list[_Placed], size: int, box: Box, align: str, valign: str, truncated: bool) -> Layout:
    if not placed:
        return Layout((), size, Box(box.x, box.y, 0, 0), truncated)
    height = placed[-1].bottom - placed[0].top
    dy = box.y - placed[0].top
    if valign == "middle":
        dy += (box.h - height) // 2
    elif valign == "bottom":
        dy += box.h - height
    lines = []
    left_ink, right_ink = box.right, box.x
    for p in placed:
        ink_w = p.right - min(p.left, 0)
        if align == "centre":
            origin = box.x + (box.w - ink_w) // 2 - min(p.left, 0)
        elif align == "right":
            origin = box.right - p.right
        else:
            origin = box.x - min(p.left, 0)
        left_ink, right_ink = min(left_ink, origin + p.left), max(right_ink, origin + p.right)
        lines.append(SetLine(p.text, origin + p.indent, p.baseline + dy, p.font, p.colour))
    return Layout(
        tuple(lines), size, Box(left_ink, placed[0].top + dy, right_ink - left_ink, height), truncated
    )
