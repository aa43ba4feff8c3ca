"""What an analyst can do to a hit: confirm, dismiss, whitelist the seller, add a note.

The triage fields live on the listing (`triage_state`, `triage_label`, and
`triage_hash`, the content hash at the moment of the decision: a dismissal holds
while the listing stays as it was). Cases are opened and moved only through the
takedown module (`crawler.takedown.states`), which writes the audit trail; this
module never writes case events itself. When that module is not installed, a
confirmation is recorded on the listing alone.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler import models as m
from crawler.web.queries import LABELS, invalidate_seller_reports, latest


class ActionError(Exception):
    """An action that cannot be done (wrong state, unknown label); one line for the user."""


def takedown_states() -> ModuleType | None:
    try:
        return importlib.import_module("crawler.takedown.states")
    except ImportError:
        return None


def _transition(
    session: Session, case: m.Case, to_state: str, actor: str, note: str | None, *,
    platform_ref: str | None = None, **fields: Any,
) -> m.Case:
    states = takedown_states()
    if states is None:
        raise ActionError("case changes need the takedown module (crawler.takedown.states)")
    fields = {k: v for k, v in fields.items() if v}
    try:
        states.transition(session, case, to_state, actor, note=note, platform_ref=platform_ref, **fields)
    except ValueError as exc:  # TransitionError and the takedown module's other errors
        raise ActionError(str(exc)) from None
    return case


# States only markwatch sets: a candidate is withdrawn when a newer assessment is no
# longer counterfeit, and taken in again when a later one is. An analyst decides with
# confirmed or dismissed instead (the command line offers no such move either).
MARKWATCH_STATES = frozenset({"withdrawn", "candidate"})


# Case states before a complaint is filed (or closed without one): triage may still decide.
UNFILED_STATES = frozenset({"candidate", "withdrawn", "confirmed", "dismissed", "relisted"})


def all_states() -> list[str]:
    """Every case state, in the order of the protocol (empty without the takedown module)."""
    states = takedown_states()
    return list(states.STATES) if states is not None else []


def allowed_next(case: m.Case) -> list[str]:
    """States a case may move to next; forward moves first, so the default is the usual step."""
    states = takedown_states()
    if states is None:
        return []
    order = {name: i for i, name in enumerate(states.STATES)}
    found = [name for name in states.ALLOWED.get(case.state, ()) if name not in MARKWATCH_STATES]
    return sorted(found, key=lambda name: (name in ("dismissed", "rejected"), order.get(name, len(order))))


def _open_case(session: Session, listing: m.Listing, label: str, actor: str, note: str | None) -> m.Case | None:
    """Open (or move along) the listing's case through the takedown module."""
    states = takedown_states()
    if states is None:
        return None
    from crawler.takedown.cases import case_for_listing

    existing = case_for_listing(session, listing)
    closed = states.CLOSED_STATES
    if existing is not None and existing.state == "confirmed":
        if (existing.label or "counterfeit") != label:
            # Not filed yet: the package is built from the case's label, so it follows the
            # analyst's new choice, with an audit event saying so.
            states.annotate(session, existing, actor, note=f"label {existing.label or 'counterfeit'} -> {label}")
            existing.label = label
        return existing
    if existing is not None and existing.state not in closed and existing.state not in ("candidate", "withdrawn"):
        if label != (existing.label or "counterfeit"):
            # Filed with the platform under its label: changing the listing's alone would
            # show one label on the hit and file another.
            raise ActionError(
                f"case {existing.id} is {existing.state} as {existing.label or 'counterfeit'}: "
                "the complaint is filed, its label cannot change"
            )
        return existing  # further along with this label: nothing to do
    if existing is None or existing.state in closed:
        a = latest(session, listing.id)
        existing = states.create_case(
            session, listing, actor=actor, label=label, mark_id=a.mark_id if a else None,
            note="opened by an analyst's confirmation",
        )
    return _transition(session, existing, "confirmed", actor, note, label=label)


def confirm(session: Session, listing: m.Listing, label: str, actor: str, note: str | None = None) -> m.Case | None:
    if label not in LABELS:
        raise ActionError(f"label: expected one of {', '.join(LABELS)}, got {label!r}")
    case = _open_case(session, listing, label, actor, note)
    listing.triage_state = "confirmed"
    listing.triage_label = label
    listing.triage_hash = listing.content_hash
    if note:
        add_note(session, listing, actor, note)
    return case


