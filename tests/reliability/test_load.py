"""Load, small: the fleet of ``bench/load_fleet.py`` on the real layout, in three shapes.

PostgreSQL + two server processes behind nginx (``tests/reliability/stack.py``), one stack for
both tests. First a burst: 300 screens calling back-to-back, hundreds of requests in the
servers at once (this once stalled every request for the 30 s pool timeout, then failed
them). Then the steady fleet: 200 screens and 5 kiosks for 15 s, the screens calling ten times
as often as real players, so about the requests of 2,000 real ones. Every request must succeed,
the servers must log no warning or error, every proof-of-play record must be counted exactly
once by the server's report, and every order the phone paid must be paid on the server. Last,
on a stack of its own, a cold start: every screen at once, more than the screens' queue takes,
so that screens are sent away with ``Retry-After`` and must all come back and be served. The
full-size runs are the bench (``bench/load_fleet.py``, ``--cold-start``).
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


def test_a_cold_start_of_every_screen_at_once_is_absorbed_with_retry_after() -> None:
    """Every screen's first call within half a second (a power cut's end), on servers whose screens'
    queue is short: screens beyond it are answered 503 with their own ``Retry-After`` and come back
    then, as the player does. None gives up: every screen has its first manifest within the run
    (the bench's 20,000-screen version asks for 5 minutes), with no error and every play counted."""
    config = FleetConfig(
        screens=500,
        kiosks=2,
        seconds=45,
        warmup_s=0,
        manifest_every_s=10,
        heartbeat_every_s=20,
        plays_every_s=10,
        play_s=2.0,
        cold_start_s=0.5,
    )
    with Stack(servers=2, nginx_workers=2, SIGNAGE_DEVICE_QUEUE_S="0.05") as cold:
        result = run_load(cold, config)
    summary = result.as_json()
    first = (summary["first_manifest_s_p50"], summary["first_manifest_s_max"])
    print("cold start: told to wait", summary["told_to_wait"], "first manifest p50 / max s", first)
    _assert_clean(result)
    assert result.screens_without_manifest == 0, summary
    assert result.told_to_wait.get("manifest", 0) > 0, summary  # the queue did overflow: this is the case
