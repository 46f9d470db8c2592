"""The designed templates: which fields each has, and turning an author's entries into checked values.

An author's entries are one flat ``{name: text}`` mapping, the names the portal's form uses:
``title.zh`` / ``title.en`` for text in both languages, ``price``, ``date``, ``url`` for the rest.
:func:`resolve` checks every entry (required fields in the chosen languages, lengths, dates,
prices, link schemes, characters the font can draw) and reports all problems at once.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from content_server.studio.errors import FieldProblem
from content_server.studio.fonts import FontBook, clean_text
from content_server.studio.palette import DEFAULT_PALETTE, PALETTES
from schedules.bilingual import Bilingual

Language = Literal["zh", "en", "both"]


class FieldKind(StrEnum):
    TEXT = "text"  # one line, in both languages
    LONG_TEXT = "long_text"  # paragraphs, in both languages
    LIST = "list"  # one item a line, in both languages
    DATE = "date"  # YYYY-MM-DD
    PRICE = "price"  # yuan, e.g. 19.9
    URL = "url"  # http(s) link shown as a QR code
    CHOICE = "choice"
    PHONE = "phone"


BILINGUAL_KINDS = frozenset({FieldKind.TEXT, FieldKind.LONG_TEXT, FieldKind.LIST})


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: tuple[str, str]  # (zh, en) for the form
    kind: FieldKind
    required: bool = False
    max_chars: int = 60
    choices: tuple[str, ...] = ()  # keys into SLIDE_TEXT "choice.<key>"


@dataclass(frozen=True)
class Design:
    key: str
    name: tuple[str, str]
    fields: tuple[FieldSpec, ...]
    palette: str = DEFAULT_PALETTE
    photo: bool = True  # accepts an optional photo
    data: bool = False  # filled by a data source, not by an author

    def spec(self, key: str) -> FieldSpec:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)


def _f(
    key: str,
    zh: str,
    en: str,
    kind: FieldKind = FieldKind.TEXT,
    required: bool = False,
    max_chars: int = 60,
    choices: tuple[str, ...] = (),
) -> FieldSpec:
    return FieldSpec(key, (zh, en), kind, required, max_chars, choices)


_URL = _f("url", "二维码链接", "QR code link", FieldKind.URL, max_chars=300)
_ISSUER = _f("issuer", "发布单位", "Issued by", max_chars=40)

DESIGNS: dict[str, Design] = {
    d.key: d
    for d in (
        Design(
            "notice",
            ("社区通知", "Community notice"),
            (
                _f("title", "标题", "Title", required=True, max_chars=40),
                _f("body", "正文", "Text", FieldKind.LONG_TEXT, required=True, max_chars=400),
                _ISSUER,
                _f("date", "发布日期", "Date", FieldKind.DATE),
                _URL,
            ),
            palette="civic_blue",
        ),
        Design(
            "offer",
            ("商家优惠", "Merchant offer"),
            (
                _f("product", "商品", "Product", required=True, max_chars=30),
                _f("details", "优惠说明", "Offer details", FieldKind.LONG_TEXT, max_chars=160),
                _f("price", "优惠价（元）", "Price (yuan)", FieldKind.PRICE, required=True),
                _f("original_price", "原价（元）", "Original price (yuan)", FieldKind.PRICE),
                _f("valid_until", "有效期至", "Valid until", FieldKind.DATE, required=True),
                _f("merchant", "商家名称", "Merchant", required=True, max_chars=30),
                _URL,
            ),
            palette="festive_red",
        ),
        Design(
            "event",
            ("社区活动", "Event"),
            (
                _f("title", "活动名称", "Event", required=True, max_chars=40),
                _f("date", "日期", "Date", FieldKind.DATE, required=True),
                _f("time", "时间", "Time", max_chars=30),
                _f("place", "地点", "Place", required=True, max_chars=40),
                _f("body", "活动介绍", "About the event", FieldKind.LONG_TEXT, max_chars=240),
                _f("organiser", "主办方", "Organiser", max_chars=40),
                _URL,
            ),
            palette="plum",
        ),
        Design(
            "lost_found",
            ("失物招领", "Lost and found"),
            (
                _f("kind", "类型", "Kind", FieldKind.CHOICE, required=True, choices=("found", "lost")),
                _f("item", "物品", "Item", required=True, max_chars=40),
                _f("where", "地点", "Where", required=True, max_chars=40),
                _f("when", "日期", "When", FieldKind.DATE),
                _f("details", "描述", "Description", FieldKind.LONG_TEXT, max_chars=200),
                _f("contact", "联系方式", "Contact", required=True, max_chars=50),
                _URL,
            ),
            palette="warm_amber",
        ),
        Design(
            "service",
            ("便民服务", "Service promotion"),
            (
                _f("service", "服务名称", "Service", required=True, max_chars=30),
                _f(
                    "highlights",
                    "服务内容（每行一条）",
                    "What we offer (one a line)",
                    FieldKind.LIST,
                    required=True,
                    max_chars=240,
                ),
                _f("hours", "服务时间", "Hours", max_chars=40),
                _f("phone", "电话", "Phone", FieldKind.PHONE, max_chars=20),
                _f("provider", "服务机构", "Provider", max_chars=40),
                _URL,
            ),
            palette="fresh_green",
        ),
        Design(
            "volunteer",
            ("志愿者/招聘", "Volunteers or job"),
            (
                _f("kind", "类型", "Kind", FieldKind.CHOICE, required=True, choices=("volunteer", "job")),
                _f("role", "岗位", "Role", required=True, max_chars=40),
                _f(
                    "duties",
                    "内容与要求（每行一条）",
                    "Duties and requirements (one a line)",
                    FieldKind.LIST,
                    required=True,
                    max_chars=240,
                ),
                _f("time", "时间安排", "When", max_chars=40),
                _f("deadline", "报名截止", "Apply by", FieldKind.DATE),
                _f("contact", "联系方式", "Contact", required=True, max_chars=50),
                _URL,
            ),
            palette="civic_blue",
        ),
        Design(
            "data_panel",
            ("实时数据", "Live data panel"),
            (
                _f("title", "标题", "Title", required=True, max_chars=40),
                _f("value", "数值", "Value", required=True, max_chars=16),
                _f("caption", "说明", "Caption", max_chars=40),
                _f("rows", "明细（每行一条）", "Details (one a line)", FieldKind.LIST, max_chars=300),
                _f("source", "来源", "Source", max_chars=60),
            ),
            palette="night",
            photo=False,
            data=True,
        ),
        Design(
            "headlines",
            ("新闻速递", "Headlines"),
            (
                _f("title", "标题", "Title", required=True, max_chars=40),
                _f(
                    "items",
                    "条目（每行一条）",
                    "Items (one a line)",
                    FieldKind.LIST,
                    required=True,
                    max_chars=1200,
                ),
                _f("source", "来源", "Source", max_chars=60),
            ),
            palette="civic_blue",
            photo=False,
            data=True,
        ),
    )
}

AUTHORED_DESIGNS = tuple(k for k, d in DESIGNS.items() if not d.data)


class TemplateContent(BaseModel):
    """What an author entered: kept with the rendered slides so they can be edited and re-rendered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    design: str
    palette: str = ""  # empty: the design's own
    language: Language = "both"
    fields: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """Checked values, ready to draw."""

    design: Design
    palette: str
    language: Language
    text: dict[str, Bilingual] = field(default_factory=dict)  # bilingual fields, cleaned
    dates: dict[str, dt.date] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)
    plain: dict[str, str] = field(default_factory=dict)  # url, phone, choice

    def langs(self) -> tuple[str, ...]:
        return ("zh", "en") if self.language == "both" else (self.language,)

    def has(self, key: str) -> bool:
        return key in self.text or key in self.dates or key in self.prices or key in self.plain


