"""No request produces a 5xx: schemathesis drives every signage API operation of the served OpenAPI."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.fixtures.server import bootstrap_operator, make_app_client, pair_device

OWN_TAGS = ("accounts", "devices", "screens", "media", "bookings", "reports", "bundles", "alerts", "system")
SKIP = {("POST", "/api/v1/auth/logout")}  # would revoke the token the other cases use


def _fuzz(op: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @given(case=op.as_strategy())
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case: schemathesis.Case) -> None:
        if case.path.endswith("/emergency"):
            case.query = {**(case.query or {}), "wait": 0}
        response = case.call(headers={**(case.headers or {}), **headers})
        case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.mark.slow
def test_no_server_errors_on_any_operation(tmp_path: Path) -> None:
    client = make_app_client(tmp_path / "fuzz", login_max_failures=100_000)
    with client:
        bootstrap_operator(client)
        operator = client.auth(client.operator)
        device = pair_device(client, groups=["north"]).headers
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
        schema = schema.include(tag_regex="^(" + "|".join(OWN_TAGS) + ")$")
        checked = 0
        for result in schema.get_all_operations():
            op = result.ok()
            if (op.method.upper(), op.path) in SKIP:
                continue
            is_device = op.path.startswith(("/api/v1/device/", "/api/v1/assets"))
            headers = device if is_device else operator

            _fuzz(op, headers)
            checked += 1
        assert checked >= 30
