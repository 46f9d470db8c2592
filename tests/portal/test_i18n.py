"""Every word on a portal page comes from the one translation table, in both languages."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from content_server.core import auth
from content_server.portal.i18n import TEXTS, Translator, pick_language
from content_server.signage import screen_view
from content_server.studio.datamap import PRESETS
from content_server.studio.sources import SourceKind
from schedules.bilingual import LANGUAGES, MissingText
from schedules.model import ItemKind, Orientation, Priority, ScreenClass
from schedules.protocol.kiosk import CaseState, OrderState

SERVER = Path(__file__).resolve().parents[2] / "content_server"
# the shell's and every feature's portal templates, and the Python that renders pages
TEMPLATES = sorted(SERVER.glob("*/templates/*.html"))  # (the phone's pay pages, templates/pay/, are not)
SOURCES = sorted(
    p
    for p in [*SERVER.glob("portal/*.py"), *SERVER.glob("*/pages.py"), *SERVER.glob("*/pages/*.py")]
    if p.name != "i18n.py"
)
KEYS = TEXTS.keys()
CJK = re.compile(r"[\u4e00-\u9fff]")

# keys the Python code builds from values rather than writes literally
DYNAMIC = {
    "state": [
        "pending",
        "approved",
        "rejected",
        "paused",
        "ended",
        "active",
        "online",
        "offline",
        "never",
        "in_sync",
        "behind",
        "failing",
        "frozen",
        "unknown",
    ],
    "class": [c.value for c in ScreenClass],
    "kind": [k.value for k in ItemKind],
    "orientation": [o.value for o in Orientation],
    "priority": [p.value for p in Priority],
    "role": [r.value for r in auth.Role],
    "weekday": [str(d) for d in range(7)],
    "timeline.kind": ["announcement", "campaign", "filler", "emergency"],
    "case_state": [s.value for s in CaseState],
    "booking_state": ["pending", "accepted", "done", "cancelled"],
    "phase": ["pending", "scheduled", "running", "paused", "finished", "ended", "rejected"],
    "pay.state": [s.value for s in OrderState] + ["paid_pending", "paid_accepted"],
    "verb": ["approve", "reject", "pause", "resume", "end"],
    "updates.state": ["running", "paused", "completed", "aborted"],
    "updates.action": ["pause", "resume", "abort"],
    "sources.kind": [k.value for k in SourceKind],
    "sources.preset": list(PRESETS),
}


def _literal_keys() -> set[str]:
    keys: set[str] = set()
    for path in TEMPLATES:
        keys |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_.]+[a-z0-9_])['"]""", path.read_text()))
    for path in SOURCES:
        text = path.read_text()
        keys |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_.]+)['"]""", text))
        keys |= set(re.findall(r"""title_key\s*=\s*['"]([a-z0-9_.]+)['"]""", text))
        keys |= set(re.findall(r"""PortalError\(\s*['"]([a-z0-9_.]+)['"]""", text))
        keys |= {f"notice.{k}" for k in re.findall(r"""notice\s*=\s*['"]([a-z0-9_]+)['"]""", text)}
    return keys


def test_every_key_used_by_pages_and_code_is_in_the_table() -> None:
    keys = _literal_keys()
    assert len(keys) > 150, "the key scanner found too few keys: it is broken"
    missing = sorted(k for k in keys if k not in TEXTS)
    assert missing == []


def test_keys_built_from_values_are_in_the_table() -> None:
    missing = [
        f"{prefix}.{v}"
        for prefix, values in DYNAMIC.items()
        for v in values
        if f"{prefix}.{v}" not in TEXTS
    ]
    assert missing == []


def test_alert_keys_are_in_the_table() -> None:
    assert [key for key, _ in screen_view.ALERTS if key not in TEXTS] == []


def test_both_languages_are_filled_and_chinese_is_chinese() -> None:
    assert LANGUAGES == ("zh", "en")
    for key in KEYS:
        entry = TEXTS.both(key)
        zh, en = entry.zh, entry.en
        assert zh.strip() and en.strip(), key
        if key != "lang.switch":  # the switch names the other language
            assert CJK.search(zh), f"{key}: Chinese text has no Chinese: {zh!r}"
            assert not CJK.search(en), f"{key}: English text has Chinese: {en!r}"


def test_placeholders_agree_between_languages() -> None:
    fields = string.Formatter()
    for key in KEYS:
        zh, en = TEXTS.both(key).zh, TEXTS.both(key).en
        assert {f for _, f, _, _ in fields.parse(zh) if f} == {f for _, f, _, _ in fields.parse(en) if f}, key


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_hold_no_words_of_their_own(path: Path) -> None:
    """Text between tags must come from ``t()``: strip Jinja and HTML, no letters may remain."""
    text = path.read_text()
    text = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    words = [w for w in re.findall(r"[A-Za-z\u4e00-\u9fff]+", text) if w not in {"GB"}]
    assert words == []


def test_translator_formats_and_is_strict_when_asked() -> None:
    assert Translator("en")("media.uploading", name="a.mp4", percent=42) == "Uploading a.mp4: 42%"
    assert Translator("zh")("nav.campaigns") == "广告投放"
    assert Translator("en")("no.such.key") == "no.such.key"
    with pytest.raises(MissingText):
        Translator("en", strict=True)("no.such.key")
    assert pick_language("en") == "en" and pick_language("fr") == "zh" and pick_language(None) == "zh"
