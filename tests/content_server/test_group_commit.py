"""Group commit (``core/group_commit.py``) and the play ingest it runs, on SQLite and PostgreSQL.

The writer's promises, each checked on a real database: writes that queue while a transaction
runs are committed together in the next one; a caller gets its answer only once its rows are
committed (another connection sees them by then); a write that fails fails alone; a stop writes
what was submitted. The play ingest counts each record id once within a group, across groups
and across resends, and believes only what ``proof_of_play.judge`` believes (the rule of every
proof-of-play path), counting the refused records per device, day and reason.
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
from content_server.signage.models import PlayRefusalRow, PlayRow, ServedManifestRow
from content_server.signage.proof_of_play import PlayPolicy, served_record
from content_server.signage.services.plays import INGEST, PlaySubmission, ingest
from schedules.model import SlotSource, Zone
from schedules.protocol.device import PlayBatch
from schedules.timeline import timeline
from tests.content_server.test_proof_of_play import CATALOGUE, SCREEN, manifest
from tests.fixtures.seeding import add_devices

NOW = dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC)  # within the test manifest's days
POLICY = PlayPolicy()
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


def test_writes_within_a_lingering_kinds_wait_share_its_transaction(
    writer: GroupCommit, engine: Engine
) -> None:
    """A kind that lingers (proof of play) opens a group that waits for the writes coming just
    after; one that does not commits a lone write at once."""
    lingering = WriteKind("note", _note, linger_s=2.0)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(writer.write_blocking, lingering, 1)
        while writer._queue.qsize() or not first.running():  # the writer holds it, waiting for more
            threading.Event().wait(0.001)
        assert not first.done()
        later = [pool.submit(writer.write_blocking, NOTE, i) for i in (2, 3)]
        assert first.result(30) == 10 and [f.result(30) for f in later] == [20, 30]
    assert (writer.groups, writer.writes) == (1, 3)
    assert writer.write_blocking(NOTE, 4) == 40  # no linger: alone, at once
    assert (writer.groups, writer.writes) == (2, 4)


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


def _serve(engine: Engine, device_ids: list[str]) -> list[dict[str, object]]:
    """Record that each device was served the test manifest an hour before ``NOW`` (what the
    server does when it answers a manifest request); the main zone's plays of that hour, as
    the player reports them (one after another, each a real slot)."""
    m = manifest()
    since = NOW - dt.timedelta(hours=1)
    record = served_record(m, since).model_dump(mode="json")
    with engine.begin() as conn:
        conn.execute(
            insert(ServedManifestRow.__table__),
            [
                {"device_id": d, "version": m.version, "served_from": since, "valid_until": m.valid_until,
                 "record": record}
                for d in device_ids
            ],
        )  # fmt: skip
    return [
        {
            "id": str(uuid.uuid4()),
            "item_id": slot.item_id,
            "campaign_id": slot.source_id if slot.source is SlotSource.CAMPAIGN else None,
            "announcement_id": slot.source_id if slot.source is SlotSource.ANNOUNCEMENT else None,
            "started_at": slot.start.isoformat(),
            "duration_s": (slot.end - slot.start).total_seconds(),
            "completed": True,
        }
        for slot in timeline(SCREEN, CATALOGUE, since, NOW - dt.timedelta(minutes=1)).slots()
        if slot.zone is Zone.MAIN
    ]


def _forged(start: dt.datetime) -> dict[str, object]:
    """A play of an item no manifest served to the device has (a probe's claim)."""
    return {"id": str(uuid.uuid4()), "item_id": "forged", "started_at": start.isoformat(), "duration_s": 10,
            "completed": True}  # fmt: skip


def _submit(device_id: str, records: list[dict[str, object]]) -> PlaySubmission:
    return PlaySubmission(device_id, PlayBatch.model_validate({"records": records}), NOW, POLICY)


def _refusals(engine: Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as c:
        rows = c.execute(select(PlayRefusalRow.device_id, PlayRefusalRow.reason, PlayRefusalRow.count))
        return {(d, r): n for d, r, n in rows}


def _devices(engine: Engine, prefix: str, count: int) -> list[str]:
    from content_server.core.db import make_sessionmaker

    with make_sessionmaker(engine)() as s:
        _, devices = add_devices(s, prefix=prefix, count=count, kind="player", groups=["g"], now=NOW)
        s.commit()
    return list(devices)


def _stored(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.scalar(select(func.count()).select_from(PlayRow.__table__)) or 0)


def test_ingest_counts_each_record_once_within_a_group_across_groups_and_resends(engine: Engine) -> None:
    (device,) = _devices(engine, "gc", 1)
    plays = _serve(engine, [device])[:5]
    a = _submit(device, plays[:3])
    b = _submit(device, plays[2:] + plays[3:4])  # overlaps a, and repeats a record
    with engine.begin() as conn:
        first = ingest(conn, [a, b])
    assert [(r.accepted, r.duplicates, r.refused) for r in first] == [(3, 0, 0), (2, 2, 0)]
    with engine.begin() as conn:  # both resent (replies lost): nothing new, nothing refused
        again = ingest(conn, [b, a])
    assert [(r.accepted, r.duplicates, r.refused) for r in again] == [(0, 4, 0), (0, 3, 0)]
    assert _stored(engine) == 5
    assert _refusals(engine) == {}


def test_ingest_believes_only_what_a_served_manifest_vouches_for_and_counts_the_rest(engine: Engine) -> None:
    """The one rule (``proof_of_play.judge``) on the group path: a forged record is refused alone,
    a device never served a manifest has every play refused, two requests of one group claiming
    the same seconds keep the earlier claim, and refusals add up per device, day and reason
    across groups."""
    served, unserved = _devices(engine, "gv", 2)
    plays = _serve(engine, [served])
    forged = _forged(NOW - dt.timedelta(minutes=30))
    early = plays[10]
    two_s_later = dt.datetime.fromisoformat(str(early["started_at"])) + dt.timedelta(seconds=2)
    clash = {**plays[11], "id": str(uuid.uuid4()), "started_at": two_s_later.isoformat()}
    with engine.begin() as conn:
        out = ingest(conn, [
            _submit(served, [*plays[:3], forged]),
            _submit(unserved, plays[3:6]),
            _submit(served, [early]),
            _submit(served, [clash]),
        ])  # fmt: skip
    counts = [(r.accepted, r.duplicates, r.refused) for r in out]
    assert counts == [(3, 0, 1), (0, 0, 3), (1, 0, 0), (0, 0, 1)]
    assert out[0].refused_reasons == {"unknown_item": 1}
    assert out[1].refused_reasons == {"not_served": 3}
    assert out[3].refused_reasons == {"overlaps": 1}
    with engine.begin() as conn:  # the forged record again, in another group: counted again
        (again,) = ingest(conn, [_submit(served, [forged])])
    assert (again.accepted, again.refused) == (0, 1)
    assert _stored(engine) == 4
    assert _refusals(engine) == {
        (served, "unknown_item"): 2,
        (served, "overlaps"): 1,
        (unserved, "not_served"): 3,
    }


def test_plays_through_the_writer_from_many_callers(writer: GroupCommit, engine: Engine) -> None:
    devices = _devices(engine, "gw", 4)
    plays = _serve(engine, devices)
    own = {d: [{**p, "id": str(uuid.uuid4())} for p in plays] for d in devices}  # each screen played them
    batches = [(devices[n % 4], own[devices[n % 4]][(n // 4) * 3 : (n // 4) * 3 + 3]) for n in range(40)]
    forged = [(devices[n], [_forged(NOW - dt.timedelta(minutes=5))]) for n in range(4)]

    async def send(device: str, records: list[dict[str, object]]) -> tuple[int, int]:
        result = await writer.write(INGEST, _submit(device, records))
        return result.accepted, result.refused

    async def main() -> list[tuple[int, int]]:
        sends = [*batches, *forged]
        firsts = await asyncio.gather(*(send(d, r) for d, r in sends))
        resent = await asyncio.gather(*(send(d, r) for d, r in batches))
        return [*firsts, *resent]

    answers = asyncio.run(main())
    assert answers[:40] == [(3, 0)] * 40 and answers[40:44] == [(0, 1)] * 4 and answers[44:] == [(0, 0)] * 40
    assert writer.groups < len(answers)  # some requests shared a transaction
    assert _stored(engine) == 120
    assert _refusals(engine) == {(d, "unknown_item"): 1 for d in devices}
