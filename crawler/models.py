"""The store's tables as SQLAlchemy 2 typed models.

One row per thing markwatch keeps: marks and their registrations (copied from the
client file so cases and reports stand on their own), listings and every sighting
of them, their images and hashes, assessments, takedown cases with an audit trail,
crawl runs, evidence files, sellers, the alert outbox and the image matcher's
findings per photo. Times are UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class MarkRow(Base):
    __tablename__ = "marks"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str] = mapped_column(String(300))
    terms: Mapped[list[Any]] = mapped_column(default=list)
    classes: Mapped[list[Any]] = mapped_column(default=list)
    protect_until: Mapped[dt.date | None] = mapped_column(Date)
    registrations: Mapped[list[RegistrationRow]] = relationship(
        back_populates="mark", cascade="all, delete-orphan"
    )


class RegistrationRow(Base):
    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("mark_id", "country", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mark_id: Mapped[str] = mapped_column(ForeignKey("marks.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    certificate: Mapped[str | None] = mapped_column(Text)
    mark: Mapped[MarkRow] = relationship(back_populates="registrations")


class Listing(Base):
    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("marketplace", "listing_id", name="uq_listing_marketplace_id"),
        Index("ix_listings_seller", "marketplace", "seller_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(40))
    listing_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    seller_id: Mapped[str | None] = mapped_column(String(200))
    seller_name: Mapped[str | None] = mapped_column(Text)
    store_url: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    sales: Mapped[int | None] = mapped_column(Integer)
    is_ad: Mapped[bool] = mapped_column(Boolean, default=False)
    image_urls: Mapped[list[Any]] = mapped_column(default=list)
    # Hash of the fields matching reads: an unchanged listing is not assessed again.
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # active | gone (no longer found, e.g. after a takedown)
    status: Mapped[str] = mapped_column(String(20), default="active")
    # Analyst triage: new | confirmed | dismissed; a dismissal holds while the
    # content hash stays what it was when dismissed.
    triage_state: Mapped[str] = mapped_column(String(20), default="new")
    triage_label: Mapped[str | None] = mapped_column(String(40))
    triage_hash: Mapped[str | None] = mapped_column(String(64))

    sightings: Mapped[list[Sighting]] = relationship(back_populates="listing", cascade="all, delete-orphan")
    images: Mapped[list[ListingImage]] = relationship(
        back_populates="listing", cascade="all, delete-orphan", order_by="ListingImage.position"
    )
    assessments: Mapped[list[AssessmentRow]] = relationship(
        back_populates="listing", cascade="all, delete-orphan", order_by="AssessmentRow.id"
    )

    @property
    def key(self) -> str:
        return f"{self.marketplace}:{self.listing_id}"


class Sighting(Base):
    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("listing_pk", "run_id", name="uq_sighting_per_run"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    price: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    title: Mapped[str] = mapped_column(Text)
    search_term: Mapped[str | None] = mapped_column(Text)
    page_url: Mapped[str | None] = mapped_column(Text)
    listing: Mapped[Listing] = relationship(back_populates="sightings")


class ListingImage(Base):
    __tablename__ = "listing_images"
    __table_args__ = (UniqueConstraint("listing_pk", "url", name="uq_listing_image_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    phash: Mapped[str | None] = mapped_column(String(64), index=True)
    dhash: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    listing: Mapped[Listing] = relationship(back_populates="images")


class PhotoSignals(Base):
    """What the image matcher found in one photo (by SHA-256 of its bytes) under one
    matching version: a photo reused across listings, marketplaces and runs is
    matched once."""

    __tablename__ = "photo_signals"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    matching_version: Mapped[str] = mapped_column(String(40), primary_key=True)
    signals: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AssessmentRow(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    score: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(20), index=True)
    mark_id: Mapped[str | None] = mapped_column(String(100))
    product_id: Mapped[str | None] = mapped_column(String(100))
    signals: Mapped[list[Any]] = mapped_column(default=list)
    matching_version: Mapped[str] = mapped_column(String(40))
    content_hash: Mapped[str] = mapped_column(String(64))
    listing: Mapped[Listing] = relationship(back_populates="assessments")

    @property
    def strongest_signal(self) -> dict[str, Any] | None:
        """The evidence that weighs most (see `signal_rank`)."""
        return min(self.signals or [], key=signal_rank, default=None)


def signal_rank(signal: dict[str, Any]) -> tuple[bool, float]:
    """Sort key of stored signals, strongest first: by score, with the goods' fit (context)
    last whatever its score, since it only explains the other signals."""
    return (signal.get("kind") == "context", -float(signal.get("score") or 0))


class Seller(Base):
    __tablename__ = "sellers"
    __table_args__ = (UniqueConstraint("marketplace", "seller_id", name="uq_seller"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(40))
    seller_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(Text)
    whitelisted: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    mark_id: Mapped[str | None] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(30), index=True)
    label: Mapped[str | None] = mapped_column(String(40))
    complaint_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    state_since: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    # A relist case points at the case whose listing came back.
    relist_of: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    listing: Mapped[Listing] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.id"
    )


class CaseEvent(Base):
    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    platform_ref: Mapped[str | None] = mapped_column(String(200))
    case: Mapped[Case] = relationship(back_populates="events")


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle: Mapped[str | None] = mapped_column(String(40), index=True)
    marketplace: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # running | ok | blocked | failed
    status: Mapped[str] = mapped_column(String(20), default="running")
    reason: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Evidence(Base):
    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # screenshot | html | image
    url: Mapped[str] = mapped_column(Text)
    captured_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    # The manifest is a hash chain: each entry commits to the one before it.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)


class OutboxAlert(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Idempotency key: the same alert is queued once, whatever crashes in between.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # hits | review | deadline | relist | health | test
    tags: Mapped[list[Any]] = mapped_column(default=list)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending | sending | sent | failed
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
