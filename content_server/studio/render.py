"""Drawing a designed slide: one composition per orientation, every text fitted to its box.

Each design turns its checked values into a :class:`Slide` (a band label, a flow of blocks, an
optional photo and QR code); :func:`draw` lays the slide out for a landscape or portrait canvas.
Same values, same canvas, same bytes: no clock, no randomness, Pillow's BASIC text layout, and
PNGs written without metadata.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageOps

from content_server.studio.canvas import DEFAULT_SIZES, Canvas
from content_server.studio.designs import Resolved
from content_server.studio.errors import FieldProblem
from content_server.studio.fonts import FontBook
from content_server.studio.palette import PALETTES, RGB, WHITE, Palette, mix
from content_server.studio.texts import MONTHS_EN, SLIDE_TEXT
from content_server.studio.typeset import Box, Layout, Run, TextDoesNotFit, fit
from schedules.bilingual import Bilingual

log = logging.getLogger(__name__)

QR_INK: RGB = (17, 17, 17)
EN_SCALE = 0.62  # English under Chinese: smaller, so the block reads as one headline


# --------------------------------------------------------------------------- what a slide holds


@dataclass(frozen=True)
class Title:
    key: str
    text: Bilingual


@dataclass(frozen=True)
class Fact:
    key: str  # the field it shows (for refusals)
    label: Bilingual
    value: Bilingual


@dataclass(frozen=True)
class Facts:
    rows: tuple[Fact, ...]


@dataclass(frozen=True)
class Price:
    price: Decimal
    was: Decimal | None


@dataclass(frozen=True)
class DateBadge:
    date: dt.date
    time: Bilingual | None = None


@dataclass(frozen=True)
class BigValue:
    key: str
    value: str
    caption: Bilingual | None


@dataclass(frozen=True)
class Body:
    key: str
    text: Bilingual
    bullets: bool = False


Block = Title | Facts | Price | DateBadge | BigValue | Body


@dataclass(frozen=True)
class Slide:
    label: Bilingual
    note: Bilingual | None  # right side of the band
    blocks: tuple[Block, ...]
    qr_url: str | None = None
    qr_caption: Bilingual | None = None
    strict: bool = True  # authored: refuse what does not fit; data: cut with an ellipsis


# --------------------------------------------------------------------------- per design


def _date_text(d: dt.date) -> Bilingual:
    wd = SLIDE_TEXT.both(f"weekday.{d.weekday()}")
    pattern = SLIDE_TEXT.both("date.long")
    return Bilingual(
        pattern.zh.format(year=d.year, month=d.month, day=d.day, weekday=wd.zh),
        pattern.en.format(year=d.year, month=MONTHS_EN[d.month - 1], day=d.day, weekday=wd.en),
    )


def _join(a: Bilingual, b: Bilingual) -> Bilingual:
    return Bilingual(f"{a.zh} {b.zh}", f"{a.en} {b.en}")


def _money(value: Decimal) -> str:
    return f"¥{value:.2f}".replace(".00", "") if value == value.to_integral() else f"¥{value:.2f}"


def _fact(r: Resolved, key: str, label: str, value: Bilingual | None = None) -> Fact | None:
    if value is None:
        if key in r.text:
            value = r.text[key]
        elif key in r.dates:
            value = _date_text(r.dates[key])
        elif key in r.plain:
            value = Bilingual(r.plain[key], r.plain[key])
        else:
            return None
    return Fact(key, SLIDE_TEXT.both(label), value)


def _facts(*rows: Fact | None) -> Facts | None:
    kept = tuple(f for f in rows if f is not None)
    return Facts(kept) if kept else None


def compose(r: Resolved) -> Slide:
    """The slide a design makes of its checked values."""
    k = r.design.key
    t = r.text
    blocks: list[Block | None]
    note: Bilingual | None = None
    qr = SLIDE_TEXT.both("qr.details")
    label = SLIDE_TEXT.both(f"design.{k}")
    if k == "notice":
        note = _date_text(r.dates["date"]) if "date" in r.dates else None
        blocks = [
            Title("title", t["title"]),
            Body("body", t["body"]),
            _facts(_fact(r, "issuer", "fact.organiser")),
        ]
    elif k == "offer":
        note = _join(SLIDE_TEXT.both("fact.valid"), _date_text(r.dates["valid_until"]))
        blocks = [
            Title("product", t["product"]),
            Price(r.prices["price"], r.prices.get("original_price")),
            Body("details", t["details"]) if "details" in t else None,
            _facts(_fact(r, "merchant", "fact.merchant")),
        ]
        qr = SLIDE_TEXT.both("qr.offer")
    elif k == "event":
        blocks = [
            Title("title", t["title"]),
            DateBadge(r.dates["date"], t.get("time")),
            _facts(_fact(r, "place", "fact.place")),
            Body("body", t["body"]) if "body" in t else None,
            _facts(_fact(r, "organiser", "fact.organiser")),
        ]
        qr = SLIDE_TEXT.both("qr.signup")
    elif k == "lost_found":
        label = SLIDE_TEXT.both(f"design.{r.plain['kind']}")
        blocks = [
            Title("item", t["item"]),
            _facts(
                _fact(r, "where", "fact.where"),
                _fact(r, "when", "fact.when"),
                _fact(r, "contact", "fact.contact"),
            ),
            Body("details", t["details"]) if "details" in t else None,
        ]
    elif k == "service":
        blocks = [
            Title("service", t["service"]),
            Body("highlights", t["highlights"], bullets=True),
            _facts(
                _fact(r, "hours", "fact.hours"),
                _fact(r, "phone", "fact.phone"),
                _fact(r, "provider", "fact.provider"),
            ),
        ]
    elif k == "volunteer":
        label = SLIDE_TEXT.both("design.job" if r.plain["kind"] == "job" else "design.volunteer")
        note = (
            _join(SLIDE_TEXT.both("fact.deadline"), _date_text(r.dates["deadline"]))
            if "deadline" in r.dates
            else None
        )
        blocks = [
            Title("role", t["role"]),
            Body("duties", t["duties"], bullets=True),
            _facts(_fact(r, "time", "fact.time"), _fact(r, "contact", "fact.contact")),
        ]
        qr = SLIDE_TEXT.both("qr.apply")
    elif k == "data_panel":
        blocks = [
            Title("title", t["title"]),
            BigValue("value", t["value"].zh or t["value"].en, t.get("caption")),
            Body("rows", t["rows"], bullets=True) if "rows" in t else None,
        ]
        note = t.get("source")
    elif k == "headlines":
        blocks = [Title("title", t["title"]), Body("items", t["items"], bullets=True)]
        note = t.get("source")
    else:  # pragma: no cover - DESIGNS and compose are kept in step by a test
        raise KeyError(k)
    url = r.plain.get("url")
    return Slide(
        label,
        note,
        tuple(b for b in blocks if b is not None),
        url,
        qr if url else None,
        strict=not r.design.data,
    )


# --------------------------------------------------------------------------- drawing


@dataclass
class _Painter:
    img: Image.Image
    cv: Canvas
    pal: Palette
    book: FontBook
    langs: tuple[str, ...]
    strict: bool
    density: float = 1.0  # below 1 when the slide is full: headings, badges and gaps shrink first
    draw: ImageDraw.ImageDraw = field(init=False)

    def __post_init__(self) -> None:
        self.draw = ImageDraw.Draw(self.img)

    def dpx(self, design_units: float) -> int:
        return self.cv.px(design_units * self.density)

    def pick(self, text: Bilingual) -> Bilingual:
        return Bilingual(text.zh if "zh" in self.langs else "", text.en if "en" in self.langs else "")

    def runs(
        self, text: Bilingual, colour: RGB, soft: RGB, bold: bool, en_scale: float = EN_SCALE
    ) -> list[Run]:
        text = self.pick(text)
        if text.zh == text.en:  # numbers, phone numbers: shown once
            text = Bilingual(text.zh, "")
        out: list[Run] = []
        if text.zh:
            out.append(Run(text.zh, colour, 1.0, bold))
        if text.en:
            if text.zh:
                out.append(Run(text.en, soft, en_scale, False, gap_before=0.18))
            else:
                out.append(Run(text.en, colour, 1.0, bold))
        return out

    def fit(
        self,
        key: str,
        runs: list[Run],
        box: Box,
        max_size: int,
        min_size: int | None = None,
        *,
        spacing: float = 1.3,
        valign: Literal["top", "middle", "bottom"] = "top",
        max_lines: int | None = None,
    ) -> Layout:
        """Fit and draw authored or fetched text; for authors, text that cannot fit names its field."""
        min_size = min(min_size or self.cv.min_text, max_size)
        try:
            layout = fit(
                runs,
                box,
                self.book,
                max_size=max_size,
                min_size=min_size,
                spacing=spacing,
                valign=valign,
                max_lines=max_lines,
                overflow="refuse" if self.strict else "ellipsis",
            )
        except TextDoesNotFit as exc:
            raise FieldProblem({key: str(exc)}) from None
        layout.draw(self.draw)
        return layout

    def label(self, text: Bilingual, box: Box, colour: RGB, align: Literal["left", "right"]) -> None:
        """A one-line label (band, pills): its size comes from the box, never refused."""
        t = self.pick(text)
        line = f"{t.zh}  {t.en}".strip() if t.zh and t.en and t.zh != t.en else (t.zh or t.en)
        fit(
            [Run(line, colour, 1.0, True)],
            box,
            self.book,
            max_size=box.h,
            min_size=max(8, box.h // 3),
            valign="middle",
            align=align,
            max_lines=1,
            overflow="ellipsis",
        ).draw(self.draw)


def _rounded_paste(img: Image.Image, tile: Image.Image, box: Box, radius: int) -> None:
    mask = Image.new("L", tile.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, tile.width - 1, tile.height - 1], radius=radius, fill=255)
    img.paste(tile, (box.x, box.y), mask)


class _Photo:
    """The slide's photo, cropped and scaled once per box size: a full slide is drawn again at a lower
    density, and the photo's box does not depend on the density."""

    def __init__(self, photo: Image.Image) -> None:
        self.rgb = photo if photo.mode == "RGB" else photo.convert("RGB")
        self._tiles: dict[tuple[int, int], Image.Image] = {}

    def tile(self, size: tuple[int, int]) -> Image.Image:
        if size not in self._tiles:
            self._tiles[size] = ImageOps.fit(self.rgb, size, Image.Resampling.LANCZOS, centering=(0.5, 0.45))
        return self._tiles[size]


