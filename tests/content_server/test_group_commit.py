"""Group commit (``core/group_commit.py``) and the play ingest it runs, on SQLite and PostgreSQL.

The writer's promises, each checked on a real database: writes that queue while a transaction
runs are committed together in the next one; a caller gets its answer only once its rows are
committed (another connection sees them by then); a write that fails fails alone; a stop writes
what was submitted. The play ingest counts each record id once within a group, across groups
and across resends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, func, insert, select

from content_server.core.db import make_engine
from content_server.core.group_commit import GroupCommit, GroupCommitError, WriteKind
from content_server.core.migrate import upgrade
from content_server.signage.models import PlayRow
from content_server.signage.services.plays import INGEST, PlaySubmission, ingest
from schedules.protocol.device import PlayBatch
from tests.fixtures.seeding import add_devices

NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
META = MetaData()
NOTES = Table("gc_notes", META, Column("id", Integer, primary_key=True), Column("text", String(20)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgres":
        from tests.fixtures.postgres import create_database

        url = create_database(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'gc.db'}"
    eng = make_engine(url)
    upgrade(eng)
    META.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def writer(engine: Engine) -> Iterator[GroupCommit]:
    gc = GroupCommit(
        make_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=1, pre_ping=False)
    )
    gc.start()
    yield gc
    gc.stop()


def _count(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.scalar(select(func.count()).select_from(NOTES)) or 0)


class Gate:
    """A write kind that holds the writer in its transaction until released (to queue others)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def apply(self, conn: Connection, items: list[int]) -> list[int]:
        self.entered.set()
        assert self.release.wait(30)
        conn.execute(insert(NOTES), [{"id": i, "text": "gate"} for i in items])
        return items


def _note(conn: Connection, items: list[int]) -> list[int]:
    conn.execute(insert(NOTES), [{"id": i, "text": "note"} for i in items])
    return [i * 10 for i in items]


NOTE: WriteKind[int, int] = WriteKind("note", _note)


def test_writes_queued_behind_a_transaction_commit_together_and_are_answered_after(
    writer: GroupCommit, engine: Engine
) -> None:
    gate = Gate()
    with ThreadPoolExecutor(12) as pool:
        first = pool.submit(writer.write_blocking, WriteKind("gate", gate.apply), 1000)
        assert gate.entered.wait(30)
        queued = [pool.submit(writer.write_blocking, NOTE, i) for i in range(1, 11)]
        while writer._queue.qsize() < 10:  # all ten waiting for the writer
            threading.Event().wait(0.001)
        assert not any(f.done() for f in queued)  # nobody answered before the commit
        assert _count(engine) == 0
        gate.release.set()
        assert first.result(30) == 1000
        seen_by_others = []
        for i, f in enumerate(queued, start=1):
            assert f.result(30) == i * 10
            seen_by_others.append(_count(engine))  # once answered, committed: visible elsewhere
    assert seen_by_others == [11] * 10
    assert (writer.groups, writer.writes) == (2, 11)  # the ten queued writes: one transaction


def test_a_write_that_fails_fails_alone(writer: GroupCommit, engine: Engine) -> None:
    writer.write_blocking(NOTE, 7)
    gate = Gate()
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(writer.write_blocking, WriteKind("gate", gate.apply), 100)
        assert gate.entered.wait(30)
        good = [pool.submit(writer.write_blocking, NOTE, i) for i in (1, 2, 3)]
        bad = pool.submit(writer.write_blocking, NOTE, 7)  # the id is taken: this one fails
        while writer._queue.qsize() < 4:
            threading.Event().wait(0.001)
        gate.release.set()
        first.result(30)
        assert [f.result(30) for f in good] == [10, 20, 30]
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            bad.result(30)
    assert _count(engine) == 5  # 7, 100, 1, 2, 3


def test_the_event_loop_waits_for_the_commit(writer: GroupCommit, engine: Engine) -> None:
    async def main() -> list[int]:
        return list(await asyncio.gather(*(writer.write(NOTE, i) for i in range(1, 51))))

    assert asyncio.run(main()) == [i * 10 for i in range(1, 51)]
    assert _count(engine) == 50


def test_stop_writes_what_was_submitted(engine: Engine) -> None:
    gc = GroupCommit(make_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=1))
    gc.start()
    gate = Gate()
    with ThreadPoolExecutor(4) as pool:
        held = pool.submit(gc.write_blocking, WriteKind("gate", gate.apply), 500)
        assert gate.entered.wait(30)
        later = [pool.submit(gc.write_blocking, NOTE, i) for i in (1, 2, 3)]
        while gc._queue.qsize() < 3:
            threading.Event().wait(0.001)
        stopping = pool.submit(gc.stop)
        gate.release.set()
        stopping.result(30)
        assert held.result(30) == 500 and [f.result(30) for f in later] == [10, 20, 30]
    assert _count(engine) == 4
    with pytest.raises(GroupCommitError):
        gc.write_blocking(NOTE, 9)


def _batch(ids: list[str]) -> PlayBatch:
    return PlayBatch.model_validate(
        {
            "records": [
                {
                    "id": i,
                    "item_id": "m-1",
                    "started_at": NOW.isoformat(),
                    "duration_s": 10,
                    "completed": True,
                }
                for i in ids
            ]
        }
    )


def test_ingest_counts_each_record_once_within_a_group_across_groups_and_resends(engine: Engine) -> None:
    from content_server.core.db import make_sessionmaker

    with make_sessionmaker(engine)() as s:
        _, (device,) = add_devices(s, prefix="gc", count=1, kind="player", groups=["g"], now=NOW)
        s.commit()
    ids = [str(uuid.uuid4()) for _ in range(5)]
    a = PlaySubmission(device, _batch(ids[:3]), NOW)
    b = PlaySubmission(device, _batch(ids[2:] + ids[3:4]), NOW)  # overlaps a, and repeats an id
    with engine.begin() as conn:
        first = ingest(conn, [a, b])
    assert [(r.accepted, r.duplicates) for r in first] == [(3, 0), (2, 2)]
    with engine.begin() as conn:  # both resent (replies lost): nothing new
        again = ingest(conn, [b, a])
    assert [(r.accepted, r.duplicates) for r in again] == [(0, 4), (0, 3)]
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(PlayRow.__table__)) == 5


def test_plays_through_the_writer_from_many_callers(writer: GroupCommit, engine: Engine) -> None:
    from content_server.core.db import make_sessionmaker

    with make_sessionmaker(engine)() as s:
        _, devices = add_devices(s, prefix="gw", count=4, kind="player", groups=["g"], now=NOW)
        s.commit()
    batches = [[str(uuid.uuid4()) for _ in range(3)] for _ in range(40)]

    async def send(ids: list[str], n: int) -> int:
        result = await writer.write(INGEST, PlaySubmission(devices[n % 4], _batch(ids), NOW))
        return result.accepted

    async def main() -> list[int]:
        firsts = await asyncio.gather(*(send(ids, n) for n, ids in enumerate(batches)))
        resent = await asyncio.gather(*(send(ids, n) for n, ids in enumerate(batches)))
        return [*firsts, *resent]

    accepted = asyncio.run(main())
    assert accepted[:40] == [3] * 40 and accepted[40:] == [0] * 40
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(PlayRow.__table__)) == 120
