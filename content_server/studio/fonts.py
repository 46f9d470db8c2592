"""The fonts slides are drawn with (Noto Sans CJK SC through fontconfig) and what they can show.

A character the font has no glyph for would be drawn as an empty box ("tofu"). :class:`FontBook`
reads the face's cmap with fontTools, and :func:`clean_text` either refuses such characters
(authored fields: the author can fix them) or drops them (fetched data: nobody is there to ask).
Text is measured and drawn with Pillow's BASIC layout so that the same fields give the same bytes
whether or not this machine's Pillow was built with libraqm.
"""

from __future__ import annotations

import logging
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


@dataclass
class FontBook:
    """Regular and bold faces, fonts by size (cached), and the characters both faces can draw."""

    regular: Face
    bold: Face
    _fonts: dict[tuple[int, bool], ImageFont.FreeTypeFont] = field(default_factory=dict, repr=False)
    _coverage: frozenset[int] | None = field(default=None, repr=False)

    @classmethod
    def system(cls) -> FontBook:
        return _system_book()

    def font(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        key = (size, bold)
        f = self._fonts.get(key)
        if f is None:
            face = self.bold if bold else self.regular
            f = ImageFont.truetype(
                str(face.path), size, index=face.index, layout_engine=ImageFont.Layout.BASIC
            )
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