def _photo(p: _Painter, photo: _Photo, box: Box) -> None:
    _rounded_paste(p.img, photo.tile((box.w, box.h)), box, p.cv.px(28))


@functools.lru_cache(maxsize=256)
def _qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """The QR modules for ``url``: a pure function of the link, and the costly part (qrcode tries all
    eight masks), so both orientations of a slide and every re-render with the same link share it."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=0)
    code.add_data(url)
    code.make(fit=True)
    return tuple(tuple(bool(v) for v in row) for row in code.get_matrix())


def qr_image(url: str, side: int) -> Image.Image:
    """The link as a QR code exactly ``side`` px square: whole pixels per module, quiet zone included."""
    matrix = _qr_matrix(url)
    n = len(matrix) + 8  # four modules of quiet zone on each side
    module = max(1, side // n)
    img = Image.new("L", (n, n), 255)
    img.putdata(
        [
            0 if (0 <= y - 4 < len(matrix) and 0 <= x - 4 < len(matrix) and matrix[y - 4][x - 4]) else 255
            for y in range(n)
            for x in range(n)
        ]
    )
    img = img.resize((n * module, n * module), Image.Resampling.NEAREST)
    out = Image.new("L", (side, side), 255)
    out.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return out.convert("RGB")


def _qr_card(p: _Painter, slide: Slide, box: Box, caption_right: bool) -> None:
    assert slide.qr_url is not None
    cv = p.cv
    pad = cv.px(22)
    p.draw.rounded_rectangle(
        [box.x, box.y, box.right, box.bottom],
        radius=cv.px(24),
        fill=WHITE,
        outline=mix(WHITE, p.pal.accent, 0.35),
        width=max(2, cv.px(3)),
    )
    if caption_right:
        side = box.h - 2 * pad
        p.img.paste(qr_image(slide.qr_url, side), (box.x + pad, box.y + pad))
        cap = Box(box.x + 2 * pad + side, box.y + pad, box.w - 3 * pad - side, box.h - 2 * pad)
        valign: Literal["top", "middle", "bottom"] = "middle"
    else:
        side = min(box.w - 2 * pad, box.h - 2 * pad - cv.px(96))
        p.img.paste(qr_image(slide.qr_url, side), (box.x + (box.w - side) // 2, box.y + pad))
        cap = Box(
            box.x + pad,
            box.y + 2 * pad + side - cv.px(8),
            box.w - 2 * pad,
            box.bottom - pad - (box.y + 2 * pad + side - cv.px(8)),
        )
        valign = "middle"
    if slide.qr_caption is not None:
        fit(
            p.runs(slide.qr_caption, QR_INK, (70, 70, 70), True, en_scale=0.8),
            cap,
            p.book,
            max_size=cv.px(40),
            min_size=min(cv.px(16), cv.px(40)),
            align="centre" if not caption_right else "left",
            valign=valign,
            overflow="ellipsis",
        ).draw(p.draw)


def _band(p: _Painter, slide: Slide) -> int:
    cv, pal = p.cv, p.pal
    h = cv.px(150 if cv.portrait else 128)
    m = cv.px(64)
    p.draw.rectangle([0, 0, cv.width, h], fill=pal.accent)
    p.draw.rectangle([0, h, cv.width, h + cv.px(8)], fill=mix(pal.accent, pal.background, 0.55))
    text_h = cv.px(52)
    if slide.note is not None and not cv.portrait:
        left_w = int((cv.width - 2 * m) * 0.5)
        p.label(slide.label, Box(m, (h - text_h) // 2, left_w, text_h), pal.on_accent, "left")
        note_h = cv.px(36)
        p.label(
            slide.note,
            Box(m + left_w + m, (h - note_h) // 2, cv.width - 3 * m - left_w, note_h),
            pal.on_accent,
            "right",
        )
    elif slide.note is not None:
        p.label(slide.label, Box(m, cv.px(22), cv.width - 2 * m, text_h), pal.on_accent, "left")
        note_h = cv.px(32)
        p.label(
            slide.note,
            Box(m, cv.px(22) + text_h + cv.px(14), cv.width - 2 * m, note_h),
            pal.on_accent,
            "left",
        )
    else:
        p.label(slide.label, Box(m, (h - text_h) // 2, cv.width - 2 * m, text_h), pal.on_accent, "left")
    return h + cv.px(8)


def _emblem(p: _Painter, slide: Slide, box: Box) -> None:
    """Landscape slides without photo or QR code: a large accent card, so the slide is balanced.

    It carries the slide's big value when it has one (a temperature, a queue number), else the category.
    """
    cv, pal = p.cv, p.pal
    p.draw.rounded_rectangle([box.x, box.y, box.right, box.bottom], radius=cv.px(28), fill=pal.accent)
    inner = Box(box.x + cv.px(48), box.y + cv.px(48), box.w - cv.px(96), box.h - cv.px(96))
    big = next((b for b in slide.blocks if isinstance(b, BigValue)), None)
    if big is not None:
        runs = [Run(big.value, pal.on_accent, 1.0, True)]
        if big.caption is not None:
            runs += p.runs(big.caption, pal.on_accent, pal.on_accent, True, en_scale=0.7)
            runs[1] = Run(runs[1].text, pal.on_accent, 0.36, True, gap_before=0.3)
            if len(runs) > 2:
                runs[2] = Run(runs[2].text, pal.on_accent, 0.24, False, gap_before=0.2)
        fit(
            runs,
            inner,
            p.book,
            max_size=cv.px(260),
            min_size=cv.px(24),
            spacing=1.1,
            align="centre",
            valign="middle",
            overflow="ellipsis",
        ).draw(p.draw)
        return
    runs = p.runs(slide.label, pal.on_accent, pal.on_accent, True, en_scale=0.45)
    fit(
        runs,
        inner,
        p.book,
        max_size=cv.px(150),
        min_size=cv.px(24),
        spacing=1.15,
        align="centre",
        valign="middle",
        max_lines=len(runs),
        overflow="ellipsis",
    ).draw(p.draw)


def _decorate(p: _Painter) -> None:
    """Two soft discs in the accent's tint: the slide reads as designed, and no text sits on them alone."""
    cv = p.cv
    r = int(min(cv.width, cv.height) * 0.62)
    p.draw.ellipse([cv.width - r, cv.height - r, cv.width + r, cv.height + r], fill=p.pal.tint)
    r2 = int(r * 0.35)
    p.draw.ellipse(
        [-r2, cv.height // 2 - r2, r2, cv.height // 2 + r2], fill=mix(p.pal.background, p.pal.accent, 0.06)
    )


def _pill(p: _Painter, text: Bilingual, x: int, y: int, h: int, max_w: int) -> int:
    """A label pill (accent tint, highlight text); returns its width."""
    t = p.pick(text)
    line = t.zh if t.zh else t.en
    font_px = int(h * 0.56)
    font = p.book.font(font_px, True)
    w = min(max_w, int(font.width(line)) + h)
    p.draw.rounded_rectangle([x, y, x + w, y + h], radius=h // 2, fill=p.pal.chip)
    fit(
        [Run(line, p.pal.ink, 1.0, True)],
        Box(x + h // 2, y, w - h, h),
        p.book,
        max_size=font_px,
        min_size=max(8, font_px // 2),
        valign="middle",
        max_lines=1,
        overflow="ellipsis",
    ).draw(p.draw)
    return w


def _block(p: _Painter, block: Block, box: Box, last: bool) -> int:
    """Draw ``block`` at the top of ``box``; return the height used."""
    cv, pal = p.cv, p.pal
    if isinstance(block, Title):
        max_h = box.h if last else int(box.h * (0.42 if cv.portrait else 0.4) * p.density)
        lay = p.fit(
            block.key,
            p.runs(block.text, pal.ink, pal.soft_ink, True),
            Box(box.x, box.y, box.w, max_h),
            p.dpx(112),
            int(cv.min_text * 1.3),
            spacing=1.2,
        )
        return lay.ink.h
    if isinstance(block, Facts):
        return _facts_block(p, block, box, dry=False)
    if isinstance(block, Price):
        h = p.dpx(150)
        font = p.book.font(h, True)
        price = _money(block.price)
        x = box.x
        p.draw.text((x, box.y + h), price, font=font, fill=pal.highlight, anchor="ls")
        x += int(font.width(price)) + cv.px(36)
        if block.was is not None and block.was > block.price:
            was_text = SLIDE_TEXT.both("price.was", price=_money(block.was))
            t = p.pick(was_text)
            small = p.book.font(cv.px(44))
            line = t.zh or t.en
            p.draw.text((x, box.y + h), line, font=small, fill=pal.soft_ink, anchor="ls")
            x0, _y0, x1, _y1 = small.getbbox(line, anchor="ls")
            strike_y = box.y + h - cv.px(15)
            p.draw.line([x + x0, strike_y, x + x1, strike_y], fill=pal.soft_ink, width=max(2, cv.px(4)))
        return h + p.dpx(30)
    if isinstance(block, DateBadge):
        size = p.dpx(170)
        d = block.date
        p.draw.rounded_rectangle(
            [box.x, box.y, box.x + size, box.y + size], radius=cv.px(22), fill=pal.accent
        )
        pattern = SLIDE_TEXT.both("date.badge_month")
        mt = p.pick(
            Bilingual(pattern.zh.format(month=d.month), pattern.en.format(month=MONTHS_EN[d.month - 1]))
        )
        fit(
            [Run(mt.zh or mt.en, pal.on_accent, 1.0, True)],
            Box(box.x, box.y + p.dpx(12), size, p.dpx(40)),
            p.book,
            max_size=p.dpx(36),
            min_size=8,
            align="centre",
            valign="middle",
            overflow="ellipsis",
        ).draw(p.draw)
        fit(
            [Run(str(d.day), pal.on_accent, 1.0, True)],
            Box(box.x, box.y + p.dpx(56), size, p.dpx(96)),
            p.book,
            max_size=p.dpx(96),
            min_size=8,
            align="centre",
            valign="middle",
            overflow="ellipsis",
        ).draw(p.draw)
        runs = p.runs(_date_text(d), pal.highlight, pal.soft_ink, True, en_scale=0.7)
        if block.time is not None:
            t = p.pick(block.time)
            runs.append(Run(" · ".join(x for x in (t.zh, t.en) if x), pal.ink, 0.8, False, gap_before=0.25))
        side = Box(box.x + size + cv.px(32), box.y, box.w - size - cv.px(32), max(size, cv.min_text * 4))
        lay = p.fit("time", runs, side, cv.px(56), min(cv.min_text, cv.px(56)), valign="top", spacing=1.2)
        return max(size, lay.ink.h)
    if isinstance(block, BigValue):
        h = box.h if last else int(box.h * 0.45)
        value_h = int(h * (0.62 if block.caption else 1.0))
        lay = p.fit(
            block.key,
            [Run(block.value, pal.highlight, 1.0, True)],
            Box(box.x, box.y, box.w, value_h),
            cv.px(300),
            cv.min_text,
            max_lines=1,
            valign="top",
        )
        used = lay.ink.h
        if block.caption is not None:
            cap = p.fit(
                "caption",
                p.runs(block.caption, pal.ink, pal.soft_ink, True),
                Box(box.x, box.y + used + cv.px(24), box.w, h - used - cv.px(24)),
                cv.px(64),
                cv.min_text,
                spacing=1.2,
            )
            used += cv.px(24) + cap.ink.h
        return used
    # Body
    text = p.pick(block.text)
    if block.bullets:
        runs = _bullet_runs(text, pal, p.langs)
    else:
        runs = p.runs(block.text, pal.ink, pal.soft_ink, False, en_scale=0.82)
    lay = p.fit(block.key, runs, box, cv.px(72 if cv.portrait else 64), cv.min_text, spacing=1.35)
    return lay.ink.h


def _facts_block(p: _Painter, block: Facts, box: Box, *, dry: bool) -> int:
    """Rows of label pill + value; ``dry`` measures the height without drawing."""
    cv, pal = p.cv, p.pal
    row_h = p.dpx(64)
    gap = p.dpx(18)
    pill_w = cv.px(210)
    y = box.y
    for row in block.rows:
        value_box = Box(box.x + pill_w + cv.px(24), y, box.w - pill_w - cv.px(24), row_h * 2 + gap)
        runs = p.runs(row.value, pal.ink, pal.soft_ink, False, en_scale=0.8)
        try:
            lay = fit(
                runs,
                value_box,
                p.book,
                max_size=cv.px(44),
                min_size=min(cv.min_text, cv.px(44)),
                spacing=1.2,
                max_lines=3,
                overflow="refuse" if p.strict else "ellipsis",
            )
        except TextDoesNotFit as exc:
            raise FieldProblem({row.key: str(exc)}) from None
        if not dry:
            if y + max(row_h, lay.ink.h) > box.bottom:
                if p.strict:
                    raise FieldProblem({row.key: "no room left on the slide; shorten the other texts"})
                break
            _pill(p, row.label, box.x, y, row_h, pill_w)
            lay.draw(p.draw)
        y += max(row_h, lay.ink.h + cv.px(10)) + gap
    return y - box.y - gap


def _bullet_runs(text: Bilingual, pal: Palette, langs: tuple[str, ...]) -> list[Run]:
    zh = [line for line in text.zh.split("\n") if line.strip()] if "zh" in langs else []
    en = [line for line in text.en.split("\n") if line.strip()] if "en" in langs else []
    runs: list[Run] = []
    for i in range(max(len(zh), len(en))):
        if i < len(zh):
            runs.append(Run(zh[i], pal.ink, 1.0, False, gap_before=0.45 if runs else 0.0, marker="•"))
        if i < len(en):
            alone = i >= len(zh)  # English only, or more English lines than Chinese ones
            runs.append(
                Run(
                    en[i],
                    pal.ink if alone else pal.soft_ink,
                    1.0 if alone else 0.82,
                    False,
                    gap_before=(0.45 if runs else 0.0) if alone else 0.1,
                    marker="•" if alone else "",
                )
            )
    return runs


DENSITIES = (1.0, 0.85, 0.72)


def draw(
    slide: Slide, r: Resolved, cv: Canvas, book: FontBook, photo: Image.Image | None = None
) -> Image.Image:
    """The slide on ``cv``; raises :class:`FieldProblem` naming the field whose text does not fit.

    A full slide is tried again with smaller headings, badges and gaps before anything is refused.
    """
    tiles = _Photo(photo) if photo is not None else None
    for density in DENSITIES[:-1]:
        try:
            return _draw(slide, r, cv, book, tiles, density)
        except FieldProblem:
            continue
    return _draw(slide, r, cv, book, tiles, DENSITIES[-1])


def _draw(
    slide: Slide, r: Resolved, cv: Canvas, book: FontBook, photo: _Photo | None, density: float
) -> Image.Image:
    pal = PALETTES[r.palette]
    img = Image.new("RGB", (cv.width, cv.height), pal.background)
    p = _Painter(img, cv, pal, book, r.langs(), slide.strict, density)
    _decorate(p)
    top = _band(p, slide) + cv.px(56)
    m = cv.px(64)
    bottom = cv.height - m
    main = Box(m, top, cv.width - 2 * m, bottom - top)
    has_qr = slide.qr_url is not None
    if cv.portrait:
        if photo is not None:
            ph = int(cv.height * 0.26)
            _photo(p, photo, Box(m, top, cv.width - 2 * m, ph))
            main = Box(m, top + ph + cv.px(48), main.w, main.bottom - (top + ph + cv.px(48)))
        if has_qr:
            qh = cv.px(300)
            _qr_card(p, slide, Box(m, bottom - qh, cv.width - 2 * m, qh), caption_right=True)
            main = Box(main.x, main.y, main.w, main.h - qh - cv.px(48))
    else:
        side_w = int(cv.width * 0.33)
        side = Box(cv.width - m - side_w, top, side_w, bottom - top)
        main = Box(m, top, cv.width - 3 * m - side_w, main.h)
        if photo is not None and has_qr:
            qh = cv.px(300)
            _photo(p, photo, Box(side.x, side.y, side.w, side.h - qh - cv.px(32)))
            _qr_card(p, slide, Box(side.x, side.bottom - qh, side.w, qh), caption_right=True)
        elif photo is not None:
            _photo(p, photo, side)
        elif not has_qr:
            _emblem(p, slide, side)
        else:
            qs = min(side.w, cv.px(470))
            _qr_card(
                p,
                slide,
                Box(side.x + (side.w - qs) // 2, side.y + (side.h - qs - cv.px(90)) // 2, qs, qs + cv.px(90)),
                caption_right=False,
            )
    gap = p.dpx(40)
    head = list(slide.blocks)
    if not cv.portrait and photo is None and not has_qr:  # the big value sits in the emblem card
        head = [b for b in head if not isinstance(b, BigValue)]
    while head and isinstance(head[-1], Facts) and any(isinstance(b, Body) for b in head[:-1]):
        # facts after the text sit at the bottom; the text takes what is left between
        tail = head.pop()
        assert isinstance(tail, Facts)
        h = _facts_block(p, tail, main, dry=True)
        _facts_block(p, tail, Box(main.x, main.bottom - h, main.w, h), dry=False)
        main = Box(main.x, main.y, main.w, main.h - h - gap)
    y = main.y
    for i, block in enumerate(head):
        remaining = Box(main.x, y, main.w, main.bottom - y)
        if remaining.h < cv.min_text * 2:
            key = getattr(block, "key", "") or (block.rows[0].key if isinstance(block, Facts) else "body")
            if slide.strict:
                raise FieldProblem({key: "no room left on the slide; shorten the other texts"})
            break
        used = _block(p, block, remaining, last=i == len(head) - 1)
        y += used + gap
    return img


PNG_LEVEL = 1  # zlib: Pillow tries five row filters on every row; at 6 that took as long as drawing


def png_bytes(img: Image.Image) -> bytes:
    """PNG without metadata (no time, no software tag): the same pixels give the same bytes.

    Fast compression: a 1920x1080 slide encodes in about half the CPU time of level 6, for files
    about 15 % larger (slides are stored once and cached by screens; the render is on the author's
    wait)."""
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=PNG_LEVEL)
    return out.getvalue()


def render(r: Resolved, cv: Canvas, book: FontBook, photo: Image.Image | None = None) -> bytes:
    """One slide as PNG bytes."""
    return png_bytes(draw(compose(r), r, cv, book, photo if r.design.photo else None))


def render_shapes(
    r: Resolved, canvases: Sequence[Canvas], book: FontBook, photo: Image.Image | None = None
) -> list[tuple[Canvas, bytes]]:
    """The slide drawn on each canvas. The default 16:9 and 9:16 slides must fit (their FieldProblem
    names the field to fix); another screen shape whose layout cannot hold the text is left out, and
    screens of that shape play the nearest default slide instead."""
    out = []
    for cv in canvases:
        try:
            out.append((cv, render(r, cv, book, photo)))
        except FieldProblem as exc:
            if (cv.width, cv.height) in DEFAULT_SIZES:
                raise
            log.info("slide %s left out at %dx%d: %s", r.design.key, cv.width, cv.height, exc)
    return out
