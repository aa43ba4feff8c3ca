"""Cases from hits: candidates from counterfeit verdicts, relists, stay-down checks.

The monitoring loop calls `open_candidate` for every counterfeit assessment and
`stay_down_check` after each marketplace's crawl; both are idempotent, so a cycle
that runs twice opens nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler import models as m
from crawler.takedown.states import (
    ACTION_STATES,
    STATES,
    TransitionError,
    create_case,
    is_overdue,
    transition,
)


def case_for_listing(session: Session, listing: m.Listing) -> m.Case | None:
    """The newest case of a listing, if any."""
    return session.scalars(
        select(m.Case).where(m.Case.listing_pk == listing.id).order_by(m.Case.id.desc())
    ).first()


def open_candidate(session: Session, listing: m.Listing, assessment: Any, actor: str = "markwatch") -> m.Case:
    """The listing's case, opened as a candidate when it has none yet.

    `assessment` is a stored AssessmentRow or a matching Assessment (score, verdict,
    mark_id). A listing with any case keeps it: a dismissed case stays dismissed, a
    removed one is handled by `stay_down_check`.
    """
    verdict = getattr(assessment, "verdict", None)
    verdict = getattr(verdict, "value", verdict)
    if verdict != "counterfeit":
        raise ValueError(f"listing {listing.key}: only counterfeit verdicts open cases, got {verdict!r}")
    existing = case_for_listing(session, listing)
    if existing is not None:
        return existing
    mark_id = getattr(assessment, "mark_id", None)
    score = float(getattr(assessment, "score", 0.0))
    return create_case(
        session, listing, actor=actor, mark_id=mark_id,
        note=f"counterfeit verdict, score {score:.2f}" + (f", mark {mark_id}" if mark_id else ""),
    )


def open_relist(
    session: Session, listing: m.Listing, old_case: m.Case, actor: str = "markwatch", note: str | None = None
) -> m.Case:
    """Close `old_case` as relisted and open a candidate for `listing`, linked to it.

    `listing` is the same listing seen again or a new one that matches the old case
    (same images, seller or title). Queues a `relist` alert. Idempotent: a listing
    already linked to `old_case` returns that case.
    """
    linked = _linked_relist(session, old_case, listing)
    if linked is not None:
        return linked
    if old_case.state == "removed":
        transition(
            session, old_case, "relisted", actor,
            note=note or f"listing {listing.key} is back after removal",
        )
    elif old_case.state != "relisted":
        raise TransitionError(
            f"case {old_case.id} is {old_case.state}: only a removed case can be relisted"
        )
    case = create_case(
        session, listing, actor=actor, mark_id=old_case.mark_id, label=old_case.label,
        relist_of=old_case.id, note=note or f"relist of case {old_case.id}",
    )
    _queue_relist_alert(session, case, old_case, listing)
    return case


def _queue_relist_alert(session: Session, case: m.Case, old_case: m.Case, listing: m.Listing) -> None:
    key = f"relist:case:{case.id}"
    if session.scalars(select(m.OutboxAlert).where(m.OutboxAlert.key == key)).first() is not None:
        return
    session.add(
        m.OutboxAlert(
            key=key, kind="relist", tags=["takedown", "relist", *([case.mark_id.lower()] if case.mark_id else [])],
            title=f"Relisted: {listing.marketplace} {listing.listing_id}",
            body=(
                f"A listing removed under case {old_case.id} is back on {listing.marketplace}: "
                f"{listing.title}\n{listing.url}\nNew case: {case.id}"
            ),
            payload={
                "case_id": case.id, "relist_of": old_case.id, "listing": listing.key, "url": listing.url,
                "mark_id": case.mark_id,
            },
        )
    )
    session.flush()


def _linked_relist(session: Session, old_case: m.Case, listing: m.Listing) -> m.Case | None:
    """The relist case already opening `listing` against `old_case`, if any."""
    return session.scalars(
        select(m.Case).where(m.Case.relist_of == old_case.id, m.Case.listing_pk == listing.id)
    ).first()


def stay_down_check(
    session: Session, seen_listing_keys: Iterable[str], run_marketplace: str, actor: str = "markwatch"
) -> list[m.Case]:
    """Reopen removed listings of `run_marketplace` that this crawl saw again.

    `seen_listing_keys` are "marketplace:listing_id" keys from the run. Returns the
    new relist cases (empty when everything removed stayed down).
    """
    seen = {k for k in seen_listing_keys if k.startswith(f"{run_marketplace}:")}
    if not seen:
        return []
    # A removed case, or one already closed as relisted because another listing matched
    # it first: the removed listing itself coming back is a relist of its own.
    removed = session.scalars(
        select(m.Case).join(m.Listing, m.Case.listing_pk == m.Listing.id).where(
            m.Case.state.in_(("removed", "relisted")), m.Listing.marketplace == run_marketplace
        ).order_by(m.Case.id)
    ).all()
    reopened = []
    for case in removed:
        listing = case.listing
        # Only a sighting after the removal counts: the run may have started before an
        # analyst recorded the removal.
        if listing.key not in seen or listing.last_seen <= case.state_since:
            continue
        if _linked_relist(session, case, listing) is None:
            reopened.append(open_relist(session, listing, case, actor=actor))
    return reopened


def find_cases(
    session: Session,
    *,
    state: str | None = None,
    platform: str | None = None,
    overdue: bool = False,
    today: dt.date | None = None,
) -> list[m.Case]:
    """Cases filtered by state, platform and whether an action deadline has passed."""
    if state is not None and state not in STATES:
        raise TransitionError(f"unknown case state {state!r}: expected one of {', '.join(STATES)}")
    stmt = select(m.Case).order_by(m.Case.id)
    if state:
        stmt = stmt.where(m.Case.state == state)
    if platform:
        stmt = stmt.where(m.Case.platform == platform.lower())
    if overdue:
        stmt = stmt.where(m.Case.state.in_(ACTION_STATES), m.Case.deadline.is_not(None))
    cases = list(session.scalars(stmt))
    if overdue:
        cases = [c for c in cases if is_overdue(c, today)]
    return cases


def test_buy_orders(case: m.Case) -> list[str]:
    """Test-buy order ids recorded on the case (events with a `test-buy:` reference)."""
    return [
        e.platform_ref.split(":", 1)[1] for e in case.events
        if e.platform_ref and e.platform_ref.startswith("test-buy:")
    ]
