"""PDF notices: checked structurally, then rendered page by page with PDFium into slides.

A notice PDF is never stored or served as it came: it is turned into one picture per page and
screen shape (rebuilt, not trusted, as uploaded images are). Before any page is rendered,
:func:`inspect` refuses what could hurt: not a PDF, encrypted, a broken cross-reference table,
active content (JavaScript, launch and similar actions), more pages than a notice has, page sizes
or embedded images that would take unbounded memory. pypdf reads the structure; PDFium (which
runs no JavaScript: no form environment is ever set up) draws the pages. Pages are written to a
staging folder one at a time, so memory stays bounded by one page whatever the page count; a
failure removes the folder, so a refused PDF leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw
from pypdf import PageObject, PdfReader
from pypdf.errors import PdfReadError, PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject, StreamObject

from content_server.studio.errors import NotAPdf, PdfRefused, PdfTooLarge
from content_server.studio.fonts import FontBook
from content_server.studio.palette import RGB
from content_server.studio.render import png_bytes
from content_server.studio.texts import SLIDE_TEXT
from content_server.studio.typeset import Box, Run, fit
from schedules.bilingual import Bilingual

log = logging.getLogger(__name__)

# Action types that do something beyond moving within the document.
ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/ResetForm",
        "/GoToR",
        "/GoToE",
        "/Rendition",
        "/RichMediaExecute",
        "/Sound",
        "/Movie",
    }
)
ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/Launch", "/RichMedia", "/EmbeddedFiles", "/XFA"})
PAPER_GROUND: RGB = (233, 236, 241)
PAPER_INK: RGB = (28, 36, 48)


NOTICE_PAGES = Bilingual("一份通知", "a notice")


@dataclass(frozen=True)
class PdfLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 60  # a notice, not a book
    # what the pages become, for the refusal of too many: an operator's notice, an advertiser's ad
    pages_for: Bilingual = NOTICE_PAGES
    max_page_side_pt: float = 14_400.0  # 200 inches: PDF's own limit
    max_aspect: float = 6.0  # longer side / shorter side; beyond it no screen can show the page
    max_image_pixels: int = 40_000_000  # per embedded picture, as for uploaded images
    max_objects: int = 200_000


@dataclass(frozen=True)
class PdfFacts:
    page_count: int
    page_sizes_pt: tuple[tuple[float, float], ...]


@dataclass
class RenderedPage:
    number: int  # 1-based, in document order
    dwell_s: float
    text_chars: int
    thumbnail: str  # file name in the staging folder
    slides: dict[str, str] = field(default_factory=dict)  # "WxH" -> file name


@dataclass
class RenderedNotice:
    folder: Path
    page_count: int
    pages: list[RenderedPage]

    def manifest(self) -> str:
        return json.dumps({"page_count": self.page_count, "pages": [asdict(p) for p in self.pages]}, indent=1)


def suggested_dwell_s(text_chars: int) -> float:
    """Long enough to read the page: about six characters a second, 8 to 30 seconds."""
    return float(min(30, max(8, math.ceil(text_chars / 6))))


# --------------------------------------------------------------------------- checks before rendering


def _sniff(path: Path, limits: PdfLimits) -> None:
    size = path.stat().st_size
    if size == 0:
        raise NotAPdf("the file is empty")
    if size > limits.max_bytes:
        raise PdfTooLarge(
            f"the PDF is {size // (1024 * 1024)} MiB; notices may be at most "
            f"{limits.max_bytes // (1024 * 1024)} MiB"
        )
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(max(0, size - 2048))
        tail = f.read()
    if not head.startswith(b"%PDF-1.") and not head.startswith(b"%PDF-2."):
        raise NotAPdf("this file is not a PDF (its content is something else); upload a PDF notice")
    if b"%%EOF" not in tail or b"startxref" not in tail:
        raise PdfRefused("the PDF is incomplete or damaged (no end marker); save or export it again")


def _resolve(obj: PdfObject | None) -> PdfObject | None:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def _active(obj: PdfObject) -> str | None:
    """Why this object is active content, or None."""
    if not isinstance(obj, DictionaryObject):
        return None
    for key in obj:
        if key in ACTIVE_KEYS:
            return key.lstrip("/")
    kind = _resolve(obj.get("/S"))
    if isinstance(kind, NameObject) and kind in ACTIVE_ACTIONS:
        return str(kind).lstrip("/")
    return None


def _images(resources: PdfObject | None, limits: PdfLimits, depth: int = 0) -> Iterator[tuple[int, int]]:
    """(width, height) of every picture a page draws, through nested forms (depth-limited)."""
    resources = _resolve(resources)
    if not isinstance(resources, DictionaryObject) or depth > 8:
        return
    xobjects = _resolve(resources.get("/XObject"))
    if not isinstance(xobjects, DictionaryObject):
        return
    for ref in xobjects.values():
        xo = _resolve(ref)
        if not isinstance(xo, StreamObject):
            continue
        subtype = xo.get("/Subtype")
        if subtype == "/Image":
            w, h = _resolve(xo.get("/Width")), _resolve(xo.get("/Height"))
            yield int(w if isinstance(w, int) else 0), int(h if isinstance(h, int) else 0)
        elif subtype == "/Form":
            yield from _images(xo.get("/Resources"), limits, depth + 1)


class _RepairWatch(logging.Handler):
    """Collects what pypdf had to repair: its strict mode still quietly fixes wrong object offsets."""

    REPAIRS = ("repaired", "xref", "startxref", "Invalid", "incorrect", "Ignoring wrong")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.repairs: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(word in message for word in self.REPAIRS):
            self.repairs.append(message)


def inspect(path: Path, limits: PdfLimits = PdfLimits()) -> PdfFacts:
    """Refuse a PDF that must not be rendered; raise :class:`PdfRefused` (or a subclass) with the reason."""
    _sniff(path, limits)
    watch = _RepairWatch()
    pypdf_log = logging.getLogger("pypdf")
    pypdf_log.addHandler(watch)
    try:
        return _inspect(path, limits, watch)
    finally:
        pypdf_log.removeHandler(watch)


def _inspect(path: Path, limits: PdfLimits, watch: _RepairWatch) -> PdfFacts:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(str(path), strict=True)
            if reader.is_encrypted:
                raise PdfRefused("the PDF is encrypted or password-protected; upload an unprotected copy")
            count = len(reader.pages)
            if count == 0:
                raise PdfRefused("the PDF has no pages")
            if count > limits.max_pages:
                what, most = limits.pages_for, limits.max_pages
                raise PdfTooLarge(f"the PDF has {count} pages; {what.en} may have at most {most}").in_both(
                    f"这份PDF有 {count} 页；{what.zh}最多 {most} 页。请删去多余的页或分成几份上传。",
                    f"The PDF has {count} pages; {what.en} may have at most {most}. Remove pages or "
                    "split it into several PDFs.",
                )
            why = _scan_objects(reader, limits)
            if why:
                raise PdfRefused(
                    f"the PDF contains active content ({why}); screens show only printed "
                    "content: export or print it to a plain PDF"
                )
            sizes = []
            for number, page in enumerate(reader.pages, start=1):
                sizes.append(_check_page(number, page, limits))
            if watch.repairs:
                raise PdfReadError(watch.repairs[0])
    except PdfRefused:
        raise
    except (
        PdfReadError,
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RecursionError,
        OSError,
    ) as exc:
        log.info("PDF refused as malformed: %s", exc)
        raise PdfRefused(
            "the PDF's structure is damaged (its cross-reference table or objects do not "
            "match the file); save or export it again"
        ) from None
    return PdfFacts(count, tuple(sizes))


def _scan_objects(reader: PdfReader, limits: PdfLimits) -> str | None:
    """Every object the file's cross-reference tables list, looked at for active content."""
    root = reader.trailer["/Root"].get_object()
    why = _active(root) if root is not None else None
    if why:
        return why
    seen = 0
    for generation, numbers in reader.xref.items():
        for number in numbers:
            seen += 1
            if seen > limits.max_objects:
                raise PdfTooLarge(f"the PDF has more than {limits.max_objects} objects")
            why = _active_deep(reader.get_object(IndirectObject(number, generation, reader)))
            if why:
                return why
    for number in list(reader.xref_objStm):
        seen += 1
        if seen > limits.max_objects:
            raise PdfTooLarge(f"the PDF has more than {limits.max_objects} objects")
        why = _active_deep(reader.get_object(IndirectObject(number, 0, reader)))
        if why:
            return why
    return None


