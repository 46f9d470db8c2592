"""Remote commands on the server: who may send, which screens a selector names, the devices'
long-poll and acknowledgements, expiry, and the append-only record of every send."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from content_server.fleet.commands.selector import CommandFacts, CommandState, Selector, state
from tests.fixtures.server import AppClient, PairedDevice, pair_device

API = "/api/v1"


def _fleet(c: AppClient) -> dict[str, PairedDevice]:
    """Building 3 has two lobby players and a lobby kiosk; building 4 a lobby player; one outdoor screen."""
    return {
        "b3_lobby_1": pair_device(c, "player", groups=["lobby"], tags=["building:3"], name="3号楼大堂1"),
        "b3_lobby_2": pair_device(c, "player", groups=["lobby"], tags=["building:3"], name="3号楼大堂2"),
        "b3_kiosk": pair_device(c, "kiosk", groups=["lobby"], tags=["building:3"], name="3号楼终端"),
        "b4_lobby": pair_device(c, "player", groups=["lobby"], tags=["building:4"], name="4号楼大堂"),
        "gate": pair_device(c, "player", screen_class="outdoor_large", groups=["gate"], name="南门大屏"),
    }


def _send(c: AppClient, headers: dict[str, str], **body: Any) -> Any:
    return c.post(f"{API}/commands", json=body, headers=headers)


def _poll(c: AppClient, device: PairedDevice, after: int = 0, wait: float = 0) -> list[dict[str, Any]]:
    r = c.get(f"{API}/device/commands", params={"after": after, "wait": wait}, headers=device.headers)
    assert r.status_code == 200, r.text
    commands: list[dict[str, Any]] = r.json()["commands"]
    return commands


def _ack(c: AppClient, device: PairedDevice, command_id: str, outcome: str = "done",
         detail: str = "") -> Any:
    body = {"outcome": outcome, "detail": detail, "finished_at": c.clock.now().isoformat()}
    return c.post(f"{API}/device/commands/{command_id}/ack", json=body, headers=device.headers)


def test_restart_every_lobby_player_in_building_3_reaches_exactly_those(app_client: AppClient) -> None:
    c = app_client
    fleet = _fleet(c)
    op = c.auth(c.operator)
    r = _send(c, op, kind="restart_app", selector={"groups": ["lobby"], "kinds": ["player"], "building": "3"})
    assert r.status_code == 201, r.text
    sent = r.json()
    reached = {d["device_id"] for d in sent["devices"]}
    assert reached == {fleet["b3_lobby_1"].device_id, fleet["b3_lobby_2"].device_id}
    assert sent["device_count"] == 2 and sent["counts"]["pending"] == 2
    assert sent["sent_by"] == "operator" and sent["sent_by_role"] == "operator" and sent["address"]
    for name in ("b3_kiosk", "b4_lobby", "gate"):
        assert _poll(c, fleet[name]) == []
    got = _poll(c, fleet["b3_lobby_1"])
    assert [(g["kind"], g["device_id"]) for g in got] == [("restart_app", fleet["b3_lobby_1"].device_id)]
    # a tag expression and classes work as in campaigns; one screen by id
    r = _send(c, op, kind="identify", selector={"tag_expr": "building:3 AND NOT building:4",
                                                 "screen_classes": ["kiosk"]})
    assert {d["device_id"] for d in r.json()["devices"]} == {fleet["b3_kiosk"].device_id}
    identify = _poll(c, fleet["b3_kiosk"])[-1]
    assert identify["kind"] == "identify" and identify["screen_name"] == "3号楼终端"
    r = _send(c, op, kind="set_volume", volume=30, selector={"screen_ids": [fleet["gate"].device_id]})
    assert [d["device_name"] for d in r.json()["devices"]] == ["南门大屏"]
    assert _poll(c, fleet["gate"])[0]["volume"] == 30


@pytest.mark.parametrize(("body", "problem"), [
    ({"kind": "reboot", "selector": {}}, "say which screens"),
    ({"kind": "reboot", "selector": {"groups": ["nowhere"]}}, "no screen matches"),
    ({"kind": "set_volume", "selector": {"all_screens": True}}, "volume"),
    ({"kind": "set_volume", "volume": 101, "selector": {"all_screens": True}}, "volume"),
    ({"kind": "screen_power", "selector": {"all_screens": True}}, "screen_on"),
    ({"kind": "identify", "volume": 3, "selector": {"all_screens": True}}, "volume"),
    ({"kind": "format_disk", "selector": {"all_screens": True}}, "kind"),
    ({"kind": "reboot", "selector": {"tag_expr": "building:3 AND ("}}, "tag_expr"),
    ({"kind": "reboot", "selector": {"building": "3; drop"}}, "building"),
    ({"kind": "reboot", "ttl_minutes": 0, "selector": {"all_screens": True}}, "ttl_minutes"),
])
def test_bad_commands_get_a_clear_422_and_nothing_is_sent(app_client: AppClient, body: dict[str, Any],
                                                          problem: str) -> None:
    c = app_client
    device = pair_device(c, "player", groups=["lobby"])
    r = _send(c, c.auth(c.operator), **body)
    assert r.status_code == 422 and problem in r.text, r.text
    assert _poll(c, device) == [] and c.get(f"{API}/commands", headers=c.auth(c.operator)).json() == []


def test_only_operators_send_or_see_commands(app_client: AppClient) -> None:
    c = app_client
    device = pair_device(c, "player", groups=["lobby"])
    body = {"kind": "reboot", "selector": {"all_screens": True}}
    for role in ("advertiser", "clerk", "provider"):
        headers = c.auth(c.create_user(f"someone-{role}", role))
        assert _send(c, headers, **body).status_code == 403
        assert c.get(f"{API}/commands", headers=headers).status_code == 403
    assert _send(c, {}, **body).status_code == 401
    assert _send(c, device.headers, **body).status_code == 401  # a device key is no operator
    assert _poll(c, device) == []
    r = c.get(f"{API}/device/commands", headers={"Authorization": "Bearer not-a-device"})
    assert r.status_code == 401


def test_acknowledged_once_by_its_own_device_then_never_delivered_again(app_client: AppClient) -> None:
    c = app_client
    a = pair_device(c, "player", groups=["lobby"])
    b = pair_device(c, "kiosk", groups=["lobby"])
    op = c.auth(c.operator)
    sent = _send(c, op, kind="sync_now", selector={"groups": ["lobby"]}).json()
    [cmd] = _poll(c, a)
    assert _poll(c, a, after=cmd["seq"]) == []  # the device's cursor: nothing newer
    assert _ack(c, b, cmd["id"]).status_code == 404  # b cannot answer for a's command
    assert _ack(c, a, "f" * 32).status_code == 404
    c.clock.advance(3)
    assert _ack(c, a, cmd["id"], detail="synced manifest abc").status_code == 204
    assert _ack(c, a, cmd["id"], "failed", "a repeat").status_code == 204  # harmless: the first stands
    assert _poll(c, a) == []  # acknowledged commands are not delivered again
    detail = c.get(f"{API}/commands/{sent['id']}", headers=op).json()
    rows = {d["device_id"]: d for d in detail["devices"]}
    assert rows[a.device_id]["state"] == "done" and rows[a.device_id]["detail"] == "synced manifest abc"
    assert rows[a.device_id]["delivered_at"] is not None and rows[a.device_id]["acked_at"] is not None
    assert rows[b.device_id]["state"] == "pending" and rows[b.device_id]["delivered_at"] is None
    assert detail["counts"] == {"pending": 1, "done": 1, "failed": 0, "expired": 0}
    bad = c.post(f"{API}/device/commands/{cmd['id']}/ack", json={"outcome": "maybe"}, headers=a.headers)
    assert bad.status_code == 422


def test_a_disconnected_device_gets_its_command_until_it_expires(app_client: AppClient) -> None:
    c = app_client
    device = pair_device(c, "player", groups=["lobby"])
    op = c.auth(c.operator)
    short = _send(c, op, kind="reboot", ttl_minutes=5, selector={"groups": ["lobby"]}).json()
    long = _send(c, op, kind="clear_cache", ttl_minutes=120, selector={"groups": ["lobby"]}).json()
    c.clock.advance(4 * 60)  # offline for four minutes: both still wait
    assert [x["kind"] for x in _poll(c, device)] == ["reboot", "clear_cache"]
    c.clock.advance(2 * 60)  # the reboot expired meanwhile (never acknowledged)
    assert [x["kind"] for x in _poll(c, device)] == ["clear_cache"]
    states = {s["id"]: s["counts"] for s in c.get(f"{API}/commands", headers=op).json()}
    assert states[short["id"]]["expired"] == 1 and states[long["id"]]["pending"] == 1


def test_state_rule() -> None:
    t = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    later = t + dt.timedelta(minutes=5)
    assert state(CommandFacts(later, None, None), t) is CommandState.PENDING
    assert state(CommandFacts(later, None, None), later) is CommandState.EXPIRED
    assert state(CommandFacts(t, t, "done"), later) is CommandState.DONE  # acknowledged late: it was done
    assert state(CommandFacts(later, t, "failed"), t) is CommandState.FAILED
    assert Selector(groups=("lobby",), building="3").targeting().tag_expr == "building:3"
    assert Selector(tag_expr="a OR b", building="3").targeting().tag_expr == "building:3 AND (a OR b)"


def test_long_poll_answers_within_a_second_of_the_send(app_client: AppClient) -> None:
    c = app_client
    device = pair_device(c, "kiosk", groups=["lobby"])
    answers: list[tuple[float, list[dict[str, Any]]]] = []

    def wait() -> None:
        got = _poll(c, device, wait=20)
        answers.append((time.monotonic(), got))

    waiter = threading.Thread(target=wait)
    waiter.start()
    notifier = c.app.state.command_notifier  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while notifier.waiting == 0 and time.monotonic() < deadline:  # the poll is waiting now
        time.sleep(0.01)
    assert notifier.waiting == 1
    op = c.auth(c.operator)  # logging in (a password hash) is not part of the send
    sent_at = time.monotonic()
    _send(c, op, kind="identify", selector={"kinds": ["kiosk"]})
    waiter.join(10)
    [(answered, got)] = answers
    assert [g["kind"] for g in got] == ["identify"] and answered - sent_at < 1.0


def test_screenshot_command_also_asks_through_the_heartbeat(app_client: AppClient) -> None:
    c = app_client
    device = pair_device(c, "kiosk", groups=["lobby"])
    _send(c, c.auth(c.operator), kind="screenshot", selector={"screen_ids": [device.device_id]})
    beat = {"sent_at": c.clock.now().isoformat(), "player_version": "t"}
    r = c.post(f"{API}/device/heartbeat", json=beat, headers=device.headers)
    assert r.json()["screenshot_requested"] is True


def test_sends_are_append_only(any_db_client: AppClient) -> None:
    c = any_db_client
    pair_device(c, "player", groups=["lobby"])
    sent = _send(c, c.auth(c.operator), kind="reboot", selector={"groups": ["lobby"]}).json()
    with c.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        for sql in ("UPDATE command_sends SET sent_by_name = 'someone else'", "DELETE FROM command_sends"):
            with pytest.raises(Exception, match="append-only"):
                conn.execute(text(sql))
            conn.rollback()
        assert conn.execute(text("SELECT sent_by_name FROM command_sends WHERE id = :i"),
                            {"i": sent["id"]}).scalar_one() == "operator"


def test_every_send_and_every_answer_is_in_the_audit_trail(app_client: AppClient) -> None:
    """Who sent which command from where, and which device answered what: in the hash-chained trail."""
    c = app_client
    a = pair_device(c, "player", groups=["lobby"], name="大堂屏")
    op = c.auth(c.operator)
    sent = _send(c, op, kind="set_volume", volume=30, selector={"screen_ids": [a.device_id]}).json()
    [cmd] = _poll(c, a)
    assert _ack(c, a, cmd["id"], detail="volume 30%").status_code == 204
    trail = c.get(f"{API}/audit", headers=op, params={"limit": 1000}).json()
    [send] = [r for r in trail if r["entity"] == "command"]
    assert send["entity_id"] == sent["id"] and send["actor_kind"] == "user" and send["role"] == "operator"
    assert send["actor_name"] == c.operator.username and send["address"]
    assert send["after"]["kind"] == "set_volume" and send["after"]["params"] == {"volume": 30}
    answers = [r for r in trail if r["entity"] == "device_command" and r["actor_kind"] == "device"]
    assert [(r["actor_id"], r["after"]["outcome"], r["after"]["detail"]) for r in answers] == [
        (a.device_id, "done", "volume 30%")
    ]
    assert c.get(f"{API}/audit/verify", headers=op).json()["ok"] is True
