"""Kinds of alert rule, their settings (defaults, limits), and the rules a new server starts with. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import uuid4


class RuleKind(StrEnum):
    OFFLINE = "offline"  # no heartbeat for longer than N minutes
    FROZEN = "frozen"  # the picture has not changed although the schedule says it should
    SYNC = "sync"  # behind (an old manifest too long) or failing (items that do not play, errors)
    STORAGE = "storage"  # disk nearly full, or the cache over its budget
    PERIPHERAL = "peripheral"  # a kiosk's scanner, printer or speaker missing or not working
    PAYMENTS = "payments"  # payment notifications to merchants failing (the delivery queue)
    CAP_SILENT = "cap_silent"  # a CAP feed silent for longer than expected
    EMERGENCY = "emergency"  # an emergency not shown on every targeted screen within N seconds
    ROLLOUT = "rollout"  # a software rollout paused itself (too many devices of a wave failed)
    REFUSED_PLAYS = "refused_plays"  # a device sent more unbelievable proof of play than N in M minutes


DEVICE_KINDS = frozenset(
    {
        RuleKind.OFFLINE,
        RuleKind.FROZEN,
        RuleKind.SYNC,
        RuleKind.STORAGE,
        RuleKind.PERIPHERAL,
        RuleKind.EMERGENCY,
        RuleKind.REFUSED_PLAYS,
    }
)
GROUP_BY = ("building", "group", "none")
# rules that read what heartbeats report (not just when they came) hold for minutes: looking every
# 30 s is enough, and spares the evaluator decoding every device's last heartbeat every pass
HEARTBEAT_KINDS = frozenset({RuleKind.FROZEN, RuleKind.SYNC, RuleKind.STORAGE, RuleKind.PERIPHERAL})
HEARTBEAT_RULES_EVERY_S = 30.0


def due(kind: RuleKind, last: float | None, now: float, every_s: float) -> bool:
    """Whether a rule of ``kind`` last evaluated at ``last`` (monotonic seconds) is due at ``now``."""
    if last is None:
        return True
    return now - last >= (max(every_s, HEARTBEAT_RULES_EVERY_S) if kind in HEARTBEAT_KINDS else every_s) - 0.5


class RuleError(ValueError):
    """A rule setting out of range; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    low: float
    high: float


KIND_PARAMS: dict[RuleKind, tuple[Param, ...]] = {
    RuleKind.OFFLINE: (Param("minutes", 10, 0.5, 7 * 24 * 60),),
    RuleKind.FROZEN: (),
    RuleKind.SYNC: (),
    RuleKind.STORAGE: (Param("min_free_mb", 1024, 1, 10**7), Param("cache_budget_mb", 0, 0, 10**8)),
    RuleKind.PERIPHERAL: (),
    RuleKind.PAYMENTS: (Param("failures", 3, 1, 100), Param("window_minutes", 60, 1, 7 * 24 * 60)),
    RuleKind.CAP_SILENT: (Param("hours", 24, 0.1, 24 * 365),),
    RuleKind.EMERGENCY: (Param("seconds", 30, 5, 3600),),
    RuleKind.ROLLOUT: (),  # the threshold is the rollout's own (its largest share of failures)
    # refused records are counted per minute for a month (signage.services.plays)
    RuleKind.REFUSED_PLAYS: (Param("refused", 20, 0, 10**6), Param("window_minutes", 60, 1, 7 * 24 * 60)),
}


def check_params(kind: RuleKind, given: Mapping[str, Any]) -> dict[str, float]:
    """The kind's settings with defaults filled in; RuleError for unknown or out-of-range ones."""
    known = {p.name: p for p in KIND_PARAMS[kind]}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise RuleError(unknown[0], f"not a setting of {kind.value} rules")
    checked: dict[str, float] = {}
    for name, p in known.items():
        raw = given.get(name, p.default)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise RuleError(name, "a number") from None
        if not p.low <= value <= p.high:
            raise RuleError(name, f"between {p.low:g} and {p.high:g}")
        checked[name] = value
    return checked


