"""Live data sources: registered by operators, refreshed on their own schedule, shown until they expire.

Each refresh (:func:`refresh_source`, run by the scheduler with its own session) fetches through the
SSRF-safe fetcher with the source's allow-list, renders the data onto its template and keeps one
announcement per source up to date: the slides as ordinary media, the headlines as ticker text, and
``valid_until`` = the last good fetch + the source's time-to-live. Players receive it in their
manifests like any announcement, so offline screens keep the last good data until it expires and
then drop it by themselves; a source that keeps failing simply runs out.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import urllib.parse
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.errors import Invalid, NotFound
from content_server.core.models import User
from content_server.core.store import MediaStore
from content_server.signage.models import AnnouncementRow
from content_server.studio.designs import TemplateContent
from content_server.studio.errors import DataProblem
from content_server.studio.fetcher import Fetcher, FetchPolicy, Resolver, Validators
from content_server.studio.fonts import FontBook
from content_server.studio.models import DataSourceRow
from content_server.studio.scheduler import SourceScheduler
from content_server.studio.services import shapes
from content_server.studio.services.slides import thumbnail
from content_server.studio.sources import SourceKind, SourceSpec, SourceState, refresh
from schedules.clock import Clock

log = logging.getLogger(__name__)


def _networks(allow: list[str]) -> list[str]:
    out = []
    for item in allow:
        try:
            out.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise Invalid(
                f"allow_networks: {item!r} is not an address or network (e.g. 10.0.5.7/32)"
            ) from None
    return out


def register(
    session: Session,
    op: User,
    spec: SourceSpec,
    allow: list[str],
    *,
    now: dt.datetime,
    jobs: SourceScheduler | None,
) -> DataSourceRow:
    """Record the source and put it on its schedule (``jobs``: the server's source scheduler)."""
    parts = urllib.parse.urlsplit(spec.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url: only http:// and https:// sources can be fetched")
    if spec.kind == SourceKind.JSON:
        try:
            spec.json_mapping()  # a JSON source needs a usable mapping now, not at its first fetch
        except DataProblem as exc:
            raise Invalid(f"mapping: {exc}") from None
    row = DataSourceRow(
        owner_id=op.id,
        spec=spec.model_dump(mode="json"),
        allow_networks=_networks(allow),
        created_at=now,
        last_error="",
        failures=0,
        ticker="",
        media_ids={},
    )
    session.add(row)
    session.commit()
    if jobs is not None:
        jobs.put(row.id, spec.every_s, now)
    log.info("data source %s (%s) registered by %s", row.id, spec.name, op.username)
    return row


def get(session: Session, source_id: str) -> DataSourceRow:
    row = session.get(DataSourceRow, source_id)
    if row is None:
        raise NotFound("unknown data source")
    return row


def list_all(session: Session) -> list[DataSourceRow]:
    return list(session.scalars(select(DataSourceRow).order_by(DataSourceRow.created_at, DataSourceRow.id)))


@dataclass(frozen=True)
class SourceView:
    """A source as its page shows it: its spec, when its data runs out, whether screens show it now,
    and what it shows (the headlines, a picture of the slide)."""

    row: DataSourceRow
    spec: SourceSpec
    expires_at: dt.datetime | None
    on_screens: bool
    headlines: tuple[str, ...]
    picture_id: str | None


def view(session: Session, row: DataSourceRow, now: dt.datetime) -> SourceView:
    spec = SourceSpec.model_validate(row.spec)
    expires = row.fetched_at + dt.timedelta(seconds=spec.ttl_s) if row.fetched_at else None
    ann = session.get(AnnouncementRow, row.announcement_id) if row.announcement_id else None
    on_screens = (
        ann is not None
        and ann.state == "active"
        and (ann.valid_until is None or ann.valid_until > now)
        and bool(ann.media_ids or ann.ticker_text)
    )
    fields = (row.content or {}).get("fields", {})
    headlines = tuple(line for line in str(fields.get("items.zh", "")).splitlines() if line.strip())
    picture = row.media_ids.get("landscape") or next(iter(row.media_ids.values()), None)
    return SourceView(row, spec, expires, on_screens, headlines, picture)


def remove(session: Session, source_id: str, jobs: SourceScheduler | None) -> None:
    row = get(session, source_id)
    if jobs is not None:
        jobs.remove(source_id)
    if (
        row.announcement_id is not None
        and (ann := session.get(AnnouncementRow, row.announcement_id)) is not None
    ):
        ann.state = "ended"
    session.delete(row)
    session.commit()


def _state(row: DataSourceRow) -> SourceState:
    content = TemplateContent.model_validate(row.content) if row.content else None
    return SourceState(
        Validators(row.etag, row.last_modified),
        row.fetched_at,
        (),
        row.ticker,
        content,
        row.last_error,
        row.failures,
    )


def refresh_source(
    sessions: sessionmaker[Session],
    store: MediaStore,
    source_id: str,
    book: FontBook,
    clock: Clock,
    tz: dt.tzinfo,
    resolver: Resolver | None = None,
) -> DataSourceRow:
    """One scheduled refresh; failures are recorded on the row (the last good data stays until it expires)."""
    with sessions() as session:
        row = get(session, source_id)
        spec = SourceSpec.model_validate(row.spec)
        fetcher = Fetcher(FetchPolicy.with_allow(row.allow_networks), resolver, clock)
        canvases = tuple(shapes.canvases(session))
        before = _state(row)
        now = clock.now()
        after = refresh(spec, before, fetcher, canvases, book, now, tz)
        row.last_error, row.failures = after.last_error, after.failures
        if after.fetched_at != before.fetched_at and after.fetched_at is not None:
            row.etag, row.last_modified = after.validators.etag, after.validators.last_modified
            row.fetched_at = after.fetched_at
            owner = session.get(User, row.owner_id)
            assert owner is not None
            if after.slides:  # new data: new pictures (a 304 only confirms the old ones)
                by_key = {cv.key: cv for cv in canvases}
                media_ids = shapes.store_variants(
                    session,
                    store,
                    owner,
                    [(by_key[key], png, thumbnail(png)) for key, png in after.slides],
                    title=spec.name,
                    duration_s=10.0,
                    now=now,
                )
                row.media_ids = media_ids
                row.content = after.content.model_dump(mode="json") if after.content else None
                row.ticker = after.ticker
            _publish(session, row, spec, owner, now)
        session.commit()
        session.refresh(row)
        return row


def _publish(session: Session, row: DataSourceRow, spec: SourceSpec, owner: User, now: dt.datetime) -> None:
    """The source's one announcement: its latest slides and ticker, shown until fetched_at + ttl."""
    assert row.fetched_at is not None
    until = row.fetched_at + dt.timedelta(seconds=spec.ttl_s)
    ann = session.get(AnnouncementRow, row.announcement_id) if row.announcement_id else None
    if ann is None:
        ann = AnnouncementRow(
            title=f"{spec.name}"[:200],
            text={},
            targeting={},
            created_by=owner.id,
            created_at=now,
            state="active",
            priority="normal",
        )
        session.add(ann)
    ann.media_ids = list(row.media_ids.values())
    ann.ticker_text = {"zh": row.ticker[:2000]} if row.ticker else {}
    ann.valid_from = row.fetched_at
    ann.valid_until = until
    ann.updated_at = now
    session.flush()
    row.announcement_id = ann.id
