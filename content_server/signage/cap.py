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


@dataclass(frozen=True)
class CapInfo:
    language: str  # zh | en
    event: str
    headline: str
    description: str
    expires: dt.datetime | None
    areas: tuple[str, ...]


@dataclass(frozen=True)
class CapMessage:
    identifier: str
    sender: str
    sent: dt.datetime
    status: str  # Actual | Exercise | System | Test | Draft
    msg_type: str  # Alert | Update | Cancel | Ack | Error
    references: tuple[tuple[str, str], ...]  # (sender, identifier)
    infos: tuple[CapInfo, ...]


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
        raise Invalid(f"CAP: <{name}> is not a date-time: {value!r}") from exc
    if t.tzinfo is None:
        raise Invalid(f"CAP: <{name}> needs a time zone offset")
    return t


def _lang(code: str) -> str:
    return "en" if code.lower().startswith("en") else "zh"


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
    infos = []
    for info in root.findall("cap:info", _NS):
        expires = _text(info, "expires")
        infos.append(
            CapInfo(
                language=_lang(_text(info, "language") or "en-US"),
                event=_text(info, "event", required=True),
                headline=_text(info, "headline")[:200],
                description=_text(info, "description")[:2000],
                expires=_time(expires, "expires") if expires else None,
                areas=tuple(_text(a, "areaDesc", required=True) for a in info.findall("cap:area", _NS)),
            )
        )
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
    )
