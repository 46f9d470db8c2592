"""What a CAP 1.2 alert means for this community's screens: where, when, how loud, what it says. Pure.

Real feeds are regional: most alerts are for somebody else, areas are named in several languages
and coded (``<geocode>`` with a ``valueName`` such as an administrative-division scheme), one
alert carries an ``<info>`` per language, updates replace earlier alerts and cancels end them.

- **Where.** Operators map area descriptions (in any language) and geocodes to screen groups
  (:class:`AreaMapping`). Every ``<area>`` of every ``<info>`` is matched; an alert that matches
  nothing is "not for us": accepted and logged, never an error for the feed.
- **When.** From ``<effective>`` (else on receipt), never before receipt, until ``<expires>``. When
  ``<onset>`` (the hazard itself) is later, the alert shows ahead of it as a banner saying from
  when, and at its full loudness from the onset on.
- **How loud** (:func:`loudness`): ``full_screen`` (red, takes over the screen) for Extreme
  alerts that are Immediate or Expected, and for Severe ones that are Immediate and Observed or
  Likely; ``banner_warning`` (a red banner over the programme) for other Extreme, Severe and for
  Moderate alerts; ``banner_notice`` (a quiet banner) for Minor and Unknown severity, for
  alerts whose urgency is Past, and one step down for Unlikely ones.
- **What.** Headline, description and ``<instruction>`` (what residents must do) in Chinese and
  English; a language whose ``<info>`` (or one of those fields) is missing shows the other's.
- ``msgType`` Update ends the alerts it references and applies itself; Cancel ends them. Only
  ``status`` Actual and ``scope`` Public reach public screens.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from content_server.signage.cap import CapInfo, CapMessage
from schedules.bilingual import Bilingual, TextTable
from schedules.protocol.device import Loudness

_ORDER = (Loudness.BANNER_NOTICE, Loudness.BANNER_WARNING, Loudness.FULL_SCREEN)


def _rank(level: Loudness) -> int:
    return _ORDER.index(level)


def loudness(severity: str, urgency: str, certainty: str) -> Loudness:
    """The loudness CAP's severity, urgency and certainty call for (see the module docstring)."""
    if urgency == "Past":
        return Loudness.BANNER_NOTICE
    extreme_soon = severity == "Extreme" and urgency in ("Immediate", "Expected", "Unknown")
    severe_now = severity == "Severe" and urgency == "Immediate" and certainty in ("Observed", "Likely")
    if extreme_soon or severe_now:
        level = Loudness.FULL_SCREEN
    elif severity in ("Extreme", "Severe", "Moderate"):
        level = Loudness.BANNER_WARNING
    else:
        level = Loudness.BANNER_NOTICE
    if certainty == "Unlikely" and level is not Loudness.BANNER_NOTICE:
        level = _ORDER[_rank(level) - 1]
    return level


# --- where: the operator's mapping of areas to screen groups ----------------------------------


def normalise(text: str) -> str:
    """Area names as people type them: full-width forms, case and spacing do not matter."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _admin_prefix(code: str) -> str:
    """An administrative-division code without its trailing "00" levels: 440300 -> 4403."""
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def _contains(alert: tuple[str, str], ours: tuple[str, str]) -> bool:
    """Whether the alert's administrative area (digit code) contains ours."""
    (name, code), (our_name, our_code) = alert, ours
    digits = code.isdigit() and our_code.isdigit()
    return name == our_name and digits and our_code.startswith(_admin_prefix(code))


class Geocode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value_name: str = Field(min_length=1, max_length=64)  # e.g. "GB/T 2260", "SAME", "EMMA_ID"
    value: str = Field(min_length=1, max_length=64)


