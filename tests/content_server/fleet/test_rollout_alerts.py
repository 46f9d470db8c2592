"""A software rollout that pauses itself reaches the duty team through the alert channels (issue 18).

The fleet's default rule of kind ``rollout`` watches the rollouts that paused themselves: the
updates feature's job pauses one whose wave failed, the next evaluation pass sends one message
per channel (the real SMTP receiver and the signed webhook on loopback), later passes send
nothing more, and resuming the rollout (or acknowledging its alert) sends the recovery. The
portal's alert and rule pages name the kind in both languages. Servers older than the kind get
its default rule from the fleet's migration f0002.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import func, select

from content_server.core.db import make_engine
from content_server.core.migrate import alembic_config, upgrade
from content_server.fleet.models import AlertRule
from content_server.fleet.rule_kinds import DEFAULT_RULES
from content_server.portal.security import LANG_COOKIE
from content_server.updates import runtime as updates_runtime
from schedules.protocol.release import UpdateFailure, UpdatePhase, UpdateReport
from tests.content_server.fleet.conftest import Fleet
from tests.fixtures.server import PairedDevice
from tests.fixtures.updates import ServerUpdates, UpdateRepo
from tests.portal.conftest import RAW_KEY, portal_login

ALL = ("email", "webhook", "wecom", "dingtalk", "feishu")


def _release(scratch: Path, version: str) -> Path:
    """A release directory as build_release.py writes one (TUF and the rollout need only its bytes)."""
    builder = UpdateRepo.__new__(UpdateRepo)
    builder.scratch = scratch
    return builder.fake_release(version, {f"community_signage-{version}-py3-none-any.whl": version.encode()})


def _report(fleet: Fleet, device: PairedDevice, report: UpdateReport) -> dict[str, Any]:
    return fleet.beat(device, update=report.model_dump(mode="json"))


def _failed(fleet: Fleet, version: str) -> UpdateReport:
    failure = UpdateFailure(
        version=version,
        reason="crash_loop: exited 3 times within 60 s",
        at=fleet.now(),
        log_tail=("deliberately broken build: exiting at start",),
    )
    return UpdateReport(running_version="1.0.0", phase=UpdatePhase.ROLLED_BACK, failure=failure)


def _state(fleet: Fleet, rollout_id: str) -> str:
    listed = fleet.client.get("/api/v1/updates/rollouts", headers=fleet.op).json()
    state: str = next(r["state"] for r in listed if r["id"] == rollout_id)
    return state


def _passes(fleet: Fleet, n: int) -> None:
    """``n`` rounds of the server's jobs, 5 s apart: the updates job, then an alert pass."""
    for _ in range(n):
        fleet.advance(seconds=5)
        updates_runtime.tick(fleet.client.app)  # type: ignore[arg-type]
        fleet.step()


