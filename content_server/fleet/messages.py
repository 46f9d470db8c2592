"""The words of an alert message: subject and text in a channel's language(s), and the webhook event.

Plain functions of a notice (no database, time passed in as the notice's own times); the words
come from the portal's one translation table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from content_server.fleet.evaluation import Member, Notice, NoticeKind
from content_server.portal.i18n import TEXTS
from content_server.portal.shell import local_time
from schedules.bilingual import Bilingual

MAX_LISTED = 50
BUILDING = "building:"


@dataclass(frozen=True)
class RuleFacts:
    """What a message says about the rule behind it."""

    id: str
    name: str
    kind: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


def group_label(group: str) -> Bilingual:
    if group.startswith(BUILDING):
        return TEXTS.both("fleet.group.building", n=group.removeprefix(BUILDING))
    if not group:
        return TEXTS.both("fleet.group.none")
    return Bilingual(group, group)


def _lines(
    notice: Notice, rule: RuleFacts, lang: str, link: str, now: dt.datetime, tz: dt.tzinfo
) -> tuple[str, list[str]]:
    t = TEXTS
    kind = t.text(f"fleet.kind.{rule.kind}", lang)
    where = group_label(notice.group).get(lang)
    members = notice.added if notice.kind is NoticeKind.UPDATE else notice.members
    firing = [m for m in members if not m.late]
    tag = t.text("fleet.msg.tag_emergency" if notice.urgent else f"fleet.msg.tag_{notice.kind.value}", lang)
    subject = t.text("fleet.msg.subject", lang, tag=tag, rule=rule.name, group=where, n=len(members))
    opened = local_time(notice.opened_at, tz, "%m-%d %H:%M") if notice.opened_at else ""
    lines = [f"{tag} {rule.name}", t.text("fleet.msg.where", lang, kind=kind, group=where)]
    if notice.kind is NoticeKind.RECOVERY:
        minutes = max(1, round((now - notice.opened_at).total_seconds() / 60)) if notice.opened_at else 0
        lines.append(t.text("fleet.msg.recovered", lang, n=len(members), minutes=minutes, since=opened))
    elif notice.kind is NoticeKind.ESCALATION:
        lines.append(t.text("fleet.msg.escalated", lang, since=opened))
        lines.append(t.text("fleet.msg.affected", lang, n=len(members), firing=len(firing), since=opened))
    elif notice.kind is NoticeKind.UPDATE:
        lines.append(t.text("fleet.msg.added", lang, n=len(members), total=len(notice.members)))
    else:
        lines.append(t.text("fleet.msg.affected", lang, n=len(members), firing=len(firing), since=opened))
    for m in members[:MAX_LISTED]:
        lines.append(_member_line(m, lang))
    if len(members) > MAX_LISTED:
        lines.append(t.text("fleet.msg.more", lang, n=len(members) - MAX_LISTED))
    if notice.kind is not NoticeKind.RECOVERY:
        lines.append(t.text("fleet.msg.acknowledge", lang, link=link))
    return subject, lines


def _member_line(m: Member, lang: str) -> str:
    detail = m.detail.get(lang) if m.detail else ""
    late = TEXTS.text("fleet.msg.also_silent", lang) if m.late else ""
    colon = "：" if lang == "zh" else ": "
    return "- " + m.name + (colon + detail if detail else "") + late


def render(
    notice: Notice, rule: RuleFacts, *, language: str, portal_url: str, now: dt.datetime, tz: dt.tzinfo
) -> Rendered:
    """Subject and plain text in ``language``: ``zh``, ``en`` or ``both`` (Chinese first); times in
    ``tz``, the community's time zone."""
    link = f"{portal_url.rstrip('/')}/portal/fleet/alerts/{notice.incident}"
    langs = ("zh", "en") if language == "both" else (language,)
    parts = [_lines(notice, rule, lang, link, now, tz) for lang in langs]
    subject = " / ".join(p[0] for p in parts)
    text = "\n\n".join("\n".join(p[1]) for p in parts)
    return Rendered(subject, text + "\n")


def event(
    notice: Notice, rule: RuleFacts, *, portal_url: str, now: dt.datetime, tz: dt.tzinfo
) -> dict[str, Any]:
    """The JSON body of a webhook: the facts, plus the text in both languages for a chat bridge."""
    both = render(notice, rule, language="both", portal_url=portal_url, now=now, tz=tz)
    return {
        "type": f"fleet.alert.{notice.kind.value}",
        "sent_at": now.isoformat(),
        "incident": {
            "id": notice.incident,
            "group": notice.group,
            "opened_at": notice.opened_at.isoformat() if notice.opened_at else None,
            "urgent": notice.urgent,
            "url": f"{portal_url.rstrip('/')}/portal/fleet/alerts/{notice.incident}",
        },
        "rule": {"id": rule.id, "name": rule.name, "kind": rule.kind},
        "members": [_member_json(m) for m in notice.members],
        "added": [m.subject for m in notice.added],
        "subject": both.subject,
        "text": both.text,
    }


def _member_json(m: Member) -> dict[str, Any]:
    detail = m.detail.as_dict() if m.detail else None
    return {"id": m.subject, "name": m.name, "late": m.late, "detail": detail}


def test_message(channel_name: str, *, language: str, now: dt.datetime, tz: dt.tzinfo) -> Rendered:
    """What "send a test message" sends."""
    langs = ("zh", "en") if language == "both" else (language,)
    when = local_time(now, tz, "%Y-%m-%d %H:%M")
    subject = " / ".join(TEXTS.text("fleet.msg.test_subject", lang) for lang in langs)
    texts = [TEXTS.text("fleet.msg.test_text", lang, channel=channel_name, time=when) for lang in langs]
    text = "\n\n".join(texts)
    return Rendered(subject, text + "\n")
