"""The store: engine, sessions, migrations, and the queries the crawl loop needs.

SQLite (a file, WAL, foreign keys on) is the default; any SQLAlchemy URL works,
PostgreSQL (psycopg 3) for scale. Every write goes through `session_scope`, one
transaction, so a killed run never leaves half a listing behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from crawler import models as m
from crawler.config import Client, ConfigError

DEFAULT_DB = "sqlite:///markwatch.db"
MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(value: str | None = None) -> str:
    """The URL from --db or MARKWATCH_DB; a bare path means a SQLite file."""
    value = value or os.environ.get("MARKWATCH_DB") or DEFAULT_DB
    if "://" not in value:
        value = f"sqlite:///{Path(value).expanduser()}"
    try:
        dialect = make_url(_driver_url(value)).get_dialect()
    except (ArgumentError, NoSuchModuleError):
        raise ConfigError(
            f"--db: expected a SQLAlchemy URL such as sqlite:///markwatch.db or postgresql://host/db, got "
            f"{display_url(value) if '@' in value else repr(value)}"
        ) from None
    parsed = make_url(value)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        # An in-memory store is gone when the command ends: every finding would be lost.
        raise ConfigError(f"--db: expected a SQLite file such as sqlite:///markwatch.db, got {value!r} (in memory)")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(
            f"--db: no driver for {make_url(value).drivername} is installed ({exc}); "
            "markwatch ships the drivers for SQLite and PostgreSQL"
        ) from None
    return value


def _driver_url(url: str) -> str:
    """The URL as the engine connects: plain postgresql:// goes through psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def display_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    shown = make_url(url).render_as_string(hide_password=True)
    # libpq and psycopg also take the password as a query parameter (?password=...).
    return re.sub(r"([?&]password=)[^&]*", r"\1***", shown, flags=re.IGNORECASE)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


@lru_cache(maxsize=16)
def engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if path := sqlite_file(url):
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(_driver_url(url), pool_pre_ping=True)
    return engine


_sqlite_turns: dict[str, threading.RLock] = {}
_sqlite_turns_guard = threading.Lock()


def sqlite_turn(url: str) -> threading.RLock | nullcontext[None]:
    """This process's turn at a SQLite file, for threads that write to it together.

    SQLite lets one writer in at a time and makes the others poll, sleeping
    up to 100 ms between tries: the crawl's threads (storing, assessing) then
    spend much of their time asleep while the file is free. Taking turns here
    hands the file over at once. Other processes still meet SQLite's own lock;
    other databases need no turns.
    """
    if make_url(url).get_backend_name() != "sqlite":
        return nullcontext()
    with _sqlite_turns_guard:
        return _sqlite_turns.setdefault(url, threading.RLock())


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    session = sessionmaker(engine_for(url), expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create the schema or migrate it to the newest revision."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def foreign_tables(url: str) -> bool:
    """True when the database holds tables but not markwatch's schema (another program's)."""
    from sqlalchemy import inspect

    with engine_for(url).connect() as conn:
        tables = set(inspect(conn).get_table_names())
    return bool(tables) and "alembic_version" not in tables


def ensure_schema(url: str) -> None:
    """Migrate when the store is new or behind; cheap when it is current."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with engine_for(url).connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        upgrade(url)


# ---------------------------------------------------------------- listings


def content_hash(fields: dict[str, Any]) -> str:
    """A stable hash of what matching reads, to tell a changed listing from a repeat."""
    keys = ("title", "description", "price", "currency", "seller_id", "seller_name", "image_urls")
    data = {k: fields.get(k) for k in keys}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


@dataclass
class UpsertResult:
    listing: m.Listing
    created: bool
    changed: bool


LISTING_FIELDS = (
    "url", "title", "description", "price", "currency", "seller_id", "seller_name",
    "store_url", "location", "sales", "is_ad", "image_urls",
)


def _insert_for(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def upsert_listing(
    session: Session,
    fields: dict[str, Any],
    *,
    run_id: int | None = None,
    search_term: str | None = None,
    page_url: str | None = None,
    seen_at: dt.datetime | None = None,
) -> UpsertResult:
    """Insert or update a listing by (marketplace, listing_id) and record a sighting.

    Uses the database's own upsert, so concurrent workers never create duplicates;
    a listing seen twice in one run gets one sighting.
    """
    seen_at = seen_at or m.utcnow()
    values = {k: fields.get(k) for k in LISTING_FIELDS}
    values["is_ad"] = bool(values["is_ad"])
    values["image_urls"] = list(values["image_urls"] or [])
    digest = content_hash(values)
    insert = _insert_for(session)
    previous = session.execute(
        select(m.Listing.id, m.Listing.content_hash).where(
            m.Listing.marketplace == fields["marketplace"], m.Listing.listing_id == str(fields["listing_id"])
        )
    ).first()
    stmt = insert(m.Listing).values(
        marketplace=fields["marketplace"], listing_id=str(fields["listing_id"]), content_hash=digest,
        first_seen=seen_at, last_seen=seen_at, status="active", **values,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["marketplace", "listing_id"],
        set_={**values, "content_hash": digest, "last_seen": seen_at, "status": "active"},
    )
    session.execute(stmt)
    listing = session.scalars(
        select(m.Listing)
        .where(m.Listing.marketplace == fields["marketplace"], m.Listing.listing_id == str(fields["listing_id"]))
        .execution_options(populate_existing=True)
    ).one()
    sighting = insert(m.Sighting).values(
        listing_pk=listing.id, run_id=run_id, seen_at=seen_at, price=values["price"],
        currency=values["currency"], title=values["title"], search_term=search_term, page_url=page_url,
    )
    if run_id is not None:
        sighting = sighting.on_conflict_do_nothing(index_elements=["listing_pk", "run_id"])
    session.execute(sighting)
    created = previous is None
    return UpsertResult(listing, created, created or previous[1] != digest)


def set_images(session: Session, listing: m.Listing, images: list[dict[str, Any]]) -> None:
    """Record the listing's downloaded images (url, path, sha256, hashes, size or error)."""
    known = {img.url: img for img in listing.images}
    for position, info in enumerate(images):
        row = known.get(info["url"])
        if row is None:
            row = m.ListingImage(url=info["url"])
            listing.images.append(row)
        row.position = position
        if info.get("error") and row.sha256:
            continue  # a failed re-download keeps the photo already stored
        for key in ("path", "sha256", "phash", "dhash", "width", "height", "error"):
            setattr(row, key, info.get(key))  # a success clears an earlier error


def note_seller(session: Session, marketplace: str, seller_id: str | None, name: str | None) -> None:
    """Remember a seller the first time it is seen (whitelisting and history hang off it)."""
    if not seller_id:
        return
    insert = _insert_for(session)
    stmt = insert(m.Seller).values(marketplace=marketplace, seller_id=str(seller_id), name=name)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["marketplace", "seller_id"]))


