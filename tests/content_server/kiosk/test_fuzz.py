"""No request to a kiosk back-end route produces a 5xx: schemathesis drives every operation."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from content_server.kiosk.seed import seed_demo_catalogue
from tests.fixtures.server import bootstrap_operator, make_app_client, pair_device

OWN_TAGS = ("kiosk", "payments", "pay", "cases", "providers", "kiosk admin")


def _fuzz(op: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @given(case=op.as_strategy())
    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers={**dict(case.headers or {}), **headers})
        case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.mark.slow
def test_no_server_errors_on_any_kiosk_operation(tmp_path: Path) -> None:
    client = make_app_client(tmp_path / "fuzz", login_max_failures=100_000)
    with client:
        bootstrap_operator(client)
        with client.app.state.sessions() as s:  # type: ignore[attr-defined]
            seed_demo_catalogue(s, client.clock(), days=1)
        operator = client.auth(client.operator)
        clerk = client.auth(client.create_user("clerk", "clerk"))
        provider = client.auth(client.create_user("merchant", "provider"))
        r = client.put(
            "/api/v1/provider/profile", headers=provider, json={"name_zh": "商家", "name_en": "Shop"}
        )
        assert r.status_code == 200
        kiosk = pair_device(client, kind="kiosk").headers
        full = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
        schema = full.include(tag_regex="^(" + "|".join(OWN_TAGS) + ")$")
        checked = 0
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            op = result.ok()
            if op.path.startswith("/api/v1/kiosk/"):
                headers = kiosk
            elif op.path.startswith("/api/v1/cases"):
                headers = clerk
            elif op.path.startswith("/api/v1/provider"):
                headers = provider
            else:
                headers = operator
            _fuzz(op, headers)
            checked += 1
        assert checked >= 20
