"""Who may try a case look-up now: growing delays per (case, kiosk), per kiosk session and per case.

The answer a resident gives (last 4 of the ID card: 11,000 possibilities, or a phone number) is
weak, so guessing must stay slow; but a hard lockout let anyone at one kiosk lock a case for every
kiosk, and a kiosk for every case. Here:

- (case, kiosk) waits grow after 3 wrong answers and survive the kiosk's idle reset, so walking
  away and back buys nothing;
- the kiosk's own counter (across cases) is per kiosk *session*: the idle reset starts a new
  session id, so the next resident is never slowed by the previous one;
- the case's counter across every kiosk only starts to slow down after 20 wrong answers a day,
  which one person at one kiosk needs most of a day to reach; it bounds the total guessing.

Pure, like :mod:`content_server.core.login_guard`; :meth:`LookupPolicy.guesses` states what a
guesser still gets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from content_server.core.throttle import GrowingDelay, Strikes, Verdict, longest

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class LookupKeys:
    pair: str
    session: str
    case: str

    @property
    def all(self) -> tuple[str, str, str]:
        return (self.pair, self.session, self.case)


@dataclass(frozen=True)
class LookupStates:
    pair: Strikes | None = None
    session: Strikes | None = None
    case: Strikes | None = None


@dataclass(frozen=True)
class LookupGuesses:
    per_case_one_kiosk_first_hour: int
    per_case_one_kiosk_per_day: int
    per_case_all_kiosks_per_day: int
    per_kiosk_session: int  # wrong answers (any cases) before one session is slowed


_PAIR = GrowingDelay(3, dt.timedelta(seconds=30), HOUR, forget_after=7 * DAY)
_SESSION = GrowingDelay(5, dt.timedelta(seconds=5), dt.timedelta(minutes=15), forget_after=HOUR)
_CASE = GrowingDelay(20, dt.timedelta(minutes=1), HOUR, forget_after=DAY + HOUR)


@dataclass(frozen=True)
class LookupPolicy:
    pair: GrowingDelay = _PAIR
    session: GrowingDelay = _SESSION
    case: GrowingDelay = _CASE

    @staticmethod
    def keys(case_number: str, device_id: str, session: str | None) -> LookupKeys:
        """Case numbers are hashed: the table holds no case number a reader could look up."""
        case = hashlib.sha256(case_number.encode()).hexdigest()[:32]
        return LookupKeys(
            pair=f"case:{case}@{device_id}",
            session=f"kiosk:{device_id}/{session or '-'}",
            case=f"case:{case}",
        )

    def verdict(self, states: LookupStates, now: dt.datetime) -> Verdict:
        return longest(
            self.pair.wait(states.pair, now),
            self.session.wait(states.session, now),
            self.case.wait(states.case, now),
        )

    def after_failure(self, states: LookupStates, now: dt.datetime) -> LookupStates:
        return LookupStates(
            pair=self.pair.after_failure(states.pair, now),
            session=self.session.after_failure(states.session, now),
            case=self.case.after_failure(states.case, now),
        )

    @property
    def horizon(self) -> dt.timedelta:
        """States untouched for this long are forgotten by every counter: storage may drop them."""
        return max(self.pair.forget_after, self.session.forget_after, self.case.forget_after)

    def guesses(self) -> LookupGuesses:
        return LookupGuesses(
            per_case_one_kiosk_first_hour=min(
                self.pair.attempts_within(HOUR), self.case.attempts_within(HOUR)
            ),
            per_case_one_kiosk_per_day=min(self.pair.attempts_within(DAY), self.case.attempts_within(DAY)),
            per_case_all_kiosks_per_day=self.case.attempts_within(DAY),
            per_kiosk_session=self.session.free,
        )
