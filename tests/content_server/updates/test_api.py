"""The update API in-process: publishing, the device routes, heartbeats, rollouts, pins, alerts, pages."""

from __future__ import annotations

import datetime as dt
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from content_server.core import leases
from content_server.portal.security import LANG_COOKIE
from content_server.updates import runtime
from content_server.updates.runtime import LEASE
from schedules.protocol.release import UpdateFailure, UpdatePhase, UpdateReport, running_platform
from tests.fixtures.server import AppClient, PairedDevice, pair_device
from tests.fixtures.updates import ServerUpdates, UpdateRepo
from tests.portal.conftest import csrf_of, portal_login


@pytest.fixture
def ops(app_client: AppClient, tmp_path: Path) -> ServerUpdates:
    ops = ServerUpdates(app_client, app_client.auth(app_client.operator), tmp_path)
    ops.set_up(app_client.clock.now())
    return ops


def _release(tmp_path: Path, version: str, payload: bytes = b"app") -> Path:
    """A release directory as build_release.py writes one (its wheels only need to be bytes here)."""
    builder = UpdateRepo.__new__(UpdateRepo)
    builder.scratch = tmp_path
    return builder.fake_release(
        version,
        {
            "shared-1.0-py3-none-any.whl": b"shared",
            f"community_signage-{version}-py3-none-any.whl": payload + version.encode(),
        },
    )


def _heartbeat(client: AppClient, device: PairedDevice, report: UpdateReport | None) -> dict[str, Any]:
    body: dict[str, Any] = {"sent_at": client.clock.now().isoformat(), "player_version": "x"}
    if report is not None:
        body["update"] = report.model_dump(mode="json")
    r = client.post("/api/v1/device/heartbeat", json=body, headers=device.headers)
    assert r.status_code == 200, r.text
    reply: dict[str, Any] = r.json()
    return reply


def _portal(client: AppClient, lang: str) -> Any:
    """The updates page, logged in as the operator, in ``lang``."""
    portal_login(client, client.operator)
    client.cookies.set(LANG_COOKIE, lang)
    page = client.get("/portal/updates")
    assert page.status_code == 200, page.text
    return page


def _tick(client: AppClient) -> None:
    runtime.tick(client.app)  # type: ignore[arg-type]


def test_a_release_is_published_verified_and_counted(
    app_client: AppClient, ops: ServerUpdates, tmp_path: Path
) -> None:
    rows = ops.publish(_release(tmp_path, "1.0.0"))
    assert [(r["version"], r["platform"], r["wheels"]) for r in rows] == [("1.0.0", running_platform(), 2)]
    ops.publish(_release(tmp_path, "1.1.0"))
    r = app_client.get("/api/v1/updates/releases", headers=ops.headers)
    assert [x["version"] for x in r.json()] == ["1.1.0", "1.0.0"]
    status = app_client.get("/api/v1/updates/repository", headers=ops.headers).json()
    assert status["roles"]["targets"]["version"] == 2 and status["warnings"] == []


def test_uploads_that_do_not_verify_change_nothing(
    app_client: AppClient, ops: ServerUpdates, tmp_path: Path
) -> None:
    release = _release(tmp_path, "1.0.0")
    good = ops.upload_for(release)
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(good) as src, tarfile.open(tampered, "w") as out:
        for m in src.getmembers():
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name.startswith("wheels/community"):
                data = b"EVIL" + data[4:]  # same length, other bytes
            out.addfile(m, io.BytesIO(data))
    rogue = ServerUpdates(app_client, ops.headers, tmp_path / "rogue")
    (tmp_path / "rogue").mkdir()
    by_other_key = rogue.upload_for(release)  # a targets key the root does not list
    cases = ((tampered, "does not match its signed hash"), (by_other_key, "not signed by the targets key"))
    for archive, why in cases:
        r = ops.upload(archive)
        assert r.status_code == 422 and why in r.json()["detail"], r.text
    for body in (b"not a tar", b""):
        r = app_client.post(
            "/api/v1/updates/releases",
            content=body,
            headers={**ops.headers, "Content-Type": "application/x-tar"},
        )
        assert r.status_code == 422 and "not a readable tar" in r.json()["detail"], r.text
    assert app_client.get("/api/v1/updates/releases", headers=ops.headers).json() == []
    advertiser = app_client.auth(app_client.create_user("shop", "advertiser"))
    r = app_client.post("/api/v1/updates/releases", content=good.read_bytes(), headers=advertiser)
    assert r.status_code == 403
    assert ops.upload(good).status_code == 201
    r = ops.upload(good)  # replayed: targets version 1 again
    assert r.status_code == 422 and "expected 2" in r.json()["detail"]


