"""Every word the fleet builds from a value is in the portal's one table, in both languages; alert
messages read right in Chinese, English and both (pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from content_server.core.delivery.policy import DeliveryState
from content_server.fleet import messages, wall
from content_server.fleet.channel_config import ChannelKind
from content_server.fleet.evaluation import Member, Notice, NoticeKind
from content_server.fleet.pages.common import TABS
from content_server.fleet.rule_kinds import GROUP_BY, KIND_PARAMS, RuleKind
from content_server.portal.i18n import TEXTS
from schedules.bilingual import Bilingual

DYNAMIC = {
    "fleet.kind": [k.value for k in RuleKind],
    "fleet.rule.help": [k.value for k in RuleKind],
    "fleet.param": sorted({p.name for params in KIND_PARAMS.values() for p in params}),
    "fleet.state": list(wall.STATES),
    "fleet.dstate": [s.value for s in DeliveryState],
    "fleet.device": ["player", "kiosk"],
    "fleet.kindname": [k.value for k in ChannelKind],
    "fleet.channel.url_help": [k.value for k in ChannelKind],
    "fleet.lang": ["both", "zh", "en"],
    "fleet.security": ["starttls", "ssl", "none"],
    "fleet.group_by": list(GROUP_BY),
    "fleet.actor": ["user", "device", "feed", "payer", "provider", "system"],
    "fleet.source": ["fleet", "kiosk"],
    "fleet.msg.tag": [f"_{k.value}" for k in NoticeKind] + ["_emergency"],
}


def test_keys_built_from_values_are_in_the_table() -> None:
    missing = [
        f"{prefix}{'' if v.startswith('_') else '.'}{v}"
        for prefix, values in DYNAMIC.items()
        for v in values
        if f"{prefix}{'' if v.startswith('_') else '.'}{v}" not in TEXTS
    ]
    assert missing == [] and all(key in TEXTS for _, key, _ in TABS)


TZ = ZoneInfo("Asia/Shanghai")  # the community's time zone (the settings' default)
T0 = dt.datetime(2026, 12, 1, 6, 2, tzinfo=dt.UTC)  # 14:02 in the community


def outage(n: int) -> Notice:
    members = tuple(
        Member(f"d{i}", f"3号楼-大堂{i}", Bilingual("自 13:59 起无心跳", "silent since 13:59"), late=i >= 15)
        for i in range(n)
    )
    return Notice(NoticeKind.FIRING, "inc1", "r1", "building:3", members, opened_at=T0)


RULE = messages.RuleFacts("r1", "屏幕离线 · Screens offline", "offline")


def test_a_firing_message_in_both_languages_lists_the_screens_and_how_to_acknowledge() -> None:
    text = messages.render(
        outage(20), RULE, language="both", portal_url="https://s.example.org/", now=T0, tz=TZ
    )
    zh_subject, en_subject = text.subject.split(" / ")
    assert zh_subject == "【告警】屏幕离线 · Screens offline（3号楼，20 项）"
    assert en_subject == "[Alert] 屏幕离线 · Screens offline (Building 3, 20)"
    zh, en = text.text.split("\n\n")
    assert "20 项受影响（15 项已达告警条件），自 12-01 14:02 起：" in zh
    assert "- 3号楼-大堂0：自 13:59 起无心跳" in zh and "（同时无响应，尚未达到阈值）" in zh
    assert "20 affected (15 past the rule's threshold), since 12-01 14:02:" in en
    assert "- 3号楼-大堂19: silent since 13:59 (also silent, not yet past the threshold)" in en
    assert zh.endswith("https://s.example.org/portal/fleet/alerts/inc1") and "Acknowledge with a note" in en


def test_long_lists_are_cut_and_recoveries_say_how_long() -> None:
    long = messages.render(outage(60), RULE, language="en", portal_url="https://s", now=T0, tz=TZ)
    assert long.text.count("\n- ") == 50 and "... and 10 more" in long.text
    recovery = Notice(NoticeKind.RECOVERY, "inc1", "r1", "building:3", outage(2).members, opened_at=T0)
    text = messages.render(
        recovery, RULE, language="zh", portal_url="https://s", now=T0 + dt.timedelta(minutes=47), tz=TZ
    )
    assert text.subject.startswith("【已恢复】") and "历时约 47 分钟" in text.text and "确认" not in text.text


def test_the_webhook_event_carries_the_facts_and_the_text() -> None:
    event = messages.event(outage(3), RULE, portal_url="https://s", now=T0, tz=TZ)
    assert event["type"] == "fleet.alert.firing" and event["incident"]["group"] == "building:3"
    assert event["members"][0] == {
        "id": "d0",
        "name": "3号楼-大堂0",
        "late": False,
        "detail": {"zh": "自 13:59 起无心跳", "en": "silent since 13:59"},
    }
    assert "Building 3" in event["subject"] and "3号楼" in event["text"]
