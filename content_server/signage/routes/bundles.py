"""Operators export a signed offline bundle of a screen group's manifests and assets."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from content_server.core.deps import NowDep, Operator, SessionDep, SettingsDep, StoreDep
from content_server.signage.services import bundles

router = APIRouter(tags=["bundles"])


@router.get("/bundles", response_class=Response, responses={200: {"content": {"application/x-tar": {}}}})
def export_bundle(
    group: Annotated[str, Query(min_length=1, max_length=100)],
    request: Request,
    session: SessionDep,
    store: StoreDep,
    now: NowDep,
    settings: SettingsDep,
    _op: Operator,
) -> Response:
    path = bundles.export(
        session,
        store,
        request.app.state.server_key,
        group=group,
        now=now,
        days=settings.manifest_days,
        tmp_dir=store.tmp,
    )
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", group)[:50] or "group"
    return FileResponse(
        path,
        media_type="application/x-tar",
        filename=f"signage-{safe}-{now:%Y%m%d}.tar",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
