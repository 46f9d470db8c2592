"""Signage pages for operators: house rules per screen class and per group, and the CAP alert feeds'
area mapping (area names in both languages, geocodes) with how loud each kind of alert is."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import ValidationError

from content_server.core.deps import NowDep, SessionDep, SettingsDep
from content_server.core.errors import ServerError
from content_server.portal import forms
from content_server.portal.page import Csrf, OperatorPage, problem_text
from content_server.signage import cap
from content_server.signage.cap_policy import AreaMapping, AreaRule, Geocode, loudness
from content_server.signage.services import alerts, house_rules, screens
from content_server.signage.services.house_rules import RulesIn, RulesRefused
from schedules.model import ScreenClass

log = logging.getLogger(__name__)
router = APIRouter()

Num = Annotated[str, Form(max_length=8)]
Short = Annotated[str, Form(max_length=100)]
Long = Annotated[str, Form(max_length=2000)]
RULE_FIELDS = ("loop_seconds", "min_announcement_share", "max_ad_share", "min_dwell_s")


# ---- house rules -------------------------------------------------------------------------------


def _rules_in(loop_seconds: str, min_announcement_share: str, max_ad_share: str, min_dwell_s: str) -> RulesIn:
    """The form's numbers (blank: keep the default)."""
    loop = forms.parse_number(loop_seconds, "loop_seconds", low=10, high=3600)
    share = forms.parse_number(min_announcement_share, "min_announcement_share", low=0, high=100)
    return RulesIn(
        loop_seconds=int(loop) if loop is not None else None,
        min_announcement_share=share,
        max_ad_share=forms.parse_number(max_ad_share, "max_ad_share", low=0, high=100),
        min_dwell_s=forms.parse_number(min_dwell_s, "min_dwell_s", low=0, high=120),
    )