class AreaRule(BaseModel):
    """Alerts for any of these area names or geocodes reach these screen groups.

    ``wider_areas``: also alerts coded for an administrative area that contains one of
    ``geocodes`` (digit codes where trailing "00" pairs mean the level above: an alert for
    city 440300 reaches the community mapped to its district 440305).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: frozenset[str] = Field(min_length=1)
    area_descs: frozenset[str] = frozenset()  # in any language: "南山区", "Nanshan District"
    geocodes: frozenset[Geocode] = frozenset()
    wider_areas: bool = False
    label: dict[str, str] = Field(default_factory=dict)  # {"zh": ..., "en": ...} for the portal

    @field_validator("groups", "area_descs")
    @classmethod
    def _no_blank(cls, v: frozenset[str]) -> frozenset[str]:
        if any(not x.strip() for x in v):
            raise ValueError("names may not be blank")
        return v


class AreaMapping(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[AreaRule, ...] = Field(default=(), max_length=500)

    @classmethod
    def from_area_groups(cls, area_groups: Mapping[str, Sequence[str]]) -> AreaMapping:
        """The older form, area description -> groups, as a mapping."""
        return cls(
            rules=tuple(
                AreaRule(groups=frozenset(groups), area_descs=frozenset({desc}))
                for desc, groups in area_groups.items()
                if groups
            )
        )

    def groups_for(self, desc: str, geocodes: Iterable[tuple[str, str]]) -> frozenset[str]:
        """The screen groups one ``<area>`` reaches (empty: not ours)."""
        name = normalise(desc)
        codes = [(normalise(n), normalise(v)) for n, v in geocodes]
        out: set[str] = set()
        for rule in self.rules:
            if name and name in {normalise(d) for d in rule.area_descs}:
                out |= rule.groups
                continue
            for g in rule.geocodes:
                ours = (normalise(g.value_name), normalise(g.value))
                if any(c == ours or (rule.wider_areas and _contains(c, ours)) for c in codes):
                    out |= rule.groups
                    break
        return frozenset(out)


# --- the decision ------------------------------------------------------------------------------


class Outcome(StrEnum):
    SHOW = "show"  # an Alert for us
    UPDATE = "update"  # ends the referenced alerts and shows this one
    CANCEL = "cancel"  # ends the referenced alerts (also an Update that is no longer for us)
    NOT_FOR_US = "not_for_us"
    EXPIRED = "expired"
    NOT_ACTUAL = "not_actual"  # Exercise, Test, System, Draft
    NOT_PUBLIC = "not_public"  # scope Restricted or Private
    SUPERSEDED = "superseded"  # an Update or Cancel for it arrived first
    IGNORED = "ignored"  # Ack and Error messages


REASONS = TextTable(
    {
        "show": ("警报已显示在 {groups} 屏幕组。", "The alert is shown on screen groups {groups}."),
        "update": (
            "更新：取代之前的警报，显示在 {groups} 屏幕组。",
            "Update: it replaces the earlier alert and is shown on screen groups {groups}.",
        ),
        "cancel": ("之前的警报已结束。", "The earlier alert has ended."),
        "not_for_us": (
            "警报所列地区（{areas}）均不属于本社区，已记录，不显示。",
            "None of the alert's areas ({areas}) is ours: logged, not shown.",
        ),
        "expired": ("警报已过期，已记录，不显示。", "The alert has already expired: logged, not shown."),
        "not_actual": (
            "状态为 {status} 的消息不会显示在公共屏幕上。",
            "A message with status {status} is not shown on public screens.",
        ),
        "not_public": (
            "范围为 {scope} 的消息不会显示在公共屏幕上。",
            "A message with scope {scope} is not shown on public screens.",
        ),
        "superseded": (
            "已先收到针对该警报的更新或取消，不再显示。",
            "An update or cancellation of this alert arrived first: it is not shown.",
        ),
        "ignored": ("{msg_type} 类消息无需显示。", "{msg_type} messages are not shown."),
        "from_onset": ("{time} 起：", "From {time}: "),
    }
)


class CapPhase(BaseModel):
    model_config = ConfigDict(frozen=True)

    starts_at: dt.datetime
    ends_at: dt.datetime | None  # None: until cancelled or updated
    loudness: Loudness
    text: dict[str, str]  # {"zh": ..., "en": ...}: headline, description and instruction, ready to show


class CapPresentation(BaseModel):
    """What one set of screen groups shows for an alert, phase by phase."""

    model_config = ConfigDict(frozen=True)

    groups: frozenset[str]
    areas: tuple[str, ...]  # the alert's matched area descriptions, for the log and the portal
    event: dict[str, str]
    headline: dict[str, str]
    description: dict[str, str]
    instruction: dict[str, str]
    severity: str
    urgency: str
    certainty: str
    loudness: Loudness  # at its loudest (from the onset on)
    phases: tuple[CapPhase, ...]


class CapDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    reason: dict[str, str]  # {"zh": ..., "en": ...} for the feed's answer and the log
    ends: tuple[tuple[str, str], ...] = ()  # (sender, identifier) of alerts whose screens end now
    presentations: tuple[CapPresentation, ...] = ()


def _both(b: Bilingual) -> dict[str, str]:
    return b.as_dict()


def _pick(infos: Sequence[CapInfo], lang: str) -> CapInfo | None:
    """The loudest matched info in ``lang`` (document order breaks ties)."""
    mine = [i for i in infos if i.language == lang]
    if not mine:
        return None
    return max(mine, key=lambda i: (_rank(loudness(i.severity, i.urgency, i.certainty)), -infos.index(i)))


def _field(zh: CapInfo | None, en: CapInfo | None, name: str) -> dict[str, str]:
    """One text field in both languages, each falling back to the other's when missing."""
    a = getattr(zh, name, "") if zh is not None else ""
    b = getattr(en, name, "") if en is not None else ""
    return {"zh": a or b, "en": b or a}


