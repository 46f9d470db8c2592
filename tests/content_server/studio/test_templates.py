"""Designed templates: contrast, glyph coverage, line breaking, auto-fit, determinism, QR codes."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from pyzbar.pyzbar import decode

from content_server.studio.canvas import CLASS_PROFILES, canvas_for, canvases
from content_server.studio.designs import AUTHORED_DESIGNS, TemplateContent, resolve
from content_server.studio.errors import FieldProblem
from content_server.studio.fonts import MAX_ADVANCES, FontBook, clean_text
from content_server.studio.palette import PALETTES, contrast_ratio
from content_server.studio.render import compose, draw, render
from content_server.studio.texts import SLIDE_TEXT
from content_server.studio.typeset import NO_LINE_END, NO_LINE_START, Box, Run, TextDoesNotFit, fit, wrap
from schedules.model import Orientation, ScreenClass
from tests.content_server.studio.samples import PHOTO_DESIGNS, SAMPLES, content, product_photo

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def book() -> FontBook:
    return FontBook.system()


# --------------------------------------------------------------------------- colours


def test_contrast_formula_matches_wcag() -> None:
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((119, 119, 119), (255, 255, 255)) == pytest.approx(
        4.48, abs=0.01
    )  # WCAG's own example
    assert contrast_ratio((10, 20, 30), (10, 20, 30)) == pytest.approx(1.0)


@pytest.mark.parametrize("key", sorted(PALETTES))
def test_every_text_pair_of_every_palette_meets_aa(key: str) -> None:
    palette = PALETTES[key]
    assert palette.problems() == {}
    for name, (fg, bg) in palette.text_pairs().items():
        assert contrast_ratio(fg, bg) >= 4.5, name


def test_an_unknown_palette_is_refused(book: FontBook) -> None:
    bad = TemplateContent(design="notice", palette="neon", fields=SAMPLES["notice"])
    with pytest.raises(FieldProblem) as err:
        resolve(bad, book)
    assert "palette" in err.value.problems


# --------------------------------------------------------------------------- glyphs


def test_characters_the_font_lacks_are_refused_for_authors_and_dropped_for_data(book: FontBook) -> None:
    with pytest.raises(ValueError, match="U\\+1F600"):
        clean_text("开业啦😀", book, strict=True)
    assert clean_text("开业啦😀 Open", book, strict=False) == "开业啦 Open"
    bad = content("notice", title__zh="停水通知😀")
    with pytest.raises(FieldProblem) as err:
        resolve(bad, book)
    assert list(err.value.problems) == ["title.zh"]
    assert "U+1F600" in err.value.problems["title.zh"]


def test_invisible_and_control_characters_never_reach_the_screen(book: FontBook) -> None:
    assert clean_text("A\u202eB\u200bC\x07D\tE\r\nF", book, strict=True) == "ABCD E\nF"


def test_every_word_the_slides_print_themselves_has_glyphs(book: FontBook) -> None:
    for key in SLIDE_TEXT.keys():  # noqa: SIM118 - a TextTable, not a dict
        both = SLIDE_TEXT.both(key)
        assert book.missing(both.zh + both.en) == [], key
    assert book.missing("¥•…-·0123456789") == []


# --------------------------------------------------------------------------- line breaking


def test_cjk_breaks_between_characters_and_keeps_punctuation_in_place(book: FontBook) -> None:
    font = book.font(40)
    text = "社区将于本周六（12月20日）上午九点在中心广场举行消防演练，请各位居民积极配合。"
    lines = wrap(text, font, 300)
    assert "".join(lines) == text
    assert len(lines) > 3
    for line in lines:
        assert font.getlength(line) <= 300
        assert line[0] not in NO_LINE_START
        assert line[-1] not in NO_LINE_END
    assert len(lines[-1]) > 2  # no widow of one or two characters


def test_latin_breaks_at_spaces_and_long_words_hyphenate(book: FontBook) -> None:
    font = book.font(40)
    lines = wrap("Please join the Pneumonoultramicroscopicsilicovolcanoconiosis awareness talk", font, 320)
    assert all(font.getlength(line) <= 320 for line in lines)
    assert lines[0] == "Please join the"
    broken = [line for line in lines if line.endswith("-")]
    assert broken, lines
    assert "".join(line.removesuffix("-") for line in lines[1:-1]).startswith("Pneumonoultramicroscopic")
    url = wrap("https://xingfuli.example.org/notices/2026/water-supply", font, 300)
    assert all(not line.endswith("-") or line.endswith("water-") for line in url)


def test_mixed_scripts_break_between_a_cjk_and_a_latin_run(book: FontBook) -> None:
    font = book.font(40)
    lines = wrap("请到Community Centre领取Winter Coats", font, 330)
    assert all(font.getlength(line) <= 330 for line in lines)
    assert " ".join(lines).replace(" ", "") == "请到CommunityCentre领取WinterCoats"
    assert not any(line.startswith(" ") or line.endswith(" ") for line in lines)


TEXT = st.text(
    alphabet=st.sampled_from(list("社区通知停水活动，。（）abcdefghijklmnopqrstuvwxyzABC 0123456789-/\n")),
    min_size=1,
    max_size=220,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, size=st.integers(8, 300), bold=st.booleans())
def test_text_is_measured_as_pillow_draws_it(book: FontBook, text: str, size: int, bold: bool) -> None:
    """Line breaking adds up cached character advances: the sum must be exactly Pillow's width."""
    font = book.font(size, bold)
    for part in (text, text[::-1], text + "“AVATAR” Ég国…", "Te" + text + "ffi"):
        assert font.width(part) == font.getlength(part), part