def test_devices_get_the_repository_and_a_404_for_what_is_not_there(
    app_client: AppClient, ops: ServerUpdates, tmp_path: Path
) -> None:
    ops.publish(_release(tmp_path, "1.0.0"))
    device = pair_device(app_client)
    r = app_client.get("/api/v1/updates/metadata/1.root.json", headers=device.headers)
    assert r.status_code == 200 and r.json()["signed"]["_type"] == "root"
    assert (
        app_client.get("/api/v1/updates/metadata/timestamp.json", headers=device.headers).status_code == 200
    )
    for name in ("2.root.json", "root.json", "..%2Fkeys%2Fsnapshot.pem", "x" * 64):
        r = app_client.get(f"/api/v1/updates/metadata/{name}", headers=device.headers)
        assert r.status_code == 404, (name, r.status_code)  # never 401/500/catch-all 200: the client stops
    stored = next((app_client.data_dir / "updates" / "targets" / "wheels").iterdir()).name
    r = app_client.get(f"/api/v1/updates/targets/wheels/{stored}", headers=device.headers)
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    for name in ("wheels/shared-1.0-py3-none-any.whl", "../keys/snapshot.pem", "wheels/%2e%2e/x"):
        assert app_client.get(f"/api/v1/updates/targets/{name}", headers=device.headers).status_code == 404
    assert app_client.get("/api/v1/updates/metadata/1.root.json").status_code == 401
    assert app_client.get("/api/v1/updates/metadata/1.root.json", headers=ops.headers).status_code == 401


def test_canary_first_then_waves_behind_health_gates(
    app_client: AppClient, ops: ServerUpdates, tmp_path: Path
) -> None:
    ops.publish(_release(tmp_path, "1.0.0"))
    ops.publish(_release(tmp_path, "1.1.0"))
    canary = pair_device(app_client, groups=["canary", "lobby"])
    others = [pair_device(app_client, groups=["lobby"]) for _ in range(3)]
    on_1 = UpdateReport(running_version="1.0.0")
    assert _heartbeat(app_client, canary, on_1)["update"] is None  # no rollout yet
    rollout = ops.start_rollout(
        "1.1.0", [{"name": "canary", "groups": ["canary"]}, {"name": "all", "percent": 100}]
    )
    assert rollout["state"] == "running" and [w["size"] for w in rollout["waves"]] == [1, 3]
    assert _heartbeat(app_client, canary, on_1)["update"] == {"version": "1.1.0", "retry": False}
    assert all(_heartbeat(app_client, d, on_1)["update"] is None for d in others)  # wave 2 waits
    on_probation = UpdateReport(
        running_version="1.1.0", phase=UpdatePhase.PROBATION, previous_version="1.0.0"
    )
    assert _heartbeat(app_client, canary, on_probation)["update"] is None  # it is on its way: nothing to say
    _tick(app_client)
    assert all(_heartbeat(app_client, d, on_1)["update"] is None for d in others)  # gate not passed yet
    _heartbeat(app_client, canary, on_probation.model_copy(update={"phase": UpdatePhase.HEALTHY}))
    _tick(app_client)
    assert all(
        _heartbeat(app_client, d, on_1)["update"] == {"version": "1.1.0", "retry": False} for d in others
    )
    for d in others:
        _heartbeat(app_client, d, UpdateReport(running_version="1.1.0", phase=UpdatePhase.HEALTHY))
    _tick(app_client)
    (listed,) = app_client.get("/api/v1/updates/rollouts", headers=ops.headers).json()
    assert listed["state"] == "completed" and [w["counts"] for w in listed["waves"]] == [
        {"healthy": 1},
        {"healthy": 3},
    ]
    releases = {
        r["version"]: r for r in app_client.get("/api/v1/updates/releases", headers=ops.headers).json()
    }
    assert releases["1.1.0"]["running"] == 4 and releases["1.0.0"]["running"] == 0