def _active_deep(obj: PdfObject | None, depth: int = 0) -> str | None:
    """Active content in ``obj`` or in dictionaries and arrays written inside it (not behind references)."""
    if obj is None or depth > 32:
        return None
    if isinstance(obj, DictionaryObject):
        why = _active(obj)
        if why:
            return why
        for value in obj.values():
            if isinstance(value, DictionaryObject | ArrayObject):
                why = _active_deep(value, depth + 1)
                if why:
                    return why
    elif isinstance(obj, ArrayObject):
        for value in obj:
            if isinstance(value, DictionaryObject | ArrayObject):
                why = _active_deep(value, depth + 1)
                if why:
                    return why
    return None


def _check_page(number: int, page: PageObject, limits: PdfLimits) -> tuple[float, float]:
    box = page.mediabox
    unit = float(_resolve(page.get("/UserUnit")) or 1.0)  # type: ignore[arg-type]
    w, h = abs(float(box.width)) * unit, abs(float(box.height)) * unit
    if w < 1 or h < 1:
        raise PdfRefused(f"page {number} has no area")
    if max(w, h) > limits.max_page_side_pt:
        raise PdfTooLarge(
            f"page {number} is {w / 72:.0f} x {h / 72:.0f} inches; pages may be at most "
            f"{limits.max_page_side_pt / 72:.0f} inches on a side"
        )
    if max(w, h) / min(w, h) > limits.max_aspect:
        raise PdfRefused(f"page {number} is a strip ({w:.0f} x {h:.0f} pt) no screen can show")
    for iw, ih in _images(page.get("/Resources"), limits):
        if iw * ih > limits.max_image_pixels:
            raise PdfTooLarge(
                f"page {number} holds a picture of {iw} x {ih} pixels, over the limit of "
                f"{limits.max_image_pixels} (it would exhaust memory)"
            )
    return w, h


