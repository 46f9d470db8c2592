"""Data sources on their own schedules: one job each, staggered, replaced, removed; failures contained."""

from __future__ import annotations

import datetime as dt
import threading

from content_server.studio.scheduler import SourceScheduler, stagger_s


def test_the_stagger_is_stable_and_within_the_interval() -> None:
    assert stagger_s("weather", 900) == stagger_s("weather", 900)
    assert {stagger_s(f"s{i}", 900) for i in range(20)} != {stagger_s("s0", 900)}
    assert all(0 <= stagger_s(f"s{i}", 30) < 30 for i in range(50))


def test_each_source_runs_on_its_own_and_a_failing_one_does_not_stop_the_others() -> None:
    ran: dict[str, threading.Event] = {"good": threading.Event(), "bad": threading.Event()}

    def run(source_id: str) -> None:
        ran[source_id].set()
        if source_id == "bad":
            raise RuntimeError("a bug in one source")

    scheduler = SourceScheduler(run)
    scheduler.start()
    try:
        for source_id in ("bad", "good"):  # first run due now: the stagger taken off the start
            scheduler.put(
                source_id, 60, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=stagger_s(source_id, 60))
            )
        assert ran["bad"].wait(10) and ran["good"].wait(10)
        nxt = scheduler.next_run("good")
        assert nxt is not None and nxt > dt.datetime.now(dt.UTC)
        scheduler.put("good", 3600, dt.datetime.now(dt.UTC))  # rescheduled, not duplicated
        assert scheduler.next_run("good") is not None
        scheduler.remove("good")
        assert scheduler.next_run("good") is None
        scheduler.remove("never-added")
    finally:
        scheduler.shutdown()
