"""The one audit trail: every change by a person or a device, through the real routes; append-only in
the database; hash-chained, checked by ``signage-server audit verify`` (a real subprocess) which
names the first broken record; concurrent appenders on PostgreSQL keep one chain; retention."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from content_server.core import migrate
from content_server.core.audit import chain
from content_server.core.audit import services as audit
from content_server.core.audit.models import AuditHead, AuditRecord
from content_server.core.db import make_engine, make_sessionmaker
from content_server.core.models import User
from tests.fixtures.postgres import create_database
from tests.fixtures.server import TEST_SECRET, AppClient, pair_device
from tests.portal.conftest import portal_login

T0 = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


# ---- the chain, pure --------------------------------------------------------------------------


def entries(n: int) -> list[chain.Entry]:
    return [
        chain.Entry(
            T0 + dt.timedelta(seconds=i),
            "user",
            "u1",
            "li",
            "operator",
            "10.0.0.5",
            "screen.updated",
            "screen",
            f"s{i}",
            {"name": "old"},
            {"name": f"new {i}"},
        )
        for i in range(n)
    ]


def linked(es: list[chain.Entry]) -> list[chain.Chained]:
    out: list[chain.Chained] = []
    prev = chain.GENESIS
    for seq, e in enumerate(es, start=1):
        c = chain.link(seq, prev, e)
        out.append(c)
        prev = c.hash
    return out


def test_an_intact_chain_verifies() -> None:
    records = linked(entries(5))
    verdict = chain.verify(records, head_seq=5, head_hash=records[-1].hash)
    assert verdict.ok and verdict.checked == 5 and (verdict.first_seq, verdict.last_seq) == (1, 5)


def test_an_edited_record_is_named() -> None:
    records = linked(entries(5))
    forged = chain.Entry(**{**records[2].entry.__dict__, "after": {"name": "innocent"}})
    records[2] = chain.Chained(3, forged, records[2].prev_hash, records[2].hash)
    verdict = chain.verify(records)
    assert not verdict.ok and verdict.broken_seq == 3 and "does not match its hash" in verdict.reason
    # rehashing the forged record does not help: the next one no longer follows it
    records[2] = chain.link(3, records[1].hash, forged)
    verdict = chain.verify(records)
    assert not verdict.ok and verdict.broken_seq == 4 and "does not follow" in verdict.reason


def test_removed_and_truncated_records_are_found() -> None:
    records = linked(entries(6))
    gap = chain.verify(records[:2] + records[3:])
    assert gap.broken_seq == 4 and gap.reason == "record #3 is missing"
    verdict = chain.verify(records[:4], head_seq=6, head_hash=records[-1].hash)
    assert not verdict.ok and verdict.broken_seq == 5 and "missing" in verdict.reason
    # from retention's anchor on, a chain with its beginning removed still verifies
    assert chain.verify(records[3:], anchor_seq=3, anchor_hash=records[2].hash, head_seq=6).ok


def test_the_canonical_form_is_the_same_after_a_trip_through_json() -> None:
    e = chain.Entry(
        T0,
        "device",
        "d1",
        "lobby",
        "player",
        "",
        "screen.updated",
        "screen",
        "d1",
        {"at": T0, "n": 1.5, "tags": frozenset({"b", "a"})},
        None,
    )
    stored = chain.Entry(**{**e.__dict__, "before": chain.jsonable(e.before)})
    assert chain.digest(1, chain.GENESIS, e) == chain.digest(1, chain.GENESIS, stored)
    assert stored.before == {"at": "2026-12-01T02:00:00+00:00", "n": 1.5, "tags": ["a", "b"]}


# ---- the trail in the running app -------------------------------------------------------------


def trail(client: AppClient, **query: str) -> list[dict[str, object]]:
    r = client.get("/api/v1/audit", params=query, headers=client.auth(client.operator))
    assert r.status_code == 200, r.text
    records: list[dict[str, object]] = r.json()
    return records


def test_people_and_devices_changes_are_recorded_with_who_role_address_before_and_after(
    any_db_client: AppClient,
) -> None:
    c = any_db_client
    device = pair_device(c, name="Lobby 3A", tags=["building:3"])
    created = trail(c, action="screen.created")
    assert len(created) == 1
    rec = created[0]
    assert (rec["actor_kind"], rec["actor_name"], rec["role"], rec["address"]) == (
        "user",
        "operator",
        "operator",
        "testclient",
    )
    after = rec["after"]
    assert isinstance(after, dict) and after["name"] == "Lobby 3A" and after["key_sha256"] == "***"
    assert "last_heartbeat" not in after  # telemetry is not a change

    headers = c.auth(c.operator)
    r = c.patch(f"/api/v1/screens/{device.device_id}", json={"name": "Lobby 3A east"}, headers=headers)
    assert r.status_code == 200
    edited = trail(c, action="screen.updated", screen=device.device_id)[0]
    assert edited["before"] == {"name": "Lobby 3A"} and edited["after"] == {"name": "Lobby 3A east"}

    # a heartbeat changes only telemetry: nothing is recorded
    before = len(trail(c, limit="1000"))
    hb = {"sent_at": c.clock.now().isoformat(), "player_version": "t", "free_disk_bytes": 10**9}
    assert c.post("/api/v1/device/heartbeat", json=hb, headers=device.headers).status_code == 200
    assert len(trail(c, limit="1000")) == before

    # the operator asks for a screenshot, the device answers: both recorded, by whom they were done
    assert (
        c.post(f"/api/v1/screens/{device.device_id}/screenshot-request", headers=headers).status_code == 200
    )
    from tests.content_server.test_transactions import png

    assert c.post("/api/v1/device/screenshot", content=png(), headers=device.headers).status_code == 204
    changes = trail(c, screen=device.device_id, action="screen.updated")
    by = [(r["actor_kind"], r["after"]) for r in reversed(changes)]
    assert by[-2:] == [("user", {"screenshot_requested": True}), ("device", {"screenshot_requested": False})]
    assert changes[0]["role"] == "player" and changes[0]["actor_name"] == "Lobby 3A east"

    # accounts: the password hash never appears
    c.create_user("shop1", "advertiser")
    user = trail(c, action="user.created")[0]
    assert isinstance(user["after"], dict) and user["after"]["password_hash"] == "***"
    assert user["after"]["username"] == "shop1"


def test_the_trail_refuses_to_be_changed_in_the_database(any_db_client: AppClient) -> None:
    c = any_db_client
    pair_device(c)
    engine = c.app.state.engine  # type: ignore[attr-defined]
    for statement in ("UPDATE audit_records SET actor_name = 'nobody'", "DELETE FROM audit_records"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert audit.verify(s).ok


def test_audit_verify_proves_the_chain_and_names_the_first_broken_record(tmp_path: Path) -> None:
    """The command on a real database file, as an operator runs it; then a forger edits one record."""
    from tests.fixtures.server import make_app_client

    client = make_app_client(tmp_path / "data")
    with client:
        from tests.fixtures.server import bootstrap_operator

        bootstrap_operator(client)
        for n in range(3):
            pair_device(client, name=f"screen {n}")
    env = {
        "SIGNAGE_DATA_DIR": str(tmp_path / "data"),
        "SIGNAGE_SECRET_KEY": TEST_SECRET,
        "PATH": "/usr/bin:/bin",
    }

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "content_server.main", "audit", "verify"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    ok = verify()
    assert ok.returncode == 0, ok.stderr
    assert "audit trail intact" in ok.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'signage.db'}")
    with engine.begin() as conn:
        victim = conn.execute(
            text("SELECT seq FROM audit_records WHERE action = 'screen.created' ORDER BY seq")
        ).all()[1][0]
        conn.execute(text("DROP TRIGGER audit_records_no_update"))  # what a forger with the database can do
        conn.execute(
            text("UPDATE audit_records SET actor_name = 'somebody else' WHERE seq = :s"), {"s": victim}
        )
    engine.dispose()
    broken = verify()
    assert broken.returncode == 1
    assert f"broken at record #{victim}" in broken.stderr and "does not match its hash" in broken.stderr


@pytest.mark.postgres
def test_concurrent_changes_from_two_processes_keep_one_chain(postgres_url: str) -> None:
    """Eight threads over two connection pools (two processes' worth) make audited changes at once."""
    url = create_database(postgres_url)
    engines = [make_engine(url), make_engine(url)]
    migrate.upgrade(engines[0])
    factories = [make_sessionmaker(e) for e in engines]
    log = audit.AuditLog(__import__("schedules.clock", fromlist=["SystemClock"]).SystemClock())
    log.watch(User, entity="user", redact=("password_hash",))
    for f in factories:
        log.install(f)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        factory = factories[n % 2]
        try:
            barrier.wait()
            for i in range(15):
                with factory() as s:
                    audit.act_as(s, audit.Actor("user", f"op{n}", f"op{n}", "operator", "10.0.0.1"))
                    name = f"u{n}-{i}"
                    s.add(User(username=name, username_key=name, password_hash="x", role="advertiser",
                               created_at=T0))
                    s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with factories[0]() as s:
        seqs = list(s.scalars(select(AuditRecord.seq).order_by(AuditRecord.seq)))
        assert seqs == list(range(1, 121))
        verdict = audit.verify(s)
    assert verdict.ok and verdict.checked == 120
    for e in engines:
        e.dispose()


def test_retention_removes_the_oldest_records_and_the_rest_still_verifies(any_db_client: AppClient) -> None:
    c = any_db_client
    for n in range(3):
        pair_device(c, name=f"old {n}")
    c.clock.advance(400 * 86400)
    pair_device(c, name="new")
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        total = s.scalar(select(AuditHead.seq))
        removed = audit.prune(s, now=c.clock.now(), keep=dt.timedelta(days=365))
    assert removed >= 3
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        verdict = audit.verify(s)
        kept = list(s.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
    assert verdict.ok and kept[0].seq == removed + 1 and kept[-1].action == "audit.pruned"
    assert kept[-1].seq == (total or 0) + 1
    assert [r for r in kept if (r.after or {}).get("name", "").startswith("old")] == []


def test_the_portal_page_filters_and_exports_csv(any_db_client: AppClient) -> None:
    c = any_db_client
    d = pair_device(c, name='=HYPERLINK("http://evil")')  # a name a spreadsheet would run
    pair_device(c, name="Gate 2")
    portal_login(c, c.operator)
    page = c.get("/portal/fleet/audit", params={"screen": d.device_id})
    assert page.status_code == 200 and "screen.created" in page.text and "Gate 2" not in page.text
    day = (c.clock.now() + dt.timedelta(hours=8)).date().isoformat()  # the community's local date
    assert "screen.created" in c.get("/portal/fleet/audit", params={"from": day, "to": day}).text
    tomorrow = (c.clock.now() + dt.timedelta(days=2)).date().isoformat()
    assert "screen.created" not in c.get("/portal/fleet/audit", params={"from": tomorrow}).text
    assert c.get("/portal/fleet/audit", params={"from": "yesterday"}).status_code == 200  # said, not crashed
    exported = c.get("/portal/fleet/audit.csv", params={"person": "operator"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:3] == ["seq", "at_utc", "actor_kind"]
    created = [r for r in rows[1:] if r[7] == "screen.created"]
    assert len(created) == 2 and all(r[4] == "operator" for r in created)
    assert not any(cell.startswith("=") for row in rows for cell in row)
    assert c.get("/portal/fleet/audit/verify").status_code == 200


def test_a_savepoint_rolled_back_drops_its_own_records_and_keeps_the_ones_before(
    any_db_client: AppClient,
) -> None:
    """Proof of play, leases and metrics use savepoints inside larger transactions: an audited change
    made before one that is rolled back is still recorded, and the undone change is not."""
    c = any_db_client

    def user(name: str) -> User:
        return User(username=name, username_key=name, password_hash="x", role="advertiser", created_at=T0)

    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.add(user("kept-flushed"))
        s.flush()
        s.add(user("kept-unflushed"))  # flushed as the savepoint begins
        try:
            with s.begin_nested():
                s.add(user("undone"))
                s.flush()
                raise LookupError
        except LookupError:
            pass
        with s.begin_nested():  # released: its change stays, and is written with the rest at commit
            s.add(user("kept-in-savepoint"))
        s.commit()
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        created = set(s.scalars(select(AuditRecord.entity_id).where(AuditRecord.action == "user.created")))
        names = set(s.scalars(select(User.username)))
        assert audit.verify(s).ok
    assert {"kept-flushed", "kept-unflushed", "kept-in-savepoint"} <= names and "undone" not in names
    ids = {str(u) for u in created}
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        by_name = dict(s.execute(select(User.username, User.id)).all())
    assert {str(by_name[n]) for n in ("kept-flushed", "kept-unflushed", "kept-in-savepoint")} <= ids
    assert len([i for i in ids if i not in {str(v) for v in by_name.values()}]) == 0  # none for "undone"
