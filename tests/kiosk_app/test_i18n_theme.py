"""Translations are complete and used; both palettes reach 4.5:1; sizes suit older residents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk_app.i18n import (
    CATALOGUE,
    Language,
    MissingTranslation,
    Translator,
    format_money,
)
from kiosk_app.theme import LARGE, MIN_TEXT_PT, MIN_TOUCH_PX, NORMAL, contrast
from schedules.bilingual import TextTable
from schedules.protocol.kiosk import CaseState, OrderState

SOURCE = Path(__file__).resolve().parents[2] / "kiosk_app"
KEY_CALL = re.compile(r"""\b(?:t|page)\(\s*["']([a-z_]+\.[a-z_.]+)["']""")
NOTICE = re.compile(r"""Notice\(\s*["']([a-z_]+\.[a-z_.]+)["']""")
SIZE_KEY = re.compile(r"""["']((?:common|maint)\.[a-z_]+)["']""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        keys |= set(KEY_CALL.findall(text)) | set(NOTICE.findall(text)) | set(SIZE_KEY.findall(text))
    keys |= {f"state.{s.value}" for s in OrderState} | {f"case_state.{s.value}" for s in CaseState}
    return keys


def test_every_key_used_in_the_code_is_translated_in_both_languages() -> None:
    missing = sorted(k for k in used_keys() if k not in CATALOGUE)
    assert missing == []
    empty = [k for k in CATALOGUE if not all(CATALOGUE.both(k).as_dict().values())]
    assert empty == []


def test_placeholders_match_between_languages() -> None:
    """The table is the suite's one shape, which checks placeholders when it is built (at import)."""
    assert isinstance(CATALOGUE, TextTable) and "offline.banner" in CATALOGUE
    assert Translator().t("offline.banner", time="09:30") == "离线 — 信息更新于 09:30"
    with pytest.raises(ValueError, match="placeholders differ"):
        TextTable({"offline.banner": ("离线 — 信息更新于 {time}", "Offline — information as of {when}")})


def test_chinese_is_the_default_and_english_one_switch_away() -> None:
    tr = Translator()
    seen: list[Language] = []
    tr.subscribe(lambda: seen.append(tr.language))
    assert tr.t("attract.touch_to_start") == "点击开始"
    tr.toggle()
    assert tr.t("attract.touch_to_start") == "Touch to start" and seen == [Language.EN]


def test_unknown_key_is_an_error_not_a_raw_key_on_screen() -> None:
    with pytest.raises(MissingTranslation):
        Translator().t("no.such.key")


def test_chinese_strings_are_chinese() -> None:
    latin_only = [k for k in CATALOGUE
                  if not re.search(r"[\u4e00-\u9fff]", CATALOGUE.both(k).zh)
                  and k not in {"common.language", "category.title", "case.list_separator"}]
    assert latin_only == []


def test_money_is_shown_in_yuan() -> None:
    assert format_money(1200) == "¥12.00" and format_money(5) == "¥0.05"


@pytest.mark.parametrize("theme", [NORMAL, LARGE], ids=["normal", "large"])
def test_every_text_colour_pair_reaches_4_5_to_1(theme) -> None:  # type: ignore[no-untyped-def]
    low = {name: round(contrast(fg, bg), 2) for name, (fg, bg) in theme.palette.text_pairs().items()
           if contrast(fg, bg) < 4.5}
    assert low == {}


def test_sizes_suit_older_residents() -> None:
    for theme in (NORMAL, LARGE):
        assert theme.small_pt >= MIN_TEXT_PT and theme.body_pt >= MIN_TEXT_PT
        assert theme.touch_px >= MIN_TOUCH_PX and theme.key_px >= MIN_TOUCH_PX
    assert LARGE.body_pt > NORMAL.body_pt and LARGE.touch_px > NORMAL.touch_px


def test_contrast_formula_matches_wcag_reference_values() -> None:
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


def test_no_control_depends_on_hover() -> None:
    from kiosk_app.theme import stylesheet

    sources = [stylesheet(NORMAL), stylesheet(LARGE)] + [p.read_text() for p in SOURCE.rglob("*.py")]
    assert not any(":hover" in s or "setToolTip" in s for s in sources)