def test_a_rollout_that_pauses_itself_is_one_message_and_resuming_it_the_recovery(
    fleet: Fleet, tmp_path: Path
) -> None:
    ops = ServerUpdates(fleet.client, fleet.op, tmp_path)
    ops.set_up(fleet.now())
    ops.publish(_release(tmp_path, "2.0.0"))
    canary = fleet.screen("东门大屏", groups=("canary",))
    lobby = fleet.screen("大堂自助终端", kind="kiosk", groups=("lobby",))
    on_1 = UpdateReport(running_version="1.0.0", phase=UpdatePhase.HEALTHY)
    for device in (canary, lobby):
        _report(fleet, device, on_1)
    rollout = ops.start_rollout(
        "2.0.0",
        [{"name": "canary", "groups": ["canary"]}, {"name": "all", "percent": 100}],
        max_failure_share=0.0,
    )
    assert _report(fleet, canary, on_1)["update"] == {"version": "2.0.0", "retry": False}
    _passes(fleet, 3)
    assert fleet.messages() == dict.fromkeys(ALL, 0)  # under way: nothing to say

    # the canary's 2.0.0 fails its health gate and it goes back by itself: the rollout pauses
    _report(fleet, canary, _failed(fleet, "2.0.0"))
    _passes(fleet, 1)
    assert _state(fleet, rollout["id"]) == "paused"
    assert fleet.messages() == dict.fromkeys(ALL, 1)
    mail = fleet.smtp.received()[0]
    assert "更新自动暂停" in mail.subject and "Rollout paused itself" in mail.subject
    assert "软件更新 2.0.0" in mail.text and "Software update 2.0.0" in mail.text
    assert "1 台设备更新后未通过健康检查，已退回原版本（东门大屏）" in mail.text and "东门大屏" in mail.text
    assert "1 device(s) failed the health check after updating" in mail.text
    assert "软件更新自动暂停" in mail.text and "software rollout paused itself" in mail.text  # the kind
    event = fleet.hooks.accepted()[0].json()
    assert event["type"] == "fleet.alert.firing" and event["rule"]["kind"] == "rollout"
    assert [m["id"] for m in event["members"]] == [rollout["id"]]
    incident = event["incident"]["id"]
    assert _report(fleet, lobby, on_1)["update"] is None  # the paused rollout reaches nobody else

    # it stays paused: later passes say nothing more
    _passes(fleet, 12)
    assert fleet.messages() == dict.fromkeys(ALL, 1)
    _alert_page_names_the_kind(fleet, incident)

    # the operator resumes it (accepting the canary's failure): the recovery, once
    r = fleet.client.post(f"/api/v1/updates/rollouts/{rollout['id']}/resume", headers=fleet.op)
    assert r.status_code == 200, r.text
    _passes(fleet, 1)
    assert fleet.messages() == dict.fromkeys(ALL, 2)
    recovery = fleet.smtp.received()[1]
    assert "【已恢复】" in recovery.subject and "[Resolved]" in recovery.subject
    assert fleet.hooks.accepted()[1].json()["type"] == "fleet.alert.recovery"
    _passes(fleet, 6)
    assert fleet.messages() == dict.fromkeys(ALL, 2)

    # the next wave fails too: paused again, a new alert; acknowledging it on the updates page ends it
    assert _report(fleet, lobby, on_1)["update"] == {"version": "2.0.0", "retry": False}
    _report(fleet, lobby, _failed(fleet, "2.0.0"))
    _passes(fleet, 1)
    assert fleet.messages() == dict.fromkeys(ALL, 3)
    assert "大堂自助终端" in fleet.smtp.received()[2].text
    alerts = fleet.client.get("/api/v1/updates/alerts", headers=fleet.op).json()
    latest = max(alerts, key=lambda a: a["id"])
    r = fleet.client.post(f"/api/v1/updates/alerts/{latest['id']}/acknowledge", headers=fleet.op)
    assert r.status_code == 204
    _passes(fleet, 1)
    assert fleet.messages() == dict.fromkeys(ALL, 4)
    assert "【已恢复】" in fleet.smtp.received()[3].subject
    assert _state(fleet, rollout["id"]) == "paused"  # acknowledged, not resumed: it waits for the operator
    _passes(fleet, 6)
    assert fleet.messages() == dict.fromkeys(ALL, 4)


def _alert_page_names_the_kind(fleet: Fleet, incident: str) -> None:
    """The alert page and the rules page in both languages: the kind's label, no raw key."""
    portal_login(fleet.client, fleet.client.operator)
    labels = {"zh": ("软件更新自动暂停", "软件更新 2.0.0"), "en": ("software rollout paused itself", "2.0.0")}
    for lang, (kind, member) in labels.items():
        fleet.client.cookies.set(LANG_COOKIE, lang)
        for path in (f"/portal/fleet/alerts/{incident}", "/portal/fleet/rules"):
            page = fleet.client.get(path)
            assert page.status_code == 200, page.text
            text = re.sub(r"<[^>]+>", " ", page.text)
            assert kind in text, (lang, path)
            assert RAW_KEY.findall(text) == [], (lang, path, RAW_KEY.findall(text))
        page = fleet.client.get(f"/portal/fleet/alerts/{incident}")
        assert member in page.text and 'href="/portal/updates"' in page.text
    fleet.client.cookies.set(LANG_COOKIE, "zh")


def test_servers_made_before_the_rollout_rule_get_it_once(tmp_path: Path) -> None:
    """f0002 seeds the default rollout rule where f0001 did not (a server older than the kind); a new
    server, which f0001 seeds with every default rule, keeps just the one."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)

    def rollout_rules() -> list[tuple[str, bool]]:
        with engine.connect() as conn:
            rows = conn.execute(select(AlertRule.name, AlertRule.builtin).where(AlertRule.kind == "rollout"))
            return [tuple(r) for r in rows]

    assert rollout_rules() == [("更新自动暂停 · Rollout paused itself", True)]
    command.downgrade(alembic_config(url), "f0001")  # as a server was before this kind
    assert rollout_rules() == []
    command.upgrade(alembic_config(url), "heads")
    assert rollout_rules() == [("更新自动暂停 · Rollout paused itself", True)]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AlertRule)) == len(DEFAULT_RULES)
    engine.dispose()
