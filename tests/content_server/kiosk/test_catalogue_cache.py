"""The kiosk catalogue answered from memory (issue 20): a 304 without a rebuild while nothing in it
changed, and a new catalogue after a booking, a slot edit, a provider's approval, or a slot's start."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from content_server.accounts import services as accounts
from content_server.core.changes import ChangeScope
from content_server.core.models import User
from content_server.kiosk.models import ProviderRow, ServiceRow, SlotRow
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


def test_a_booking_changes_the_catalogue_and_no_manifest(kiosk_env_any_db: InProcess) -> None:
    env = kiosk_env_any_db
    kiosk = _ready(env)
    with env.sessions() as s:
        before = {r.scope: r.generation for r in s.scalars(select(ChangeScope))}
    r = env.order(new_body(env))
    assert r.status_code == 201, r.text
    assert kiosk.poll() == 200
    assert kiosk.counts()["catalogue_builds"] == 1
    with env.sessions() as s:
        after = {r.scope: r.generation for r in s.scalars(select(ChangeScope))}
    assert {k for k in after if after[k] != before.get(k)} == {"kiosk-catalogue"}


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