# --------------------------------------------------------------------------- rendering


def _open(path: Path, facts: PdfFacts) -> pdfium.PdfDocument:
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        raise PdfRefused("the PDF cannot be read; save or export it again") from None
    if pdfium_c.FPDF_GetSecurityHandlerRevision(doc.raw) != -1:
        doc.close()
        raise PdfRefused("the PDF is encrypted or password-protected; upload an unprotected copy")
    if len(doc) != facts.page_count:  # two readers disagree: the structure is ambiguous
        doc.close()
        raise PdfRefused(
            "the PDF's structure is damaged (its page tree is ambiguous); save or export it again"
        )
    return doc


def _content_box(preview: Image.Image, threshold: int = 245) -> tuple[int, int, int, int] | None:
    """Bounding box of what is not (nearly) white in a preview render, or None for a blank page."""
    grey = preview.convert("L")
    ink = grey.point(lambda v: 255 if v < threshold else 0)
    return ink.getbbox()


def _page_slide(
    page_img: Image.Image,
    size: tuple[int, int],
    number: int,
    count: int,
    title: Bilingual | None,
    book: FontBook,
) -> Image.Image:
    """The trimmed page on a paper card, with the notice's title and the page number above it."""
    w, h = size
    s = min(w, h) / 1080
    px = lambda v: max(1, round(v * s))  # noqa: E731 - a local unit converter
    slide = Image.new("RGB", size, PAPER_GROUND)
    draw = ImageDraw.Draw(slide)
    strip = px(96)
    m = px(40)
    label = SLIDE_TEXT.both("pdf.page", number=number, count=count)
    badge_w = px(300)
    fit(
        [Run(f"{label.zh}  {label.en}", PAPER_INK, 1.0, True)],
        Box(w - m - badge_w, px(24), badge_w, strip - px(40)),
        book,
        max_size=px(40),
        min_size=8,
        align="right",
        valign="middle",
        max_lines=1,
        overflow="ellipsis",
    ).draw(draw)
    if title is not None and (title.zh or title.en):
        text = "  ".join(t for t in (title.zh, title.en) if t)
        fit(
            [Run(text, PAPER_INK, 1.0, True)],
            Box(m, px(24), w - 3 * m - badge_w, strip - px(40)),
            book,
            max_size=px(40),
            min_size=8,
            valign="middle",
            max_lines=1,
            overflow="ellipsis",
        ).draw(draw)
    area = Box(m, strip, w - 2 * m, h - strip - m)
    pad = px(24)
    scale = min((area.w - 2 * pad) / page_img.width, (area.h - 2 * pad) / page_img.height)
    pw, ph = max(1, round(page_img.width * scale)), max(1, round(page_img.height * scale))
    fitted = page_img if (pw, ph) == page_img.size else page_img.resize((pw, ph), Image.Resampling.LANCZOS)
    card = Box(
        area.x + (area.w - pw) // 2 - pad, area.y + (area.h - ph) // 2 - pad, pw + 2 * pad, ph + 2 * pad
    )
    draw.rounded_rectangle(
        [card.x + px(6), card.y + px(8), card.right + px(6), card.bottom + px(8)],
        radius=px(18),
        fill=(214, 219, 227),
    )
    draw.rounded_rectangle([card.x, card.y, card.right, card.bottom], radius=px(18), fill=(255, 255, 255))
    slide.paste(fitted, (card.x + pad, card.y + pad))
    return slide


