"""The clean-up job forgets what can no longer matter: old throttle counters, served manifests and
refusal counts (callers without an account can create counters, so they must not pile up)."""

from __future__ import annotations

import datetime as dt

from content_server.core import throttle_store
from content_server.core.models import ThrottleRow
from content_server.core.throttle import Strikes
from content_server.signage.models import PlayRefusalRow, ServedManifestRow
from content_server.signage.services.screens import clean_up
from tests.fixtures.server import AppClient, pair_device


def test_clean_up_forgets_stale_counters_and_history(app_client: AppClient) -> None:
    c = app_client
    dev = pair_device(c)
    c.get("/api/v1/device/manifest", headers=dev.headers)  # one served manifest, valid ~8 days
    now = c.clock.now()
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        throttle_store.save(s, "login:fresh", Strikes(3, now - dt.timedelta(days=1)))
        throttle_store.save(s, "login:stale", Strikes(3, now - dt.timedelta(days=9)))
        s.add(PlayRefusalRow(device_id=dev.device_id, minute=now - dt.timedelta(days=40),
                             reason="future", count=5, last_at=now - dt.timedelta(days=40)))  # fmt: skip
        s.add(PlayRefusalRow(device_id=dev.device_id, minute=now, reason="future", count=1, last_at=now))
        s.commit()
        assert clean_up(s, now=now) == 2
        s.commit()
        assert {r.key for r in s.query(ThrottleRow)} == {"login:fresh"}
        assert [r.count for r in s.query(PlayRefusalRow)] == [1]
        assert s.query(ServedManifestRow).count() == 1
        assert clean_up(s, now=now + dt.timedelta(days=45)) >= 2  # the manifest expired long ago
        s.commit()
        assert s.query(ServedManifestRow).count() == 0
