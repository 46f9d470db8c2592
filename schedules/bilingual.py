"""The one shape of a user-facing text: Chinese and English, in that order, everywhere.

Every table of texts in the suite (portal, kiosk, player, the engine's explanations) is a
:class:`TextTable` of ``key -> (zh, en)``; the table checks at construction that both languages
take the same placeholders, so a translation cannot silently drop a value.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Lang = Literal["zh", "en"]
LANGUAGES: tuple[Lang, ...] = ("zh", "en")


class MissingText(KeyError):
    """A key was asked for that the table does not hold: a bug, never shown as a raw key."""


@dataclass(frozen=True)
class Bilingual:
    """One text in both languages."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang.startswith("en") else self.zh

    def format(self, **values: Any) -> Bilingual:
        return Bilingual(self.zh.format(**values), self.en.format(**values))

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


def _fields(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


class TextTable:
    """``key -> (zh, en)``: looked up by key and language, formatted with named values."""

    def __init__(self, entries: Mapping[str, tuple[str, str]]) -> None:
        for key, (zh, en) in entries.items():
            if _fields(zh) != _fields(en):
                raise ValueError(f"{key}: placeholders differ between zh {sorted(_fields(zh))} "
                                 f"and en {sorted(_fields(en))}")
        self._entries = {key: Bilingual(zh, en) for key, (zh, en) in entries.items()}

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        return list(self._entries)

    def both(self, key: str, **values: Any) -> Bilingual:
        try:
            entry = self._entries[key]
        except KeyError:
            raise MissingText(key) from None
        return entry.format(**values) if values else entry

    def text(self, key: str, lang: str, **values: Any) -> str:
        return self.both(key, **values).get(lang)
