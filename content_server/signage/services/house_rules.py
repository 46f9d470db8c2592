"""House rules operators set per screen class and per screen group, refused when they would short
booked campaigns (``schedules.house_rules``, through ``signage.scheduling``)."""

from __future__ import annotations

import datetime as dt
import logging

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.errors import Conflict, NotFound
from content_server.core.models import User
from content_server.signage import scheduling
from content_server.signage.models import HouseRulesRow
from content_server.signage.scheduling import RulesCheck, UnderDelivered
from content_server.signage.services.catalogue import RuleSet, catalogue_for, house_rules_of
from content_server.signage.services.screens import live_screens
from schedules.model import DEFAULT_HOUSE_RULES, HouseRulesOverride, ScreenClass

log = logging.getLogger(__name__)
CHECK_DAYS = 28  # how far ahead a change is checked against the bookings


class RulesIn(BaseModel):
    """The rules an operator sets; a field left out keeps the default (a class's, or the class's rule
    for a group)."""

    model_config = ConfigDict(extra="forbid")

    loop_seconds: int | None = Field(None, ge=10, le=3600)
    min_announcement_share: float | None = Field(None, ge=0, le=100)
    max_ad_share: float | None = Field(None, ge=0, le=100)
    min_dwell_s: float | None = Field(None, ge=0, le=120)

    def override(self) -> HouseRulesOverride:
        return HouseRulesOverride(**self.model_dump())


class RulesRefused(Conflict):
    """The change would under-deliver booked campaigns; ``campaigns`` lists them."""

    def __init__(self, check: RulesCheck) -> None:
        names = ", ".join(u.name or u.campaign_id for u in check.under_delivered[:10])
        n = len(check.under_delivered)
        super().__init__(f"this change would under-deliver {n} booked campaign(s): {names}")
        self.campaigns: tuple[UnderDelivered, ...] = check.under_delivered
        self.in_both(
            f"此更改会使 {n} 个已预订的广告投放无法足额投放：{names}",
            f"This change would under-deliver {n} booked campaign(s): {names}",
        )
        self.details = {"under_delivered": [u.model_dump(mode="json") for u in check.under_delivered]}


def set_rules(
    session: Session,
    user: User,
    scope: str,
    name: str,
    rules: RulesIn | None,
    *,
    now: dt.datetime,
) -> RulesCheck:
    """Set (``rules``) or clear (None) a class's or a group's house rules, unless that would
    under-deliver booked campaigns over the next four weeks (``RulesRefused`` lists them)."""
    if scope not in ("class", "group"):
        raise NotFound("unknown house rules scope")
    if scope == "class" and name not in ScreenClass.__members__.values():
        raise NotFound("unknown screen class")
    name = name.strip()[:64]
    current = catalogue_for(session, None, now)
    ruleset = house_rules_of(session)
    classes, groups = dict(ruleset.classes), dict(ruleset.groups)
    if scope == "class":
        cls = ScreenClass(name)
        classes[cls] = rules.override().apply(DEFAULT_HOUSE_RULES[cls]) if rules else DEFAULT_HOUSE_RULES[cls]
    elif rules is None:
        groups.pop(name, None)
    else:
        groups[name] = rules.override()
    proposed = current.model_copy(update={"house_rules": classes, "group_house_rules": groups})
    scheduling.validate_catalogue(proposed)
    screens = live_screens(session)
    check = scheduling.check_house_rules_change(screens, current, proposed, start=now, days=CHECK_DAYS)
    if not check.ok:
        session.rollback()
        raise RulesRefused(check)
    same = (HouseRulesRow.scope == scope, HouseRulesRow.name == name)
    row = session.scalar(select(HouseRulesRow).where(*same))
    if rules is None:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = HouseRulesRow(scope=scope, name=name)
            session.add(row)
        row.loop_seconds, row.min_announcement_share = rules.loop_seconds, rules.min_announcement_share
        row.max_ad_share, row.min_dwell_s = rules.max_ad_share, rules.min_dwell_s
        row.updated_at, row.updated_by = now, user.id
    session.commit()
    log.info("house rules for %s %s set by %s: %s", scope, name, user.username, rules)
    return check


def current(session: Session) -> RuleSet:
    """The rules in force (for the API and the portal)."""
    return house_rules_of(session)
