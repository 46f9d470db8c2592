"""The fonts slides are drawn with (Noto Sans CJK SC through fontconfig) and what they can show.

A character the font has no glyph for would be drawn as an empty box ("tofu"). :class:`FontBook`
reads the face's cmap with fontTools, and :func:`clean_text` either refuses such characters
(authored fields: the author can fix them) or drops them (fetched data: nobody is there to ask).
Text is measured and drawn with Pillow's BASIC layout so that the same fields give the same bytes
whether or not this machine's Pillow was built with libraqm.
"""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageFont

from content_server.studio.errors import StudioError

log = logging.getLogger(__name__)

_DEBIAN_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-{weight}.ttc",
)
_SC_FACE_INDEX = 2  # inside NotoSansCJK-*.ttc: JP, KR, SC, TC, HK

# Characters the font lacks but that have a close, covered stand-in.
SUBSTITUTES: dict[str, str] = {
    "\u00a0": " ",  # no-break space
    "\u2009": " ",
    "\u202f": " ",
    "\u3000": "  ",  # ideographic space: keep it wide
    "\u2010": "-",
    "\u2011": "-",
    "\u2212": "-",
    "\u2715": "×",
    "\u2716": "×",
    "\u2714": "✓",
    "\u2705": "✓",
    "\u260e\ufe0f": "☎",
}


class FontMissing(StudioError):
    status_code = 500


@dataclass(frozen=True)
class Face:
    path: Path
    index: int


def find_face(bold: bool = False) -> Face:
    """Noto Sans CJK SC (regular or bold) through fontconfig, falling back to Debian's paths."""
    weight = "Bold" if bold else "Regular"
    fc_match = shutil.which("fc-match")
    if fc_match:
        out = subprocess.run(
            [fc_match, "-f", "%{file}|%{index}", f"Noto Sans CJK SC:{weight.lower()}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        path, _, index = out.partition("|")
        if "CJK" in path and Path(path).is_file():
            return Face(Path(path), int(index or 0))
    for candidate in _DEBIAN_PATHS:
        p = Path(candidate.format(weight=weight))
        if p.is_file():
            return Face(p, _SC_FACE_INDEX)
    raise FontMissing("the Noto Sans CJK fonts are not installed (Debian package fonts-noto-cjk)")


INK_PROBE = "国Ég"  # a tall CJK character, a capital accent and a descender: the height of any line
MAX_ADVANCES = 2048  # characters remembered per font (a server runs for months, fonts by size stay)


class Font(ImageFont.FreeTypeFont):
    """A face at one size (BASIC layout) that measures text from each character's advance, loaded once.

    Auto-fit wraps every paragraph at every size it tries, measuring a line again for each word it
    could take, and Pillow loads every glyph of the text anew for each measurement. Without a legacy
    ``kern`` table (Noto CJK has none: it kerns through GPOS, which BASIC layout does not apply), the
    advance of a text *is* the sum of its characters' advances, so :meth:`width` equals ``getlength``.
    """

    def __init__(self, face: Face, size: int, *, additive: bool) -> None:
        super().__init__(str(face.path), size, index=face.index, layout_engine=ImageFont.Layout.BASIC)
        self._additive = additive
        self._advances: dict[str, float] = {}
        self._probe: tuple[int, int, int, int] | None = None

    def width(self, text: str) -> float:
        """What ``getlength(text)`` returns (advances are whole 1/64 px: their float sum is exact)."""
        if not self._additive:
            return self.getlength(text)
        advances = self._advances
        total = 0.0
        for ch in text:
            advance = advances.get(ch)
            if advance is None:
                if len(advances) >= MAX_ADVANCES:
                    advances.clear()
                advance = advances[ch] = self.getlength(ch)
            total += advance
        return total

    @property
    def probe(self) -> tuple[int, int, int, int]:
        """Ink box of :data:`INK_PROBE` at baseline 0: every line is at least this tall."""
        if self._probe is None:
            x0, y0, x1, y1 = self.getbbox(INK_PROBE, anchor="ls")
            self._probe = (math.floor(x0), math.floor(y0), math.floor(x1), math.floor(y1))
        return self._probe


@dataclass
class FontBook:
    """Regular and bold faces, fonts by size (cached), and the characters both faces can draw."""

    regular: Face
    bold: Face
    _fonts: dict[tuple[int, bool], Font] = field(default_factory=dict, repr=False)
    _coverage: frozenset[int] | None = field(default=None, repr=False)
    _kerned: bool | None = field(default=None, repr=False)  # a face has a legacy ``kern`` table

    @classmethod
    def system(cls) -> FontBook:
        return _system_book()

    def font(self, size: int, bold: bool = False) -> Font:
        key = (size, bold)
        f = self._fonts.get(key)
        if f is None:
            if self._kerned is None:
                self._kerned = any(_has_kern_table(face) for face in (self.regular, self.bold))
            f = Font(self.bold if bold else self.regular, size, additive=not self._kerned)
            self._fonts[key] = f
        return f

    @property
    def coverage(self) -> frozenset[int]:
        if self._coverage is None:
            sets = []
            for face in (self.regular, self.bold):
                tt = TTFont(str(face.path), fontNumber=face.index, lazy=True)
                try:
                    sets.append(frozenset(tt.getBestCmap()))
                finally:
                    tt.close()
            self._coverage = sets[0] & sets[1]
        return self._coverage

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` neither face can draw (after clean-up), in order, each once."""
        cov = self.coverage
        seen: list[str] = []
        for ch in text:
            if ch != "\n" and ord(ch) not in cov and ch not in seen:
                seen.append(ch)
        return seen


def _has_kern_table(face: Face) -> bool:
    """Whether FreeType would kern pairs in BASIC layout (it reads only the legacy ``kern`` table).
    Reads the table directory alone: the cmap behind :attr:`FontBook.coverage` costs tens of MB."""
    tt = TTFont(str(face.path), fontNumber=face.index, lazy=True)
    try:
        return "kern" in tt
    finally:
        tt.close()


@lru_cache(maxsize=1)
def _system_book() -> FontBook:
    return FontBook(find_face(False), find_face(True))


def _normalise(text: str) -> str:
    """NFC, one kind of line break, no control or invisible formatting characters, known stand-ins."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    for bad, good in SUBSTITUTES.items():
        text = text.replace(bad, good)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "\n" or not (cat.startswith("C") or ch in "\ufe0e\ufe0f"):
            out.append(ch)
    lines = [" ".join(line.split()) for line in "".join(out).split("\n")]
    return "\n".join(lines).strip("\n")


def clean_text(text: str, book: FontBook, *, strict: bool) -> str:
    """Text ready to draw. ``strict``: refuse characters the font lacks (authors can fix them);
    otherwise drop them (fetched data). Raises :class:`ValueError` with the characters when strict."""
    text = _normalise(text)
    missing = book.missing(text)
    if not missing:
        return text
    if strict:
        shown = " ".join(f"{ch} (U+{ord(ch):04X})" for ch in missing[:8])
        raise ValueError(f"these characters cannot be shown on screens: {shown}")
    drop = set(missing)
    return _normalise("".join(ch for ch in text if ch not in drop))