def test_a_font_remembers_a_bounded_number_of_characters(book: FontBook) -> None:
    """A server measures fetched text for months: each size's advances stay bounded."""
    font = book.font(33)
    text = "".join(chr(c) for c in range(0x4E00, 0x4E00 + MAX_ADVANCES + 500))
    assert font.width(text) == font.getlength(text)
    assert len(font._advances) <= MAX_ADVANCES


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, w=st.integers(120, 900), h=st.integers(60, 500))
def test_fitted_text_never_leaves_its_box(book: FontBook, text: str, w: int, h: int) -> None:
    """Draw what fit() chose on an empty canvas: every inked pixel is inside the box."""
    box = Box(50, 40, w, h)
    runs = [Run(text, (0, 0, 0), 1.0, True), Run(text[::-1], (0, 0, 0), 0.6)]
    layout = fit(runs, box, book, max_size=160, min_size=12, overflow="ellipsis")
    canvas = Image.new("L", (w + 100, h + 80), 255)
    draw = ImageDraw.Draw(canvas)
    for line in layout.lines:
        draw.text((line.x, line.baseline), line.text, font=line.font, fill=0, anchor="ls")
    ink = Image.eval(canvas, lambda v: 255 - v).getbbox()
    if ink is not None:
        assert ink[0] >= box.x and ink[1] >= box.y and ink[2] <= box.right and ink[3] <= box.bottom, (
            ink,
            box,
        )


def test_text_too_long_for_the_smallest_readable_size_is_refused(book: FontBook) -> None:
    with pytest.raises(TextDoesNotFit) as err:
        fit([Run("停水通知" * 40, (0, 0, 0))], Box(0, 0, 400, 80), book, max_size=80, min_size=30)
    assert 0 < err.value.fitting_chars < 160


def test_the_largest_fitting_size_is_chosen(book: FontBook) -> None:
    small = fit([Run("停水通知", (0, 0, 0))], Box(0, 0, 2000, 300), book, max_size=200, min_size=10)
    assert small.size == 200
    long = fit([Run("停水通知" * 10, (0, 0, 0))], Box(0, 0, 800, 300), book, max_size=200, min_size=10)
    assert 20 < long.size < 200
    with pytest.raises(TextDoesNotFit):
        fit(
            [Run("停水通知" * 10, (0, 0, 0))],
            Box(0, 0, 800, 300),
            book,
            max_size=long.size + 1,
            min_size=long.size + 1,
        )


# --------------------------------------------------------------------------- designs


def test_six_authored_designs_and_every_design_composes(book: FontBook) -> None:
    assert set(AUTHORED_DESIGNS) >= {"notice", "offer", "event", "lost_found", "service", "volunteer"}
    for key in AUTHORED_DESIGNS:
        slide = compose(resolve(content(key), book))
        assert slide.blocks and slide.strict


@pytest.mark.parametrize("design", sorted(SAMPLES))
@pytest.mark.parametrize("language", ["both", "zh", "en"])
def test_each_design_renders_in_both_orientations_at_each_class_size(
    book: FontBook, design: str, language: str
) -> None:
    resolved = resolve(content(design, language), book)  # type: ignore[arg-type]
    photo = product_photo() if design in PHOTO_DESIGNS else None
    for screen_class in ScreenClass:
        for cv in canvases(screen_class):
            png = render(resolved, cv, book, photo)
            img = Image.open(io.BytesIO(png))
            assert img.size == (cv.width, cv.height)
            assert len(img.getcolors(1_000_000) or []) > 50  # drawn, not a flat fill


