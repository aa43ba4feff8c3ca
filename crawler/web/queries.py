"""Read queries of the triage UI and the API: the hit queue, a hit's detail, the cases.

All filters are bound parameters of SQLAlchemy ORM statements; nothing here builds
SQL from text. A "hit" is a listing whose newest assessment is `counterfeit` or
`review`. The open queue hides listings already triaged, except a dismissed one
whose content changed since the dismissal (it is a new listing for all we know),
and hides sellers the analysts whitelisted.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from crawler import models as m
from crawler.config import Client
from crawler.db import newest_assessment_ids
from crawler.exports import listing_fields

HIT_VERDICTS = ("counterfeit", "review")
TRIAGE_STATES = ("open", "confirmed", "dismissed", "all")
LABELS = ("counterfeit", "copycat", "grey market", "copyright", "patent")


def with_newest_assessment() -> Select[Any]:
    newest = newest_assessment_ids()
    return (
        select(m.Listing, m.AssessmentRow)
        .join(newest, newest.c.listing_pk == m.Listing.id)
        .join(m.AssessmentRow, m.AssessmentRow.id == newest.c.aid)
    )


def is_open() -> Any:
    """Untriaged, or dismissed but changed since (a dismissal holds while the hash holds)."""
    return or_(
        m.Listing.triage_state == "new",
        and_(m.Listing.triage_state == "dismissed", m.Listing.content_hash != m.Listing.triage_hash),
    )


def seller_whitelisted() -> Any:
    return exists().where(
        m.Seller.marketplace == m.Listing.marketplace,
        m.Seller.seller_id == m.Listing.seller_id,
        m.Seller.whitelisted.is_(True),
    )


@dataclass
class QueueFilter:
    marketplace: str | None = None
    mark: str | None = None
    verdict: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    seller: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    new_since: dt.datetime | None = None
    state: str = "open"
    page: int = 1
    per_page: int = 50

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        if self.verdict:
            stmt = stmt.where(m.AssessmentRow.verdict == self.verdict)
        else:
            stmt = stmt.where(m.AssessmentRow.verdict.in_(HIT_VERDICTS))
        if self.marketplace:
            stmt = stmt.where(m.Listing.marketplace == self.marketplace)
        if self.mark:
            stmt = stmt.where(m.AssessmentRow.mark_id == self.mark)
        if self.min_score is not None:
            stmt = stmt.where(m.AssessmentRow.score >= self.min_score)
        if self.max_score is not None:
            stmt = stmt.where(m.AssessmentRow.score <= self.max_score)
        if self.seller:
            # Seller id exactly, or a part of the seller's name.
            pattern = "%" + self.seller.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(
                or_(m.Listing.seller_id == self.seller, m.Listing.seller_name.ilike(pattern, escape="\\"))
            )
        if self.date_from:
            stmt = stmt.where(m.Listing.last_seen >= dt.datetime.combine(self.date_from, dt.time()))
        if self.date_to:
            stmt = stmt.where(m.Listing.first_seen < dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time()))
        if self.new_since:
            stmt = stmt.where(or_(m.Listing.first_seen > self.new_since, m.AssessmentRow.created_at > self.new_since))
        if self.state == "open":
            stmt = stmt.where(is_open(), ~seller_whitelisted())
        elif self.state in ("confirmed", "dismissed"):
            stmt = stmt.where(m.Listing.triage_state == self.state)
        return stmt


def queue(session: Session, flt: QueueFilter) -> tuple[list[tuple[m.Listing, m.AssessmentRow]], int]:
    """One page of hits, best score first, and the total count."""
    stmt = flt.apply(with_newest_assessment())
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(m.AssessmentRow.score.desc(), m.Listing.id.desc())
        .limit(flt.per_page)
        .offset((max(flt.page, 1) - 1) * flt.per_page)
    ).all()
    return [(row[0], row[1]) for row in rows], total


def neighbours(session: Session, flt: QueueFilter, listing_pk: int) -> tuple[int | None, int | None]:
    """The previous and next hit in queue order (for j/k on the detail page).

    A listing just confirmed or dismissed has left the open queue: its neighbours are
    then the hits around the place its sort key (score, id) held, so `j` after `c`
    goes on to the hit that followed it, not back to the top.
    """
    newest = newest_assessment_ids()
    stmt = (
        select(m.Listing.id, m.AssessmentRow.score)
        .join(newest, newest.c.listing_pk == m.Listing.id)
        .join(m.AssessmentRow, m.AssessmentRow.id == newest.c.aid)
    )
    stmt = flt.apply(stmt).order_by(m.AssessmentRow.score.desc(), m.Listing.id.desc()).limit(5000)
    rows = [(pk, score) for pk, score in session.execute(stmt)]
    ids = [pk for pk, _ in rows]
    if listing_pk in ids:
        i = ids.index(listing_pk)
        return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)
    own = latest(session, listing_pk)
    if own is None:
        return None, ids[0] if ids else None
    # Queue order is score descending, then id descending: count the hits ranked before.
    mine = (-own.score, -listing_pk)
    at = sum(1 for pk, score in rows if (-score, -pk) < mine)
    return (ids[at - 1] if at > 0 else None), (ids[at] if at < len(ids) else None)


def facets(session: Session) -> dict[str, list[str]]:
    """Values for the filter drop-downs."""
    return {
        "marketplaces": list(session.scalars(select(m.Listing.marketplace).distinct().order_by(m.Listing.marketplace))),
        "marks": [
            v for v in session.scalars(select(m.AssessmentRow.mark_id).distinct().order_by(m.AssessmentRow.mark_id)) if v
        ],
    }


# ---------------------------------------------------------------- detail


@dataclass
class PriceCheck:
    price: float
    currency: str
    msrp: float
    msrp_currency: str
    ratio: float | None
    product_name: str


@dataclass
class Detail:
    listing: m.Listing
    assessment: m.AssessmentRow | None
    history: list[m.AssessmentRow]
    sightings: list[m.Sighting]
    evidence: list[m.Evidence]
    notes: list[m.Note]
    cases: list[m.Case]
    seller: m.Seller | None
    seller_listings: list[tuple[m.Listing, m.AssessmentRow | None]]
    cluster: list[dict[str, Any]] = field(default_factory=list)
    seller_stats: dict[str, Any] | None = None
    price: PriceCheck | None = None
    mark_images: list[dict[str, str]] = field(default_factory=list)


def latest(session: Session, listing_pk: int) -> m.AssessmentRow | None:
    return session.scalars(
        select(m.AssessmentRow).where(m.AssessmentRow.listing_pk == listing_pk).order_by(m.AssessmentRow.id.desc())
    ).first()


def reference_images(client: Client | None, mark_id: str | None, product_id: str | None) -> list[dict[str, str]]:
    """The registered images to compare with: the product's photos first, then the mark's."""
    if client is None or not mark_id:
        return []
    out: list[dict[str, str]] = []
    products = [p for p in client.products if p.id == product_id] or client.products_of(mark_id)
    for product in products[:2]:
        for i, _ in enumerate(product.images[:2]):
            out.append({"src": f"/media/product/{product.id}/{i}", "caption": f"product {product.name}"})
    try:
        mark = client.mark(mark_id)
    except KeyError:
        return out
    for i, _ in enumerate(mark.images[:3]):
        out.append({"src": f"/media/mark/{mark.id}/{i}", "caption": f"registered {mark.type.value} {mark.title}"})
    return out


def price_check(client: Client | None, listing: m.Listing, a: m.AssessmentRow | None) -> PriceCheck | None:
    if client is None or a is None or not a.mark_id or listing.price is None:
        return None
    products = [p for p in client.products if p.id == a.product_id] or client.products_of(a.mark_id)
    product = next((p for p in products if p.msrp), None)
    if product is None or product.msrp is None:
        return None
    rates = client.exchange_rates
    price_base = rates.to_base(listing.price, listing.currency)
    msrp_base = rates.to_base(product.msrp, product.currency)
    ratio = price_base / msrp_base if price_base is not None and msrp_base else None
    return PriceCheck(listing.price, listing.currency or rates.base, product.msrp, product.currency, ratio, product.name)


# Seller clusters need the whole store; computed at most once a minute per store
# (and again after an analyst's action), not on every page view.
SELLER_REPORT_TTL = 60.0
_seller_reports: dict[str, tuple[float, Any]] = {}
_seller_lock = threading.Lock()


def invalidate_seller_reports() -> None:
    with _seller_lock:
        _seller_reports.clear()


def _cached_seller_report(session: Session, client: Client | None, clustering: Any) -> Any:
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _seller_lock:
        hit = _seller_reports.get(key)
        if hit is not None and now - hit[0] < SELLER_REPORT_TTL:
            return hit[1]
    report = clustering.seller_report(session, client=client)
    with _seller_lock:
        _seller_reports[key] = (now, report)
    return report


def seller_network(
    session: Session, client: Client | None, listing: m.Listing
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The seller's history figures and linked sellers, from the seller module when installed."""
    try:
        from crawler import sellers as clustering
    except ImportError:
        return None, []
    if not listing.seller_id:
        return None, []
    me = (listing.marketplace, str(listing.seller_id))
    report = _cached_seller_report(session, client, clustering)
    stats = report.seller(*me)
    figures = None
    if stats is not None:
        figures = {k: getattr(stats, k) for k in ("listings", "hits", "reviews", "confirmed", "removed", "relists", "risk")}
    linked: list[dict[str, Any]] = []
    for cluster in report.clusters:
        if any(member.ref == me for member in cluster.members):
            linked = linked_sellers(session, me, cluster)
            break
    return figures, linked


