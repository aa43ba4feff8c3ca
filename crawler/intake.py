"""Taking in hits: what a counterfeit verdict sets in motion.

A counterfeit listing becomes a takedown candidate, unless an analyst dismissed it
and it has not changed since or whitelisted its seller, or it is a relist of a listing
already removed, in which case the new case is linked to the old one. `review`
verdicts need nothing here: the triage queue is every unreviewed listing with that
verdict. A candidate whose listing is assessed again as no longer counterfeit is
withdrawn (`withdraw_candidate`), and taken in again if it becomes one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from crawler import models as m


def is_quiet(listing: m.Listing) -> bool:
    """A dismissed listing stays quiet until its content changes; a seller the analysts
    whitelisted stays quiet for good (no case, no alert, no evidence)."""
    if listing.triage_state == "dismissed" and listing.triage_hash == listing.content_hash:
        return True
    if not listing.seller_id:
        return False
    session = object_session(listing)
    return session is not None and bool(
        session.scalar(
            select(m.Seller.whitelisted).where(
                m.Seller.marketplace == listing.marketplace, m.Seller.seller_id == listing.seller_id
            )
        )
    )


def take_in(session: Session, listing_pk: int, assessment_id: int) -> m.Case | None:
    """Open (or find) the case for a counterfeit assessment; None when nothing is due."""
    from crawler.takedown.cases import case_for_listing, open_candidate, open_relist

    listing = session.get(m.Listing, listing_pk)
    assessment = session.get(m.AssessmentRow, assessment_id)
    if listing is None or assessment is None or assessment.verdict != "counterfeit" or is_quiet(listing):
        return None
    existing = case_for_listing(session, listing)
    if existing is not None and existing.state == "withdrawn":
        from crawler.takedown.states import transition

        transition(
            session, existing, "candidate", "markwatch",
            note=f"counterfeit again, score {assessment.score:.2f}",
        )
        return existing
    if existing is not None and existing.state != "dismissed":
        return existing
    if existing is not None:
        # Dismissed, but the listing changed since (it is not quiet): the new content is a
        # new candidate; the dismissed case keeps the analyst's decision on the old one.
        from crawler.takedown.states import create_case

        return create_case(
            session, listing, actor="markwatch", mark_id=assessment.mark_id,
            note=f"listing changed since case {existing.id} was dismissed; counterfeit verdict, "
            f"score {float(assessment.score):.2f}",
        )
    from crawler.relists import match_relist

    found = match_relist(session, listing)
    if found is not None and found.case.state in ("removed", "relisted"):
        # The reasons go into the case's history and the relist alert.
        return open_relist(session, listing, found.case, note=found.describe())
    return open_candidate(session, listing, assessment)


def withdraw_candidate(session: Session, listing: m.Listing, assessment: m.AssessmentRow) -> m.Case | None:
    """Withdraw the listing's candidate case when its newer assessment is not counterfeit.

    Only a case no analyst has decided on: a confirmed or filed case is a person's
    call, which a changed score does not overrule. The listing's triage is left as
    it is, so a later counterfeit verdict takes the case in again.
    """
    from crawler.takedown.cases import case_for_listing
    from crawler.takedown.states import transition

    if assessment.verdict == "counterfeit":
        return None
    case = case_for_listing(session, listing)
    if case is None or case.state != "candidate":
        return None
    transition(
        session, case, "withdrawn", "markwatch",
        note=f"verdict now {assessment.verdict}, score {assessment.score:.2f}: no longer a counterfeit hit",
    )
    return case