_PRICE = re.compile(r"^\s*[¥￥]?\s*(\d{1,7}(?:\.\d{1,2})?)\s*$")
_PHONE = re.compile(r"^[0-9+\- ()]{3,20}$")


def _check_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the link must start with http:// or https:// and name a site")
    return value


def resolve(content: TemplateContent, book: FontBook, *, strict: bool = True) -> Resolved:
    """Check ``content`` against its design; raise :class:`FieldProblem` listing every problem.

    ``strict`` is for authors: characters the font lacks and over-long text are refused. Data
    sources resolve with ``strict=False``: such characters are dropped and text is cut.
    """
    design = DESIGNS.get(content.design)
    if design is None:
        raise FieldProblem({"design": f"unknown template {content.design!r}"})
    palette = content.palette or design.palette
    problems: dict[str, str] = {}
    if palette not in PALETTES:
        problems["palette"] = f"unknown colour scheme {palette!r}; choose one of {', '.join(PALETTES)}"
    langs = ("zh", "en") if content.language == "both" else (content.language,)
    known = {f"{s.key}.{lang}" for s in design.fields if s.kind in BILINGUAL_KINDS for lang in ("zh", "en")}
    known |= {s.key for s in design.fields if s.kind not in BILINGUAL_KINDS}
    for name in content.fields:
        if name not in known:
            problems[name] = "this template has no such field"
    out = Resolved(design, palette, content.language)
    for spec in design.fields:
        try:
            _resolve_field(spec, content.fields, langs, book, strict, out)
        except ValueError as exc:
            problems[exc.args[1] if len(exc.args) > 1 else spec.key] = str(exc.args[0])
    if problems:
        raise FieldProblem(problems)
    return out


