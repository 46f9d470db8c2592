"""Load, small: the fleet of ``bench/load_fleet.py`` on the real layout, in two shapes.

PostgreSQL + two server processes behind nginx (``tests/reliability/stack.py``), one stack for
both tests. First a burst: 300 screens calling back-to-back, hundreds of requests in the
servers at once (this once stalled every request for the 30 s pool timeout, then failed
them). Then the steady fleet: 200 screens and 5 kiosks for 15 s, the screens calling ten times
as often as real players, so about the requests of 2,000 real ones. Every request must succeed,
the servers must log no warning or error, every proof-of-play record must be counted exactly
once by the server's report, and every order the phone paid must be paid on the server. The
full-size run is the bench.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.fleet import FleetConfig, FleetResult, run_load
from tests.reliability.stack import NGINX_BIN, PG_BIN, Stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL 15 binaries missing"),
    pytest.mark.skipif(not Path(NGINX_BIN).exists(), reason="nginx missing"),
]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with Stack(servers=2, nginx_workers=2) as st:  # = worker_processes auto on 2 cores
        yield st


def _assert_clean(result: FleetResult) -> None:
    summary = result.as_json()
    assert result.errors == 0, (summary, result.error_samples)
    assert result.server_log_errors == result.server_log_warnings == 0, result.error_samples
    assert result.plays_sent > 0, summary
    assert result.plays_sent == result.plays_accepted == result.plays_counted, (result.plays_refused, summary)
    assert result.orders_paid == result.orders_confirmed == result.orders_created, summary


def test_a_burst_of_concurrent_requests_is_served(stack: Stack) -> None:
    burst = FleetConfig(
        screens=300,
        kiosks=2,
        seconds=5,
        warmup_s=0,
        manifest_every_s=0.2,
        heartbeat_every_s=0.2,
        plays_every_s=0.2,
        play_s=0.5,
    )
    result = run_load(stack, burst)
    _assert_clean(result)
    assert result.endpoints["heartbeat"].p99_ms < 20_000, result.as_json()  # no pool-timeout stall


def test_small_fleet_loses_and_doubles_nothing(stack: Stack) -> None:
    config = FleetConfig(
        screens=200,
        kiosks=5,
        seconds=15,
        warmup_s=0,
        manifest_every_s=3,
        heartbeat_every_s=6,
        plays_every_s=3,
        play_s=1.0,
    )
    result = run_load(stack, config)
    _assert_clean(result)
    assert result.orders_paid > 0, result.as_json()
    expected = {"manifest", "heartbeat", "plays", "catalogue", "order_create", "pay_page", "pay_confirm"}
    assert expected | {"order_poll"} <= set(result.endpoints)
