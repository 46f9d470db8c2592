"""The studio's data sources page without a browser: the refusals a browser's own checks would
stop (a missing confirmation, bad numbers, a JSON source with no format) are refused by the server."""

from __future__ import annotations

from tests.fixtures.server import AppClient
from tests.portal.conftest import csrf_of, portal_login


def test_the_sources_page_refuses_what_the_browser_would_stop_and_keeps_the_source(
    app_client: AppClient,
) -> None:
    c = app_client
    portal_login(c, c.create_user("page-shop", "advertiser"))
    assert c.get("/portal/studio/sources").status_code == 403
    c.cookies.clear()
    portal_login(c, c.operator)
    token = csrf_of(c.get("/portal/studio/sources").text)
    form = {"csrf_token": token, "name": "天气", "kind": "json", "preset": "open_meteo_weather",
            "url": "https://api.open-meteo.example/v1/forecast", "every_min": "30", "ttl_min": "90",
            "allow": ""}  # fmt: skip
    bad = [
        ({"every_min": "0"}, "抓取间隔"),
        ({"ttl_min": "很久"}, "有效期"),
        ({"preset": "nonsense"}, "JSON 数据接口需要选择数据格式"),
        ({"url": "ftp://example.org/x"}, "网址只能是 http:// 或 https:// 开头"),
        ({"allow": "10.0.0.0/8\nlocalhost"}, "“localhost”不是地址或网段"),
    ]
    for change, words in bad:
        r = c.post("/portal/studio/sources", data={**form, **change})
        assert r.status_code == 422 and words in r.text, (change, r.text[-2000:])
    made = c.post("/portal/studio/sources", data=form, follow_redirects=True)
    assert made.status_code == 200 and "数据源已登记" in made.text and "天气（Open-Meteo 预报）" in made.text
    source_id = c.get("/api/v1/studio/sources", headers=c.auth(c.operator)).json()[0]["id"]
    spec = c.get("/api/v1/studio/sources", headers=c.auth(c.operator)).json()[0]["spec"]
    assert (spec["every_s"], spec["ttl_s"], spec["preset"]) == (1800, 5400, "open_meteo_weather")
    unticked = c.post(f"/portal/studio/sources/{source_id}/delete", data={"csrf_token": token})
    assert unticked.status_code == 422 and "请先勾选确认" in unticked.text
    assert len(c.get("/api/v1/studio/sources", headers=c.auth(c.operator)).json()) == 1
    gone = c.post(
        f"/portal/studio/sources/{source_id}/delete",
        data={"csrf_token": token, "confirm": "yes"},
        follow_redirects=True,
    )
    assert "数据源已删除" in gone.text
    assert c.get("/api/v1/studio/sources", headers=c.auth(c.operator)).json() == []