def _render_page(
    doc: pdfium.PdfDocument,
    index: int,
    sizes: Iterable[tuple[int, int]],
    count: int,
    title: Bilingual | None,
    book: FontBook,
) -> Iterator[tuple[str, Image.Image]]:
    """("thumb" | "WxH", picture) for one page: the trimmed page, rendered once at the largest size needed."""
    page = doc[index]
    try:
        w, h = page.get_size()
        preview_scale = 480 / max(w, h)
        preview = page.render(scale=preview_scale, may_draw_forms=False).to_pil().convert("RGB")
        thumb = preview.copy()
        thumb.thumbnail((240, 240))
        yield "thumb", thumb
        box = _content_box(preview)
        if box is None:
            crop = (0.0, 0.0, 0.0, 0.0)
            cw, ch = w, h
        else:
            margin = 6  # preview pixels of white kept round the content
            left = max(0, box[0] - margin) / preview_scale
            top = max(0, box[1] - margin) / preview_scale
            right = max(0, preview.width - box[2] - margin) / preview_scale
            bottom = max(0, preview.height - box[3] - margin) / preview_scale
            crop = (left, bottom, right, top)  # PDFium's order: left, bottom, right, top
            cw, ch = w - left - right, h - top - bottom
        sizes = list(sizes)
        need = max(min(sw / cw, sh / ch) for sw, sh in sizes)  # the largest slide this page goes on
        page_img = page.render(scale=need, crop=crop, may_draw_forms=False).to_pil().convert("RGB")
        for sw, sh in sizes:
            yield f"{sw}x{sh}", _page_slide(page_img, (sw, sh), index + 1, count, title, book)
    finally:
        page.close()


def _text_chars(doc: pdfium.PdfDocument, index: int) -> int:
    page = doc[index]
    try:
        text = page.get_textpage()
        try:
            return int(text.count_chars())
        finally:
            text.close()
    finally:
        page.close()


def render_notice(
    path: Path,
    staging: Path,
    sizes: Iterable[tuple[int, int]],
    *,
    title: Bilingual | None = None,
    limits: PdfLimits = PdfLimits(),
    book: FontBook | None = None,
) -> RenderedNotice:
    """Check the PDF, then write each page's slides and thumbnail into ``staging`` (created here).

    On any refusal or failure ``staging`` is removed again: nothing of a refused PDF stays.
    """
    facts = inspect(path, limits)
    book = book or FontBook.system()
    sizes = sorted(set(sizes))
    staging.mkdir(parents=True, exist_ok=False)
    try:
        doc = _open(path, facts)
        try:
            pages = []
            for index in range(facts.page_count):
                number = index + 1
                chars = _text_chars(doc, index)
                rendered = RenderedPage(number, suggested_dwell_s(chars), chars, f"p{number:03d}-thumb.png")
                for key, img in _render_page(doc, index, sizes, facts.page_count, title, book):
                    name = rendered.thumbnail if key == "thumb" else f"p{number:03d}-{key}.png"
                    (staging / name).write_bytes(png_bytes(img))
                    if key != "thumb":
                        rendered.slides[key] = name
                pages.append(rendered)
        finally:
            doc.close()
        notice = RenderedNotice(staging, facts.page_count, pages)
        (staging / "notice.json").write_text(notice.manifest())
        return notice
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