_SHA_REASON = re.compile(r"same photo \(sha256 ([0-9a-f]+)\.*\)")
_PHASH_REASON = re.compile(r"same photo \(pHash ([0-9a-f]+)\)")


def _one_reason_per_photo(session: Session, refs: set[tuple[str, str]], reasons: list[str]) -> list[str]:
    """Drop "same photo (pHash ...)" when a "same photo (sha256 ...)" reason names the same picture."""
    shas = [match.group(1) for r in reasons if (match := _SHA_REASON.fullmatch(r))]
    if not shas or not any(_PHASH_REASON.fullmatch(r) for r in reasons):
        return reasons
    covered: set[str] = set()
    for marketplace, seller_id in refs:
        rows = session.execute(
            select(m.ListingImage.sha256, m.ListingImage.phash)
            .join(m.Listing, m.Listing.id == m.ListingImage.listing_pk)
            .where(m.Listing.marketplace == marketplace, m.Listing.seller_id == seller_id,
                   m.ListingImage.sha256.is_not(None), m.ListingImage.phash.is_not(None))
        )
        covered.update(phash.lower() for sha, phash in rows if any(sha.startswith(p) for p in shas))
    return [r for r in reasons if not ((match := _PHASH_REASON.fullmatch(r)) and match.group(1) in covered)]


