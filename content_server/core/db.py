"""Database engine and sessions: SQLite (WAL, foreign keys) by default, PostgreSQL via psycopg 3."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def _normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20, pre_ping: bool = True) -> Engine:
    """Create an engine; SQLite connections get WAL, foreign keys and a busy timeout.

    The defaults are the request pool's. One thread that keeps its connection (the group-commit
    writer) asks for a pool of one without the ping at each check-out: a connection found dead
    is dropped when a statement fails on it, and the next check-out opens a new one.
    """
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        # the pool as big as PostgreSQL's: connections beyond pool_size are opened and closed per
        # checkout, and each opening runs the pragmas below
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=pre_ping, pool_size=pool_size, max_overflow=max_overflow)


def insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]], *, key: str) -> list[Any]:
    """Insert the rows whose ``key`` is not taken yet, in one statement; the keys inserted.

    ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING key`` (PostgreSQL and SQLite 3.35+): a row
    already there (from an earlier request, or from another process a moment ago) is skipped
    without an error and without a read before the write.
    """
    return list(conn.execute(_insert_new_statement(conn.dialect.name, table, key), rows).scalars())


@functools.cache
def _insert_new_statement(dialect: str, table: Table, key: str) -> Insert:
    """Built once per table: building it again for every write cost as much as running it."""
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return build(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def in_savepoint(session: Session) -> bool:
    """Whether a ``before_commit``, ``after_commit`` or ``after_rollback`` hook is running for a
    savepoint's release or rollback rather than the transaction's end. SQLAlchemy dispatches those
    events for both, so work that belongs to the commit (stamping changes, writing the audit chain,
    waking the delivery worker) checks this first: a savepoint released early would otherwise do
    it mid-transaction, and one rolled back would forget what the transaction did before it."""
    return session.in_nested_transaction()


def release_connection(session: Session) -> None:
    """End the request's read transaction, so its pooled connection goes back now.

    FastAPI runs each sync dependency, the endpoint and the response model's validation in
    separate hops onto its 40 worker threads. A connection held across a hop waits for a thread
    while threads wait for one of the pool's 30 connections: under load every request then
    stalls until the 30 s pool timeout and fails (500). Loaded objects stay usable (sessions do
    not expire on commit).
    """
    session.commit()


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request, rolled back on error, always closed."""
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