def _rules_page(
    page: OperatorPage,
    session: Any,
    now: dt.datetime,
    *,
    errors: list[str] | None = None,
    refused: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    current = house_rules.current(session)
    context = {
        "section": "house_rules",
        "classes": [(c.value, current.classes[c]) for c in ScreenClass],
        "groups": sorted(current.groups.items()),
        "group_names": screens.group_names(session),
        "fields": RULE_FIELDS,
        "form_errors": errors or [],
        "refused": refused or [],
    }
    return page.render("house_rules.html", context, title_key="rules.title", status_code=status_code)


@router.get("/house-rules")
def rules_page(page: OperatorPage, session: SessionDep, now: NowDep) -> Response:
    return _rules_page(page, session, now)


def _apply(
    page: OperatorPage, session: Any, now: dt.datetime, scope: str, name: str, rules: Any
) -> Response:
    assert page.user is not None
    try:
        house_rules.set_rules(session, page.user, scope, name, rules() if callable(rules) else rules, now=now)
    except RulesRefused as exc:
        listed = [
            {**u.model_dump(), "first_local": u.first_hour.astimezone(page.tz)}
            for u in exc.campaigns
        ]
        errors = [page.t("rules.refused")]
        return _rules_page(page, session, now, errors=errors, refused=listed, status_code=409)
    except (ServerError, ValueError, ValidationError) as exc:
        session.rollback()
        return _rules_page(page, session, now, errors=[problem_text(page, exc)], status_code=422)
    return page.redirect("/portal/house-rules", notice="rules_saved")


@router.post("/house-rules/classes/{screen_class}")
def save_class_rules(
    page: OperatorPage, session: SessionDep, now: NowDep, screen_class: str,
    loop_seconds: Num = "", min_announcement_share: Num = "", max_ad_share: Num = "", min_dwell_s: Num = "",
    csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    page.require_csrf(csrf_token)
    return _apply(
        page, session, now, "class", screen_class,
        lambda: _rules_in(loop_seconds, min_announcement_share, max_ad_share, min_dwell_s),
    )  # fmt: skip


@router.post("/house-rules/groups")
def save_group_rules(
    page: OperatorPage, session: SessionDep, now: NowDep, group: Annotated[str, Form(max_length=64)] = "",
    loop_seconds: Num = "", min_announcement_share: Num = "", max_ad_share: Num = "", min_dwell_s: Num = "",
    csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    page.require_csrf(csrf_token)
    if not group.strip():
        return _rules_page(page, session, now, errors=[page.t("rules.need_group")], status_code=422)
    return _apply(
        page, session, now, "group", group,
        lambda: _rules_in(loop_seconds, min_announcement_share, max_ad_share, min_dwell_s),
    )  # fmt: skip


@router.post("/house-rules/groups/{group}/clear")
def clear_group_rules(
    page: OperatorPage, session: SessionDep, now: NowDep, group: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    return _apply(page, session, now, "group", group, None)


# ---- CAP alert feeds: the area mapping ------------------------------------------------------------

LOUDNESS_TABLE = [
    (sev, [(urg, loudness(sev, urg, "Observed").value, loudness(sev, urg, "Unlikely").value)
           for urg in ("Immediate", "Expected", "Future", "Past")])
    for sev in ("Extreme", "Severe", "Moderate", "Minor")
]  # fmt: skip


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.replace("，", ",").replace(",", "\n").splitlines() if x.strip()]


def _geocodes(text: str) -> frozenset[Geocode]:
    out = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise forms.FormError("alerts.bad_geocode", line=line.strip()[:60])
        out.add(Geocode(value_name=name.strip(), value=value.strip()))
    return frozenset(out)


def _feeds_page(
    page: OperatorPage, session: Any, *, errors: list[str] | None = None,
    secret: dict[str, str] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    feeds = [(f, alerts.mapping_of(f)) for f in alerts.list_feeds(session)]
    context = {
        "section": "alerts",
        "feeds": feeds,
        "group_names": screens.group_names(session),
        "form_errors": errors or [],
        "secret": secret,
        "loudness_table": LOUDNESS_TABLE,
    }
    return page.render("alert_feeds.html", context, title_key="alerts.title", status_code=status_code)


@router.get("/alert-feeds")
def feeds_page(page: OperatorPage, session: SessionDep) -> Response:
    return _feeds_page(page, session)


@router.post("/alert-feeds")
def create_feed(
    page: OperatorPage, session: SessionDep, now: NowDep, settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)] = "", csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    page.require_csrf(csrf_token)
    try:
        if not name.strip():
            raise forms.FormError("alerts.need_name")
        feed = alerts.create_feed(session, name.strip(), {}, now=now, area_mapping=AreaMapping())
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _feeds_page(page, session, errors=[problem_text(page, exc)], status_code=422)
    secret = {"name": feed.name, "secret": cap.feed_secret(settings.secret_key, feed.id),
              "url": f"/api/v1/alert-feeds/{feed.id}/cap"}  # fmt: skip
    return _feeds_page(page, session, secret=secret, status_code=201)


@router.post("/alert-feeds/{feed_id}/rules")
def add_area_rule(
    page: OperatorPage, session: SessionDep, feed_id: str,
    label_zh: Short = "", label_en: Short = "", groups: Annotated[list[str] | None, Form()] = None,
    new_group: Short = "", names_zh: Long = "", names_en: Long = "", geocodes: Long = "",
    wider_areas: Num = "", csrf_token: Csrf = "",
) -> Response:  # fmt: skip
    page.require_csrf(csrf_token)
    try:
        chosen = frozenset([*(groups or []), *_lines(new_group)])
        if not chosen:
            raise forms.FormError("alerts.need_groups")
        names = frozenset([*_lines(names_zh), *_lines(names_en)])
        codes = _geocodes(geocodes)
        if not names and not codes:
            raise forms.FormError("alerts.need_area")
        rule = AreaRule(
            groups=chosen, area_descs=names, geocodes=codes, wider_areas=wider_areas == "yes",
            label={k: v.strip() for k, v in (("zh", label_zh), ("en", label_en)) if v.strip()},
        )  # fmt: skip
        feed = alerts.get_feed(session, feed_id)
        mapping = alerts.mapping_of(feed)
        alerts.set_mapping(session, feed_id, AreaMapping(rules=(*mapping.rules, rule)))
    except (ServerError, ValueError, ValidationError) as exc:
        session.rollback()
        return _feeds_page(page, session, errors=[problem_text(page, exc)], status_code=422)
    return page.redirect("/portal/alert-feeds", notice="area_rule_added")


@router.post("/alert-feeds/{feed_id}/rules/{index}/delete")
def delete_area_rule(
    page: OperatorPage, session: SessionDep, feed_id: str, index: int, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    mapping = alerts.mapping_of(alerts.get_feed(session, feed_id))
    kept = tuple(r for i, r in enumerate(mapping.rules) if i != index)
    alerts.set_mapping(session, feed_id, AreaMapping(rules=kept))
    return page.redirect("/portal/alert-feeds", notice="area_rule_removed")
