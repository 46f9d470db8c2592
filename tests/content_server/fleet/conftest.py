"""A fleet in process with the duty team's receivers on loopback.

``fleet``: the app on a movable clock (SQLite) with an approved operator, real receivers — an SMTP
server (aiosmtpd), a webhook endpoint that checks signatures, the robots' APIs behind an HTTPS
proxy — and one channel for each: e-mail, webhook, WeCom, DingTalk (signed), Feishu. The test
moves the clock, sends heartbeats, runs evaluation passes (``step``) and the delivery queue as the
server's jobs would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from content_server.core.delivery.policy import DeliveryState
from content_server.fleet import runtime as fleet_runtime
from content_server.fleet.channel_config import new_webhook_secret
from content_server.fleet.services.evaluator import PassSummary
from tests.fixtures.receivers import RobotApi, SmtpReceiver, WebhookReceiver
from tests.fixtures.server import AppClient, PairedDevice, bootstrap_operator, make_app_client, pair_device

DING_SECRET = "SEC0123456789abcdef"


@dataclass
class Fleet:
    client: AppClient
    smtp: SmtpReceiver
    hooks: WebhookReceiver
    robots: RobotApi
    channels: dict[str, str] = field(default_factory=dict)  # kind -> channel id
    screens: dict[str, PairedDevice] = field(default_factory=dict)  # name -> device

    @property
    def op(self) -> dict[str, str]:
        return self.client.auth(self.client.operator)

    def now(self) -> dt.datetime:
        now: dt.datetime = self.client.clock.now()
        return now

    def advance(self, **kw: float) -> None:
        self.client.clock.advance(dt.timedelta(**kw).total_seconds())

    def add_channel(self, kind: str, config: dict[str, Any], **over: Any) -> str:
        body = {"name": over.pop("name", f"{kind} duty"), "kind": kind, "config": config, **over}
        r = self.client.post("/api/v1/fleet/channels", json=body, headers=self.op)
        assert r.status_code == 201, r.text
        channel_id: str = r.json()["id"]
        return channel_id

    def screen(
        self, name: str, *, building: str | None = "3", kind: str = "player", groups: tuple[str, ...] = ()
    ) -> PairedDevice:
        tags = [f"building:{building}"] if building else []
        device = pair_device(self.client, kind=kind, name=name, tags=tags, groups=groups)
        self.screens[name] = device
        return device

    def beat(self, device: PairedDevice, **fields: Any) -> dict[str, Any]:
        body = {"sent_at": self.now().isoformat(), "player_version": "test-1", **fields}
        r = self.client.post("/api/v1/device/heartbeat", json=body, headers=device.headers)
        assert r.status_code == 200, r.text
        reply: dict[str, Any] = r.json()
        return reply

    def step(self) -> PassSummary | None:
        """One evaluation pass and one run of the delivery queue, at the clock's time.

        The beats held in memory are written first, as the server's flush timer (every
        ``SIGNAGE_HEARTBEAT_FLUSH_S`` of real time) would have while the clock moved: on a loaded
        machine that timer lagged the test's passes, and 20 screens beating together seemed to
        come back over two passes."""
        portal = self.client.portal
        assert portal is not None
        portal.call(self.client.app.state.heartbeats.flush)  # type: ignore[attr-defined]
        summary = fleet_runtime.evaluate(self.client.app)  # type: ignore[arg-type]
        self.deliver()
        return summary

    def deliver(self) -> list[DeliveryState]:
        states: list[DeliveryState] = self.client.app.state.deliveries.run_due()  # type: ignore[attr-defined]
        return states

    def messages(self) -> dict[str, int]:
        """Messages received per channel so far."""
        return {
            "email": len(self.smtp.received()),
            "webhook": len(self.hooks.accepted()),
            "wecom": len(self.robots.received("qyapi.weixin.qq.com")),
            "dingtalk": len(self.robots.received("oapi.dingtalk.com")),
            "feishu": len(self.robots.received("open.feishu.cn")),
        }


@pytest.fixture
def receivers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SmtpReceiver, WebhookReceiver, RobotApi]]:
    smtp = SmtpReceiver()
    hooks = WebhookReceiver(new_webhook_secret())
    robots = RobotApi(tmp_path)
    for key, value in robots.env.items():  # the robots' plugins reach their APIs through the proxy
        monkeypatch.setenv(key, value)
    yield smtp, hooks, robots
    smtp.close()
    hooks.close()
    robots.close()


@pytest.fixture
def fleet(tmp_path: Path, receivers: tuple[SmtpReceiver, WebhookReceiver, RobotApi]) -> Iterator[Fleet]:
    smtp, hooks, robots = receivers
    client = make_app_client(tmp_path / "data")
    hooks.state.now = client.clock.now  # signatures are checked against the test's clock
    with client:
        bootstrap_operator(client)
        env = Fleet(client, smtp, hooks, robots)
        env.channels["email"] = env.add_channel("email", smtp.config())
        env.channels["webhook"] = env.add_channel("webhook", {"url": hooks.url, "secret": hooks.state.secret})
        env.channels["wecom"] = env.add_channel(
            "wecom", {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=duty-room-key"}
        )
        env.channels["dingtalk"] = env.add_channel(
            "dingtalk",
            {"url": "https://oapi.dingtalk.com/robot/send?access_token=abc123", "secret": DING_SECRET},
        )
        env.channels["feishu"] = env.add_channel(
            "feishu", {"url": "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-4b5a"}
        )
        yield env
