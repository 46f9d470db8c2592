"""The change counters behind cheap manifest and emergency checks (one row, bumped on every change)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from content_server.core.models import Base, UTCDateTime


class ManifestState(Base):
    """One row: a counter bumped whenever anything that feeds manifests changes (cheap 304 checks)."""

    __tablename__ = "manifest_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    emergency_generation: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)



def _ensure(session: Session, now: dt.datetime) -> None:
    if session.get(ManifestState, 1) is None:
        session.add(ManifestState(id=1, generation=0, emergency_generation=0, changed_at=now))
        session.flush()


def bump(session: Session, now: dt.datetime, *, emergency: bool = False) -> None:
    """Mark manifests (and emergencies) as changed; committed with the caller's transaction."""
    _ensure(session, now)
    values: dict[str, object] = {"generation": ManifestState.generation + 1, "changed_at": now}
    if emergency:
        values["emergency_generation"] = ManifestState.emergency_generation + 1
    session.execute(update(ManifestState).where(ManifestState.id == 1).values(**values))
    session.info["manifests_changed"] = True
    if emergency:
        session.info["emergency_changed"] = True


def generations(session: Session) -> tuple[int, int]:
    """(manifest generation, emergency generation)."""
    row = session.execute(select(ManifestState.generation, ManifestState.emergency_generation)).first()
    return (row[0], row[1]) if row else (0, 0)
