"""The store: migrations match the models, listings and sightings round-trip."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from crawler import db
from crawler import models as m
from crawler.config import load_client
from matching.types import Assessment, Signal
from tests.conftest import DEMO_CONFIG, run_cli


def _listing(**over):
    base = dict(
        marketplace="aliexpress", listing_id="1005001", url="https://www.aliexpress.com/item/1005001.html",
        title="Lumora Pods Pro 1:1", price=12.5, currency="USD", seller_id="2231", seller_name="Best Store",
        image_urls=["https://img.example/1.jpg"],
    )
    return {**base, **over}


def test_migration_creates_the_models_schema(db_url: str):
    with db.engine_for(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
        assert diff == []
        tables = set(inspect(conn).get_table_names())
    assert {"listings", "sightings", "listing_images", "assessments", "cases", "case_events", "crawl_runs",
            "outbox", "marks", "registrations", "evidence", "sellers"} <= tables


def test_sqlite_pragmas(db_url: str):
    with db.engine_for(db_url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_upsert_is_unique_and_records_each_sighting(db_url: str):
    t0 = dt.datetime(2026, 1, 1, 12, 0)
    with db.session_scope(db_url) as s:
        run = db.start_run(s, "aliexpress")
        first = db.upsert_listing(s, _listing(), run_id=run.id, seen_at=t0, search_term="lumora")
        again = db.upsert_listing(s, _listing(), run_id=run.id, seen_at=t0)  # same run: no second sighting
        assert first.created and first.changed and not again.created and not again.changed
    with db.session_scope(db_url) as s:
        run2 = db.start_run(s, "aliexpress")
        later = db.upsert_listing(s, _listing(price=9.9), run_id=run2.id, seen_at=t0 + dt.timedelta(days=1))
        assert not later.created and later.changed
    with db.session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(m.Listing)) == 1
        listing = s.scalars(select(m.Listing)).one()
        assert [x.price for x in listing.sightings] == [12.5, 9.9]
        assert listing.sightings[0].search_term == "lumora"
        assert listing.first_seen == t0 and listing.last_seen == t0 + dt.timedelta(days=1)
        assert listing.key == "aliexpress:1005001"


def test_assessment_round_trip_and_needs_assessment(db_url: str):
    with db.session_scope(db_url) as s:
        listing = db.upsert_listing(s, _listing()).listing
        assert db.needs_assessment(s, listing, "1")
        a = Assessment("aliexpress:1005001", 0.93, "counterfeit", "lumora",
                       [Signal("text", 0.9, "'Lumora' matches term 'Lumora'")])
        db.add_assessment(s, listing, a, "1")
        assert not db.needs_assessment(s, listing, "1")
        assert db.needs_assessment(s, listing, "2")  # matching changed
    with db.session_scope(db_url) as s:
        listing = db.upsert_listing(s, _listing(title="changed")).listing
        assert db.needs_assessment(s, listing, "1")
        rows = list(db.iter_listings_with_assessment(s))
        assert len(rows) == 1 and rows[0][1].verdict == "counterfeit"
        assert rows[0][1].signals[0]["detail"].startswith("'Lumora'")


def test_failed_transaction_leaves_nothing(db_url: str):
    with pytest.raises(RuntimeError), db.session_scope(db_url) as s:
        db.upsert_listing(s, _listing())
        raise RuntimeError("killed mid-write")
    with db.session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(m.Listing)) == 0
        assert s.scalar(select(func.count()).select_from(m.Sighting)) == 0


def test_images_and_marks_sync(db_url: str):
    client = load_client(DEMO_CONFIG)
    with db.session_scope(db_url) as s:
        db.sync_marks(s, client)
        listing = db.upsert_listing(s, _listing()).listing
        db.set_images(s, listing, [{"url": "https://img.example/1.jpg", "sha256": "ab" * 32, "phash": "ff00ff00ff00ff00"}])
    with db.session_scope(db_url) as s:
        db.sync_marks(s, client)  # idempotent
        mark = s.get(m.MarkRow, "lumora")
        assert mark.owner == "Lumora Audio Co., Ltd." and {r.country for r in mark.registrations} == {"CN", "US"}
        img = s.scalars(select(m.ListingImage)).one()
        assert img.phash == "ff00ff00ff00ff00" and img.listing.listing_id == "1005001"


def test_db_upgrade_command_and_bad_url(tmp_path):
    target = tmp_path / "new.db"
    out = run_cli("db", "upgrade", "--db", str(target))
    assert out.returncode == 0, out.stderr
    assert target.exists()
    out = run_cli("db", "upgrade", "--db", "notadb://")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_image_rows_keep_a_good_photo_and_clear_old_errors(db_url: str):
    good = {"url": "https://img.example/1.jpg", "path": "/x/1.jpg", "sha256": "ab" * 32, "phash": "ff00ff00ff00ff00"}
    with db.session_scope(db_url) as s:
        listing = db.upsert_listing(s, _listing()).listing
        db.set_images(s, listing, [{"url": good["url"], "error": "timeout"}])
    with db.session_scope(db_url) as s:
        listing = db.upsert_listing(s, _listing()).listing
        db.set_images(s, listing, [good])  # the retry worked: the error is gone
        assert listing.images[0].error is None and listing.images[0].sha256 == good["sha256"]
    with db.session_scope(db_url) as s:
        listing = db.upsert_listing(s, _listing()).listing
        db.set_images(s, listing, [{"url": good["url"], "error": "503"}])  # a later failure loses nothing
        assert listing.images[0].sha256 == good["sha256"] and listing.images[0].error is None


def test_photo_findings_outlive_the_process_per_matching_version(db_url: str):
    from matching.image import PhotoCache

    found = [Signal("logo", 0.8, f"{PhotoCache.NAME} contains registered logo marks/a.png", "acme")]
    first = db.StoredPhotoSignals(db_url, "1.0+aaaa")
    cache = PhotoCache(store=first)
    cache.put("f" * 64, found)
    # New findings join the caller's transaction; nothing is written before.
    assert db.StoredPhotoSignals(db_url, "1.0+aaaa").load("f" * 64) is None
    with db.session_scope(db_url) as s:
        assert first.write_pending(s) == 1
    # Another process (a new cache over the same store) finds them without matching.
    later = PhotoCache(store=db.StoredPhotoSignals(db_url, "1.0+aaaa"))
    assert later.get("f" * 64) == tuple(found) and later.hits == 1
    # Writing the same photo twice (two workers at once) is harmless.
    first.save("f" * 64, [])
    with db.session_scope(db_url) as s:
        first.write_pending(s)
    assert later.store.load("f" * 64)[0]["mark_id"] == "acme"
    # Other marks or another matcher: not valid any more, and pruned.
    newer = db.StoredPhotoSignals(db_url, "1.1+bbbb")
    assert PhotoCache(store=newer).get("f" * 64) is None
    assert newer.prune() == 1
    assert first.load("f" * 64) is None


def test_the_strongest_signal_is_evidence_not_the_goods_fit() -> None:
    # The queue and the demo show one line per hit: the goods' fit only explains the others.
    row = m.AssessmentRow(signals=[
        {"kind": "context", "score": 0.9, "detail": "earbuds fit the mark's goods"},
        {"kind": "text", "score": 0.7, "detail": "'Lum0ra' matches term 'Lumora'"},
        {"kind": "price", "score": 0.5, "detail": "19.99 USD is 15% of MSRP"},
    ])
    assert row.strongest_signal["kind"] == "text"
    assert m.AssessmentRow(signals=[]).strongest_signal is None
    assert m.AssessmentRow(signals=[{"kind": "context", "score": 0.4, "detail": "d"}]).strongest_signal["kind"] == "context"


def test_evidence_is_due_for_hits_seen_without_evidence_of_their_current_content(db_url: str):
    # In one query for all hits of the cycle: none yet, or taken before the listing changed.
    from types import SimpleNamespace

    from crawler.monitor import CycleReport, hits_without_evidence

    hit = SimpleNamespace(score=0.9, verdict="counterfeit", mark_id=None, signals=[])
    t0 = dt.datetime(2026, 3, 1, 8, 0)
    with db.session_scope(db_url) as s:
        run = db.start_run(s, "aliexpress", cycle="c1")
        rows = {}
        for name in ("none", "current", "stale", "clear", "relisted"):
            listing = db.upsert_listing(s, _listing(listing_id=name), run_id=run.id, seen_at=t0).listing
            verdict = hit if name != "clear" else SimpleNamespace(**{**vars(hit), "verdict": "clear"})
            a = db.add_assessment(s, listing, verdict, "v1")
            a.created_at = t0
            rows[name] = listing
        for name in ("current", "stale", "relisted"):
            s.add(m.Evidence(listing_pk=rows[name].id, kind="html", url="u", captured_at=t0 + dt.timedelta(minutes=5),
                             sha256="0" * 64, path="p", entry_hash=name * 8))
        # "stale" changed after its evidence was taken: its new content was assessed later.
        stale = rows["stale"]
        db.upsert_listing(s, _listing(listing_id="stale", price=99.0), run_id=run.id, seen_at=t0)
        a = db.add_assessment(s, stale, hit, "v1")
        a.created_at = t0 + dt.timedelta(hours=1)
        # "relisted" came back after a takedown once its evidence was taken.
        old = m.Case(listing_pk=rows["relisted"].id, platform="aliexpress", state="relisted", created_at=t0)
        s.add(old)
        s.flush()
        s.add(m.Case(listing_pk=rows["relisted"].id, platform="aliexpress", state="candidate", relist_of=old.id,
                     created_at=t0 + dt.timedelta(hours=2)))
        s.flush()
        due = hits_without_evidence(s, CycleReport("c1", t0), [])
        assert due == [rows["none"].id, rows["stale"].id, rows["relisted"].id]


def test_display_url_hides_a_password_given_as_a_query_parameter():
    from crawler.db import display_url

    shown = display_url("postgresql://markwatch@db:5432/markwatch?sslmode=require&password=s3cr3t")
    assert "s3cr3t" not in shown and "password=***" in shown and "sslmode=require" in shown
    assert "s3cr3t" not in display_url("postgresql://markwatch:s3cr3t@db/markwatch")
