"""Alert rules: the list, a new rule of a kind, editing and removing one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response
from pydantic import ValidationError

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.fleet.models import AlertRule
from content_server.fleet.pages import common
from content_server.fleet.pages.common import problem
from content_server.fleet.rule_kinds import DEVICE_KINDS, GROUP_BY, KIND_PARAMS, RuleKind
from content_server.fleet.services import channels, rules
from content_server.portal import forms
from content_server.portal.page import Csrf, OperatorPage, PortalError
from schedules.model import ScreenClass

router = APIRouter()
PARAM_NAMES = sorted({p.name for params in KIND_PARAMS.values() for p in params})


def _form(rule: AlertRule | None = None, kind: RuleKind = RuleKind.OFFLINE) -> dict[str, Any]:
    """The form's fields, as text, for a rule (or a new one of ``kind``)."""
    params = {p.name: p.default for p in KIND_PARAMS[kind]}
    if rule is not None:
        params.update(rule.params or {})
    selector = rule.selector if rule else {}
    return {
        "name": rule.name if rule else "",
        "kind": rule.kind if rule else kind.value,
        "enabled": rule.enabled if rule else True,
        "params": {k: f"{v:g}" for k, v in params.items()},
        "hold_for_min": f"{(rule.hold_for_s if rule else 0) / 60:g}",
        "clear_for_min": f"{(rule.clear_for_s if rule else 120) / 60:g}",
        "group_wait_s": str(rule.group_wait_s if rule else 10),
        "escalate_after_min": f"{(rule.escalate_after_s if rule else 0) / 60:g}",
        "group_by": rule.group_by if rule else "building",
        "groups": ", ".join(selector.get("groups", [])),
        "tags": ", ".join(selector.get("tags", [])),
        "screen_classes": list(selector.get("screen_classes", [])),
        "kinds": list(selector.get("kinds", [])),
        "channel_ids": list(rule.channel_ids if rule else []),
        "escalate_channel_ids": list(rule.escalate_channel_ids if rule else []),
    }


def rule_fields(
    name: Annotated[str, Form(max_length=200)] = "",
    enabled: Annotated[str, Form(max_length=8)] = "",
    hold_for_min: Annotated[str, Form(max_length=16)] = "0",
    clear_for_min: Annotated[str, Form(max_length=16)] = "2",
    group_wait_s: Annotated[str, Form(max_length=16)] = "10",
    escalate_after_min: Annotated[str, Form(max_length=16)] = "0",
    group_by: Annotated[str, Form(max_length=16)] = "building",
    groups: Annotated[str, Form(max_length=500)] = "",
    tags: Annotated[str, Form(max_length=500)] = "",
    screen_classes: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies form defaults)
    kinds: Annotated[list[str], Form()] = [],  # noqa: B006
    channel_ids: Annotated[list[str], Form()] = [],  # noqa: B006
    escalate_channel_ids: Annotated[list[str], Form()] = [],  # noqa: B006
    minutes: Annotated[str, Form(max_length=16)] = "",
    min_free_mb: Annotated[str, Form(max_length=16)] = "",
    cache_budget_mb: Annotated[str, Form(max_length=16)] = "",
    failures: Annotated[str, Form(max_length=16)] = "",
    window_minutes: Annotated[str, Form(max_length=16)] = "",
    hours: Annotated[str, Form(max_length=16)] = "",
    seconds: Annotated[str, Form(max_length=16)] = "",
) -> dict[str, Any]:
    """A rule form's fields as typed (kept to show again when something must be fixed)."""
    given = {
        "minutes": minutes,
        "min_free_mb": min_free_mb,
        "cache_budget_mb": cache_budget_mb,
        "failures": failures,
        "window_minutes": window_minutes,
        "hours": hours,
        "seconds": seconds,
    }
    return {
        "name": name,
        "enabled": enabled == "on",
        "hold_for_min": hold_for_min,
        "clear_for_min": clear_for_min,
        "group_wait_s": group_wait_s,
        "escalate_after_min": escalate_after_min,
        "group_by": group_by,
        "groups": groups,
        "tags": tags,
        "screen_classes": screen_classes[:10],
        "kinds": kinds[:2],
        "channel_ids": channel_ids[:20],
        "escalate_channel_ids": escalate_channel_ids[:20],
        "params": {k: v for k, v in given.items() if v.strip()},
    }


RuleFields = Annotated[dict[str, Any], Depends(rule_fields)]


def _number(text: str, field: str) -> float:
    value = forms.parse_number(text, field, low=0, high=10**8)
    return 0.0 if value is None else value


