"""Targeted change tracking: a change rebuilds only the manifests it touches (issue 15).

Through the real app in-process (its fast path and routes, a movable clock) on SQLite and
PostgreSQL: the counters the benchmark reads (``manifest_builds``, ``manifest_entries``,
``manifest_304_memory``) say which screens were rebuilt and which were answered from memory.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from content_server.core import security
from content_server.core.changes import ChangeScope
from content_server.signage.models import AnnouncementRow, CampaignRow, Device, Media
from schedules.protocol.device import Manifest
from tests.fixtures.seeding import Picture, SignageSeed, add_signage
from tests.fixtures.server import AppClient, make_app_client

MANIFEST = "/api/v1/device/manifest"


def _png(color: tuple[int, int, int]) -> Picture:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(out, "PNG")
    return Picture(out.getvalue(), "image/png", 1920, 1080, "p.png")


@dataclass
class Screen:
    id: str
    key: str
    group: str
    etag: str | None = None


@dataclass
class Fleet:
    client: AppClient
    seed: SignageSeed
    screens: list[Screen]
    totals: Counter[str] = field(default_factory=Counter)

    @property
    def sessions(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = self.client.app.state.sessions  # type: ignore[attr-defined]
        return factory

    def counts(self) -> Counter[str]:
        """What the server counted since the last call."""
        return Counter(self.client.app.state.counters.take())  # type: ignore[attr-defined]

    def poll(self, screens: list[Screen] | None = None) -> dict[str, int]:
        """Each screen polls once with its ETag; the status each got."""
        out = {}
        for s in screens if screens is not None else self.screens:
            headers = {"Authorization": f"Bearer {s.key}"}
            if s.etag:
                headers["If-None-Match"] = s.etag
            r = self.client.get(MANIFEST, headers=headers)
            assert r.status_code in (200, 304), r.text
            if r.status_code == 200:
                assert r.headers["etag"] == f'"{r.json()["version"]}"'
                s.etag = r.headers["etag"]
            out[s.id] = r.status_code
        return out

    def of(self, group: str) -> list[Screen]:
        return [s for s in self.screens if s.group == group]


def add_screens(
    s: Session,
    *,
    prefix: str,
    count: int,
    group: str,
    now: dt.datetime,
    timezone: str = "Asia/Shanghai",
    screen_class: str = "indoor_small",
    tags: tuple[str, ...] = ("building:1",),
) -> list[Screen]:
    """``count`` screens of identical settings (equivalent: one shared manifest) in ``group``."""
    keys = [secrets.token_urlsafe(24) for _ in range(count)]
    rows = [
        {
            "id": f"{prefix}{i:03d}",
            "name": f"{prefix} {i}",
            "kind": "player",
            "key_sha256": security.sha256_hex(key),
            "public_key": "",
            "screen_class": screen_class,
            "orientation": "landscape",
            "width": 1920,
            "height": 1080,
            "groups": [group],
            "tags": list(tags),
            "timezone": timezone,
            "hours": {},
            "created_at": now,
            "player_version": "",
            "screenshot_requested": False,
        }
        for i, key in enumerate(keys)
    ]
    s.execute(insert(Device), rows)
    return [Screen(r["id"], k, group) for r, k in zip(rows, keys, strict=True)]


def _fleet(client: AppClient) -> Fleet:
    now = client.clock.now()
    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        seed = add_signage(
            s,
            client.app.state.store,  # type: ignore[attr-defined]
            prefix="seed-",
            filler=_png((10, 20, 30)),
            ad=_png((200, 100, 0)),
            groups=("A", "B", "C"),
            campaign_groups=("A",),
            now=now,
        )
        screens = add_screens(s, prefix="a", count=4, group="A", now=now)
        screens += add_screens(s, prefix="a-out", count=2, group="A", now=now, screen_class="outdoor_large")
        screens += add_screens(s, prefix="b", count=4, group="B", now=now, tags=("building:2",))
        screens += add_screens(s, prefix="c", count=3, group="C", now=now, timezone="UTC")
        s.commit()
    fleet = Fleet(client, seed, screens)
    assert set(fleet.poll().values()) == {200}
    fleet.counts()
    return fleet


@pytest.fixture
def fleet(app_client: AppClient) -> Fleet:
    return _fleet(app_client)


@pytest.fixture
def fleet_any_db(any_db_client: AppClient) -> Fleet:
    return _fleet(any_db_client)


def _statuses(fleet: Fleet, got: dict[str, int]) -> dict[str, set[int]]:
    return {g: {got[s.id] for s in fleet.of(g)} for g in ("A", "B", "C")}


def test_a_campaign_change_for_group_a_rebuilds_only_group_a(fleet_any_db: Fleet) -> None:
    fleet = fleet_any_db
    with fleet.sessions() as s:
        campaign = s.get(CampaignRow, fleet.seed.campaign_id)
        assert campaign is not None and campaign.targeting == {"groups": ["A"]}
        campaign.share_percent = 20
        s.commit()
    got = fleet.poll()
    assert _statuses(fleet, got) == {"A": {200}, "B": {304}, "C": {304}}
    n = fleet.counts()
    affected = len(fleet.of("A"))
    assert n["manifest_entries"] == affected
    assert n["manifest_builds"] == 2  # two classes in group A: one shared manifest each
    assert n["manifest_304_memory"] == len(fleet.screens) - affected


def test_moving_a_campaign_between_groups_touches_both(fleet: Fleet) -> None:
    with fleet.sessions() as s:
        campaign = s.get(CampaignRow, fleet.seed.campaign_id)
        assert campaign is not None
        campaign.targeting = {"groups": ["B"]}
        s.commit()
    got = fleet.poll()
    assert _statuses(fleet, got) == {"A": {200}, "B": {200}, "C": {304}}


def test_an_asset_replacement_rebuilds_only_the_screens_holding_it(fleet: Fleet) -> None:
    with fleet.sessions() as s:
        ad = s.get(Media, fleet.seed.ad_id)
        assert ad is not None
        ad.sha256 = fleet.client.app.state.store.put_bytes(_png((0, 255, 0)).body)  # type: ignore[attr-defined]
        s.commit()
    got = fleet.poll()
    assert _statuses(fleet, got) == {"A": {200}, "B": {304}, "C": {304}}
    assert fleet.counts()["manifest_entries"] == len(fleet.of("A"))


def test_a_filler_change_reaches_every_screen(fleet: Fleet) -> None:
    with fleet.sessions() as s:
        filler = s.get(Media, fleet.seed.filler_id)
        assert filler is not None
        filler.title = "New default slide"
        s.commit()
    got = fleet.poll()
    assert set(got.values()) == {200}


def test_a_screens_settings_change_rebuilds_only_it(fleet_any_db: Fleet) -> None:
    fleet = fleet_any_db
    target = fleet.of("B")[0]
    with fleet.sessions() as s:
        device = s.get(Device, target.id)
        assert device is not None
        device.name = "Lobby, renamed"
        s.commit()
    got = fleet.poll()
    assert {sid for sid, status in got.items() if status == 200} == {target.id}
    n = fleet.counts()
    assert n["manifest_entries"] == 1
    assert n["manifest_builds"] == 0  # the name is the screen's own part: the shared one still holds
    assert n["manifest_304_memory"] == len(fleet.screens) - 1


def test_equivalent_screens_share_one_build_and_the_body_is_the_manifest(fleet: Fleet) -> None:
    with fleet.sessions() as s:
        more = add_screens(s, prefix="d", count=20, group="D", now=fleet.client.clock.now())
        s.commit()
    fleet.screens += more
    fleet.counts()
    bodies = []
    for screen in more:
        r = fleet.client.get(MANIFEST, headers={"Authorization": f"Bearer {screen.key}"})
        assert r.status_code == 200
        bodies.append(r.content)
    n = fleet.counts()
    assert n["manifest_builds"] == 1 and n["manifest_entries"] == 20
    manifests = [Manifest.model_validate_json(b) for b in bodies]
    assert len({m.version for m in manifests}) == 20  # each screen its own version (its id is in it)
    assert {m.catalogue.model_dump_json() for m in manifests} == {manifests[0].catalogue.model_dump_json()}
    for body, m in zip(bodies, manifests, strict=True):
        assert body == m.model_dump_json().encode()  # the shared tail joins the head exactly


def test_the_day_ends_at_each_screens_own_midnight(fleet_any_db: Fleet) -> None:
    fleet = fleet_any_db
    clock = fleet.client.clock
    start = clock.now()  # 02:00 UTC = 10:00 in Shanghai
    clock.set(dt.datetime(2026, 11, 25, 15, 59, 59, tzinfo=dt.UTC))
    assert set(fleet.poll().values()) == {304}
    fleet.counts()
    clock.set(dt.datetime(2026, 11, 25, 16, 0, 1, tzinfo=dt.UTC))  # midnight in Shanghai
    got = fleet.poll()
    assert _statuses(fleet, got) == {"A": {200}, "B": {200}, "C": {304}}  # C's screens run on UTC
    n = fleet.counts()
    assert n["manifest_builds"] == 3  # A indoor, A outdoor, B: once each
    assert n["manifest_304_memory"] == len(fleet.of("C"))
    valid = {s.id: _valid_until(fleet, s) for s in fleet.screens}
    assert valid[fleet.of("A")[0].id] == dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC)
    clock.set(dt.datetime(2026, 11, 26, 0, 0, 1, tzinfo=dt.UTC))  # midnight in UTC
    got = fleet.poll()
    assert _statuses(fleet, got) == {"A": {304}, "B": {304}, "C": {200}}
    assert start < clock.now()


def _valid_until(fleet: Fleet, screen: Screen) -> dt.datetime:
    r = fleet.client.get(MANIFEST, headers={"Authorization": f"Bearer {screen.key}"})
    return dt.datetime.fromisoformat(r.json()["valid_until"])


def test_no_304_after_an_announcement_ends(fleet: Fleet) -> None:
    now = fleet.client.clock.now()
    with fleet.sessions() as s:
        s.add(
            AnnouncementRow(
                title="Lift closed",
                text={"zh": "电梯停用", "en": "Lift closed"},
                media_ids=[],
                valid_from=now,
                valid_until=now + dt.timedelta(hours=1),
                targeting={"groups": ["B"]},
                created_by=fleet.seed.operator_id,
                created_at=now,
                updated_at=now,
            )
        )
        s.commit()
    assert _statuses(fleet, fleet.poll()) == {"A": {304}, "B": {200}, "C": {304}}
    fleet.client.clock.advance(3599)
    assert set(fleet.poll().values()) == {304}
    fleet.client.clock.advance(2)
    assert _statuses(fleet, fleet.poll()) == {"A": {304}, "B": {200}, "C": {304}}


def test_bulk_statements_stay_conservative(fleet: Fleet) -> None:
    with fleet.sessions() as s:
        stmt = update(CampaignRow).where(CampaignRow.id == fleet.seed.campaign_id)
        s.execute(stmt.values(share_percent=30))
        s.commit()
        stamped = s.scalar(select(ChangeScope.generation).where(ChangeScope.scope == "all"))
        assert stamped is not None
    fleet.poll()
    assert fleet.counts()["manifest_entries"] == len(fleet.screens)  # every screen was checked again


def test_unrelated_rows_leave_manifests_alone(fleet: Fleet) -> None:
    """A paused announcement: nothing a screen shows."""
    now = fleet.client.clock.now()
    with fleet.sessions() as s:
        s.add(
            AnnouncementRow(
                title="Paused",
                text={"en": "paused"},
                media_ids=[],
                valid_from=now,
                targeting={},
                created_by=fleet.seed.operator_id,
                created_at=now,
                updated_at=now,
                state="paused",
            )
        )
        s.commit()
    assert set(fleet.poll().values()) == {304}
    assert fleet.counts()["manifest_304_memory"] == len(fleet.screens)


@pytest.fixture
def old_design(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    from tests.fixtures.server import bootstrap_operator

    with make_app_client(tmp_path_factory.mktemp("old"), targeted_changes=False) as client:
        bootstrap_operator(client)
        yield client


def test_the_old_design_rebuilds_every_screen_for_any_change(old_design: AppClient) -> None:
    """What the benchmark compares against (SIGNAGE_TARGETED_CHANGES=0)."""
    fleet = _fleet(old_design)
    with fleet.sessions() as s:
        campaign = s.get(CampaignRow, fleet.seed.campaign_id)
        assert campaign is not None
        campaign.share_percent = 20
        s.commit()
    fleet.poll()
    n = fleet.counts()
    assert n["manifest_entries"] == n["manifest_builds"] == len(fleet.screens)
    assert json.dumps(n)  # the counters are plain numbers


def test_day_old_stamps_are_forgotten_and_the_caches_still_follow_changes(fleet: Fleet) -> None:
    """Retention deletes scope stamps a day old: the rows stop growing with every screen and picture
    that ever changed, and neither this process nor a new one answers from a stale manifest."""
    from content_server.core.changes import forget_stamps_before
    from content_server.core.runtime import STAMPS_KEPT

    with fleet.sessions() as s:
        campaign = s.get(CampaignRow, fleet.seed.campaign_id)
        assert campaign is not None
        campaign.share_percent = 20
        s.commit()
    assert _statuses(fleet, fleet.poll()) == {"A": {200}, "B": {304}, "C": {304}}
    with fleet.sessions() as s:  # as the retention job a day later (the clock stays: no day change)
        assert s.scalar(select(ChangeScope).where(ChangeScope.scope == "group:A")) is not None
        later = fleet.client.clock.now() + STAMPS_KEPT + dt.timedelta(seconds=1)
        assert forget_stamps_before(s, later - STAMPS_KEPT) > 0
        assert s.scalars(select(ChangeScope.scope)).all() == []
    assert set(fleet.poll().values()) == {304}  # nothing changed since: still answered from memory
    with fleet.sessions() as s:  # a change after the clean-up still reaches the screens it touches
        campaign = s.get(CampaignRow, fleet.seed.campaign_id)
        assert campaign is not None
        campaign.share_percent = 30
        s.commit()
    assert _statuses(fleet, fleet.poll()) == {"A": {200}, "B": {304}, "C": {304}}


@pytest.fixture
def fleet_pg(postgres_url: str, tmp_path: Path) -> Iterator[Fleet]:
    from tests.fixtures.postgres import create_database
    from tests.fixtures.server import bootstrap_operator

    with make_app_client(tmp_path / "data", database_url=create_database(postgres_url)) as client:
        bootstrap_operator(client)
        yield _fleet(client)


@pytest.mark.postgres
def test_a_transaction_still_at_work_holds_up_no_other_change(fleet_pg: Fleet) -> None:
    """A booking writes its order, audit records and slot counts before it commits; the change
    counter is taken only at its commit, so a clerk's edit meanwhile is not queued behind it."""
    fleet = fleet_pg
    renamed = fleet.of("B")[0]
    with fleet.sessions() as slow, fleet.sessions() as quick:
        campaign = slow.get(CampaignRow, fleet.seed.campaign_id)
        assert campaign is not None
        campaign.share_percent = 20
        slow.flush()  # written and noted; the transaction goes on working
        with slow.begin_nested():  # a savepoint released on the way (as proof of play's) stamps nothing
            slow.execute(select(Device.id)).all()
        quick.execute(text("SET LOCAL lock_timeout = '2s'"))  # before: waited for the slow one's end
        device = quick.get(Device, renamed.id)
        assert device is not None
        device.name = "Lobby, renamed"
        quick.commit()
        got = fleet.poll()  # the edit is out; the booking's change is not, until it commits
        assert {sid for sid, status in got.items() if status == 200} == {renamed.id}
        slow.commit()
    stamps = dict(fleet.sessions().execute(select(ChangeScope.scope, ChangeScope.generation)).all())
    assert stamps["group:A"] > stamps[f"screen:{renamed.id}"]  # generations in commit order
    got = fleet.poll()
    assert _statuses(fleet, got) == {"A": {200}, "B": {304}, "C": {304}}