def _resolve_field(
    spec: FieldSpec,
    entries: dict[str, str],
    langs: tuple[str, ...],
    book: FontBook,
    strict: bool,
    out: Resolved,
) -> None:
    if spec.kind in BILINGUAL_KINDS:
        values: dict[str, str] = {}
        for lang in ("zh", "en"):
            name = f"{spec.key}.{lang}"
            raw = entries.get(name, "")
            try:
                text = clean_text(raw, book, strict=strict)
            except ValueError as exc:
                raise ValueError(str(exc), name) from None
            if spec.kind != FieldKind.LONG_TEXT and spec.kind != FieldKind.LIST:
                text = " ".join(text.split())
            if len(text) > spec.max_chars:
                if strict:
                    raise ValueError(f"at most {spec.max_chars} characters (this has {len(text)})", name)
                text = text[: spec.max_chars - 1].rstrip() + "…"
            values[lang] = text
        for lang in langs:  # data sources need a required field in one language at least
            if spec.required and not values[lang] and (strict or not any(values.values())):
                raise ValueError("required", f"{spec.key}.{lang}")
        shown = {lang: values[lang] for lang in langs}
        if any(shown.values()):
            # a field filled in one language only is shown in that language in "both" mode
            out.text[spec.key] = Bilingual(shown.get("zh", ""), shown.get("en", ""))
        return
    raw = " ".join(entries.get(spec.key, "").split())
    if not raw:
        if spec.required:
            raise ValueError("required")
        return
    if spec.kind == FieldKind.DATE:
        try:
            out.dates[spec.key] = dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError("a date like 2026-12-31") from None
    elif spec.kind == FieldKind.PRICE:
        m = _PRICE.match(raw)
        if not m:
            raise ValueError("a price in yuan like 19.9")
        try:
            out.prices[spec.key] = Decimal(m.group(1))
        except InvalidOperation:
            raise ValueError("a price in yuan like 19.9") from None
    elif spec.kind == FieldKind.URL:
        if len(raw) > spec.max_chars:
            raise ValueError(f"at most {spec.max_chars} characters")
        out.plain[spec.key] = _check_url(raw)
    elif spec.kind == FieldKind.CHOICE:
        if raw not in spec.choices:
            raise ValueError(f"one of {', '.join(spec.choices)}")
        out.plain[spec.key] = raw
    elif spec.kind == FieldKind.PHONE:
        if not _PHONE.match(raw):
            raise ValueError("digits, spaces, +, - and brackets only")
        out.plain[spec.key] = raw
