"""OASIS CAP 1.2 alerts: signature check and safe parsing into a plain :class:`CapMessage`. Pure.

Feeds sign the raw body with HMAC-SHA256 (header ``X-Signature: sha256=<hex>``); each feed's
secret is derived from the server secret and the feed id, so it never has to be stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from content_server.core.errors import Invalid, Unauthorized

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_CAP_BYTES = 256 * 1024
_NS = {"cap": CAP_NS}


def feed_secret(server_secret: str, feed_id: str) -> str:
    return hmac.new(server_secret.encode(), f"cap-feed:{feed_id}".encode(), hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    if not header or not header.startswith("sha256="):
        raise Unauthorized("alert is not signed (X-Signature: sha256=<hex HMAC of the body>)")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower()):
        raise Unauthorized("alert signature does not match this feed")


SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
MAX_AREAS = 200  # per <info>; regional feeds list dozens of districts, never thousands


@dataclass(frozen=True)
class CapArea:
    """One ``<area>``: its description and its ``<geocode>`` (valueName, value) pairs."""

    desc: str
    geocodes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CapInfo:
    language: str  # zh | en, or the lower-cased code of another language
    event: str
    headline: str
    description: str
    expires: dt.datetime | None
    areas: tuple[str, ...]  # the <areaDesc> of each <area>, as before
    instruction: str = ""
    severity: str = "Unknown"
    urgency: str = "Unknown"
    certainty: str = "Unknown"
    effective: dt.datetime | None = None
    onset: dt.datetime | None = None
    sender_name: str = ""
    area_list: tuple[CapArea, ...] = ()


@dataclass(frozen=True)
class CapMessage:
    identifier: str
    sender: str
    sent: dt.datetime
    status: str  # Actual | Exercise | System | Test | Draft
    msg_type: str  # Alert | Update | Cancel | Ack | Error
    references: tuple[tuple[str, str], ...]  # (sender, identifier)
    infos: tuple[CapInfo, ...]
    scope: str = "Public"  # Public | Restricted | Private


def _text(el: Element, name: str, *, required: bool = False) -> str:
    child = el.find(f"cap:{name}", _NS)
    value = (child.text or "").strip() if child is not None else ""
    if required and not value:
        raise Invalid(f"CAP: <{name}> is required")
    return value


def _time(value: str, name: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(f"CAP: <{name}> is not a date-time: {value[:40]!r}") from exc
    if t.tzinfo is None:
        raise Invalid(f"CAP: <{name}> needs a time zone offset")
    return t


def _lang(code: str) -> str:
    """``zh`` or ``en`` for those languages in any region/script (zh-CN, zh-Hant-HK, en-GB)."""
    low = code.strip().lower()
    if low.startswith("en"):
        return "en"
    if low.startswith("zh"):
        return "zh"
    return low[:16] or "en"


def _choice(el: Element, name: str, allowed: tuple[str, ...]) -> str:
    value = _text(el, name)
    if not value:
        return "Unknown"
    if value not in allowed:
        raise Invalid(f"CAP: <{name}> must be one of {', '.join(allowed)}")
    return value


def _area(el: Element) -> CapArea:
    codes = []
    for g in el.findall("cap:geocode", _NS):
        name, value = _text(g, "valueName"), _text(g, "value")
        if not name or not value:
            raise Invalid("CAP: <geocode> needs <valueName> and <value>")
        codes.append((name[:64], value[:64]))
    return CapArea(desc=_text(el, "areaDesc", required=True)[:255], geocodes=tuple(codes))


def _info(el: Element) -> CapInfo:
    areas = el.findall("cap:area", _NS)
    if len(areas) > MAX_AREAS:
        raise Invalid(f"CAP: more than {MAX_AREAS} <area> in one <info>")
    area_list = tuple(_area(a) for a in areas)
    times = {n: _text(el, n) for n in ("effective", "onset", "expires")}
    return CapInfo(
        language=_lang(_text(el, "language") or "en-US"),
        event=_text(el, "event", required=True)[:200],
        headline=_text(el, "headline")[:200],
        description=_text(el, "description")[:2000],
        instruction=_text(el, "instruction")[:2000],
        expires=_time(times["expires"], "expires") if times["expires"] else None,
        effective=_time(times["effective"], "effective") if times["effective"] else None,
        onset=_time(times["onset"], "onset") if times["onset"] else None,
        severity=_choice(el, "severity", SEVERITIES),
        urgency=_choice(el, "urgency", URGENCIES),
        certainty=_choice(el, "certainty", CERTAINTIES),
        sender_name=_text(el, "senderName")[:200],
        areas=tuple(a.desc for a in area_list),
        area_list=area_list,
    )


def parse(body: bytes) -> CapMessage:
    """Parse with defusedxml (no entities, no DTD tricks); Invalid with a reason if not CAP 1.2."""
    if len(body) > MAX_CAP_BYTES:
        raise Invalid("CAP: message too large")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise Invalid(f"CAP: not well-formed XML: {exc}") from exc
    if root.tag != f"{{{CAP_NS}}}alert":
        raise Invalid("CAP: root element must be <alert> in the CAP 1.2 namespace")
    status = _text(root, "status", required=True)
    msg_type = _text(root, "msgType", required=True)
    if status not in {"Actual", "Exercise", "System", "Test", "Draft"}:
        raise Invalid(f"CAP: unknown status {status!r}")
    if msg_type not in {"Alert", "Update", "Cancel", "Ack", "Error"}:
        raise Invalid(f"CAP: unknown msgType {msg_type!r}")
    refs: list[tuple[str, str]] = []
    for token in _text(root, "references").split():
        parts = token.split(",")
        if len(parts) != 3:
            raise Invalid("CAP: <references> entries are sender,identifier,sent")
        refs.append((parts[0], parts[1]))
    if msg_type in {"Update", "Cancel"} and not refs:
        raise Invalid(f"CAP: a {msg_type} needs <references>")
    infos = [_info(info) for info in root.findall("cap:info", _NS)]
    if msg_type in {"Alert", "Update"} and not infos:
        raise Invalid("CAP: an alert needs at least one <info>")
    return CapMessage(
        identifier=_text(root, "identifier", required=True)[:255],
        sender=_text(root, "sender", required=True)[:255],
        sent=_time(_text(root, "sent", required=True), "sent"),
        status=status,
        msg_type=msg_type,
        references=tuple(refs),
        infos=tuple(infos),
        scope=_text(root, "scope") or "Public",
    )
