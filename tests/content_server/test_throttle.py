"""Growing delays and failure budgets (pure), and what they leave a guesser: the numbers the docs quote."""

from __future__ import annotations

import datetime as dt

import pytest

from content_server.core.login_guard import (
    LoginPolicy,
    LoginStates,
    is_known_device,
    known_device_cookie,
    source_of,
)
from content_server.core.throttle import FailureBudget, GrowingDelay, Strikes

T0 = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


def test_free_failures_then_doubling_waits_capped() -> None:
    d = GrowingDelay(free=3, first_delay=2 * S, max_delay=60 * S, forget_after=dt.timedelta(hours=1))
    strikes = None
    waits = []
    now = T0
    for _ in range(10):
        now += d.delay(d.count(strikes, now)) if strikes else dt.timedelta(0)
        assert d.wait(strikes, now) == 0
        strikes = d.after_failure(strikes, now)
        waits.append(d.wait(strikes, now))
    assert waits == [0, 0, 2, 4, 8, 16, 32, 60, 60, 60]
    # one second short of the wait: still refused, with the rest to wait
    assert d.wait(strikes, now + 59 * S) == pytest.approx(1)
    assert d.wait(strikes, now + 60 * S) == 0


def test_a_quiet_key_is_forgotten() -> None:
    d = GrowingDelay(free=1, first_delay=S, max_delay=10 * S, forget_after=dt.timedelta(minutes=5))
    strikes = Strikes(count=50, last=T0)
    assert d.wait(strikes, T0 + 9 * S) == pytest.approx(1)
    assert d.count(strikes, T0 + dt.timedelta(minutes=5)) == 0
    assert d.after_failure(strikes, T0 + dt.timedelta(minutes=5)) == Strikes(1, T0 + dt.timedelta(minutes=5))


def test_waiting_out_the_longest_delay_never_wipes_the_count() -> None:
    with pytest.raises(ValueError, match="forget_after"):
        GrowingDelay(1, S, max_delay=dt.timedelta(hours=1), forget_after=dt.timedelta(hours=1))


def test_budget_is_a_leaky_bucket() -> None:
    b = FailureBudget(capacity=10, per=dt.timedelta(seconds=100))  # drains 1 per 10 s
    level = None
    for _ in range(10):
        assert b.wait(level, T0) == 0
        level = b.after_failure(level, T0)
    assert b.wait(level, T0) == pytest.approx(10)
    assert b.wait(level, T0 + 10 * S) == 0
    assert b.attempts_within(dt.timedelta(seconds=100)) == 20


def test_attempts_within_matches_a_simulated_attacker() -> None:
    d = GrowingDelay(free=2, first_delay=10 * S, max_delay=40 * S, forget_after=dt.timedelta(hours=1))
    # t=0, 0 free; then waits 10, 20, 40, 40: attempts at 0, 0, 10, 30, 70, 110
    assert d.attempts_within(dt.timedelta(seconds=111)) == 6
    assert d.attempts_within(dt.timedelta(seconds=110)) == 5


def test_login_guesses_an_attacker_still_gets() -> None:
    """The numbers docs/security.md quotes; change both together."""
    g = LoginPolicy().guesses()
    # one address against one account: 5 free, then 2 s doubling to 15 min
    assert g.per_account_one_source_first_hour == 16
    assert g.per_account_one_source_per_day == 108
    # any number of addresses against one account (the account's own delay, unknown devices)
    assert g.per_account_any_sources_first_hour == 21
    assert g.per_account_any_sources_per_day == 113
    # every address against every account: the global budget of 300 failures an hour
    assert g.all_accounts_first_hour == 600
    assert g.all_accounts_per_day == 7500


def test_the_owner_gets_in_while_someone_else_guesses() -> None:
    policy = LoginPolicy()
    attacker = LoginStates()
    now = T0
    for _ in range(5):  # five wrong passwords from another address
        assert policy.verdict(attacker, known_device=False, now=now).allowed
        attacker = policy.after_failure(attacker, known_device=False, now=now)
    assert not policy.verdict(attacker, known_device=False, now=now).allowed
    # the owner, from their own address: their pair is clean, the account is under its free count
    owner = LoginStates(account=attacker.account, budget=attacker.budget)
    assert policy.verdict(owner, known_device=False, now=now).allowed
    # even with the account's delay at its longest and the budget spent, a known device gets in
    spent = LoginStates(
        account=Strikes(500, now), source=Strikes(500, now), budget=policy.budget.after_failure(
            LoginStates().budget, now
        )
    )
    assert not policy.verdict(spent, known_device=False, now=now).allowed
    assert policy.verdict(spent, known_device=True, now=now).allowed


def test_known_device_cookie_names_one_account_and_expires() -> None:
    secret = b"s" * 32
    cookie = known_device_cookie(secret, "operator", T0)
    assert "operator" not in cookie
    assert is_known_device(secret, "operator", cookie, T0 + dt.timedelta(days=100))
    assert not is_known_device(secret, "operat0r", cookie, T0)
    assert not is_known_device(b"t" * 32, "operator", cookie, T0)
    assert not is_known_device(secret, "operator", cookie, T0 + dt.timedelta(days=181))
    assert not is_known_device(secret, "operator", cookie[:-2] + "AA", T0)
    for junk in ("", "x", "1.2", "a.b.c", "9" * 300, None):
        assert not is_known_device(secret, "operator", junk, T0)


def test_counters_are_per_account_whatever_its_spelling_and_per_ipv6_network() -> None:
    from content_server.core.usernames import username_key

    keys = {LoginPolicy.keys(username_key(n), "203.0.113.9") for n in ("operator", "Operator", "0PERATOR")}
    assert len(keys) == 1
    # rotating through one IPv6 /64 (a subscriber's network) is one source; another /64 is another
    assert source_of("2001:db8:1:2::1") == source_of("2001:db8:1:2:ffff:1:2:3") == "2001:db8:1:2::/64"
    assert source_of("2001:db8:1:3::1") != source_of("2001:db8:1:2::1")
    assert source_of("::ffff:198.51.100.7") == source_of("198.51.100.7") == "198.51.100.7"
    assert source_of("unknown") == "unknown"


def test_stored_counters_outlive_every_policy_s_memory() -> None:
    """The clean-up job drops counters after throttle_store.HORIZON: no policy may remember longer."""
    from content_server.core.throttle_store import HORIZON
    from content_server.kiosk.lookup_guard import LookupPolicy

    login, lookup = LoginPolicy(), LookupPolicy()
    delays = [login.pair, login.source, login.account, lookup.pair, lookup.session, lookup.case]
    assert all(d.forget_after < HORIZON for d in delays)
    assert login.budget.per < HORIZON
