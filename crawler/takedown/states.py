"""Case states and the one function that changes them.

A takedown case follows the platform's protocol:

    candidate -> confirmed | dismissed | withdrawn
    withdrawn -> candidate | confirmed | dismissed
    confirmed -> submitted (complaint id) | dismissed
    submitted -> seller_notified | awaiting_response | removed | rejected
    rejected  -> submitted (filed again) | dismissed
    seller_notified -> awaiting_response | removed | cross_complaint
    awaiting_response -> removed | cross_complaint | rejected  (the platform's decision may be a no)
    cross_complaint -> dispute | reinstated
    dispute -> removed | reinstated | escalated
    escalated -> removed | reinstated      (a Chinese-speaking person explains the case)
    reinstated -> escalated                (appeal of a lost dispute)
    removed -> relisted | cross_complaint  (stay-down found it again; late counter-notice)

A candidate no analyst has decided on is withdrawn by markwatch when the listing's
newer assessment is no longer counterfeit (the client authorised the seller, raised
a threshold, or the seller changed the listing), and becomes a candidate again if a
later one is: nobody files a complaint the matcher no longer stands behind.

A relisted case stays closed; the listing that came back gets a new case whose
`relist_of` points at it. Every change goes through `transition`, which writes a
`CaseEvent` (who, when, from, to, note, platform reference) and sets the case's
deadline from the platform's rule table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from crawler import models as m
from crawler.takedown.deadlines import (
    CalendarError,
    PlatformRule,
    Rules,
    TakedownError,
    UnknownPlatform,
    estimated_years,
)
from crawler.takedown.deadlines import (
    rules as load_rules,
)

STATES: tuple[str, ...] = (
    "candidate", "confirmed", "dismissed", "withdrawn", "submitted", "rejected", "seller_notified",
    "awaiting_response", "cross_complaint", "dispute", "escalated", "removed", "reinstated", "relisted",
)

ALLOWED: dict[str, frozenset[str]] = {
    "candidate": frozenset({"confirmed", "dismissed", "withdrawn"}),
    "withdrawn": frozenset({"candidate", "confirmed", "dismissed"}),
    "confirmed": frozenset({"submitted", "dismissed"}),
    "dismissed": frozenset(),
    "submitted": frozenset({"seller_notified", "awaiting_response", "removed", "rejected"}),
    "rejected": frozenset({"submitted", "dismissed"}),
    "seller_notified": frozenset({"awaiting_response", "removed", "cross_complaint"}),
    # The platform's decision may be a rejection: recorded as such, not as a seller's win.
    "awaiting_response": frozenset({"removed", "cross_complaint", "rejected"}),
    "cross_complaint": frozenset({"dispute", "reinstated"}),
    "dispute": frozenset({"removed", "reinstated", "escalated"}),
    "escalated": frozenset({"removed", "reinstated"}),
    "removed": frozenset({"relisted", "cross_complaint"}),
    "reinstated": frozenset({"escalated"}),
    "relisted": frozenset(),
}

# States whose deadline asks someone to act; `removed` only has an informational
# window (late counter-notices), so it is never "overdue".
ACTION_STATES = frozenset(
    {"submitted", "seller_notified", "awaiting_response", "cross_complaint", "dispute", "escalated"}
)
CLOSED_STATES = frozenset({"dismissed", "relisted"})
CASE_FIELDS = frozenset({"complaint_id", "label", "mark_id"})


class TransitionError(TakedownError):
    """A state change the protocol forbids; one line naming the case and the states."""


def platform_rule(platform: str, table: Rules | None = None) -> PlatformRule:
    """The rule of a case's platform; sites without their own rule use `generic`."""
    table = table or load_rules()
    try:
        return table.platform(platform)
    except UnknownPlatform:
        return table.platform("generic")


def local_today(country: str) -> dt.date:
    """Today's date where the platform is: a Chinese platform's clock starts on Beijing's date."""
    zone = {"CN": "Asia/Shanghai"}.get(country)
    if zone is None:
        return dt.date.today()
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(zone)).date()


def case_today(case: m.Case) -> dt.date:
    """Today's date on the case's platform clock, the one its deadline was counted on."""
    return local_today(platform_rule(case.platform).country)


def _now() -> dt.datetime:
    return m.utcnow()


def create_case(
    session: Session,
    listing: m.Listing,
    *,
    actor: str,
    mark_id: str | None = None,
    note: str | None = None,
    relist_of: int | None = None,
    label: str | None = None,
) -> m.Case:
    """A new case in state `candidate`, with its first audit event (from nothing)."""
    now = _now()
    case = m.Case(
        listing_pk=listing.id, mark_id=mark_id, platform=listing.marketplace, state="candidate",
        label=label, created_at=now, updated_at=now, state_since=now, relist_of=relist_of,
    )
    session.add(case)
    session.flush()
    session.add(m.CaseEvent(case_id=case.id, at=now, actor=actor, from_state=None, to_state="candidate", note=note))
    session.flush()
    return case


