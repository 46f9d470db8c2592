"""One refresh of a live data source: fetch, parse, map onto its template, render; keep the last good data.

Pure of the ORM and the scheduler: the feature's service calls :func:`refresh` on the source's own
schedule and stores the :class:`SourceState` it returns. A failed fetch or unusable data leaves the
last good slides in place (they disappear by themselves when their time-to-live runs out, see
:mod:`content_server.studio.freshness`); a 304 answer only confirms them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field, replace
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from content_server.studio.canvas import Canvas
from content_server.studio.datamap import PRESETS, JsonMapping, apply_mapping
from content_server.studio.designs import TemplateContent, resolve
from content_server.studio.errors import DataProblem, FetchFailed, FetchRefused, FieldProblem
from content_server.studio.feeds import parse_feed
from content_server.studio.fetcher import Fetcher, Validators
from content_server.studio.fonts import FontBook
from content_server.studio.freshness import expires_at
from content_server.studio.render import render_shapes

log = logging.getLogger(__name__)


class SourceKind(StrEnum):
    FEED = "feed"  # RSS or Atom
    JSON = "json"


class SourceSpec(BaseModel):
    """What an operator registers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: SourceKind
    url: str = Field(min_length=1, max_length=2000)
    every_s: int = Field(900, ge=60, le=86_400)  # fetch schedule
    ttl_s: int = Field(3600, ge=60, le=7 * 86_400)  # shown at most this long after the last good fetch
    mapping: JsonMapping | None = None  # JSON sources: a mapping, or ...
    preset: str | None = None  # ... one of datamap.PRESETS
    headline_title: str = Field("", max_length=200)  # feeds: the slide's title (the feed's own when empty)
    max_items: int = Field(5, ge=1, le=8)

    def json_mapping(self) -> JsonMapping:
        if self.mapping is not None:
            return self.mapping
        if self.preset in PRESETS:
            return PRESETS[self.preset]
        raise DataProblem("a JSON source needs a mapping or one of the ready-made presets")


@dataclass(frozen=True)
class SourceState:
    validators: Validators = field(default_factory=Validators)
    fetched_at: dt.datetime | None = None  # last good fetch, or last 304 confirming it
    slides: tuple[tuple[str, bytes], ...] = ()  # (canvas key, PNG)
    ticker: str = ""
    content: TemplateContent | None = None
    last_error: str = ""
    failures: int = 0

    def expires(self, ttl: dt.timedelta) -> dt.datetime | None:
        return expires_at(self.fetched_at, ttl) if self.fetched_at else None


def feed_content(spec: SourceSpec, body: bytes) -> tuple[TemplateContent, str]:
    feed = parse_feed(body, spec.max_items)
    if not feed.headlines:
        raise DataProblem("the feed has no items")
    title = spec.headline_title or feed.title or spec.name
    items = "\n".join(h.title for h in feed.headlines)
    content = TemplateContent(
        design="headlines",
        language="zh",  # "zh": the feed's own language, whatever it is
        fields={"title.zh": title, "items.zh": items, "source.zh": feed.title or spec.name},
    )
    return content, feed.ticker()


def refresh(
    spec: SourceSpec,
    state: SourceState,
    fetcher: Fetcher,
    canvases: tuple[Canvas, ...],
    book: FontBook,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> SourceState:
    """Fetch once and return the new state; failures are recorded, never raised (the schedule goes on).
    Times in the data are shown on ``tz``'s clock, the community's."""
    try:
        got = fetcher.fetch(spec.url, state.validators)
        if got.not_modified and state.content is not None:
            return replace(state, validators=got.validators, fetched_at=now, last_error="", failures=0)
        body = got.body or b""
        if spec.kind == SourceKind.FEED:
            content, ticker = feed_content(spec, body)
        else:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise DataProblem("the source did not send JSON") from exc
            content, ticker = apply_mapping(spec.json_mapping(), data, tz), ""
        resolved = resolve(content, book, strict=False)
        slides = tuple((cv.key, png) for cv, png in render_shapes(resolved, canvases, book))
        return SourceState(got.validators, now, slides, ticker, content)
    except (FetchFailed, FetchRefused, DataProblem, FieldProblem) as exc:
        log.warning("data source %s: %s", spec.name, exc)
        return replace(state, last_error=str(exc), failures=state.failures + 1)