def test_a_change_made_before_a_savepoint_that_rolled_back_still_reaches_the_screens(fleet: Fleet) -> None:
    with fleet.sessions() as s:
        campaign = s.get(CampaignRow, fleet.seed.campaign_id)
        assert campaign is not None
        campaign.share_percent = 20
        s.flush()
        try:
            with s.begin_nested():  # as proof of play keeps a duplicate out of the batch
                other = s.get(Device, fleet.of("B")[0].id)
                assert other is not None
                other.name = "never"
                s.flush()
                raise LookupError
        except LookupError:
            pass
        s.commit()
    got = fleet.poll()
    assert _statuses(fleet, got) == {"A": {200}, "B": {304}, "C": {304}}


def test_a_change_flushed_by_a_later_commit_hook_is_stamped_too(fleet: Fleet) -> None:
    target = fleet.of("C")[0]

    def late(session: Session) -> None:  # a hook installed after the tracker's, as a feature may add
        device = session.get(Device, target.id)
        if device is not None and device.name != "renamed late":
            device.name = "renamed late"

    with fleet.sessions() as s:
        event.listen(s, "before_commit", late)
        s.execute(select(Device.id)).all()
        s.commit()
    got = fleet.poll()
    assert {sid for sid, status in got.items() if status == 200} == {target.id}
