"""What an operator asks for, which screens it names, and what state each command is in. Pure.

A selector names screens the way campaigns target them (screen ids, groups, screen classes, a tag
expression) plus what operators of a fleet say: players or kiosks, and a building ("restart every
lobby player in building 3" is ``groups=["lobby"], kinds=["player"], building="3"``). Every given
criterion must hold. An empty selector names nothing unless it says ``all_screens``: a reboot of
the whole fleet must be asked for in so many words.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schedules.model import ScreenClass, Targeting
from schedules.protocol.device import CommandKind

DEFAULT_TTL_MINUTES = 60
MAX_TTL_MINUTES = 7 * 24 * 60
BUILDING = re.compile(r"^[A-Za-z0-9_\-.#]{1,32}$")
DeviceKind = Literal["player", "kiosk"]


class Selector(BaseModel):
    """Which screens a command goes to; all given criteria must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    screen_ids: tuple[str, ...] = Field((), max_length=5000)
    groups: tuple[str, ...] = Field((), max_length=50)
    screen_classes: tuple[ScreenClass, ...] = ()
    kinds: tuple[DeviceKind, ...] = ()
    building: str | None = Field(None, max_length=32)
    tag_expr: str | None = Field(None, max_length=2000)
    all_screens: bool = False

    @model_validator(mode="after")
    def _named(self) -> Selector:
        if self.building is not None and not BUILDING.match(self.building):
            raise ValueError("building: letters, digits and -_.# only")
        if not self.all_screens and not self.criteria():
            raise ValueError("say which screens (or all_screens to mean every screen)")
        return self

    def criteria(self) -> bool:
        return bool(self.screen_ids or self.groups or self.screen_classes or self.kinds or self.building
                    or (self.tag_expr or "").strip())

    def targeting(self) -> Targeting:
        """The campaign-style part of the selector, for the scheduling engine's matcher."""
        expr = (self.tag_expr or "").strip()
        if self.building:
            building = f"building:{self.building}"
            expr = f"{building} AND ({expr})" if expr else building
        return Targeting(screen_classes=frozenset(self.screen_classes), groups=frozenset(self.groups),
                         screen_ids=frozenset(self.screen_ids), tag_expr=expr or None)

    def admits_kind(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class CommandRequest(BaseModel):
    """An operator's command: what, with which parameter, to which screens, valid for how long."""

    model_config = ConfigDict(extra="forbid")

    kind: CommandKind
    selector: Selector
    screen_on: bool | None = None
    volume: int | None = Field(None, ge=0, le=100)
    ttl_minutes: int = Field(DEFAULT_TTL_MINUTES, ge=1, le=MAX_TTL_MINUTES)

    @model_validator(mode="after")
    def _parameters(self) -> CommandRequest:
        if (self.kind is CommandKind.SCREEN_POWER) != (self.screen_on is not None):
            raise ValueError("screen_on (true or false) goes with screen_power, and only with it")
        if (self.kind is CommandKind.SET_VOLUME) != (self.volume is not None):
            raise ValueError("volume (0-100) goes with set_volume, and only with it")
        return self

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.screen_on is not None:
            out["screen_on"] = self.screen_on
        if self.volume is not None:
            out["volume"] = self.volume
        return out


class CommandState(StrEnum):
    PENDING = "pending"  # not acknowledged yet (``delivered`` says whether the device has it)
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"  # not acknowledged before it expired: it will not be delivered any more


@dataclass(frozen=True)
class CommandFacts:
    """What the server knows of one device's command (from its row)."""

    expires_at: dt.datetime
    delivered_at: dt.datetime | None
    outcome: str | None


def state(facts: CommandFacts, now: dt.datetime) -> CommandState:
    """The one rule for a command's state: its acknowledgement if any, else pending until it expires.

    An acknowledgement that arrives after the expiry still counts: the device had the command in
    time and did it.
    """
    if facts.outcome is not None:
        return CommandState(facts.outcome)
    return CommandState.EXPIRED if now >= facts.expires_at else CommandState.PENDING


def deliverable(facts: CommandFacts, now: dt.datetime) -> bool:
    return state(facts, now) is CommandState.PENDING


STATES = tuple(CommandState)
