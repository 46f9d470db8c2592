"""The player's own user-facing texts in Chinese and English, in one place."""

from __future__ import annotations

from collections.abc import Sequence

TEXTS: dict[str, dict[str, str]] = {
    "connecting": {"zh": "正在连接服务器…", "en": "Connecting to the server…"},
    "pair_hint": {
        "zh": "请在管理后台输入配对码或扫码认领此屏幕",
        "en": "Enter this code in the portal or scan to claim",
    },
    "server_unreachable": {"zh": "暂时无法连接服务器，正在重试", "en": "Server unreachable, retrying"},
    "welcome": {"zh": "欢迎", "en": "Welcome"},
    "emergency": {"zh": "紧急通知", "en": "Emergency"},
}


def texts(key: str) -> dict[str, str]:
    """All languages of one text (for ContentItem.text)."""
    return dict(TEXTS[key])


def tr(key: str, langs: Sequence[str] = ("zh", "en"), sep: str = " / ") -> str:
    """The text in the given languages, joined (signage shows both)."""
    entry = TEXTS[key]
    return sep.join(entry[lang] for lang in langs if lang in entry)
