"""Quiet hours (over midnight, daylight saving elsewhere) and channel settings (validated, secrets
masked, robot webhook URLs turned into Apprise URLs). Pure."""

from __future__ import annotations

import datetime as dt

import pytest

from content_server.fleet import channel_config, quiet
from content_server.fleet.channel_config import ChannelConfigError

UTC = dt.UTC


def at(local: str, tz: str = "Asia/Shanghai") -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def test_quiet_hours_over_midnight() -> None:
    q = quiet.make("22:00", "07:00", "Asia/Shanghai")
    assert quiet.quiet_until(q, at("2026-12-01T21:59")) is None
    assert quiet.quiet_until(q, at("2026-12-01T22:00")) == at("2026-12-02T07:00")
    assert quiet.quiet_until(q, at("2026-12-02T03:30")) == at("2026-12-02T07:00")
    assert quiet.quiet_until(q, at("2026-12-02T07:00")) is None
    assert quiet.quiet_until(None, at("2026-12-02T03:30")) is None


def test_quiet_hours_within_a_day_and_across_a_daylight_saving_change() -> None:
    q = quiet.make("12:00", "14:00", "Asia/Shanghai")
    assert quiet.quiet_until(q, at("2026-12-01T13:00")) == at("2026-12-01T14:00")
    assert quiet.quiet_until(q, at("2026-12-01T14:01")) is None
    berlin = quiet.make("01:00", "04:00", "Europe/Berlin")  # 29 March 2026: clocks jump 02:00 -> 03:00
    start = dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 local
    assert quiet.quiet_until(berlin, start) == dt.datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 04:00 CEST


@pytest.mark.parametrize(
    ("start", "end", "tz"),
    [
        ("25:00", "07:00", "Asia/Shanghai"),
        ("7", "8", "Asia/Shanghai"),
        ("22:00", "22:00", "Asia/Shanghai"),
        ("22:00", "", "Asia/Shanghai"),
        ("22:00", "07:00", "Mars/Olympus"),
    ],
)
def test_bad_quiet_hours_are_refused(start: str, end: str, tz: str) -> None:
    with pytest.raises(quiet.QuietHoursError):
        quiet.make(start, end, tz)


def test_no_quiet_hours_when_both_are_empty() -> None:
    assert quiet.make("", "  ", "Asia/Shanghai") is None


def test_robot_urls_as_the_apps_hand_them_out_become_apprise_urls() -> None:
    wecom = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    assert (
        channel_config.apprise_url("wecom", {"url": wecom})
        == "wecombot://693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    )
    ding = "https://oapi.dingtalk.com/robot/send?access_token=abc123"
    assert channel_config.apprise_url("dingtalk", {"url": ding}) == "dingtalk://abc123/"
    assert (
        channel_config.apprise_url("dingtalk", {"url": ding, "secret": "SECxyz"})
        == "dingtalk://SECxyz@abc123/"
    )
    feishu = "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-aaaa"
    assert channel_config.apprise_url("feishu", {"url": feishu}) == "feishu://0f1e2d3c-aaaa"
    lark = "https://open.larksuite.com/open-apis/bot/v2/hook/0f1e2d3c"
    assert channel_config.apprise_url("feishu", {"url": lark}) == "lark://0f1e2d3c"
    assert channel_config.apprise_url("wecom", {"url": "wecombot://k"}) == "wecombot://k"


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("wecom", "https://evil.example/cgi-bin/webhook/send?key=k"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send"),
        ("feishu", "https://open.feishu.cn/somewhere/else"),
        ("feishu", "http://open.feishu.cn/open-apis/bot/v2/hook/x"),
    ],
)
def test_robot_urls_that_cannot_work_are_refused(kind: str, url: str) -> None:
    with pytest.raises(ChannelConfigError) as err:
        channel_config.validate(kind, {"url": url})
    assert err.value.field == "url"


def test_email_settings_are_checked_and_webhooks_get_a_secret() -> None:
    good = {"host": "smtp.example.org", "sender": "alerts@example.org", "recipients": ["a@example.org", " "]}
    assert channel_config.validate("email", good)["recipients"] == ["a@example.org"]
    with pytest.raises(ChannelConfigError) as err:
        channel_config.validate("email", good | {"recipients": ["not an address"]})
    assert err.value.field == "recipients"
    with pytest.raises(ChannelConfigError):
        channel_config.validate("email", good | {"security": "rot13"})
    with pytest.raises(ChannelConfigError):
        channel_config.validate("email", good | {"surprise": 1})
    hook = channel_config.validate("webhook", {"url": "https://ops.example.org/hooks"})
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    with pytest.raises(ChannelConfigError):
        channel_config.validate("webhook", {"url": "https://ops.example.org/hooks", "secret": "plain"})
    with pytest.raises(ChannelConfigError):
        channel_config.validate("pager", {})


def test_what_pages_and_the_audit_trail_show_has_no_secret() -> None:
    shown = channel_config.public(
        {
            "host": "smtp.example.org",
            "password": "hunter22",
            "url": "https://qyapi.weixin.qq.com/cgi-bin/x?key=K",
            "secret": "whsec_abc",
            "recipients": ["a@b.c"],
        }
    )
    text = repr(shown)
    assert "hunter22" not in text and "whsec_abc" not in text and "key=K" not in text
    assert shown["host"] == "smtp.example.org" and shown["url"] == "https://qyapi.weixin.qq.com/***"
    assert channel_config.public({"password": ""})["password"] == ""
