"""Alert channels: the list with "send a test message", adding one, editing and removing one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response
from pydantic import ValidationError

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.fleet import channel_config
from content_server.fleet.channel_config import ChannelKind
from content_server.fleet.models import Channel
from content_server.fleet.pages import common
from content_server.fleet.pages.common import problem
from content_server.fleet.services import channels
from content_server.portal import forms
from content_server.portal.page import Csrf, OperatorPage

router = APIRouter()
KINDS = [k.value for k in ChannelKind]
LANGUAGES = ("both", "zh", "en")


def _form(channel: Channel | None = None, kind: str = ChannelKind.EMAIL.value) -> dict[str, Any]:
    config = channel_config.public(channel.config) if channel else {}
    return {
        "name": channel.name if channel else "",
        "kind": channel.kind if channel else kind,
        "language": channel.language if channel else "both",
        "quiet_start": channel.quiet_start if channel else "",
        "quiet_end": channel.quiet_end if channel else "",
        "timezone": channel.timezone if channel else "Asia/Shanghai",
        "escalation": channel.escalation if channel else False,
        "enabled": channel.enabled if channel else True,
        "host": config.get("host", ""),
        "port": str(config.get("port", 587)),
        "security": config.get("security", "starttls"),
        "username": config.get("username", ""),
        "password": config.get("password", ""),
        "sender": config.get("sender", ""),
        "recipients": ", ".join(config.get("recipients", [])),
        "url": config.get("url", ""),
        "secret": config.get("secret", ""),
    }


def channel_fields(
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    language: Annotated[str, Form(max_length=8)] = "both",
    quiet_start: Annotated[str, Form(max_length=5)] = "",
    quiet_end: Annotated[str, Form(max_length=5)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "Asia/Shanghai",
    escalation: Annotated[str, Form(max_length=8)] = "",
    enabled: Annotated[str, Form(max_length=8)] = "",
    host: Annotated[str, Form(max_length=255)] = "",
    port: Annotated[str, Form(max_length=8)] = "587",
    security: Annotated[str, Form(max_length=16)] = "starttls",
    username: Annotated[str, Form(max_length=255)] = "",
    password: Annotated[str, Form(max_length=255)] = "",
    sender: Annotated[str, Form(max_length=255)] = "",
    recipients: Annotated[str, Form(max_length=2000)] = "",
    url: Annotated[str, Form(max_length=1000)] = "",
    secret: Annotated[str, Form(max_length=200)] = "",
) -> dict[str, Any]:
    """A channel form's fields as typed."""
    return {
        "name": name,
        "kind": kind,
        "language": language,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "timezone": timezone,
        "escalation": escalation == "on",
        "enabled": enabled == "on",
        "host": host,
        "port": port,
        "security": security,
        "username": username,
        "password": password,
        "sender": sender,
        "recipients": recipients,
        "url": url,
        "secret": secret,
    }


ChannelFields = Annotated[dict[str, Any], Depends(channel_fields)]


def _channel_in(form: dict[str, Any]) -> channels.ChannelIn:
    kind = ChannelKind(form["kind"])
    config: dict[str, Any]
    if kind is ChannelKind.EMAIL:
        port = forms.parse_number(form["port"], "port", low=1, high=65535)
        config = {
            "host": form["host"],
            "port": int(port or 587),
            "security": form["security"],
            "username": form["username"],
            "password": form["password"],
            "sender": form["sender"],
            "recipients": forms.split_list(form["recipients"].replace("\n", ",")),
        }
    else:
        config = {"url": form["url"], "secret": form["secret"]}
    return channels.ChannelIn(
        name=form["name"].strip(),
        kind=kind,
        config=config,
        language=form["language"],
        quiet_start=form["quiet_start"].strip(),
        quiet_end=form["quiet_end"].strip(),
        timezone=form["timezone"].strip() or "Asia/Shanghai",
        escalation=form["escalation"],
        enabled=form["enabled"],
    )


def _list(
    page: OperatorPage, session: Any, form: dict[str, Any], errors: list[str], secret: str = ""
) -> Response:
    context = common.context("channels") | {
        "channels": channels.listing(session),
        "public": channel_config.public,
        "form": form,
        "form_errors": errors,
        "kinds": KINDS,
        "languages": LANGUAGES,
        "new_secret": secret,
    }
    return page.render(
        "fleet_channels.html", context, title_key="fleet.channels.title", status_code=422 if errors else 200
    )


@router.get("/fleet/channels")
def channels_page(page: OperatorPage, session: SessionDep, kind: str = ChannelKind.EMAIL.value) -> Response:
    return _list(page, session, _form(kind=kind if kind in KINDS else ChannelKind.EMAIL.value), [])


@router.post("/fleet/channels")
def create_channel(
    page: OperatorPage, session: SessionDep, now: NowDep, form: ChannelFields, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    try:
        channel = channels.create(session, _channel_in(form), now=now)
    except (ServerError, ValueError, ValidationError, forms.FormError) as exc:
        session.rollback()
        return _list(page, session, form, [problem(page, exc)])
    if channel.kind == ChannelKind.WEBHOOK.value:  # its signing secret is shown this once
        return _list(page, session, _form(), [], secret=str(channel.config["secret"]))
    return page.redirect("/portal/fleet/channels", notice="channel_saved")


@router.get("/fleet/channels/{channel_id}")
def channel_page(page: OperatorPage, session: SessionDep, channel_id: str) -> Response:
    channel = channels.get(session, channel_id)
    return _edit(page, channel, _form(channel), [])


def _edit(page: OperatorPage, channel: Channel, form: dict[str, Any], errors: list[str]) -> Response:
    context = common.context("channels") | {
        "channel": channel,
        "form": form,
        "form_errors": errors,
        "languages": LANGUAGES,
    }
    return page.render(
        "fleet_channel.html", context, title_key="fleet.channel.title", status_code=422 if errors else 200
    )


@router.post("/fleet/channels/{channel_id}")
def save_channel(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    channel_id: str,
    form: ChannelFields,
    csrf_token: Csrf = "",
) -> Response:
    """Secrets shown masked and sent back unchanged keep their stored values."""
    page.require_csrf(csrf_token)
    channel = channels.get(session, channel_id)
    form = {**form, "kind": channel.kind}
    try:
        channels.update(session, channel_id, _channel_in(form), now=now)
    except (ServerError, ValueError, ValidationError, forms.FormError) as exc:
        session.rollback()
        return _edit(page, channels.get(session, channel_id), form, [problem(page, exc)])
    return page.redirect("/portal/fleet/channels", notice="channel_saved")


@router.post("/fleet/channels/{channel_id}/test")
def test_channel(
    page: OperatorPage, session: SessionDep, now: NowDep, channel_id: str, csrf_token: Csrf = ""
) -> Response:
    """Queue a test message and show its delivery (its attempts appear there as they happen)."""
    page.require_csrf(csrf_token)
    delivery = channels.send_test(session, channel_id, now=now, tz=page.tz)
    return page.redirect(f"/portal/fleet/deliveries/{delivery.id}", notice="test_queued")


@router.post("/fleet/channels/{channel_id}/delete")
def delete_channel(
    page: OperatorPage, session: SessionDep, channel_id: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    channels.delete(session, channel_id)
    return page.redirect("/portal/fleet/channels", notice="channel_deleted")
