"""What the fleet's pages share: their sub-navigation and how a refusal is worded for the user."""

from __future__ import annotations

from content_server.core.errors import Conflict, ServerError
from content_server.fleet.errors import FieldInvalid
from content_server.fleet.pages.assets import asset_url
from content_server.portal.forms import FormError
from content_server.portal.i18n import TEXTS
from content_server.portal.page import Page, problem_text

TABS = (
    ("wall", "fleet.tab.wall", "/portal/fleet"),
    ("alerts", "fleet.tab.alerts", "/portal/fleet/alerts"),
    ("rules", "fleet.tab.rules", "/portal/fleet/rules"),
    ("channels", "fleet.tab.channels", "/portal/fleet/channels"),
    ("deliveries", "fleet.tab.deliveries", "/portal/fleet/deliveries"),
    ("audit", "fleet.tab.audit", "/portal/fleet/audit"),
)


def label_of(page: Page, value: str, prefixes: tuple[str, ...]) -> str:
    """``value`` translated by the first table key ``<prefix>.<value>`` that exists, else as it is."""
    key = next((f"{p}.{value}" for p in prefixes if f"{p}.{value}" in TEXTS), None)
    return page.t(key) if key else value


def action_label(page: Page, action: str) -> str:
    """An audit record's action for people: "<what> <done>" in the page's language (the code, e.g.
    ``campaign.updated``, stays what the filter and the CSV use)."""
    entity, _, verb = action.partition(".")
    thing = label_of(page, entity, ("fleet.audit.entity",)).replace("_", " ")
    done = label_of(page, verb, ("fleet.audit.verb",)).replace("_", " ").replace(".", " ")
    return f"{thing} · {done}" if verb else thing


def label(page: Page, field: str) -> str:
    """A form field's name as the form shows it."""
    name = field.removeprefix("config.")
    for key in (f"fleet.param.{name}", f"fleet.field.{name}", f"fleet.rule.{name}"):
        if key in TEXTS:
            return page.t(key)
    return name


def problem(page: Page, exc: Exception) -> str:
    """A refusal in the user's language: which field, and (in English) the technical reason."""
    if isinstance(exc, FieldInvalid):
        said = page.t("fleet.form.bad_field", field=label(page, exc.field))
        return f"{said} ({exc.reason})" if page.lang == "en" else said
    if isinstance(exc, FormError) and "field" in exc.params:
        return page.t(exc.key, **{**exc.params, "field": label(page, str(exc.params["field"]))})
    if isinstance(exc, Conflict):
        return page.t("fleet.form.conflict")
    if isinstance(exc, ServerError | ValueError):
        return problem_text(page, exc)
    raise exc


def context(page_tab: str, **values: object) -> dict[str, object]:
    """What every fleet page's template gets: its tab (and the nav section), the wall's own assets."""
    section = "audit" if page_tab == "audit" else "fleet"
    return {"section": section, "tab": page_tab, "tabs": TABS, "fleet_css": asset_url("fleet.css"),
            "fleet_js": asset_url("fleet.js"), **values}  # fmt: skip
