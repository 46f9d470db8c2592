"""One name per thing in both languages, from the one table (issue 14: the same screens were
called 楼宇小屏 in one place and 楼宇大堂屏 in another, "Indoor small" and "Lobby screen")."""

from __future__ import annotations

import re
from pathlib import Path

from content_server.portal.i18n import TEXTS
from schedules.model import ScreenClass

ROOT = Path(__file__).resolve().parents[2]
RETIRED = ("楼宇大堂屏", "Indoor small", "Lobby screen", "lobby screen", "Outdoor large")
# what people read: every template, the translation table, the documents (portal.md names the
# retired ones on purpose)
WHERE = [
    *ROOT.glob("content_server/*/templates/**/*.html"),
    ROOT / "content_server" / "portal" / "i18n.py",
    *(p for p in ROOT.glob("docs/*.md") if p.name != "portal.md"),
]


def test_the_documented_names_are_the_tables() -> None:
    text = (ROOT / "docs" / "portal.md").read_text()
    rows = dict(
        (code, (zh, en))
        for code, zh, en in re.findall(r"^\| `([a-z_]+)` \| ([^|]+?) \| ([^|]+?) \|$", text, flags=re.M)
    )
    assert rows == {c.value: (TEXTS.both(f"class.{c.value}").zh, TEXTS.both(f"class.{c.value}").en)
                    for c in ScreenClass}  # fmt: skip


def test_no_retired_name_is_left_anywhere() -> None:
    left = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in WHERE
        for name in RETIRED
        if name in path.read_text()
    ]
    assert left == []


def test_screen_shapes_in_previews_use_the_class_names() -> None:
    for lang in ("zh", "en"):
        for cls, shape in (("outdoor_large", "landscape"), ("indoor_small", "portrait")):
            name, caption = TEXTS.text(f"class.{cls}", lang), TEXTS.text(f"preview.{shape}", lang)
            assert name.lower() in caption.lower()


def test_one_chinese_word_per_concept() -> None:
    """Screen class 屏幕类型, screen group 屏幕组, campaign 投放: not a second word for any of them."""
    others = ("屏幕类别", "屏幕分组", "广告活动", "楼宇大堂屏")
    texts = [TEXTS.both(k).zh for k in TEXTS]
    code = [p.read_text() for p in ROOT.glob("content_server/**/*.py")]
    assert [w for w in others for t in texts + code if w in t] == []
