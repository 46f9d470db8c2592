"""An advertiser never reads, lists, changes or learns of another advertiser's things (404, not 403)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from tests.fixtures.server import AppClient, pair_device


def test_second_advertiser_sees_nothing_of_the_first(app_client: AppClient, media_dir: Path) -> None:
    c = app_client
    pair_device(c, screen_class="outdoor_large", groups=["north"])
    op = c.auth(c.operator)
    filler = c.post(
        "/api/v1/media?filename=f.png", content=(media_dir / "landscape.png").read_bytes(), headers=op
    )
    c.patch(f"/api/v1/media/{filler.json()['id']}", json={"filler": True}, headers=op)
    a = c.auth(c.create_user("bakery", "advertiser"))
    b = c.auth(c.create_user("pharmacy", "advertiser"))
    media = c.post(
        "/api/v1/media?filename=ad.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=a
    ).json()
    camp = c.post(
        "/api/v1/campaigns",
        json={
            "name": "A's",
            "media_ids": [media["id"]],
            "flight_start": "2026-11-25",
            "flight_end": "2026-11-30",
            "share_percent": 5,
            "targeting": {"groups": ["north"]},
        },
        headers=a,
    ).json()
    ids = {"media_id": media["id"], "campaign_id": camp["id"]}

    # walk every route an advertiser may call, with A's ids, as B
    advertiser_routes = []
    for path, ops in c.get("/api/v1/openapi.json").json()["paths"].items():
        params = set(re.findall(r"{(\w+)}", path))
        fixed = {"action": ["approve", "reject", "pause", "resume", "end"]}
        if not params or not params - set(fixed) <= set(ids) or not params & set(ids):
            continue
        for method in ops:
            for action in fixed["action"] if "action" in params else [""]:
                advertiser_routes.append((method.upper(), path.format(action=action, **ids)))
    assert len(advertiser_routes) >= 8, advertiser_routes
    for method, path in advertiser_routes:
        r = c.request(method, path, headers=b, json={})
        # 404 for advertiser routes; operator-only routes refuse by role whatever the id
        assert r.status_code == 404 or "role operator" in r.json()["detail"], (method, path, r.text)
        assert media["id"] not in r.text and camp["id"] not in r.text
        # an unknown id gives exactly the same answer
        fake = path.replace(media["id"], uuid.uuid4().hex).replace(camp["id"], uuid.uuid4().hex)
        r2 = c.request(method, fake, headers=b, json={})
        assert (r2.status_code, r2.json()) == (r.status_code, r.json()), (method, path)
    # listings and reports are empty for B; B cannot book with A's media
    assert c.get("/api/v1/media", headers=b).json() == []
    assert c.get("/api/v1/campaigns", headers=b).json() == []
    assert c.get("/api/v1/reports/plays", headers=b).json() == []
    assert c.get(f"/api/v1/reports/plays?campaign_id={camp['id']}", headers=b).status_code == 404
    r = c.post(
        "/api/v1/campaigns",
        json={
            "name": "steal",
            "media_ids": [media["id"]],
            "flight_start": "2026-11-25",
            "flight_end": "2026-11-30",
            "share_percent": 5,
        },
        headers=b,
    )
    assert r.status_code == 404
    # A still has everything
    assert c.get(f"/api/v1/campaigns/{camp['id']}", headers=a).status_code == 200
    assert c.get(f"/api/v1/media/{media['id']}", headers=a).status_code == 200
