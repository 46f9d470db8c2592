"""Case look-ups: growing delays per (case, kiosk), per kiosk session and per case (pure)."""

from __future__ import annotations

import datetime as dt

from content_server.kiosk.lookup_guard import LookupPolicy, LookupStates

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)


def fail(policy: LookupPolicy, states: LookupStates, now: dt.datetime, n: int) -> LookupStates:
    for _ in range(n):
        assert policy.verdict(states, now).allowed
        states = policy.after_failure(states, now)
    return states


def test_guesses_per_case_an_attacker_still_gets() -> None:
    """Against the last 4 of an ID card (11,000 answers): 48 a day over every kiosk, so a whole day of
    guessing finds it with probability 48/11,000 < 0.5 %. The docs quote these numbers."""
    g = LookupPolicy().guesses()
    assert g.per_case_one_kiosk_first_hour == 9
    assert g.per_case_one_kiosk_per_day == 32
    assert g.per_case_all_kiosks_per_day == 48
    assert g.per_case_all_kiosks_per_day / 11_000 < 0.005


def test_three_wrong_answers_slow_that_case_at_that_kiosk_only() -> None:
    policy = LookupPolicy()
    k1 = policy.keys("GA-20261125-000001", "kiosk-1", "session-a")
    k2 = policy.keys("GA-20261125-000001", "kiosk-2", "session-b")
    other_case = policy.keys("GA-20261125-000002", "kiosk-1", "session-a")
    assert k1.case == k2.case and k1.pair != k2.pair and k1.session != other_case.pair
    at_k1 = fail(policy, LookupStates(), T0, 3)
    v = policy.verdict(at_k1, T0)
    assert not v.allowed and v.retry_after_s == 30
    # the same case from another kiosk: only the case's counter is shared, and it is far from its limit
    assert policy.verdict(LookupStates(case=at_k1.case), T0).allowed
    # another case at the same kiosk in the same session: the session counter is under its 5
    assert policy.verdict(LookupStates(session=at_k1.session), T0).allowed


def test_idle_reset_gives_the_next_resident_a_clean_kiosk() -> None:
    policy = LookupPolicy()
    session = None
    for _ in range(5):  # five different cases in one session: each case's own counters stay clean
        assert policy.verdict(LookupStates(session=session), T0).allowed
        session = policy.session.after_failure(session, T0)
    assert policy.verdict(LookupStates(session=session), T0).retry_after_s == 5
    assert policy.keys("GA-1", "kiosk-1", "s1").session != policy.keys("GA-1", "kiosk-1", "s2").session
    assert policy.verdict(LookupStates(), T0).allowed  # a new session starts with no session strikes


def test_walking_away_does_not_reset_the_case_at_that_kiosk() -> None:
    policy = LookupPolicy()
    states = fail(policy, LookupStates(), T0, 3)
    later = T0 + dt.timedelta(minutes=10)  # the idle reset happened long ago: new session
    pair_only = LookupStates(pair=states.pair, case=states.case)
    assert policy.verdict(pair_only, later).allowed  # the 30 s wait is over ...
    pair_only = policy.after_failure(pair_only, later)
    assert policy.verdict(pair_only, later).retry_after_s == 60  # ... and the next one is longer


def test_keys_hold_no_case_number() -> None:
    keys = LookupPolicy.keys("GA-20261125-123456", "k", "s")
    assert "123456" not in keys.pair + keys.case