def linked_sellers(session: Session, me: tuple[str, str], cluster: Any) -> list[dict[str, Any]]:
    """The other members of `me`'s cluster, each with what links it to `me`.

    A seller sharing something with `me` gets those reasons (one per shared photo,
    contact or name); one linked only through others gets "through <seller>", the
    sellers on the shortest chain from `me`.
    """
    things = cluster.shared()
    adjacent: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for refs in things.values():
        for ref in refs:
            adjacent.setdefault(ref, set()).update(refs - {ref})
    # Breadth first from `me`: the chain of sellers that reaches each member.
    via: dict[tuple[str, str], list[tuple[str, str]]] = {me: []}
    frontier = [me]
    while frontier:
        nxt = []
        for ref in frontier:
            for other in sorted(adjacent.get(ref, ())):
                if other not in via:
                    via[other] = [*via[ref], ref] if ref != me else []
                    nxt.append(other)
        frontier = nxt
    out: list[dict[str, Any]] = []
    for member in cluster.members:
        ref = tuple(member.ref)
        if ref == me:
            continue
        reasons = sorted(detail for detail, refs in things.items() if me in refs and ref in refs)
        reasons = _one_reason_per_photo(session, {me, ref}, reasons)
        chain = via.get(ref)
        if reasons:
            text = "; ".join(reasons[:3]) + (f"; {len(reasons) - 3} more" if len(reasons) > 3 else "")
        elif chain:
            text = "through " + ", ".join(f"{mp}:{sid}" for mp, sid in chain)
        else:
            text = f"same network (cluster {cluster.id})"
        out.append({"marketplace": member.marketplace, "seller_id": member.seller_id, "name": member.name,
                    "reason": text, "direct": bool(reasons), "through": [f"{mp}:{sid}" for mp, sid in chain or []]})
    # Sellers linked to this one directly first, in the cluster's (riskiest first) order.
    out.sort(key=lambda row: not row["direct"])
    return out