def _compose(headline: str, description: str, instruction: str, prefix: str = "") -> str:
    return "\n".join(x for x in (prefix + headline, description, instruction) if x)


def _local(t: dt.datetime, tz: dt.tzinfo | None) -> str:
    """A time as the community reads it: in ``tz``, else in the alert's own offset (feeds send local)."""
    return (t.astimezone(tz) if tz is not None else t).strftime("%m-%d %H:%M")


def _present(
    groups: frozenset[str], infos: Sequence[CapInfo], areas: tuple[str, ...], msg: CapMessage,
    now: dt.datetime, tz: dt.tzinfo | None,
) -> CapPresentation | None:  # fmt: skip
    others = [i for i in infos if i.language not in ("zh", "en")]
    zh, en = _pick(infos, "zh"), _pick(infos, "en")
    if zh is None and en is None:
        en = others[0]  # neither language: show what the feed sent, in both places
    chosen = [i for i in (zh, en) if i is not None]
    main = max(chosen, key=lambda i: _rank(loudness(i.severity, i.urgency, i.certainty)))
    level = loudness(main.severity, main.urgency, main.certainty)
    # Without <effective> an alert counts from receipt (CAP says <sent>, but a feed's clock running
    # ahead of ours must not hold a warning back).
    effective = min((i.effective or now) for i in chosen)
    start = max(effective, now)
    ends = [i.expires for i in chosen]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    if end is not None and end <= start:
        return None
    onsets = [i.onset for i in chosen if i.onset is not None]
    onset = min(onsets) if onsets else None
    event = _field(zh, en, "event")
    headline = {k: v or event[k] for k, v in _field(zh, en, "headline").items()}
    description = _field(zh, en, "description")
    instruction = _field(zh, en, "instruction")

    def text(prefix: dict[str, str] | None = None) -> dict[str, str]:
        p = prefix or {"zh": "", "en": ""}
        return {k: _compose(headline[k], description[k], instruction[k], p[k]) for k in ("zh", "en")}

    phases: list[CapPhase] = []
    if onset is not None and onset > start and (end is None or onset < end):
        ahead = _ORDER[min(_rank(level), _rank(Loudness.BANNER_WARNING))]
        prefix = _both(REASONS.both("from_onset", time=_local(onset, tz)))
        phases.append(CapPhase(starts_at=start, ends_at=onset, loudness=ahead, text=text(prefix)))
        phases.append(CapPhase(starts_at=onset, ends_at=end, loudness=level, text=text()))
    else:
        phases.append(CapPhase(starts_at=start, ends_at=end, loudness=level, text=text()))
    return CapPresentation(
        groups=groups,
        areas=areas,
        event=event,
        headline=headline,
        description=description,
        instruction=instruction,
        severity=main.severity,
        urgency=main.urgency,
        certainty=main.certainty,
        loudness=level,
        phases=tuple(phases),
    )