@dataclass(frozen=True)
class Timing:
    """How long a condition holds before firing, stays clear before recovering, and the group wait."""

    hold_for_s: int = 0
    clear_for_s: int = 120
    group_wait_s: int = 10
    escalate_after_s: int = 0

    def check(self) -> Timing:
        for name, value, high in (
            ("hold_for_s", self.hold_for_s, 7 * 86400),
            ("clear_for_s", self.clear_for_s, 7 * 86400),
            ("group_wait_s", self.group_wait_s, 3600),
            ("escalate_after_s", self.escalate_after_s, 7 * 86400),
        ):
            if not 0 <= value <= high:
                raise RuleError(name, f"between 0 and {high}")
        return self


@dataclass(frozen=True)
class DefaultRule:
    name: str
    kind: RuleKind
    timing: Timing
    params: dict[str, float] = field(default_factory=dict)
    group_by: str = "building"


def seed_row(rule: DefaultRule, now: Any) -> dict[str, Any]:
    """The ``fleet_rules`` row the migrations insert for a default rule (``now``: a datetime)."""
    return {
        "id": uuid4().hex,
        "name": rule.name,
        "kind": rule.kind.value,
        "enabled": True,
        "hold_for_s": rule.timing.hold_for_s,
        "clear_for_s": rule.timing.clear_for_s,
        "group_wait_s": rule.timing.group_wait_s,
        "group_by": rule.group_by,
        "escalate_after_s": rule.timing.escalate_after_s,
        "builtin": True,
        "selector": {},
        "params": check_params(rule.kind, rule.params),
        "channel_ids": [],
        "escalate_channel_ids": [],
        "created_at": now,
        "updated_at": now,
    }


# what a new server starts with: sensible for a property team with two or three people on duty
DEFAULT_RULES: tuple[DefaultRule, ...] = (
    # a building's screens going silent together are gathered by their lateness, not by waiting
    DefaultRule("屏幕离线 · Screens offline", RuleKind.OFFLINE, Timing(0, 120, 10, 1800), {"minutes": 10}),
    DefaultRule("画面冻结 · Frozen picture", RuleKind.FROZEN, Timing(300, 300, 30, 3600)),
    DefaultRule("同步落后或失败 · Sync behind or failing", RuleKind.SYNC, Timing(600, 300, 60, 0)),
    DefaultRule(
        "存储将满 · Storage nearly full",
        RuleKind.STORAGE,
        Timing(900, 900, 60, 0),
        {"min_free_mb": 1024, "cache_budget_mb": 0},
    ),
    DefaultRule("终端外设故障 · Kiosk peripheral missing", RuleKind.PERIPHERAL, Timing(120, 300, 30, 3600)),
    DefaultRule(
        "支付通知失败 · Payment notifications failing",
        RuleKind.PAYMENTS,
        Timing(0, 600, 0, 1800),
        {"failures": 3, "window_minutes": 60},
        "none",
    ),
    DefaultRule(
        "预警源静默 · CAP feed silent", RuleKind.CAP_SILENT, Timing(0, 600, 0, 0), {"hours": 24}, "none"
    ),
    DefaultRule(
        "紧急信息未送达 · Emergency not shown everywhere",
        RuleKind.EMERGENCY,
        Timing(0, 30, 0, 600),
        {"seconds": 30},
    ),
    # the devices already went back to the version that works and the rollout stopped: the duty team
    # hears of it at once (and quiet hours may hold it: nothing on the screens is broken)
    DefaultRule(
        "更新自动暂停 · Rollout paused itself", RuleKind.ROLLOUT, Timing(0, 0, 0, 0), group_by="none"
    ),
    # an honest player's refused records are a few late or overlapping ones at most; more than 20 in
    # an hour is a broken player or someone inventing plays with its key (issue 21)
    DefaultRule(
        "播放记录被拒 · Proof of play refused",
        RuleKind.REFUSED_PLAYS,
        Timing(0, 900, 10, 0),
        {"refused": 20, "window_minutes": 60},
        "none",
    ),
)
