"""The evaluator remembers screens' settings between passes, and never acts on stale ones.

Reading and decoding every screen's settings every 5 s cost about a second per pass at 10,000
screens; the directory reads them once, then again only after a change. These tests edit,
add and revoke screens between passes and check what the duty team is told.
"""

from __future__ import annotations

from sqlalchemy import update

from content_server.fleet.services.directory import DeviceDirectory
from content_server.signage.models import Device
from tests.content_server.fleet.conftest import Fleet
from tests.content_server.fleet.test_alerts import run_until


def directory(fleet: Fleet) -> DeviceDirectory:
    found: DeviceDirectory = fleet.client.app.state.fleet_directory  # type: ignore[attr-defined]
    return found


def test_settings_are_read_once_and_an_edit_moves_the_screen_to_its_new_building(fleet: Fleet) -> None:
    screen = fleet.screen("Gate", building="1")
    fleet.beat(screen)
    fleet.step()
    reads = directory(fleet).reads
    run_until(fleet, 50, beating=("Gate",))
    assert directory(fleet).reads == reads  # 10 passes, no edit: not read again

    r = fleet.client.patch(
        f"/api/v1/screens/{screen.device_id}",
        headers=fleet.op,
        json={"tags": ["building:7"], "name": "Gate 7"},
    )
    assert r.status_code == 200, r.text
    fleet.advance(seconds=5)
    fleet.step()
    assert directory(fleet).reads == reads + 1  # at once, not at the directory's age
    run_until(fleet, 12 * 60)  # it goes silent after the move
    event = fleet.hooks.accepted()[0].json()
    assert event["incident"]["group"] == "building:7"
    assert [m["name"] for m in event["members"]] == ["Gate 7"]


def test_changes_to_anything_but_devices_do_not_read_the_settings_again(fleet: Fleet) -> None:
    """A busy district moves the change counter several times a second (bookings, notices,
    campaign edits); none of that is a device's settings, so none of it costs a full read."""
    screen = fleet.screen("Lobby", building="3")
    fleet.beat(screen)
    fleet.step()
    reads = directory(fleet).reads
    for n in range(3):
        notice = {"title": f"停水 {n}", "text": {"zh": "明天停水", "en": "No water tomorrow"}}
        r = fleet.client.post("/api/v1/announcements", json=notice, headers=fleet.op)
        assert r.status_code == 201, r.text
        fleet.advance(seconds=5)
        fleet.step()
    assert directory(fleet).reads == reads
    r = fleet.client.patch(f"/api/v1/screens/{screen.device_id}", headers=fleet.op, json={"name": "Lobby A"})
    assert r.status_code == 200, r.text
    fleet.advance(seconds=5)
    fleet.step()
    assert directory(fleet).reads == reads + 1


def test_a_screen_added_or_revoked_between_passes_is_seen_at_the_next_one(fleet: Fleet) -> None:
    fleet.beat(fleet.screen("Old", building="2"))
    fleet.step()
    reads = directory(fleet).reads
    late = fleet.screen("New", building="2")  # pairing changes no manifest input: no counter moved
    fleet.beat(late)
    gone = fleet.screen("Gone", building="2")
    fleet.beat(gone)
    r = fleet.client.post(f"/api/v1/screens/{gone.device_id}/revoke", headers=fleet.op)
    assert r.status_code == 200, r.text
    fleet.advance(seconds=5)
    fleet.step()
    assert directory(fleet).reads == reads + 1  # at once, not at the directory's age
    run_until(fleet, 12 * 60)
    event = fleet.hooks.accepted()[0].json()
    assert sorted(m["name"] for m in event["members"]) == ["New", "Old"]  # the revoked one is not named


def test_a_rename_made_by_hand_in_sql_is_seen_within_the_directory_s_age(fleet: Fleet) -> None:
    screen = fleet.screen("Before", building="4")
    fleet.beat(screen)
    fleet.step()
    engine = fleet.client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:  # past the change tracker: no counter moves
        conn.execute(update(Device).where(Device.id == screen.device_id).values(name="After"))
    run_until(fleet, 12 * 60)
    event = fleet.hooks.accepted()[0].json()
    assert [m["name"] for m in event["members"]] == ["After"]