class StoredPhotoSignals:
    """The image matcher's findings per photo, kept in the store (`matching.image.PhotoCache`'s
    backing): a photo already matched under this matching version, in any listing,
    marketplace or run, is not matched again.

    New findings wait in memory until `write_pending` adds them to a transaction the
    caller commits anyway (the assessment's), so matching opens no write transaction
    of its own.
    """

    def __init__(self, url: str, matching_version: str) -> None:
        self.url = url
        self.version = matching_version
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def load(self, sha256: str) -> list[dict[str, Any]] | None:
        with self._lock:
            if sha256 in self._pending:
                return self._pending[sha256]
        with session_scope(self.url) as session:
            row = session.get(m.PhotoSignals, (sha256, self.version))
            return None if row is None else list(row.signals)

    def save(self, sha256: str, signals: list[dict[str, Any]]) -> None:
        with self._lock:
            self._pending[sha256] = signals

    def write_pending(self, session: Session) -> int:
        with self._lock:
            pending, self._pending = self._pending, {}
        if pending:
            stmt = _insert_for(session)(m.PhotoSignals).on_conflict_do_nothing(
                index_elements=["sha256", "matching_version"]
            )
            # Two workers may match the same photo at once; their findings are the same.
            session.execute(
                stmt,
                [{"sha256": k, "matching_version": self.version, "signals": v, "created_at": m.utcnow()}
                 for k, v in pending.items()],
            )
        return len(pending)

    def prune(self) -> int:
        """Forget findings of other matching versions (marks or matcher changed)."""
        with session_scope(self.url) as session:
            result = session.execute(
                delete(m.PhotoSignals).where(m.PhotoSignals.matching_version != self.version)
            )
            return int(result.rowcount or 0)


def newest_assessment_ids(listing_pks: Any = None) -> Any:
    """Subquery: (listing_pk, aid) of each listing's newest assessment, of the listings
    `listing_pks` selects (a select of ids) or of all."""
    stmt = select(m.AssessmentRow.listing_pk, func.max(m.AssessmentRow.id).label("aid"))
    if listing_pks is not None:
        stmt = stmt.where(m.AssessmentRow.listing_pk.in_(listing_pks))
    return stmt.group_by(m.AssessmentRow.listing_pk).subquery()