def test_a_required_field_missing_in_a_shown_language_is_named(book: FontBook) -> None:
    with pytest.raises(FieldProblem) as err:
        resolve(content("offer", price="", title="x", product__en=""), book)
    assert {"price", "product.en", "title"} <= set(err.value.problems)
    # in Chinese only, the missing English is fine
    resolve(content("offer", "zh", product__en=""), book)


def test_bad_dates_prices_links_and_choices_are_named(book: FontBook) -> None:
    with pytest.raises(FieldProblem) as err:
        resolve(content("offer", price="cheap", valid_until="31/12", url="javascript:alert(1)"), book)
    assert set(err.value.problems) == {"price", "valid_until", "url"}
    with pytest.raises(FieldProblem) as err:
        resolve(content("lost_found", kind="stolen"), book)
    assert set(err.value.problems) == {"kind"}


def test_a_body_too_long_for_the_slide_is_refused_with_the_field_named(book: FontBook) -> None:
    long_zh = "因市政管网维修，" * 50  # 400 characters each: within the length limit, too much for one slide
    long_en = "Mains repairs, " * 26
    resolved = resolve(content("notice", body__zh=long_zh, body__en=long_en), book)
    with pytest.raises(FieldProblem) as err:
        render(resolved, canvas_for(ScreenClass.OUTDOOR_LARGE, Orientation.LANDSCAPE), book)
    assert "body" in next(iter(err.value.problems))
    # the same text in one language fits
    render(
        resolve(content("notice", "zh", body__zh=long_zh), book),
        canvas_for(ScreenClass.KIOSK, Orientation.PORTRAIT),
        book,
    )


def test_outdoor_screens_get_larger_minimum_text_than_kiosks() -> None:
    assert (
        CLASS_PROFILES[ScreenClass.OUTDOOR_LARGE].min_text_px > CLASS_PROFILES[ScreenClass.KIOSK].min_text_px
    )


def test_qr_code_on_the_slide_reads_back_as_the_link(book: FontBook) -> None:
    resolved = resolve(content("offer"), book)
    for cv in canvases(ScreenClass.INDOOR_SMALL):
        img = Image.open(io.BytesIO(render(resolved, cv, book, product_photo())))
        found = [d.data.decode() for d in decode(img.convert("L"))]
        assert found == [SAMPLES["offer"]["url"]], cv


def test_the_png_holds_exactly_the_pixels_drawn(book: FontBook) -> None:
    for design in ("offer", "notice"):
        resolved = resolve(content(design), book)
        photo = product_photo() if design in PHOTO_DESIGNS else None
        for cv in canvases(ScreenClass.KIOSK):
            drawn = draw(compose(resolved), resolved, cv, book, photo)
            img = Image.open(io.BytesIO(render(resolved, cv, book, photo)))
            assert (img.format, img.mode, img.size) == ("PNG", "RGB", (cv.width, cv.height))
            assert img.tobytes() == drawn.tobytes(), cv.key
            assert not img.info, img.info  # no time, software or other metadata


# --------------------------------------------------------------------------- determinism

_RENDER_SCRIPT = """
import hashlib, sys
sys.path.insert(0, {root!r})
from content_server.studio.canvas import canvases
from content_server.studio.designs import resolve
from content_server.studio.fonts import FontBook
from content_server.studio.render import render
from schedules.model import ScreenClass
from tests.content_server.studio.samples import content, product_photo
book = FontBook.system()
for cv in canvases(ScreenClass.OUTDOOR_LARGE):
    print(hashlib.sha256(render(resolve(content("offer"), book), cv, book, product_photo())).hexdigest())
"""


def test_same_fields_give_the_same_bytes_twice_and_in_another_process(book: FontBook) -> None:
    resolved = resolve(content("offer"), book)
    digests = []
    for cv in canvases(ScreenClass.OUTDOOR_LARGE):
        first = render(resolved, cv, book, product_photo())
        second = render(resolve(content("offer"), book), cv, book, product_photo())
        assert first == second
        digests.append(hashlib.sha256(first).hexdigest())
    out = subprocess.run(
        [sys.executable, "-c", _RENDER_SCRIPT.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.stdout.split() == digests
    changed = render(
        resolve(content("offer", price="14.9"), book),
        canvases(ScreenClass.OUTDOOR_LARGE)[0],
        book,
        product_photo(),
    )
    assert hashlib.sha256(changed).hexdigest() != digests[0]
