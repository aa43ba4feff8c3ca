"""The store on PostgreSQL: the storage tests again, plus concurrent upserts.

The tests of `tests/test_crawler_db.py` run here a second time with `db_url` pointing
at a fresh PostgreSQL database per test (created from MARKWATCH_TEST_PG, dropped
afterwards). `make test` starts a throwaway cluster and sets MARKWATCH_TEST_PG; when
it is unset these tests are skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from crawler import db
from crawler import models as m
from tests import test_crawler_db as sqlite_suite
from tests.conftest import run_cli
from tests.test_crawler_db import _listing

PG = os.environ.get("MARKWATCH_TEST_PG")

# Every storage test runs here again on PostgreSQL, but for the two about SQLite itself
# (its pragmas; a store path without a URL).
SQLITE_ONLY = {"test_sqlite_pragmas", "test_db_upgrade_command_and_bad_url"}
for _name in dir(sqlite_suite):
    if _name.startswith("test_") and _name not in SQLITE_ONLY:
        globals()[_name] = getattr(sqlite_suite, _name)

pytestmark = pytest.mark.skipif(
    not PG, reason="MARKWATCH_TEST_PG not set (make test starts PostgreSQL)"
)


@contextmanager
def fresh_pg_database(base_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `base_url`; dropped on exit."""
    base = make_url(base_url)
    if base.drivername == "postgresql":
        base = base.set(drivername="postgresql+psycopg")
    name = f"mw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            db.engine_for(url).dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (not migrated)."""
    assert PG
    with fresh_pg_database(PG) as url:
        yield url


@pytest.fixture
def db_url(pg_url: str) -> str:
    """Overrides the SQLite store of conftest: a fresh, migrated PostgreSQL store."""
    db.upgrade(pg_url)
    return pg_url


def test_store_is_postgresql(db_url: str):
    with db.engine_for(db_url).connect() as conn:
        assert conn.dialect.name == "postgresql"
        assert (
            conn.exec_driver_sql("SELECT current_database()").scalar() == make_url(db_url).database
        )


def test_db_upgrade_command_on_postgresql(pg_url: str):
    out = run_cli("db", "upgrade", "--db", pg_url)
    assert out.returncode == 0, out.stderr
    with db.engine_for(pg_url).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM listings").scalar() == 0
    db.ensure_schema(pg_url)  # current: a no-op, not an error


def test_unreachable_postgresql_is_one_line(tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    out = run_cli("db", "upgrade", "--db", f"postgresql://markwatch@127.0.0.1:{port}/nothing")
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "database error" in lines[0], out.stderr


def _hammer(
    url: str, run_id: int, keys: list[str], barrier: threading.Barrier, errors: list[Exception]
) -> None:
    try:
        barrier.wait()
        for key in keys:
            with db.session_scope(url) as s:
                db.upsert_listing(s, _listing(listing_id=key, title=f"item {key}"), run_id=run_id)
                db.note_seller(s, "aliexpress", "2231", "Best Store")
    except Exception as exc:  # noqa: BLE001 (reported by the test, with the thread's error)
        errors.append(exc)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_upserts_make_one_row_and_one_sighting_per_run(backend: str, tmp_path, request):
    """Eight writers upsert the same 40 listings at once, in two runs: no duplicates, nothing lost."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        db.upgrade(url)
    else:
        url = request.getfixturevalue("db_url")
    keys = [f"10050{i:04d}" for i in range(40)]
    with db.session_scope(url) as s:
        runs = [db.start_run(s, "aliexpress").id for _ in range(2)]
    errors: list[Exception] = []
    barrier = threading.Barrier(8)
    threads = []
    for n in range(8):
        order = keys if n % 2 else list(reversed(keys))  # opposite orders: the worst case for locks
        threads.append(
            threading.Thread(target=_hammer, args=(url, runs[n % 2], order, barrier, errors))
        )
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with db.session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(m.Listing)) == len(keys)
        assert s.scalar(select(func.count(func.distinct(m.Listing.listing_id)))) == len(keys)
        per_run = dict(
            s.execute(select(m.Sighting.run_id, func.count()).group_by(m.Sighting.run_id)).all()
        )
        assert per_run == {runs[0]: len(keys), runs[1]: len(keys)}
        assert s.scalar(select(func.count()).select_from(m.Seller)) == 1


def test_timestamps_and_json_round_trip(db_url: str):
    t0 = dt.datetime(2026, 3, 1, 8, 30, 15)
    with db.session_scope(db_url) as s:
        run = db.start_run(s, "aliexpress", cycle="c1")
        db.upsert_listing(
            s,
            _listing(image_urls=["https://img.example/é.jpg", "https://img.example/2.jpg"]),
            run_id=run.id,
            seen_at=t0,
        )
        db.finish_run(
            s, run.id, "ok", pages=3, items=1, stats={"markwatch/pages": 3, "nested": {"x": 1}}
        )
    with db.session_scope(db_url) as s:
        listing = s.scalars(select(m.Listing)).one()
        assert listing.image_urls == ["https://img.example/é.jpg", "https://img.example/2.jpg"]
        assert listing.first_seen == t0
        run = s.scalars(select(m.CrawlRun)).one()
        assert run.stats == {"markwatch/pages": 3} and run.status == "ok"