def decide(
    msg: CapMessage,
    mapping: AreaMapping,
    *,
    now: dt.datetime,
    tz: dt.tzinfo | None = None,
    superseded: bool = False,
) -> CapDecision:
    """What to do with one verified, parsed CAP message (see the module docstring).

    ``tz`` is the community's zone for times written into the text (default: the alert's own
    offset); ``superseded`` is True when
    an Update or Cancel that references this message arrived before it.
    """

    def reply(outcome: Outcome, ends: tuple[tuple[str, str], ...] = (), **values: str) -> CapDecision:
        return CapDecision(outcome=outcome, reason=_both(REASONS.both(outcome.value, **values)), ends=ends)

    if msg.msg_type in ("Ack", "Error"):
        return reply(Outcome.IGNORED, msg_type=msg.msg_type)
    if msg.status != "Actual":
        return reply(Outcome.NOT_ACTUAL, status=msg.status)
    if msg.scope != "Public":
        return reply(Outcome.NOT_PUBLIC, scope=msg.scope)
    ends = msg.references if msg.msg_type in ("Update", "Cancel") else ()
    if msg.msg_type == "Cancel":
        return reply(Outcome.CANCEL, ends)
    if superseded:
        return reply(Outcome.SUPERSEDED)

    # every <area> of every <info>: which groups each info reaches
    per_group: dict[str, list[CapInfo]] = {}
    group_areas: dict[str, list[str]] = {}
    for info in msg.infos:
        for area in info.area_list:
            for g in mapping.groups_for(area.desc, area.geocodes):
                if info not in per_group.setdefault(g, []):
                    per_group[g].append(info)
                if area.desc not in group_areas.setdefault(g, []):
                    group_areas[g].append(area.desc)
    if not per_group:
        names = sorted({a.desc for i in msg.infos for a in i.area_list}) or ["-"]
        listed = ", ".join(names[:20])
        if ends:  # an Update that moved away from us still ends our earlier alert
            why = _both(REASONS.both("not_for_us", areas=listed))
            return CapDecision(outcome=Outcome.CANCEL, reason=why, ends=ends)
        return reply(Outcome.NOT_FOR_US, areas=listed)

    # Groups reached by the same infos show the same thing; a language with no info of its own
    # for a group falls back to the other language's (among the infos that reached the group).
    by_infos: dict[tuple[int, ...], list[str]] = {}
    for g, infos in per_group.items():
        key = tuple(sorted(msg.infos.index(i) for i in infos))
        by_infos.setdefault(key, []).append(g)
    shown: list[CapPresentation] = []
    for key, groups in sorted(by_infos.items(), key=lambda kv: sorted(kv[1])):
        infos = [msg.infos[i] for i in key]
        areas = tuple(dict.fromkeys(a for g in sorted(groups) for a in group_areas[g]))
        p = _present(frozenset(groups), infos, areas, msg, now, tz)
        if p is not None:
            shown.append(p)
    if not shown:
        if ends:
            return reply(Outcome.CANCEL, ends)
        return reply(Outcome.EXPIRED)
    groups_text = ", ".join(sorted({g for p in shown for g in p.groups}))
    outcome = Outcome.UPDATE if ends else Outcome.SHOW
    return CapDecision(
        outcome=outcome,
        reason=_both(REASONS.both(outcome.value, groups=groups_text)),
        ends=ends,
        presentations=tuple(shown),
    )