def detail(session: Session, client: Client | None, listing_pk: int) -> Detail | None:
    listing = session.get(m.Listing, listing_pk)
    if listing is None:
        return None
    history = list(
        session.scalars(
            select(m.AssessmentRow).where(m.AssessmentRow.listing_pk == listing.id).order_by(m.AssessmentRow.id.desc())
        )
    )
    assessment = history[0] if history else None
    seller = None
    seller_listings: list[tuple[m.Listing, m.AssessmentRow | None]] = []
    if listing.seller_id:
        seller = session.scalars(
            select(m.Seller).where(m.Seller.marketplace == listing.marketplace, m.Seller.seller_id == listing.seller_id)
        ).first()
        newest = newest_assessment_ids()
        seller_listings = [
            (row[0], row[1])
            for row in session.execute(
                select(m.Listing, m.AssessmentRow)
                .outerjoin(newest, newest.c.listing_pk == m.Listing.id)
                .outerjoin(m.AssessmentRow, m.AssessmentRow.id == newest.c.aid)
                .where(
                    m.Listing.marketplace == listing.marketplace,
                    m.Listing.seller_id == listing.seller_id,
                    m.Listing.id != listing.id,
                )
                .order_by(m.Listing.first_seen.desc())
                .limit(50)
            )
        ]
    stats, cluster = seller_network(session, client, listing)
    return Detail(
        listing=listing,
        assessment=assessment,
        history=history,
        sightings=list(
            session.scalars(
                select(m.Sighting).where(m.Sighting.listing_pk == listing.id).order_by(m.Sighting.seen_at.desc()).limit(100)
            )
        ),
        evidence=list(
            session.scalars(select(m.Evidence).where(m.Evidence.listing_pk == listing.id).order_by(m.Evidence.id))
        ),
        notes=list(session.scalars(select(m.Note).where(m.Note.listing_pk == listing.id).order_by(m.Note.id.desc()))),
        cases=list(session.scalars(select(m.Case).where(m.Case.listing_pk == listing.id).order_by(m.Case.id))),
        seller=seller,
        seller_listings=seller_listings,
        cluster=cluster,
        seller_stats=stats,
        price=price_check(client, listing, assessment),
        mark_images=reference_images(client, assessment.mark_id if assessment else None,
                                     assessment.product_id if assessment else None),
    )


# ---------------------------------------------------------------- cases


def cases(
    session: Session, *, state: str | None = None, platform: str | None = None, limit: int = 2000
) -> list[m.Case]:
    stmt = select(m.Case).order_by(m.Case.deadline.is_(None), m.Case.deadline, m.Case.id)
    if state:
        stmt = stmt.where(m.Case.state == state)
    if platform:
        stmt = stmt.where(m.Case.platform == platform)
    return list(session.scalars(stmt.limit(limit)))


def listing_json(listing: m.Listing, a: m.AssessmentRow | None) -> dict[str, Any]:
    """A listing as the API and the JSON report give it (CONTRACT.md section 4 fields, plus triage)."""
    return {
        "pk": listing.id,
        **listing_fields(listing),
        "score": a.score if a else None,
        "verdict": a.verdict if a else None,
        "mark_id": a.mark_id if a else None,
        "signals": list(a.signals or []) if a else [],
        "first_seen": listing.first_seen.isoformat() + "Z" if listing.first_seen else None,
        "last_seen": listing.last_seen.isoformat() + "Z" if listing.last_seen else None,
        "status": listing.status,
        "triage_state": listing.triage_state,
        "triage_label": listing.triage_label,
    }


def case_json(case: m.Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "listing_pk": case.listing_pk,
        "mark_id": case.mark_id,
        "platform": case.platform,
        "state": case.state,
        "label": case.label,
        "complaint_id": case.complaint_id,
        "created_at": case.created_at.isoformat() + "Z",
        "state_since": case.state_since.isoformat() + "Z",
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "relist_of": case.relist_of,
    }
