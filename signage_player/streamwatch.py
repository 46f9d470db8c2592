"""When a live stream counts as playing, when to reconnect it, and when to give up on it.

Pure: the libVLC adapter (:mod:`signage_player.stream`) reports what it sees (a state, a play
position) with a monotonic time, and :class:`StreamWatch` answers what to do. A stream that never
starts, stops advancing or errors is reconnected with growing pauses; after the last try the
watch says :attr:`Action.FALLBACK` and the player shows the scheduled content instead (never black).
A stream that has played steadily for ``healthy_s`` earns its tries back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StreamState(StrEnum):
    CONNECTING = "connecting"
    PLAYING = "playing"
    WAITING = "waiting"  # between tries
    GAVE_UP = "gave_up"


class Action(StrEnum):
    NONE = "none"
    RECONNECT = "reconnect"
    FALLBACK = "fallback"


@dataclass(frozen=True)
class StreamPolicy:
    connect_timeout_s: float = 15.0
    stall_s: float = 6.0  # no progress for this long while playing: the stream died
    backoff_s: tuple[float, ...] = (1.0, 3.0, 10.0)  # one pause per reconnect try
    healthy_s: float = 60.0


class StreamWatch:
    def __init__(self, policy: StreamPolicy, now: float) -> None:
        self.policy = policy
        self.state = StreamState.CONNECTING
        self.tries = 0
        self._since = now  # entered the current state
        self._progress_at = now
        self._position_ms = -1
        self._retry_at = 0.0
        self.last_reason = ""

    def observe(self, now: float, playing: bool, position_ms: int, error: bool = False) -> Action:
        """Feed one observation; returns what the adapter must do now."""
        if self.state == StreamState.GAVE_UP:
            return Action.FALLBACK
        if self.state == StreamState.WAITING:
            if now >= self._retry_at:
                self._enter(StreamState.CONNECTING, now)
                return Action.RECONNECT
            return Action.NONE
        if error:
            return self._fail(now, "the stream reported an error")
        advanced = playing and position_ms > self._position_ms
        if advanced:
            self._position_ms = position_ms
            self._progress_at = now
            if self.state == StreamState.CONNECTING:
                self._enter(StreamState.PLAYING, now)
            elif now - self._since >= self.policy.healthy_s:
                self.tries = 0
            return Action.NONE
        if self.state == StreamState.CONNECTING and now - self._since > self.policy.connect_timeout_s:
            return self._fail(now, "the stream did not start")
        if self.state == StreamState.PLAYING and now - self._progress_at > self.policy.stall_s:
            return self._fail(now, "the stream stopped")
        return Action.NONE

    def reopened(self, now: float) -> None:
        """The adapter opened the stream again on purpose (a new picture shape): it is connecting
        afresh, with the whole start timeout, and no try is spent."""
        if self.state != StreamState.GAVE_UP:
            self._enter(StreamState.CONNECTING, now)

    def _enter(self, state: StreamState, now: float) -> None:
        self.state = state
        self._since = now
        self._progress_at = now
        self._position_ms = -1

    def _fail(self, now: float, reason: str) -> Action:
        self.last_reason = reason
        if self.tries >= len(self.policy.backoff_s):
            self.state = StreamState.GAVE_UP
            return Action.FALLBACK
        self._retry_at = now + self.policy.backoff_s[self.tries]
        self.tries += 1
        self.state = StreamState.WAITING
        self._since = now
        return Action.NONE
