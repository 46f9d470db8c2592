"""Change scopes of signage: which screens a changed row can reach, and what a manifest depends on.

A change stamps scope keys (``core.changes``); a cached manifest is current while none of the
keys it depends on was stamped after it was built. Both sides are written here, so they agree:
a targeting rule reaches the screens of its most selective criterion (every rule's criteria
must all hold, so any one of them covers the screens it selects), and a screen depends on every
key that could name it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from content_server.core.changes import ALL, KEYS, How
from content_server.signage import scheduling
from schedules.model import Screen, Targeting

# the rows that can reach a screen (``services.catalogue.load_live``)
LIVE_CAMPAIGN_STATES = ("approved",)
LIVE_ANNOUNCEMENT_STATES = ("active",)


DEVICES = "devices"  # any device's settings (the alert evaluator's directory re-reads on it)


def group(name: str) -> str:
    return f"group:{name}"


def screen(screen_id: str) -> str:
    return f"screen:{screen_id}"


def screen_class(name: str) -> str:
    return f"class:{name}"


def tag(name: str) -> str:
    return f"tag:{name}"


def media(media_id: str) -> str:
    return f"media:{media_id}"


def of_targeting(raw: dict[str, Any] | None) -> frozenset[str]:
    """The scopes covering every screen a stored targeting rule selects (``all`` for everyone,
    and for a rule that cannot be read)."""
    try:
        rule = Targeting.model_validate(raw or {})
    except ValidationError:
        return frozenset({ALL})
    if rule.screen_ids:
        return frozenset(screen(i) for i in rule.screen_ids)
    if rule.groups:
        return frozenset(group(g) for g in rule.groups)
    if rule.tag_expr and rule.tag_expr.strip():
        required = scheduling.required_tags(rule.tag_expr)
        if required is not None:
            return frozenset(tag(t) for t in required)
    if rule.screen_classes:
        return frozenset(screen_class(c.value) for c in rule.screen_classes)
    return frozenset({ALL})


def of_screen(s: Screen) -> frozenset[str]:
    """Every scope that can name this screen: what its manifest depends on besides its media."""
    return frozenset(
        {ALL, screen(s.id), screen_class(s.screen_class.value)}
        | {group(g) for g in s.groups}
        | {tag(t) for t in s.tags}
    )


def of_screen_shared(s: Screen) -> frozenset[str]:
    """The same without the screen's own key: what a manifest shared by equivalent screens
    (same class, groups, tags and settings) depends on."""
    return of_screen(s) - {screen(s.id)}


# ---- what a changed row touches (ChangeTracker rules) ------------------------------------------


def campaign_row(row: Any) -> Iterable[str]:
    """A campaign reaches screens only while approved (``load_live``)."""
    return of_targeting(row.targeting) if row.state in LIVE_CAMPAIGN_STATES else ()


def announcement_row(row: Any) -> Iterable[str]:
    return of_targeting(row.targeting) if row.state in LIVE_ANNOUNCEMENT_STATES else ()


def media_row(row: Any) -> Iterable[str]:
    """A filler is on every screen; other media on the screens whose rows name it."""
    return (ALL,) if row.filler else (media(row.id),)


def house_rules_row(row: Any) -> Iterable[str]:
    if row.scope == "class":
        return (screen_class(row.name),)
    if row.scope == "group":
        return (group(row.name),)
    return (ALL,)


def device_row(row: Any, before: Any, how: How) -> Iterable[str]:
    """A screen's own settings (and that some device's settings changed); its key too when it
    is revoked, re-keyed or deleted."""
    out = {screen(row.id), DEVICES}
    if how == "deleted" or (
        how == "dirty" and (before.revoked_at != row.revoked_at or before.key_sha256 != row.key_sha256)
    ):
        out.add(KEYS)
    return out
