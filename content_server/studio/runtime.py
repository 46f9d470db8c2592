"""Wiring the studio into a running server: each data source's refresh job on the server's scheduler."""

from __future__ import annotations

import logging

from content_server.core.api import ContentServer
from content_server.studio.fonts import FontBook
from content_server.studio.models import DataSourceRow
from content_server.studio.scheduler import SourceScheduler
from content_server.studio.services import datasources
from content_server.studio.sources import SourceSpec

log = logging.getLogger(__name__)


def start(app: ContentServer) -> None:
    """Start-up hook: one job per registered source (the scheduler itself is the server's)."""
    state = app.state

    def run(source_id: str) -> None:
        tz = state.settings.community_tz
        row = datasources.refresh_source(
            state.sessions, state.store, source_id, FontBook.system(), state.clock, tz
        )
        if row.last_error:
            log.warning("data source %s: %s", source_id, row.last_error)

    jobs = SourceScheduler(run, state.scheduler)
    state.studio_sources = jobs
    with state.sessions() as session:
        for row in session.query(DataSourceRow).all():
            jobs.put(row.id, SourceSpec.model_validate(row.spec).every_s, state.clock.now())