def latest_assessment(session: Session, listing_pk: int) -> m.AssessmentRow | None:
    return session.scalars(
        select(m.AssessmentRow).where(m.AssessmentRow.listing_pk == listing_pk).order_by(m.AssessmentRow.id.desc())
    ).first()


def add_assessment(
    session: Session, listing: m.Listing, assessment: Any, matching_version: str
) -> m.AssessmentRow:
    row = m.AssessmentRow(
        listing_pk=listing.id, score=float(assessment.score), verdict=assessment.verdict,
        mark_id=assessment.mark_id, product_id=getattr(assessment, "product_id", None),
        signals=[s.to_json() for s in assessment.signals], matching_version=matching_version,
        content_hash=listing.content_hash,
    )
    session.add(row)
    session.flush()
    return row


def needs_assessment(session: Session, listing: m.Listing, matching_version: str) -> bool:
    """True when the listing was never assessed, changed since, or matching changed."""
    last = latest_assessment(session, listing.id)
    return last is None or last.content_hash != listing.content_hash or last.matching_version != matching_version


def iter_listings_with_assessment(session: Session) -> Iterator[tuple[m.Listing, m.AssessmentRow | None]]:
    """Every stored listing with its newest assessment, in id order (for export)."""
    newest = newest_assessment_ids()
    stmt = (
        select(m.Listing, m.AssessmentRow)
        .outerjoin(newest, newest.c.listing_pk == m.Listing.id)
        .outerjoin(m.AssessmentRow, m.AssessmentRow.id == newest.c.aid)
        .order_by(m.Listing.id)
        .execution_options(yield_per=500)
    )
    for listing, assessment in session.execute(stmt):
        yield listing, assessment


# ---------------------------------------------------------------- marks and runs


def sync_marks(session: Session, client: Client) -> None:
    """Copy the client's marks and registrations into the store (cases refer to them)."""
    for mark in client.marks:
        row = session.get(m.MarkRow, mark.id)
        if row is None:
            row = m.MarkRow(id=mark.id)
            session.add(row)
        row.type = mark.type.value
        row.title = mark.title
        row.owner = mark.owner or client.client.name
        row.terms = list(mark.terms)
        row.classes = list(mark.classes)
        row.protect_until = mark.protect_until
        existing = {(r.country, r.number): r for r in row.registrations}
        wanted = []
        for reg in mark.registrations:
            r = existing.get((reg.country, reg.number)) or m.RegistrationRow(country=reg.country, number=reg.number)
            r.valid_from, r.valid_until = reg.valid_from, reg.valid_until
            r.certificate = str(reg.certificate) if reg.certificate else None
            wanted.append(r)
        row.registrations = wanted
    session.flush()


def start_run(session: Session, marketplace: str, cycle: str | None = None) -> m.CrawlRun:
    run = m.CrawlRun(marketplace=marketplace, cycle=cycle, status="running")
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session, run_id: int, status: str, *, reason: str | None = None, pages: int = 0,
    items: int = 0, errors: int = 0, stats: dict[str, Any] | None = None,
) -> m.CrawlRun:
    run = session.get(m.CrawlRun, run_id)
    assert run is not None, run_id
    run.status, run.reason = status, reason
    run.pages, run.items, run.errors = pages, items, errors
    run.stats = {k: v for k, v in (stats or {}).items() if isinstance(v, (int, float, str, bool))}
    run.finished_at = m.utcnow()
    return run


INTERRUPTED = "interrupted: the cycle was stopped before this crawl finished"


def close_interrupted_runs(session: Session, cycles: list[str]) -> int:
    """Runs of `cycles` (stopped cycles) still `running`: closed as failed, with the listings
    they stored counted. Their sightings stay theirs; health checks skip failed runs."""
    runs = session.scalars(
        select(m.CrawlRun).where(m.CrawlRun.cycle.in_(cycles), m.CrawlRun.status == "running")
    ).all()
    for run in runs:
        stored = session.scalar(
            select(func.count(func.distinct(m.Sighting.listing_pk))).where(m.Sighting.run_id == run.id)
        )
        finish_run(session, run.id, "failed", reason=INTERRUPTED, items=int(stored or 0), stats=run.stats)
    return len(runs)


def previous_runs(session: Session, marketplace: str, before_id: int, limit: int = 5) -> list[m.CrawlRun]:
    return list(
        session.scalars(
            select(m.CrawlRun)
            .where(m.CrawlRun.marketplace == marketplace, m.CrawlRun.id < before_id)
            .order_by(m.CrawlRun.id.desc())
            .limit(limit)
        )
    )
