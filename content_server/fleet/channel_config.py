"""What each kind of channel needs (validated), and how it is shown without its secrets. Pure."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MASK = "***"


class ChannelKind(StrEnum):
    EMAIL = "email"
    WECOM = "wecom"  # WeCom (企业微信) group robot
    DINGTALK = "dingtalk"  # DingTalk (钉钉) group robot
    FEISHU = "feishu"  # Feishu / Lark (飞书) group robot
    WEBHOOK = "webhook"  # the operator's own system, Standard Webhooks signed


ROBOTS = (ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.FEISHU)
# the hosts the group robots' webhook URLs are on (what the apps hand out)
ROBOT_HOSTS = {
    ChannelKind.WECOM: ("qyapi.weixin.qq.com",),
    ChannelKind.DINGTALK: ("oapi.dingtalk.com",),
    ChannelKind.FEISHU: ("open.feishu.cn", "open.larksuite.com"),
}


class ChannelConfigError(ValueError):
    """A channel setting that cannot work; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EmailConfig(_Config):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(587, ge=1, le=65535)
    security: str = Field("starttls", pattern="^(starttls|ssl|none)$")
    username: str = Field("", max_length=255)
    password: str = Field("", max_length=255)
    sender: str = Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")
    recipients: list[str] = Field(min_length=1, max_length=50)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value if v.strip()]
        bad = [v for v in cleaned if "@" not in v or any(c.isspace() for c in v)]
        if bad or not cleaned:
            raise ValueError(f"not e-mail addresses: {', '.join(bad) or '(none)'}")
        return cleaned


class RobotConfig(_Config):
    url: str = Field(min_length=10, max_length=1000)  # the robot's webhook URL, as the app shows it
    secret: str = Field("", max_length=200)  # DingTalk's signing secret ("SEC…"), if the robot has one


class WebhookConfig(_Config):
    url: str = Field(min_length=10, max_length=1000)
    secret: str = Field("", max_length=200)  # whsec_…; made by the server when left empty


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _first_error(exc: ValidationError) -> ChannelConfigError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "config"
    return ChannelConfigError(field, str(err.get("msg", "invalid")).removeprefix("Value error, "))


def validate(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a channel's settings; ChannelConfigError names what is wrong."""
    try:
        channel = ChannelKind(kind)
    except ValueError:
        raise ChannelConfigError("kind", f"one of {', '.join(k.value for k in ChannelKind)}") from None
    try:
        if channel is ChannelKind.EMAIL:
            return EmailConfig.model_validate(data).model_dump()
        if channel is ChannelKind.WEBHOOK:
            hook = WebhookConfig.model_validate(data)
            _check_url(hook.url, https_only=False)
            secret = hook.secret or new_webhook_secret()
            if not secret.startswith("whsec_"):
                raise ChannelConfigError("secret", "a Standard Webhooks secret starts with whsec_")
            return {"url": hook.url, "secret": secret}
        robot = RobotConfig.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc) from None
    stored = robot.model_dump()
    apprise_url(channel, stored)  # the URL is one the robot's plugin can use
    return stored


def _check_url(url: str, *, https_only: bool) -> None:
    parts = urlsplit(url)
    allowed = ("https",) if https_only else ("https", "http")
    if parts.scheme not in allowed or not parts.hostname:
        raise ChannelConfigError("url", "an http(s) URL")


APPRISE_SCHEMES = {
    ChannelKind.WECOM: ("wecombot",),
    ChannelKind.DINGTALK: ("dingtalk",),
    ChannelKind.FEISHU: ("feishu", "lark"),
}


def apprise_url(kind: str, config: Mapping[str, Any]) -> str:
    """The Apprise URL for a robot, from the webhook URL its app hands out (or an Apprise URL as is).

    WeCom: ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K`` -> ``wecombot://K``;
    DingTalk: ``https://oapi.dingtalk.com/robot/send?access_token=T`` (and the robot's signing
    secret) -> ``dingtalk://S@T/``; Feishu: ``https://open.feishu.cn/open-apis/bot/v2/hook/T`` ->
    ``feishu://T`` (Lark's ``open.larksuite.com`` -> ``lark://T``).
    """
    channel = ChannelKind(kind)
    url = str(config.get("url", "")).strip()
    parts = urlsplit(url)
    if parts.scheme in APPRISE_SCHEMES.get(channel, ()):
        return url
    if parts.scheme != "https" or parts.hostname not in ROBOT_HOSTS.get(channel, ()):
        hosts = ", ".join(ROBOT_HOSTS.get(channel, ()))
        raise ChannelConfigError("url", f"the robot's webhook URL (https://{hosts}/...) as the app shows it")
    query = parse_qs(parts.query)
    if channel is ChannelKind.WECOM:
        key = (query.get("key") or [""])[0]
        if not key:
            raise ChannelConfigError("url", "the WeCom robot's URL ends in ?key=...")
        return f"wecombot://{quote(key, safe='')}"
    if channel is ChannelKind.DINGTALK:
        token = (query.get("access_token") or [""])[0]
        if not token:
            raise ChannelConfigError("url", "the DingTalk robot's URL ends in ?access_token=...")
        secret = str(config.get("secret", "")).strip()
        return (
            f"dingtalk://{quote(secret, safe='')}@{quote(token, safe='')}/"
            if secret
            else f"dingtalk://{token}/"
        )
    token = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if "/bot/v2/hook/" not in parts.path or not token:
        raise ChannelConfigError("url", "the Feishu robot's URL ends in /open-apis/bot/v2/hook/<token>")
    scheme = "lark" if parts.hostname == "open.larksuite.com" else "feishu"
    return f"{scheme}://{quote(token, safe='')}"


def mask_url(url: str) -> str:
    """Scheme and host only: a robot's URL carries its key (whoever has it can post to the group)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/{MASK}" if parts.hostname else MASK


def public(config: Mapping[str, Any]) -> dict[str, Any]:
    """A channel's settings as pages, the API and the audit trail show them: secrets masked."""
    shown: dict[str, Any] = {}
    for key, value in config.items():
        if key in ("password", "secret"):
            shown[key] = MASK if value else ""
        elif key == "url" and isinstance(value, str):
            shown[key] = mask_url(value)
        else:
            shown[key] = value
    return shown
