"""Taking in hits: what a counterfeit verdict sets in motion.

A counterfeit listing becomes a takedown candidate, unless an analyst dismissed it
and it has not changed since, or it is a relist of a listing already removed, in
which case the new case is linked to the old one. `review` verdicts need nothing
here: the triage queue is every unreviewed listing with that verdict.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from crawler import models as m


def is_quiet(listing: m.Listing) -> bool:
    """A dismissed listing stays quiet until its content changes."""
    return listing.triage_state == "dismissed" and listing.triage_hash == listing.content_hash


def take_in(session: Session, listing_pk: int, assessment_id: int) -> m.Case | None:
    """Open (or find) the case for a counterfeit assessment; None when nothing is due."""
    from crawler.takedown.cases import case_for_listing, open_candidate, open_relist

    listing = session.get(m.Listing, listing_pk)
    assessment = session.get(m.AssessmentRow, assessment_id)
    if listing is None or assessment is None or assessment.verdict != "counterfeit" or is_quiet(listing):
        return None
    existing = case_for_listing(session, listing)
    if existing is not None:
        return existing
    try:
        from crawler.relists import find_relist
    except ImportError:  # relist matching is optional for intake
        find_relist = None
    old = find_relist(session, listing) if find_relist else None
    if old is not None and old.state in ("removed", "relisted"):
        return open_relist(session, listing, old, note=f"matches removed case {old.id}")
    return open_candidate(session, listing, assessment)
