"""Which screen shapes the studio draws for, and storing one slide's drawings as variants of each other.

Slides are drawn for the class read from farthest away (what reads outdoors reads everywhere), at
16:9 and 9:16 and at the other shapes of the registered screens (a 4:3 lobby screen, an ultra-wide
elevator strip): text is laid out for the screen's own shape instead of being letterboxed small or
cropped. The drawings of one slide share ``Media.variant_of``; each screen's manifest carries the one
nearest its shape (``signage.services.catalogue.nearest_variants``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.models import User, new_id
from content_server.core.store import MediaStore
from content_server.signage.models import Device
from content_server.signage.services import library
from content_server.studio.canvas import Canvas, canvas_of_size, render_sizes, size_key
from schedules.model import ScreenClass

STORED_CLASS = ScreenClass.OUTDOOR_LARGE


def canvases(session: Session) -> list[Canvas]:
    """The canvases to draw on now: the defaults and the registered (not revoked) screens' shapes."""
    screens = session.execute(select(Device.width, Device.height).where(Device.revoked_at.is_(None))).all()
    return [canvas_of_size(STORED_CLASS, size) for size in render_sizes([(w, h) for w, h in screens])]


def store_variants(
    session: Session,
    store: MediaStore,
    owner: User,
    drawings: list[tuple[Canvas, bytes, bytes]],
    *,
    title: str,
    duration_s: float,
    now: dt.datetime,
) -> dict[str, str]:
    """Store (canvas, PNG, thumbnail) drawings of one slide as media sharing one ``variant_of`` key.

    Returns ``size_key`` -> media id (``landscape``, ``portrait``, ``1440x1080``...). The caller commits."""
    group = new_id()
    out: dict[str, str] = {}
    for cv, png, thumb in drawings:
        key = size_key((cv.width, cv.height))
        media = library.add_rendered(
            session,
            store,
            owner,
            png,
            thumb,
            width=cv.width,
            height=cv.height,
            title=f"{title} ({key})",
            duration_s=duration_s,
            now=now,
            variant_of=group,
        )
        out[key] = media.id
    return out