def dismiss(session: Session, listing: m.Listing, actor: str, note: str | None = None) -> None:
    """A false positive: stays quiet in later cycles unless the listing changes."""
    from crawler.takedown.cases import case_for_listing

    newest = case_for_listing(session, listing)
    if newest is not None and newest.state not in UNFILED_STATES:
        # A complaint with the platform is under way or decided: dismissing the listing alone
        # would count it a false positive while its case goes on.
        raise ActionError(
            f"case {newest.id} is {newest.state}: the complaint is filed; record its outcome on the cases board"
        )
    listing.triage_state = "dismissed"
    listing.triage_label = None
    listing.triage_hash = listing.content_hash
    open_cases = select(m.Case).where(m.Case.listing_pk == listing.id, m.Case.state.in_(("candidate", "withdrawn", "confirmed")))
    for case in session.scalars(open_cases):
        _transition(session, case, "dismissed", actor, note or "dismissed as a false positive")
    if note:
        add_note(session, listing, actor, note)


def whitelist(session: Session, listing: m.Listing, actor: str, note: str | None = None) -> m.Seller:
    if not listing.seller_id:
        raise ActionError("this listing has no seller id to whitelist")
    seller = session.scalars(
        select(m.Seller).where(m.Seller.marketplace == listing.marketplace, m.Seller.seller_id == listing.seller_id)
    ).first()
    if seller is None:
        seller = m.Seller(marketplace=listing.marketplace, seller_id=listing.seller_id, name=listing.seller_name)
        session.add(seller)
    seller.whitelisted = True
    seller.note = note or f"whitelisted by {actor}"
    if takedown_states() is not None:
        # A whitelisted seller's listings open no case: the candidates opened before, which
        # no analyst has decided on, would otherwise wait on the board for good.
        undecided = (
            select(m.Case)
            .join(m.Listing, m.Case.listing_pk == m.Listing.id)
            .where(
                m.Listing.marketplace == listing.marketplace, m.Listing.seller_id == listing.seller_id,
                m.Case.state.in_(("candidate", "withdrawn")),
            )
        )
        for case in session.scalars(undecided).all():
            _transition(session, case, "dismissed", actor, f"seller {listing.seller_id} whitelisted")
    add_note(session, listing, actor, f"seller {listing.seller_id} whitelisted" + (f": {note}" if note else ""))
    return seller


def add_note(session: Session, listing: m.Listing, actor: str, text: str) -> m.Note:
    note = m.Note(listing_pk=listing.id, author=actor, text=text)
    session.add(note)
    return note


def change_case(
    session: Session, case: m.Case, to_state: str, actor: str, note: str | None = None,
    complaint_id: str | None = None, platform_ref: str | None = None,
) -> m.Case:
    """Move a case through the takedown module, which checks the protocol and audits it."""
    if to_state in MARKWATCH_STATES:
        raise ActionError(
            f"case {case.id}: {to_state} is set by markwatch from the listing's newest assessment; "
            "confirm or dismiss the case instead"
        )
    invalidate_seller_reports()  # a seller's takedowns and relists count case states
    if to_state == "relisted" and case.state == "removed" and case.listing is not None:
        # A relist is a new case linked to the removed one (and a relist alert), as the
        # command line and the stay-down check open it; the bare state change would close
        # the case and leave the listing that is back with no case at all.
        from crawler.takedown.cases import open_relist

        try:
            open_relist(session, case.listing, case, actor=actor, note=note)
        except ValueError as exc:
            raise ActionError(str(exc)) from None
        return case
    return _transition(session, case, to_state, actor, note, complaint_id=complaint_id, platform_ref=platform_ref)


ACTIONS = ("confirm", "dismiss", "whitelist", "note")


def apply(session: Session, listing: m.Listing, action: str, actor: str, *, label: str | None = None,
          note: str | None = None) -> None:
    """One named action on one listing (the bulk form and the API use this)."""
    invalidate_seller_reports()  # seller figures and links depend on triage and the whitelist
    if action == "confirm":
        confirm(session, listing, label or "counterfeit", actor, note)
    elif action == "dismiss":
        dismiss(session, listing, actor, note)
    elif action == "whitelist":
        whitelist(session, listing, actor, note)
    elif action == "note":
        if not note:
            raise ActionError("note: expected some text")
        add_note(session, listing, actor, note)
    else:
        raise ActionError(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
