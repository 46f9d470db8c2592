"""The player's own user-facing texts, one :class:`~schedules.bilingual.TextTable` (zh, en)."""

from __future__ import annotations

from collections.abc import Sequence

from schedules.bilingual import LANGUAGES, TextTable

TEXTS = TextTable({
    "connecting": ("正在连接服务器…", "Connecting to the server…"),
    "pair_hint": ("请在管理后台输入配对码或扫码认领此屏幕", "Enter this code in the portal or scan to claim"),
    "server_unreachable": ("暂时无法连接服务器，正在重试", "Server unreachable, retrying"),
    "welcome": ("欢迎", "Welcome"),
    "emergency": ("紧急通知", "Emergency"),
    "identify_id": ("设备编号：{id}", "Device ID: {id}"),
})


def texts(key: str) -> dict[str, str]:
    """All languages of one text (for ContentItem.text)."""
    return TEXTS.both(key).as_dict()


def tr(key: str, langs: Sequence[str] = LANGUAGES, sep: str = " / ") -> str:
    """The text in the given languages, joined (signage shows both)."""
    entry = TEXTS.both(key)
    return sep.join(entry.get(lang) for lang in langs if lang in LANGUAGES)
