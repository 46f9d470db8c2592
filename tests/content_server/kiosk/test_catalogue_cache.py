"""The kiosk catalogue answered from memory (issue 20): a 304 without a rebuild while nothing in it
changed, and a new catalogue after a booking (its places left updated in memory, the same as a
build), a slot edit, a provider's approval, or a slot's start."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import create_engine, insert, select

from content_server.accounts import services as accounts
from content_server.core.changes import ChangeScope
from content_server.core.models import User
from content_server.kiosk.models import ProviderRow, ServiceRow, SlotRow
from content_server.kiosk.services.catalogue import build_catalogue
from content_server.signage.models import CampaignRow
from tests.content_server.kiosk.conftest import InProcess
from tests.content_server.kiosk.test_orders_inprocess import new_body

CATALOGUE = "/api/v1/kiosk/catalogue"


class Kiosk:
    def __init__(self, env: InProcess) -> None:
        self.env = env
        self.etag = ""

    def poll(self) -> int:
        headers = {**self.env.kiosk.headers, "If-None-Match": self.etag}
        r = self.env.client.get(CATALOGUE, headers=headers)
        assert r.status_code in (200, 304), r.text
        self.etag = r.headers["etag"]
        return r.status_code

    def counts(self) -> Counter[str]:
        return Counter(self.env.client.app.state.counters.take())  # type: ignore[attr-defined]


def _ready(env: InProcess) -> Kiosk:
    kiosk = Kiosk(env)
    assert kiosk.poll() == 200
    kiosk.counts()
    return kiosk


def test_an_unchanged_catalogue_is_a_304_without_a_build(kiosk_env_any_db: InProcess) -> None:
    kiosk = _ready(kiosk_env_any_db)
    assert [kiosk.poll() for _ in range(5)] == [304] * 5
    n = kiosk.counts()
    assert n["catalogue_builds"] == 0 and n["catalogue_304_memory"] == 5


def _places(catalogue: dict[str, object]) -> dict[str, int]:
    services = catalogue["services"]
    assert isinstance(services, list)
    return {slot["id"]: slot["remaining"] for service in services for slot in service["slots"]}


def _fetch(env: InProcess) -> dict[str, object]:
    r = env.client.get(CATALOGUE, headers=env.kiosk.headers)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def _built_now(env: InProcess) -> dict[str, object]:
    """What a process building the catalogue afresh would serve now (another server process)."""
    with env.sessions() as s:
        built: dict[str, object] = build_catalogue(s, env.now()).model_dump(mode="json")
        return built


def test_a_booking_updates_the_places_left_without_a_build_and_touches_no_manifest(
    kiosk_env_any_db: InProcess,
) -> None:
    env = kiosk_env_any_db
    kiosk = _ready(env)
    before_places = _places(_fetch(env))
    with env.sessions() as s:
        before = {r.scope: r.generation for r in s.scalars(select(ChangeScope))}
    body = new_body(env)
    r = env.order(body)
    assert r.status_code == 201, r.text
    assert kiosk.poll() == 200
    n = kiosk.counts()
    assert n["catalogue_builds"] == 0 and n["catalogue_count_updates"] == 1
    with env.sessions() as s:
        after = {r.scope: r.generation for r in s.scalars(select(ChangeScope))}
    assert {k for k in after if after[k] != before.get(k)} == {"kiosk-catalogue-booked"}
    served = _fetch(env)
    places = _places(served)
    assert places[str(body["slot_id"])] == before_places[str(body["slot_id"])] - 1
    assert {k: v for k, v in places.items() if k != body["slot_id"]} == {
        k: v for k, v in before_places.items() if k != body["slot_id"]
    }
    fresh = _built_now(env)  # the same content and ETag as a build: both processes agree
    assert served["version"] == fresh["version"]
    assert {k: v for k, v in served.items() if k != "generated_at"} == {
        k: v for k, v in fresh.items() if k != "generated_at"
    }
    assert kiosk.poll() == 304


def test_a_cancelled_booking_gives_its_place_back_and_an_edit_after_a_booking_builds(
    kiosk_env: InProcess,
) -> None:
    env = kiosk_env
    kiosk = _ready(env)
    body = new_body(env)
    slot_id = str(body["slot_id"])
    start = _places(_fetch(env))[slot_id]
    order = env.order(body).json()
    assert _places(_fetch(env))[slot_id] == start - 1
    r = env.client.post(f"/api/v1/kiosk/orders/{order['id']}/cancel", headers=env.kiosk.headers)
    assert r.status_code == 200, r.text
    assert _places(_fetch(env))[slot_id] == start
    assert kiosk.counts()["catalogue_builds"] == 0
    env.order(new_body(env))  # a booking and, before the next poll, an edit of the same slot
    with env.sessions() as s:
        slot = s.get(SlotRow, slot_id)
        assert slot is not None
        slot.capacity += 5
        s.commit()
    assert _places(_fetch(env))[slot_id] == start - 1 + 5
    assert kiosk.counts()["catalogue_builds"] == 1
    assert _fetch(env)["version"] == _built_now(env)["version"]


def test_a_slot_added_behind_the_change_trackers_back_is_shown_after_the_next_booking(
    kiosk_env: InProcess,
) -> None:
    """A seeding script or hand-written SQL stamps no scope; the next booking must not keep the
    catalogue's old list of slots (the load fleet's seeder added slots that never showed)."""
    env = kiosk_env
    kiosk = _ready(env)
    url = env.client.app.state.engine.url.render_as_string(hide_password=False)  # type: ignore[attr-defined]
    outside = create_engine(url)
    with outside.begin() as conn:
        service_id = conn.execute(select(ServiceRow.id).order_by(ServiceRow.id)).scalars().first()
        start = env.now() + dt.timedelta(hours=30)
        conn.execute(
            insert(SlotRow).values(
                id="slot-from-a-script", service_id=service_id, start=start,
                end=start + dt.timedelta(hours=1), capacity=3, booked=0,
            )
        )  # fmt: skip
    outside.dispose()
    assert env.order(new_body(env)).status_code == 201
    assert kiosk.poll() == 200
    assert "slot-from-a-script" in _places(_fetch(env))
    assert kiosk.counts()["catalogue_builds"] == 1


def test_a_slot_edit_changes_the_catalogue(kiosk_env: InProcess) -> None:
    kiosk = _ready(kiosk_env)
    with kiosk_env.sessions() as s:
        ahead = select(SlotRow).where(SlotRow.start > kiosk_env.now()).order_by(SlotRow.start)
        slot = s.scalars(ahead).first()
        assert slot is not None
        slot.capacity += 1
        s.commit()
    assert kiosk.poll() == 200
    assert kiosk.poll() == 304


def test_a_providers_approval_changes_the_catalogue(kiosk_env: InProcess) -> None:
    env = kiosk_env
    with env.sessions() as s:
        user = accounts.create_user(
            s, username="clinic", password="clinic-password-1", role="provider", now=env.now()
        )
        provider = s.scalars(select(ProviderRow).order_by(ProviderRow.name_en)).first()
        assert provider is not None and not user.approved
        provider.user_id = user.id
        s.commit()
        hidden = {sv.id for sv in s.scalars(select(ServiceRow).where(ServiceRow.provider_id == provider.id))}
        user_id = user.id
    kiosk = _ready(env)
    shown = {sv["id"] for sv in env.client.get(CATALOGUE, headers=env.kiosk.headers).json()["services"]}
    assert hidden and not hidden & shown
    with env.sessions() as s:
        account = s.get(User, user_id)
        assert account is not None
        account.approved = True
        s.commit()
    assert kiosk.poll() == 200
    shown = {sv["id"] for sv in env.client.get(CATALOGUE, headers=env.kiosk.headers).json()["services"]}
    assert hidden <= shown


def test_time_passing_a_slots_start_changes_the_catalogue(kiosk_env: InProcess) -> None:
    env = kiosk_env
    kiosk = _ready(env)
    with env.sessions() as s:
        first = s.scalar(select(SlotRow.start).where(SlotRow.start > env.now()).order_by(SlotRow.start))
        assert first is not None
    env.client.clock.set(first - dt.timedelta(seconds=1))
    assert kiosk.poll() == 304
    env.client.clock.set(first + dt.timedelta(seconds=1))
    assert kiosk.poll() == 200
    assert kiosk.counts()["catalogue_builds"] == 1


def test_signage_changes_leave_the_catalogue_in_memory(kiosk_env: InProcess) -> None:
    env = kiosk_env
    kiosk = _ready(env)
    with env.sessions() as s:
        operator = s.scalars(select(User).where(User.username == env.client.operator.username)).one()
        s.add(
            CampaignRow(
                advertiser_id=operator.id,
                name="x",
                media_ids=[],
                flight_start=env.now().date(),
                flight_end=env.now().date(),
                targeting={},
                share_percent=5,
                state="approved",
                submitted_at=env.now(),
                updated_at=env.now(),
            )
        )
        s.flush()
        campaign = s.scalars(select(CampaignRow)).one()
        campaign.share_percent = 6
        s.commit()
    assert kiosk.poll() == 304
    assert kiosk.counts()["catalogue_builds"] == 0