def test_failures_in_a_wave_pause_the_rollout_and_alert(
    app_client: AppClient, ops: ServerUpdates, tmp_path: Path
) -> None:
    ops.publish(_release(tmp_path, "1.0.0"))
    canary = pair_device(app_client, groups=["canary"])
    rest = pair_device(app_client, groups=["lobby"])
    ops.start_rollout(
        "1.0.0",
        [{"name": "canary", "groups": ["canary"]}, {"name": "all", "percent": 100}],
        max_failure_share=0.0,
    )
    failure = UpdateFailure(
        version="1.0.0",
        reason="crash_loop: exited 3 times within 60 s",
        at=app_client.clock.now(),
        log_tail=("Traceback", "SystemExit: 3"),
    )
    _heartbeat(
        app_client,
        canary,
        UpdateReport(running_version="0.9.0", phase=UpdatePhase.ROLLED_BACK, failure=failure),
    )
    state = app_client.app.state  # type: ignore[attr-defined]
    with state.sessions() as s:  # another process's job ran first and holds the job's lease
        assert leases.try_hold(
            s, LEASE, "another-server:1:x", now=app_client.clock.now(), ttl=dt.timedelta(minutes=2)
        )
        s.commit()
    _tick(app_client)  # so this one does nothing
    (listed,) = app_client.get("/api/v1/updates/rollouts", headers=ops.headers).json()
    assert listed["state"] == "running"
    app_client.clock.advance(180)  # the other process is gone: its lease runs out
    _tick(app_client)
    _tick(app_client)  # the next run finds it paused already: one alert, not two
    (listed,) = app_client.get("/api/v1/updates/rollouts", headers=ops.headers).json()
    assert listed["state"] == "paused" and "1 of 1 devices failed" in listed["reason"]
    (alert,) = app_client.get("/api/v1/updates/alerts", headers=ops.headers).json()
    assert alert["devices"] == [canary.device_id]
    assert _heartbeat(app_client, rest, UpdateReport(running_version="0.9.0"))["update"] is None
    releases = {
        r["version"]: r for r in app_client.get("/api/v1/updates/releases", headers=ops.headers).json()
    }
    assert releases["1.0.0"]["rolled_back"] == 1
    page = _portal(app_client, "en")
    assert "A rollout paused itself" in page.text and canary.device_id in page.text
    r = app_client.post(f"/api/v1/updates/alerts/{alert['id']}/acknowledge", headers=ops.headers)
    assert r.status_code == 204 and app_client.get("/api/v1/updates/alerts", headers=ops.headers).json() == []
    r = app_client.post(f"/api/v1/updates/rollouts/{listed['id']}/resume", headers=ops.headers)
    assert r.status_code == 200 and r.json()["state"] == "running"
    _tick(app_client)
    assert _heartbeat(app_client, rest, UpdateReport(running_version="0.9.0"))["update"] == {
        "version": "1.0.0",
        "retry": False,
    }
    r = app_client.post(f"/api/v1/updates/rollouts/{listed['id']}/abort", headers=ops.headers)
    assert r.json()["state"] == "aborted"
    assert _heartbeat(app_client, rest, UpdateReport(running_version="0.9.0"))["update"] is None
    r = app_client.post(f"/api/v1/updates/rollouts/{listed['id']}/resume", headers=ops.headers)
    assert r.status_code == 409


