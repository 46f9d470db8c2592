"""Who may try a password now: growing delays per (account, source), per source and per account,
a global failure budget, and "known device" cookies that keep owners in during an attack.

The owner of an account who logged in from this browser before carries a signed cookie naming
that account (OWASP's device cookies); their attempts are slowed only by their own (account,
source) failures, so nobody can keep them out by failing on purpose. Every other attempt also
waits for the account's and the source's delays and for the global budget, which bound what a
guesser gets however many addresses they rotate through: see :meth:`LoginPolicy.guesses`.

Pure: states come in, a :class:`~content_server.core.throttle.Verdict` goes out; the service
stores the states (``keys`` names them) and checks the password only when the verdict allows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from content_server.core.throttle import (
    FailureBudget,
    GrowingDelay,
    Level,
    Strikes,
    Verdict,
    longest,
)

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class LoginKeys:
    """Where each counter is stored (one row per key)."""

    pair: str
    source: str
    account: str
    budget: str = "login:all"


@dataclass(frozen=True)
class LoginStates:
    pair: Strikes | None = None
    source: Strikes | None = None
    account: Strikes | None = None
    budget: Level | None = None


@dataclass(frozen=True)
class Guesses:
    """What an attacker still gets, trying the moment they may."""

    per_account_one_source_first_hour: int
    per_account_one_source_per_day: int
    per_account_any_sources_first_hour: int
    per_account_any_sources_per_day: int
    all_accounts_first_hour: int
    all_accounts_per_day: int


def _growing(free: int) -> GrowingDelay:
    return GrowingDelay(free, dt.timedelta(seconds=2), dt.timedelta(minutes=15), forget_after=DAY)


_PAIR, _SOURCE, _ACCOUNT = _growing(5), _growing(20), _growing(10)
_BUDGET = FailureBudget(capacity=300, per=HOUR)


@dataclass(frozen=True)
class LoginPolicy:
    """The numbers; ``free`` counts for the pair stay above the typos an owner makes."""

    pair: GrowingDelay = _PAIR  # one source on one account: typos never meet a wait
    source: GrowingDelay = _SOURCE  # one source over every account (password spraying)
    account: GrowingDelay = _ACCOUNT  # every unknown source on one account
    budget: FailureBudget = _BUDGET  # every unknown source on every account

    @classmethod
    def scaled(cls, free: int, per_hour: int) -> LoginPolicy:
        """The settings' knobs: ``free`` for a pair (4x per source, 2x per account), the budget."""
        return cls(_growing(free), _growing(4 * free), _growing(2 * free), FailureBudget(per_hour, HOUR))

    @staticmethod
    def keys(account_key: str, source: str) -> LoginKeys:
        """``account_key`` is the canonical username (known or not: the same either way)."""
        source = source_of(source)
        account = hashlib.sha256(account_key.encode()).hexdigest()[:32]
        return LoginKeys(f"login:{account}@{source}", f"login@{source}", f"login:{account}")

    def verdict(self, states: LoginStates, *, known_device: bool, now: dt.datetime) -> Verdict:
        if known_device:
            return longest(self.pair.wait(states.pair, now))
        return longest(
            self.pair.wait(states.pair, now),
            self.source.wait(states.source, now),
            self.account.wait(states.account, now),
            self.budget.wait(states.budget, now),
        )

    def after_failure(self, states: LoginStates, *, known_device: bool, now: dt.datetime) -> LoginStates:
        """A known device's typos count only against itself (they never slow the owner's account)."""
        if known_device:
            return LoginStates(pair=self.pair.after_failure(states.pair, now))
        return LoginStates(
            pair=self.pair.after_failure(states.pair, now),
            source=self.source.after_failure(states.source, now),
            account=self.account.after_failure(states.account, now),
            budget=self.budget.after_failure(states.budget, now),
        )

    def guesses(self) -> Guesses:
        """The guessing an attacker still gets (stated in a test; the docs quote it)."""

        def one_source(period: dt.timedelta) -> int:
            return min(
                self.pair.attempts_within(period),
                self.source.attempts_within(period),
                self.account.attempts_within(period),
            )

        def any_sources(period: dt.timedelta) -> int:
            return min(self.account.attempts_within(period), self.budget.attempts_within(period))

        return Guesses(
            per_account_one_source_first_hour=one_source(HOUR),
            per_account_one_source_per_day=one_source(DAY),
            per_account_any_sources_first_hour=any_sources(HOUR),
            per_account_any_sources_per_day=any_sources(DAY),
            all_accounts_first_hour=self.budget.attempts_within(HOUR),
            all_accounts_per_day=self.budget.attempts_within(DAY),
        )


def source_of(address: str) -> str:
    """Who is asking, for counting: an IPv4 address, or an IPv6 address's /64 (one subscriber's
    network: rotating through its 2**64 addresses must not buy fresh counters)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


KNOWN_DEVICE_COOKIE = "signage_known_device"
KNOWN_DEVICE_LIFETIME = dt.timedelta(days=180)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(secret: bytes, account_key: str, issued: int, nonce: str) -> str:
    msg = f"known-device|{account_key}|{issued}|{nonce}".encode()
    return _b64(hmac.new(secret, msg, hashlib.sha256).digest())


def known_device_cookie(secret: bytes, account_key: str, now: dt.datetime) -> str:
    """The value set after a successful log-in: names the account only through its MAC."""
    issued = int(now.timestamp())
    nonce = _b64(secrets.token_bytes(12))
    return f"{issued}.{nonce}.{_mac(secret, account_key, issued, nonce)}"


def is_known_device(secret: bytes, account_key: str, cookie: str | None, now: dt.datetime) -> bool:
    """True when ``cookie`` was issued by us, for this account, less than the lifetime ago."""
    if not cookie or len(cookie) > 200:
        return False
    try:
        issued_s, nonce, mac = cookie.split(".")
        issued = int(issued_s)
        base64.urlsafe_b64decode(nonce + "==")
    except (ValueError, binascii.Error):
        return False
    age = now.timestamp() - issued
    if not -300 <= age <= KNOWN_DEVICE_LIFETIME.total_seconds():  # 5 min for a clock step back
        return False
    return hmac.compare_digest(mac, _mac(secret, account_key, issued, nonce))
