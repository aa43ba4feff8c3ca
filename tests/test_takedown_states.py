"""Case states: every allowed and every forbidden transition, audit events, deadlines,
candidates from hits, relists and stay-down checks, on a real SQLite store."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from crawler import db
from crawler import models as m
from crawler.takedown import cases as tcases
from crawler.takedown.states import (
    ALLOWED,
    STATES,
    TransitionError,
    annotate,
    is_overdue,
    transition,
)

TODAY = dt.date(2026, 6, 1)  # a Monday, far from Chinese holidays


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("states") / "store.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    return url


_counter = itertools.count(1)


def new_listing(session, marketplace: str = "taobao", listing_id: str | None = None) -> m.Listing:
    lid = listing_id or f"L{next(_counter)}"
    return db.upsert_listing(session, {
        "marketplace": marketplace, "listing_id": lid, "url": f"https://item.example/{marketplace}/{lid}",
        "title": f"ACME pad copy {lid}", "seller_id": "s1", "seller_name": "Shop",
    }).listing


def counterfeit(mark_id: str = "acme", score: float = 0.93) -> SimpleNamespace:
    return SimpleNamespace(verdict="counterfeit", score=score, mark_id=mark_id)


def path_to(state: str) -> list[str]:
    """The shortest chain of allowed transitions from candidate to `state`."""
    queue, seen = deque([("candidate", [])]), {"candidate"}
    while queue:
        here, path = queue.popleft()
        if here == state:
            return path
        for nxt in sorted(ALLOWED[here]):
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, [*path, nxt]))
    raise AssertionError(f"{state} is unreachable")


def extras(to_state: str) -> dict:
    """What a transition needs besides the state: a complaint id, a note for escalation."""
    if to_state == "submitted":
        return {"complaint_id": "IPP-1"}
    if to_state == "escalated":
        return {"note": "Li Wei called the platform and explained the case in Chinese"}
    return {}


def case_in(session, state: str, marketplace: str = "taobao") -> m.Case:
    listing = new_listing(session, marketplace)
    case = tcases.open_candidate(session, listing, counterfeit())
    for step in path_to(state):
        transition(session, case, step, "tester", today=TODAY, **extras(step))
    assert case.state == state
    return case


def test_every_state_is_reachable_from_candidate() -> None:
    for state in STATES:
        assert path_to(state) is not None


ALL_PAIRS = [(a, b) for a in STATES for b in STATES]


@pytest.mark.parametrize("from_state,to_state", ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_transition_matrix(url: str, from_state: str, to_state: str) -> None:
    with db.session_scope(url) as session:
        case = case_in(session, from_state)
        before = session.scalar(select(func.count()).select_from(m.CaseEvent).where(m.CaseEvent.case_id == case.id))
        if to_state in ALLOWED[from_state]:
            args = extras(to_state)
            note = args.pop("note", "a reason")
            event = transition(session, case, to_state, "analyst-1", note=note, platform_ref="REF-9",
                               today=TODAY, **args)
            assert case.state == to_state
            assert (event.from_state, event.to_state, event.actor, event.note) == (
                from_state, to_state, "analyst-1", note)
            assert event.platform_ref == "REF-9"
            assert event.at is not None
            after = session.scalar(
                select(func.count()).select_from(m.CaseEvent).where(m.CaseEvent.case_id == case.id))
            assert after == before + 1
        else:
            with pytest.raises(TransitionError) as err:
                transition(session, case, to_state, "analyst-1", today=TODAY, **extras(to_state))
            message = str(err.value)
            assert "\n" not in message
            assert f"case {case.id} is {from_state}: cannot go to {to_state}" in message
            assert case.state == from_state
            after = session.scalar(
                select(func.count()).select_from(m.CaseEvent).where(m.CaseEvent.case_id == case.id))
            assert after == before


def test_closed_states_allow_nothing() -> None:
    assert ALLOWED["dismissed"] == frozenset() and ALLOWED["relisted"] == frozenset()


def test_required_details_and_bad_arguments(url: str) -> None:
    with db.session_scope(url) as session:
        case = case_in(session, "confirmed")
        with pytest.raises(TransitionError, match="complaint id"):
            transition(session, case, "submitted", "a", today=TODAY)
        with pytest.raises(TransitionError, match="unknown case state 'gone'"):
            transition(session, case, "gone", "a", today=TODAY)
        with pytest.raises(TransitionError, match="cannot set 'state'"):
            transition(session, case, "submitted", "a", today=TODAY, state="removed")
        with pytest.raises(TransitionError, match="actor"):
            transition(session, case, "submitted", " ", today=TODAY, complaint_id="X")
        assert case.state == "confirmed" and case.complaint_id is None
        transition(session, case, "submitted", "a", today=TODAY, complaint_id="IPP-77")
        assert case.complaint_id == "IPP-77" and case.events[-1].platform_ref == "IPP-77"
        d = case_in(session, "dispute")
        with pytest.raises(TransitionError, match="Chinese"):
            transition(session, d, "escalated", "a", today=TODAY)


def test_deadlines_follow_the_platform_rules(url: str) -> None:
    with db.session_scope(url) as session:
        case = case_in(session, "submitted")
        # Taobao: 3 working days for the seller, counted from 2026-09-30 across National
        # Day (Oct 1-7 off): Oct 8 (Thu), Oct 9 (Fri), Oct 10 (Sat, an adjusted working day).
        transition(session, case, "seller_notified", "a", today=dt.date(2026, 9, 30))
        assert case.deadline == dt.date(2026, 10, 10)
        # Disputes take 2-5 working days: the deadline is the far end.
        transition(session, case, "cross_complaint", "a", today=TODAY)
        transition(session, case, "dispute", "a", today=dt.date(2026, 6, 1))
        assert case.deadline == dt.date(2026, 6, 8)  # Mon + 5 working days = next Mon
        # Removed: the 27-working-day window for later counter-notices. From Mon 2026-06-01:
        # 27 working days with the Dragon Boat holiday (Fri 2026-06-19) off ends Thu 2026-07-09.
        transition(session, case, "removed", "a", today=TODAY)
        assert case.deadline == dt.date(2026, 7, 9)
        assert not is_overdue(case, dt.date(2026, 12, 1))  # an informational window, never overdue
        transition(session, case, "relisted", "a", today=TODAY)
        assert case.deadline is None

        jd = case_in(session, "submitted", marketplace="jd")
        transition(session, jd, "seller_notified", "a", today=TODAY)  # 1-3 working days: far end
        assert jd.deadline == dt.date(2026, 6, 4)
        transition(session, jd, "cross_complaint", "a", today=TODAY)  # 7 working days of evidence
        assert jd.deadline == dt.date(2026, 6, 10)
        transition(session, jd, "dispute", "a", today=TODAY)  # 15-day supplement period (calendar days)
        assert jd.deadline == dt.date(2026, 6, 16)


def test_a_year_without_a_published_calendar_gets_an_estimated_deadline(url: str) -> None:
    # China's 2027 schedule is not in the installed calendars: the statutory New Year's Day
    # still counts as a holiday, and the case says the deadline is an estimate.
    with db.session_scope(url) as session:
        case = case_in(session, "submitted")
        event = transition(session, case, "seller_notified", "a", today=dt.date(2026, 12, 30))
        assert case.state == "seller_notified" and case.deadline == dt.date(2027, 1, 5)
        assert "deadline estimated" in event.note and "2027" in event.note


def test_open_candidate_is_idempotent_and_only_for_counterfeits(url: str) -> None:
    with db.session_scope(url) as session:
        listing = new_listing(session)
        first = tcases.open_candidate(session, listing, counterfeit())
        again = tcases.open_candidate(session, listing, counterfeit(score=0.99))
        assert first.id == again.id
        assert (first.state, first.platform, first.mark_id) == ("candidate", "taobao", "acme")
        assert [(e.from_state, e.to_state, e.actor) for e in first.events] == [(None, "candidate", "markwatch")]
        with pytest.raises(ValueError, match="only counterfeit"):
            tcases.open_candidate(session, new_listing(session), SimpleNamespace(verdict="review", score=0.5, mark_id=None))
        # A dismissed listing keeps its dismissed case.
        transition(session, first, "dismissed", "a")
        assert tcases.open_candidate(session, listing, counterfeit()).id == first.id


def test_relist_links_a_new_case_and_queues_an_alert(url: str) -> None:
    with db.session_scope(url) as session:
        old = case_in(session, "removed")
        newer = new_listing(session)
        case = tcases.open_relist(session, newer, old)
        assert old.state == "relisted"
        assert (case.state, case.relist_of, case.mark_id) == ("candidate", old.id, old.mark_id)
        assert tcases.open_relist(session, newer, old).id == case.id  # idempotent
        alert = session.scalars(select(m.OutboxAlert).where(m.OutboxAlert.key == f"relist:case:{case.id}")).one()
        assert alert.kind == "relist" and alert.payload["relist_of"] == old.id
        with pytest.raises(TransitionError, match="only a removed case"):
            tcases.open_relist(session, new_listing(session), case_in(session, "submitted"))


def test_stay_down_check_reopens_removed_listings_seen_again(url: str) -> None:
    with db.session_scope(url) as session:
        gone = case_in(session, "removed", marketplace="tmall")
        back = case_in(session, "removed", marketplace="tmall")
        other = case_in(session, "removed", marketplace="1688")
        seen = [back.listing.key, other.listing.key, "tmall:unrelated"]
        assert tcases.stay_down_check(session, seen, "tmall") == []  # seen before the removal only
        for listing in (back.listing, other.listing):  # this cycle finds them again
            db.upsert_listing(session, {"marketplace": listing.marketplace, "listing_id": listing.listing_id,
                                        "url": listing.url, "title": listing.title})
        reopened = tcases.stay_down_check(session, seen, "tmall")
        assert [c.relist_of for c in reopened] == [back.id]
        assert reopened[0].listing_pk == back.listing_pk
        assert (gone.state, back.state, other.state) == ("removed", "relisted", "removed")
        assert tcases.stay_down_check(session, seen, "tmall") == []  # nothing twice


def test_find_cases_filters_and_overdue(url: str) -> None:
    with db.session_scope(url) as session:
        late = case_in(session, "submitted", marketplace="dhgate")
        transition(session, late, "seller_notified", "a", today=dt.date(2026, 3, 2))
        fresh = case_in(session, "submitted", marketplace="dhgate")
        transition(session, fresh, "seller_notified", "a", today=dt.date(2026, 11, 20))
        day = dt.date(2026, 11, 23)
        found = tcases.find_cases(session, platform="dhgate", overdue=True, today=day)
        assert late in found and fresh not in found
        assert all(c.state == "seller_notified" for c in tcases.find_cases(session, state="seller_notified"))
        with pytest.raises(TransitionError, match="unknown case state"):
            tcases.find_cases(session, state="nope")


def test_overdue_is_judged_on_the_platform_s_date(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The deadline was counted on Beijing's date: once Beijing's day is over the case is
    # overdue, whatever the server's own date.
    from crawler.takedown import states

    beijing = dt.date.today() + dt.timedelta(days=10)
    monkeypatch.setattr(states, "local_today", lambda country: beijing)
    with db.session_scope(url) as session:
        case = case_in(session, "seller_notified", marketplace="jd")
        case.deadline = beijing - dt.timedelta(days=1)
        assert is_overdue(case)
        assert case in tcases.find_cases(session, platform="jd", overdue=True)


def test_a_complaint_turned_down_while_awaiting_the_decision_is_rejected_and_can_be_filed_again(url: str) -> None:
    # Otherwise the only way out is cross_complaint -> reinstated, counted as a seller's win.
    with db.session_scope(url) as session:
        case = case_in(session, "awaiting_response", marketplace="taobao")
        transition(session, case, "rejected", "a", note="complaint not established", today=TODAY)
        transition(session, case, "submitted", "a", complaint_id="IPP-2", today=TODAY)
        assert case.state == "submitted" and case.complaint_id == "IPP-2"


def test_a_dismissed_listing_that_changed_into_a_counterfeit_opens_a_new_candidate(url: str) -> None:
    # Quiet while unchanged; once its content changed, a counterfeit verdict sets a takedown in motion.
    from crawler.intake import take_in

    def assessed(listing: m.Listing) -> int:
        row = m.AssessmentRow(listing_pk=listing.id, score=0.93, verdict="counterfeit", mark_id="acme",
                              matching_version="t", content_hash=listing.content_hash)
        session.add(row)
        session.flush()
        return row.id

    with db.session_scope(url) as session:
        listing = new_listing(session, listing_id="D1")
        first = take_in(session, listing.id, assessed(listing))
        assert first is not None
        transition(session, first, "dismissed", "a", note="genuine resale")
        assert take_in(session, listing.id, assessed(listing)) is None  # unchanged: stays quiet
        changed = db.upsert_listing(session, {
            "marketplace": "taobao", "listing_id": "D1", "url": listing.url, "title": "ACME pad 1:1 replica",
            "seller_id": "s1", "seller_name": "Shop",
        }).listing
        again = take_in(session, changed.id, assessed(changed))
        assert again is not None and again.id != first.id and again.state == "candidate"
        assert first.state == "dismissed"
        assert take_in(session, changed.id, assessed(changed)).id == again.id  # idempotent


def test_annotations_record_facts_without_changing_state(url: str) -> None:
    with db.session_scope(url) as session:
        case = case_in(session, "confirmed", marketplace="amazon")
        annotate(session, case, "buyer", note="bought one", platform_ref="test-buy:111-2222222-3333333")
        assert case.state == "confirmed"
        assert case.events[-1].from_state == case.events[-1].to_state == "confirmed"
        assert tcases.test_buy_orders(case) == ["111-2222222-3333333"]
        with pytest.raises(TransitionError):
            annotate(session, case, "buyer")


def test_submitting_on_an_expired_registration_is_refused(url: str, tmp_path: Path) -> None:
    from crawler.config import load_client
    from tests.test_takedown_readiness import mark, write_client

    expired = [{"number": "12345678", "country": "CN", "valid_from": "2010-01-01", "valid_until": "2020-01-01"}]
    client = load_client(write_client(tmp_path, [mark(id="oldmark", registrations=expired)]))
    with db.session_scope(url) as session:
        db.sync_marks(session, client)
        listing = new_listing(session)
        case = tcases.open_candidate(session, listing, counterfeit(mark_id="oldmark"))
        transition(session, case, "confirmed", "a", today=TODAY)
        with pytest.raises(TransitionError) as err:
            transition(session, case, "submitted", "a", today=TODAY, complaint_id="X")
        assert str(err.value) == (
            f"case {case.id}: no registration of mark oldmark is in force on 2026-06-01 "
            "(12345678 (CN) expired on 2020-01-01); renew it before filing")
        assert case.state == "confirmed" and case.complaint_id is None


def test_a_removed_listing_back_after_another_matched_its_case_is_a_relist_too(url: str) -> None:
    # Another seller's copy matched the removed case first (intake closed it as relisted);
    # the removed listing itself coming back must not go unnoticed.
    with db.session_scope(url) as session:
        old = case_in(session, "removed", marketplace="tmall")
        copy = new_listing(session, marketplace="tmall")
        tcases.open_relist(session, copy, old)
        assert old.state == "relisted"
        listing = old.listing
        db.upsert_listing(session, {"marketplace": listing.marketplace, "listing_id": listing.listing_id,
                                    "url": listing.url, "title": listing.title})
        reopened = tcases.stay_down_check(session, [listing.key], "tmall")
        assert [(c.listing_pk, c.relist_of) for c in reopened] == [(listing.id, old.id)]
        assert tcases.stay_down_check(session, [listing.key], "tmall") == []  # nothing twice


def test_the_readme_shows_every_allowed_move() -> None:
    # Analysts plan from the README's state diagram: it must not hide a move the protocol allows.
    import re
    from pathlib import Path

    from crawler.takedown.states import ALLOWED

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = text[text.index("candidate -> confirmed | dismissed"):]
    block = block[: block.index("```")]
    shown: dict[str, set[str]] = {}
    for line in block.splitlines():
        head, _, rest = line.partition(" -> ")
        if rest:
            moves = re.sub(r"\(.*", "", rest.split("  ")[0])
            shown[head.strip()] = {w.split()[0] for w in moves.split("|") if w.strip()}
    assert shown == {k: set(v) for k, v in ALLOWED.items() if v}