def test_pins_and_downgrades_need_an_explicit_decision(
    app_client: AppClient, ops: ServerUpdates, tmp_path: Path
) -> None:
    ops.publish(_release(tmp_path, "1.0.0"))
    ops.publish(_release(tmp_path, "1.1.0"))
    device = pair_device(app_client, groups=["lobby"])
    _heartbeat(app_client, device, UpdateReport(running_version="1.1.0"))
    r = app_client.post(
        "/api/v1/updates/rollouts",
        json={"version": "1.0.0", "waves": [{"name": "all", "percent": 100}]},
        headers=ops.headers,
    )
    assert r.status_code == 409 and "allow downgrade" in r.json()["detail"]
    r = app_client.put("/api/v1/updates/pins/lobby", json={"version": "1.0.0"}, headers=ops.headers)
    assert r.status_code == 409
    r = app_client.put(
        "/api/v1/updates/pins/lobby", json={"version": "1.0.0", "allow_downgrade": True}, headers=ops.headers
    )
    assert r.status_code == 200
    assert (
        _heartbeat(app_client, device, UpdateReport(running_version="1.1.0"))["update"]["version"] == "1.0.0"
    )
    assert app_client.delete("/api/v1/updates/pins/lobby", headers=ops.headers).status_code == 204
    assert _heartbeat(app_client, device, UpdateReport(running_version="1.1.0"))["update"] is None
    for body in (
        {"version": "9.9.9", "waves": [{"name": "a", "percent": 10}]},
        {"version": "1.1.0", "waves": [{"name": "a"}]},
        {"version": "1.1.0", "waves": [{"name": "a", "percent": 10, "groups": ["x"]}]},
        {"version": "1.1.0", "waves": []},
    ):
        r = app_client.post("/api/v1/updates/rollouts", json=body, headers=ops.headers)
        assert r.status_code in (404, 422), (body, r.text)
    assert app_client.post("/api/v1/updates/rollouts/nope/pause", headers=ops.headers).status_code == 404


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_portal_page_in_both_languages(
    app_client: AppClient, ops: ServerUpdates, tmp_path: Path, lang: str
) -> None:
    ops.publish(_release(tmp_path, "1.0.0"))
    pair_device(app_client, groups=["canary"])
    page = _portal(app_client, lang)
    words = {
        "zh": ("软件更新", "开始推送", "固定版本的屏幕组"),
        "en": ("Software updates", "Start a rollout", "pinned"),
    }
    assert all(w in page.text for w in words[lang]), page.text
    assert 'data-version="1.0.0"' in page.text
    csrf = csrf_of(page.text)
    r = app_client.post(
        "/portal/updates/rollouts",
        data={
            "version": "1.0.0",
            "canary": "canary",
            "waves": "10, 100",
            "max_failure": "20",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = app_client.get("/portal/updates")
    assert 'data-rollout="' in page.text and ("进行中" if lang == "zh" else "running") in page.text
    r = app_client.post(
        "/portal/updates/rollouts", data={"version": "1.0.0", "waves": "ten", "csrf_token": csrf}
    )
    assert r.status_code == 422
    r = app_client.post("/portal/updates/pins", data={"group": "canary", "version": "1.0.0"})
    assert r.status_code == 403  # no CSRF token: refused, nothing pinned
    assert app_client.get("/api/v1/updates/pins", headers=ops.headers).json() == []


def test_the_job_keeps_the_timestamp_fresh(app_client: AppClient, ops: ServerUpdates, tmp_path: Path) -> None:
    ops.publish(_release(tmp_path, "1.0.0"))
    repo = app_client.app.state.update_repository  # type: ignore[attr-defined]
    before = repo.timestamp().version
    app_client.clock.advance(dt.timedelta(hours=13).total_seconds())
    _tick(app_client)
    assert repo.timestamp().version == before + 1
