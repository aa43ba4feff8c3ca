"""Relists: a listing that matches one already taken down.

Counterfeiters come back: after a takedown the same goods reappear under a new
listing id, often with the very same photos, from the same shop, or with the title
copied word for word. `find_relist` looks for a removed case whose listing matches
a new listing by any of:

- images: a file with the same SHA-256, or perceptual hashes (pHash) within
  `PHASH_MAX_DISTANCE` bits, which survives re-encoding and resizing;
- seller: the same seller id on the same marketplace;
- title: near-identical after folding case and spaces (rapidfuzz ratio of at least
  `TITLE_MIN_RATIO`), on any marketplace.

Thresholds trade precision for recall: a larger pHash distance or a lower title
ratio catches more disguised relists and links more unrelated look-alikes. The
defaults favour precision because a relist reopens a takedown. The caller links
the match (`crawler.takedown.cases.open_relist` sets `Case.relist_of`); this module
only reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from crawler import models as m

# Cases whose listing was taken down: removed, or removed and already seen back.
RELIST_STATES: tuple[str, ...] = ("removed", "relisted")
PHASH_MAX_DISTANCE = 6  # of 64 bits; re-encoded or resized copies stay within about 4
TITLE_MIN_RATIO = 95.0
TITLE_MIN_LENGTH = 12  # shorter titles ("Game controller") say too little to link listings

# How much each kind of match counts when several removed cases match.
_WEIGHT = {"image-file": 8, "seller": 4, "image-phash": 2, "title": 1}


@dataclass
class RelistMatch:
    """A removed case that a listing matches, and why."""

    case: m.Case
    reasons: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)

    @property
    def strength(self) -> int:
        return sum(_WEIGHT[k] for k in self.kinds)

    def describe(self) -> str:
        return f"matches removed case {self.case.id}: " + "; ".join(self.reasons)


def hamming(a: str, b: str) -> int | None:
    """Bits that differ between two hex image hashes; None when they cannot be compared."""
    if not a or not b or len(a) != len(b):
        return None
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return None


def normalise_title(title: str | None) -> str:
    return re.sub(r"\s+", " ", (title or "").casefold()).strip()


def _images(
    session: Session, listing_pks: list[int]
) -> dict[int, list[tuple[str | None, str | None]]]:
    found: dict[int, list[tuple[str | None, str | None]]] = {pk: [] for pk in listing_pks}
    if not listing_pks:
        return found
    rows = session.execute(
        select(m.ListingImage.listing_pk, m.ListingImage.sha256, m.ListingImage.phash).where(
            m.ListingImage.listing_pk.in_(listing_pks), m.ListingImage.error.is_(None)
        )
    )
    for pk, sha, phash in rows:
        if sha or phash:
            found[pk].append((sha, phash))
    return found


def _is_whitelisted(session: Session, listing: m.Listing) -> bool:
    if not listing.seller_id:
        return False
    return bool(
        session.scalar(
            select(m.Seller.whitelisted).where(
                m.Seller.marketplace == listing.marketplace, m.Seller.seller_id == listing.seller_id
            )
        )
    )


def match_relist(
    session: Session,
    listing: m.Listing,
    *,
    phash_max_distance: int = PHASH_MAX_DISTANCE,
    title_min_ratio: float = TITLE_MIN_RATIO,
) -> RelistMatch | None:
    """The removed case `listing` most strongly matches, with the reasons; None if none.

    The listing's own cases are not candidates: a listing seen again under its own
    id is the stay-down check's business. Whitelisted sellers never relist.
    """
    if listing.id is None or _is_whitelisted(session, listing):
        return None
    cases = list(
        session.scalars(
            select(m.Case)
            .join(m.Listing, m.Case.listing_pk == m.Listing.id)
            .options(contains_eager(m.Case.listing))  # one query, not one per case
            .where(m.Case.state.in_(RELIST_STATES), m.Case.listing_pk != listing.id)
            .order_by(m.Case.id.desc())
        )
    )
    if not cases:
        return None
    images = _images(session, sorted({listing.id, *(c.listing_pk for c in cases)}))
    mine = images.get(listing.id, [])
    my_files = {sha for sha, _ in mine if sha}
    my_phashes = [p for _, p in mine if p]
    my_title = normalise_title(listing.title)

    best: RelistMatch | None = None
    for case in cases:
        old = case.listing
        match = RelistMatch(case)
        theirs = images.get(case.listing_pk, [])
        shared = my_files & {sha for sha, _ in theirs if sha}
        if shared:
            match.kinds.add("image-file")
            match.reasons.append(
                f"{len(shared)} identical image file(s) (sha256 {min(shared)[:12]}...)"
            )
        else:
            distances = [
                d
                for p in my_phashes
                for _, q in theirs
                if q
                if (d := hamming(p, q)) is not None and d <= phash_max_distance
            ]
            if distances:
                match.kinds.add("image-phash")
                match.reasons.append(
                    f"near-identical image (pHash distance {min(distances)} <= {phash_max_distance})"
                )
        if (
            listing.seller_id
            and old.marketplace == listing.marketplace
            and old.seller_id == listing.seller_id
        ):
            match.kinds.add("seller")
            match.reasons.append(f"same seller {listing.seller_id} on {listing.marketplace}")
        old_title = normalise_title(old.title)
        if len(my_title) >= TITLE_MIN_LENGTH and len(old_title) >= TITLE_MIN_LENGTH:
            ratio = fuzz.ratio(my_title, old_title)
            if ratio >= title_min_ratio:
                match.kinds.add("title")
                match.reasons.append(
                    f"near-identical title (similarity {ratio:.0f} >= {title_min_ratio:.0f})"
                )
        # Cases come newest first, so on equal strength the newest removed case wins.
        if match.kinds and (best is None or match.strength > best.strength):
            best = match
    return best


def find_relist(session: Session, listing: m.Listing) -> m.Case | None:
    """The removed case this listing is a relist of, or None (the caller links them)."""
    found = match_relist(session, listing)
    return found.case if found else None
