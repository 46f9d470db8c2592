"""What the fleet's pages share: their sub-navigation and how a refusal is worded for the user."""

from __future__ import annotations

from content_server.core.errors import Conflict, ServerError
from content_server.fleet.errors import FieldInvalid
from content_server.fleet.pages.assets import asset_url
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


def problem(page: Page, exc: Exception) -> str:
    """A refusal in the user's language: which field, and (in English) the technical reason."""
    if isinstance(exc, FieldInvalid):
        key = f"fleet.field.{exc.field.removeprefix('config.')}"
        label = page.t(key) if key in TEXTS else exc.field
        reason = exc.reason if page.lang == "en" else ""
        return page.t("fleet.form.bad_field", field=label) + (f" ({reason})" if reason else "")
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
