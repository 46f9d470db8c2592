"""How a message leaves the server: SMTP (``smtplib``), group robots (Apprise), signed webhooks
(``standardwebhooks`` over ``requests``). Each returns the attempt's outcome instead of raising.

The same message (the same delivery) always carries the same identity, so a receiver can drop a
repeat after a retry or a restart: the e-mail's ``Message-ID``, the webhook's ``webhook-id``.
Robot APIs have no such field; their plugins are called once per attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import apprise
import requests
from standardwebhooks.webhooks import Webhook

from content_server.core.delivery.policy import Outcome
from content_server.fleet.channel_config import apprise_url

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0
USER_AGENT = "community-signage-alerts/1"


def message_id(key: str) -> str:
    """A stable Message-ID for the delivery ``key``."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@community-signage>"


def send_email(config: Mapping[str, Any], *, subject: str, text: str, key: str, now: dt.datetime) -> Outcome:
    """One e-mail to the channel's recipients; a refused log-in or recipient is not retried."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = config["sender"]
    msg["To"] = ", ".join(config["recipients"])
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(key)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    host, port = str(config["host"]), int(config.get("port", 587))
    security = config.get("security", "starttls")
    try:
        smtp: smtplib.SMTP
        if security == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_S, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT_S)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.get("username"):
                smtp.login(str(config["username"]), str(config.get("password", "")))
            refused = smtp.send_message(msg)
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        return Outcome(False, f"SMTP refused: {exc}"[:400], permanent=True)
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, f"SMTP: {type(exc).__name__}: {exc}"[:400])
    if refused:
        return Outcome(True, f"accepted, but refused for {', '.join(sorted(refused))}"[:400])
    return Outcome(True, f"accepted by {host}:{port} for {len(config['recipients'])} recipient(s)")


def send_robot(kind: str, config: Mapping[str, Any], *, subject: str, text: str) -> Outcome:
    """One message to a WeCom / DingTalk / Feishu group robot, through its Apprise plugin."""
    notifier = apprise.Apprise()
    if not notifier.add(apprise_url(kind, config)):
        return Outcome(False, "Apprise does not accept this robot URL", permanent=True)
    with apprise.LogCapture(level=logging.WARNING) as logs:
        sent = notifier.notify(title=subject, body=text)
    if sent:
        return Outcome(True, f"{kind} robot accepted the message")
    detail = " ".join(str(logs.getvalue()).split())[-300:] if logs is not None else ""
    return Outcome(False, f"{kind} robot: {detail or 'not sent'}")


def send_webhook(
    config: Mapping[str, Any], *, body: Mapping[str, Any], msg_id: str, now: dt.datetime, retry: int = 0
) -> Outcome:
    """A Standard Webhooks POST: ``webhook-id`` (the same at every attempt), ``-timestamp`` (now)
    and ``-signature`` (HMAC-SHA256 over both and the body, with the channel's secret)."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    signature = Webhook(str(config["secret"])).sign(msg_id, now, data)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    if retry:
        headers["webhook-attempt"] = str(retry + 1)
    try:
        url = str(config["url"])
        reply = requests.post(url, data=data, headers=headers, timeout=TIMEOUT_S, allow_redirects=False)
    except requests.RequestException as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}"[:400])
    detail = f"HTTP {reply.status_code}"
    if 200 <= reply.status_code < 300:
        return Outcome(True, detail)
    # 410 Gone: the receiver says this endpoint is no more (Standard Webhooks); stop trying
    return Outcome(False, f"{detail}: {reply.text[:200]}", permanent=reply.status_code == 410)