def transition(
    session: Session,
    case: m.Case,
    to_state: str,
    actor: str,
    note: str | None = None,
    platform_ref: str | None = None,
    *,
    today: dt.date | None = None,
    rules: Rules | None = None,
    **fields: Any,
) -> m.CaseEvent:
    """Move `case` to `to_state`, write the audit event and set the deadline.

    `fields` may set complaint_id, label or mark_id. Raises TransitionError (and
    changes nothing) when the protocol forbids the move or a required detail is missing.
    """
    if to_state not in ALLOWED:
        raise TransitionError(f"unknown case state {to_state!r}: expected one of {', '.join(STATES)}")
    unknown = set(fields) - CASE_FIELDS
    if unknown:
        raise TransitionError(
            f"case {case.id}: cannot set {min(unknown)!r}: expected only {', '.join(sorted(CASE_FIELDS))}"
        )
    if not actor or not str(actor).strip():
        raise TransitionError(f"case {case.id}: a state change needs an actor (who made it)")
    allowed = ALLOWED.get(case.state, frozenset())
    if to_state not in allowed:
        nexts = ", ".join(sorted(allowed)) or "nothing (the case is closed)"
        raise TransitionError(f"case {case.id} is {case.state}: cannot go to {to_state}; allowed: {nexts}")
    rule = platform_rule(case.platform, rules)
    if to_state == "submitted" and rule.portal and not fields.get("complaint_id"):
        raise TransitionError(
            f"case {case.id}: submitted to {rule.name} needs the platform's complaint id (--complaint-id)"
        )
    today = today or local_today(rule.country)
    if to_state == "submitted":
        _check_registration(session, case, today)
    if to_state == "escalated" and not (note and note.strip()):
        raise TransitionError(
            f"case {case.id}: escalation needs a note naming who explains the case to {rule.name} in Chinese"
        )

    deadline: dt.date | None = None
    deadline_rule = rule.deadline_for(to_state)
    if deadline_rule is not None:
        try:
            deadline = deadline_rule.due(rule.country, today)
        except CalendarError as exc:
            # The platform's clock runs regardless: a deadline counted with the statutory
            # holidays alone beats none; the case says it is an estimate, and why.
            try:
                deadline = deadline_rule.due(rule.country, today, estimate=True)
                years = ", ".join(map(str, estimated_years(rule.country, today, deadline)))
                gap = (
                    f"deadline estimated: {rule.country}'s {years} schedule is not published in the installed "
                    "calendars; counted with its statutory holidays, weekend days made working days not known"
                )
            except CalendarError:
                gap = f"deadline not set: {exc}"
            note = f"{note + '; ' if note else ''}{gap}"

    now = _now()
    event = m.CaseEvent(
        case_id=case.id, at=now, actor=str(actor), from_state=case.state, to_state=to_state,
        note=note, platform_ref=platform_ref or fields.get("complaint_id"),
    )
    for key, value in fields.items():
        setattr(case, key, value)
    case.state = to_state
    case.state_since = now
    case.updated_at = now
    case.deadline = deadline
    if to_state in ("confirmed", "dismissed") and case.listing is not None:
        # An analyst's decision on the case is the listing's triage too, whichever way it was
        # made (UI, API, command line): the queue hides it, a dismissal keeps it quiet.
        case.listing.triage_state = to_state
        case.listing.triage_label = (case.label or "counterfeit") if to_state == "confirmed" else None
        case.listing.triage_hash = case.listing.content_hash
    session.add(event)
    session.flush()
    return event


def _check_registration(session: Session, case: m.Case, today: dt.date) -> None:
    """Refuse to file on a mark whose stored registrations are all out of force."""
    if not case.mark_id:
        return
    mark = session.get(m.MarkRow, case.mark_id)
    if mark is None or not mark.registrations:
        return  # marks not copied into the store: readiness checks them at export
    if any(r.valid_from <= today <= r.valid_until for r in mark.registrations):
        return
    latest = max(mark.registrations, key=lambda r: r.valid_until)
    when = f"expired on {latest.valid_until}" if latest.valid_until < today else f"valid only from {latest.valid_from}"
    raise TransitionError(
        f"case {case.id}: no registration of mark {case.mark_id} is in force on {today} "
        f"({latest.number} ({latest.country}) {when}); renew it before filing"
    )


def annotate(
    session: Session, case: m.Case, actor: str, note: str | None = None, platform_ref: str | None = None
) -> m.CaseEvent:
    """An audit event that records a fact (a note, a test-buy order id) without a state change."""
    if not (note or platform_ref):
        raise TransitionError(f"case {case.id}: expected a note or a reference to record")
    event = m.CaseEvent(
        case_id=case.id, at=_now(), actor=str(actor), from_state=case.state, to_state=case.state,
        note=note, platform_ref=platform_ref,
    )
    case.updated_at = event.at
    session.add(event)
    session.flush()
    return event


def is_overdue(case: m.Case, today: dt.date | None = None) -> bool:
    """True when a deadline that asks for action has passed (by default on the platform's date)."""
    today = today or case_today(case)
    return case.state in ACTION_STATES and case.deadline is not None and case.deadline < today
