"""House rules per screen class and per screen group (operators); a change that would short
booked campaigns is refused with 409 and the list of them (``under_delivered``)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from content_server.core.deps import NowDep, Operator, SessionDep
from content_server.signage.services import house_rules
from content_server.signage.services.house_rules import RulesIn
from schedules.model import HouseRules, HouseRulesOverride

router = APIRouter(tags=["house rules"])


class RulesOut(BaseModel):
    classes: dict[str, HouseRules]  # every class, defaults included
    groups: dict[str, HouseRulesOverride]


def _out(rules: house_rules.RuleSet) -> RulesOut:
    return RulesOut(classes={c.value: r for c, r in rules.classes.items()}, groups=rules.groups)


@router.get("/house-rules", response_model=RulesOut)
def get_rules(session: SessionDep, _op: Operator) -> RulesOut:
    return _out(house_rules.current(session))


@router.put("/house-rules/classes/{screen_class}", response_model=RulesOut)
def set_class_rules(
    screen_class: str, body: RulesIn, session: SessionDep, now: NowDep, op: Operator
) -> RulesOut:
    house_rules.set_rules(session, op, "class", screen_class, body, now=now)
    return _out(house_rules.current(session))


@router.put("/house-rules/groups/{group}", response_model=RulesOut)
def set_group_rules(group: str, body: RulesIn, session: SessionDep, now: NowDep, op: Operator) -> RulesOut:
    house_rules.set_rules(session, op, "group", group, body, now=now)
    return _out(house_rules.current(session))


@router.delete("/house-rules/groups/{group}", status_code=204)
def clear_group_rules(group: str, session: SessionDep, now: NowDep, op: Operator) -> Response:
    house_rules.set_rules(session, op, "group", group, None, now=now)
    return Response(status_code=204)
