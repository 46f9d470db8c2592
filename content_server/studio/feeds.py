"""RSS and Atom feeds (feedparser) turned into plain-text headlines for the ticker and headline slides."""

from __future__ import annotations

import calendar
import datetime as dt
import html.parser
from dataclasses import dataclass

import feedparser

from content_server.studio.errors import DataProblem


class _Text(html.parser.HTMLParser):
    """Visible text of an HTML fragment (feed summaries are HTML): tags dropped, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def plain_text(fragment: str) -> str:
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return " ".join("".join(parser.parts).split())


@dataclass(frozen=True)
class Headline:
    title: str
    summary: str
    link: str
    published: dt.datetime | None


@dataclass(frozen=True)
class FeedData:
    title: str
    headlines: tuple[Headline, ...]

    def ticker(self, separator: str = "  ·  ") -> str:
        return separator.join(h.title for h in self.headlines)


def parse_feed(body: bytes, max_items: int = 8) -> FeedData:
    """Parse feed bytes (never a URL: feedparser would fetch one itself); raise :class:`DataProblem`."""
    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=False)
    entries = parsed.get("entries") or []
    if parsed.get("bozo") and not entries:
        reason = type(parsed.get("bozo_exception")).__name__
        raise DataProblem(f"the feed cannot be read as RSS or Atom ({reason})")
    if not entries and not parsed.get("feed"):
        raise DataProblem("the source is not an RSS or Atom feed")
    headlines = []
    for entry in entries[:max_items]:
        title = plain_text(str(entry.get("title", "")))
        if not title:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = dt.datetime.fromtimestamp(calendar.timegm(stamp), dt.UTC) if stamp else None
        headlines.append(
            Headline(title, plain_text(str(entry.get("summary", ""))), str(entry.get("link", "")), published)
        )
    return FeedData(plain_text(str(parsed.get("feed", {}).get("title", ""))), tuple(headlines))