def _rule_in(form: dict[str, Any], kind: str) -> rules.RuleIn:
    params = {name: _number(text, name) for name, text in form["params"].items()}
    return rules.RuleIn(
        name=form["name"].strip(),
        kind=RuleKind(kind),
        enabled=form["enabled"],
        selector=rules.Selector(
            groups=forms.split_list(form["groups"]),
            tags=forms.split_list(form["tags"]),
            screen_classes=form["screen_classes"],
            kinds=form["kinds"],
        ),
        params=params,
        hold_for_s=round(_number(form["hold_for_min"], "hold_for_min") * 60),
        clear_for_s=round(_number(form["clear_for_min"], "clear_for_min") * 60),
        group_wait_s=round(_number(form["group_wait_s"], "group_wait_s")),
        escalate_after_s=round(_number(form["escalate_after_min"], "escalate_after_min") * 60),
        group_by=form["group_by"],
        channel_ids=form["channel_ids"],
        escalate_channel_ids=form["escalate_channel_ids"],
    )


def _kind(text: str) -> RuleKind:
    try:
        return RuleKind(text)
    except ValueError:
        raise PortalError("error.not_found", 404) from None


def _render(
    page: OperatorPage, session: Any, form: dict[str, Any], errors: list[str], rule_id: str | None
) -> Response:
    context = common.context("rules") | {
        "form": form,
        "form_errors": errors,
        "rule_id": rule_id,
        "param_specs": KIND_PARAMS[RuleKind(form["kind"])],
        "about_devices": RuleKind(form["kind"]) in DEVICE_KINDS,  # else "which devices" means nothing
        "group_bys": GROUP_BY,
        "classes": [c.value for c in ScreenClass],
        "channels": channels.listing(session),
    }
    title = "fleet.rule.edit_title" if rule_id else "fleet.rule.new_title"
    return page.render("fleet_rule.html", context, title_key=title, status_code=422 if errors else 200)


@router.get("/fleet/rules")
def rules_page(page: OperatorPage, session: SessionDep) -> Response:
    context = common.context("rules") | {
        "rules": rules.listing(session),
        "kinds": [k.value for k in RuleKind],
        "channel_names": {c.id: c.name for c in channels.listing(session)},
    }
    return page.render("fleet_rules.html", context, title_key="fleet.rules.title")


@router.get("/fleet/rules/new")
def new_rule_form(page: OperatorPage, session: SessionDep, kind: str = RuleKind.OFFLINE.value) -> Response:
    return _render(page, session, _form(kind=_kind(kind)), [], None)


@router.post("/fleet/rules/new")
def create_rule(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    form: RuleFields,
    kind: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    form = {**form, "kind": _kind(kind).value}
    try:
        rules.create(session, _rule_in(form, kind), now=now)
    except (ServerError, ValueError, ValidationError, forms.FormError) as exc:
        session.rollback()
        return _render(page, session, _shown(form), [problem(page, exc)], None)
    return page.redirect("/portal/fleet/rules", notice="rule_saved")


def _shown(form: dict[str, Any]) -> dict[str, Any]:
    """A submitted form shown again: every parameter of its kind has a field."""
    params = {p.name: f"{p.default:g}" for p in KIND_PARAMS[RuleKind(form["kind"])]}
    params.update(form["params"])
    return {**form, "params": params}


@router.get("/fleet/rules/{rule_id}")
def rule_page(page: OperatorPage, session: SessionDep, rule_id: str) -> Response:
    rule = rules.get(session, rule_id)
    return _render(page, session, _form(rule, RuleKind(rule.kind)), [], rule.id)


@router.post("/fleet/rules/{rule_id}")
def save_rule(
    page: OperatorPage,
    session: SessionDep,
    now: NowDep,
    rule_id: str,
    form: RuleFields,
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    rule = rules.get(session, rule_id)
    form = {**form, "kind": rule.kind}
    try:
        rules.update_rule(session, rule_id, _rule_in(form, rule.kind), now=now)
    except (ServerError, ValueError, ValidationError, forms.FormError) as exc:
        session.rollback()
        return _render(page, session, _shown(form), [problem(page, exc)], rule_id)
    return page.redirect("/portal/fleet/rules", notice="rule_saved")


@router.post("/fleet/rules/{rule_id}/delete")
def delete_rule(
    page: OperatorPage, session: SessionDep, now: NowDep, rule_id: str, csrf_token: Csrf = ""
) -> Response:
    page.require_csrf(csrf_token)
    rules.delete(session, rule_id, now=now)
    return page.redirect("/portal/fleet/rules", notice="rule_deleted")
