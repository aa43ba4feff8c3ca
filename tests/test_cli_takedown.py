"""The takedown commands: calendar, readiness, cases, case actions, package export;
one-line errors with exit 2 and nothing changed.

Most tests call the command line's `main()` in this process (the machine is shared and
a process start costs most of a second); one test runs the installed script itself.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from crawler import cli as cli_module
from crawler import db
from crawler import models as m
from crawler.takedown.cases import open_candidate
from crawler.takedown.states import transition
from tests.conftest import run_cli
from tests.test_takedown_readiness import mark, write_client


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_module.console, "_width", 200)
    monkeypatch.setattr(cli_module.err_console, "_width", 400)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """`markwatch ARGS` in this process: returncode, stdout, stderr."""

    def call(*args: str) -> SimpleNamespace:
        monkeypatch.setattr("sys.argv", ["markwatch", *args])
        code = 0
        try:
            cli_module.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return call


def one_line_error(proc, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_installed_script_prints_the_date_and_one_line_errors() -> None:
    proc = run_cli("calendar", "add-working-days", "--country", "CN", "2026-09-30", "3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2026-10-10"
    one_line_error(run_cli("case", "1", "fly", "--db", "sqlite:////nonexistent-dir-xyz/x.db"), "unknown action 'fly'")


def test_calendar_add_working_days(run) -> None:
    assert run("calendar", "add-working-days", "--country", "CN", "2026-02-12", "3").stdout.strip() == "2026-02-24"
    assert run("calendar", "add-working-days", "--country", "US", "2026-11-25", "1").stdout.strip() == "2026-11-27"
    one_line_error(run("calendar", "add-working-days", "--country", "CN", "2026-12-30", "3"),
                   "2027 is not available", "chinese-calendar", "estimate")
    # As case deadlines do: New Year's Day 2027 is a statutory holiday.
    estimated = run("calendar", "add-working-days", "--country", "CN", "2026-12-30", "3", "--estimate")
    assert (estimated.returncode, estimated.stdout.strip()) == (0, "2027-01-05")
    assert estimated.stderr.startswith("markwatch: estimated: CN's 2027 schedule is not published")
    assert run("calendar", "add-working-days", "--country", "CN", "2026-02-12", "3", "--estimate").stderr == ""
    one_line_error(run("calendar", "add-working-days", "--country", "CN", "30.09.2026", "3"),
                   "START: expected a date YYYY-MM-DD")
    one_line_error(run("calendar", "add-working-days", "--country", "XX", "2026-09-30", "3"),
                   "no holiday calendar for country 'XX'")


def test_readiness_table_and_advice(run, tmp_path: Path) -> None:
    us = [{"number": "555", "country": "US", "valid_from": "2020-01-01", "valid_until": "2030-01-01",
           "certificate": "docs/us-555.pdf"}]
    config = write_client(tmp_path, [mark(registrations=us), mark(id="plain", title="PLAIN", registrations=[])])
    proc = run("readiness", "--config", str(config), "--platform", "taobao", "--platform", "tmall",
                   "--platform", "1688", "--platform", "amazon", "--date", "2026-06-01")
    assert proc.returncode == 0, proc.stderr
    assert "Readiness on 2026-06-01" in proc.stdout
    assert ("WARN: ACME has no CN registration: Taobao/Tmall/1688 complaints will likely fail; "
            "register in China first") in proc.stdout
    assert ("FAIL: PLAIN has no registration: Taobao/Tmall/1688 complaints will fail; register the trademark "
            "in China first") in proc.stdout
    assert "refused" in proc.stdout and "ready" in proc.stdout
    one_line_error(run("readiness", "--config", str(config), "--platform", "wish"), "unknown platform 'wish'")


def seed_case(url: str, marketplace: str = "taobao", listing_id: str = "1001", state: str | None = None) -> int:
    with db.session_scope(url) as session:
        listing = db.upsert_listing(session, {
            "marketplace": marketplace, "listing_id": listing_id, "url": f"https://{marketplace}.example/{listing_id}",
            "title": "ACME pad copy", "seller_id": "s1"}).listing
        case = open_candidate(session, listing, SimpleNamespace(verdict="counterfeit", score=0.9, mark_id="acme"))
        if state == "confirmed":
            transition(session, case, "confirmed", "t")
        return case.id


def events(url: str, case_id: int) -> list[tuple]:
    with db.session_scope(url) as session:
        case = session.get(m.Case, case_id)
        return [(e.from_state, e.to_state, e.actor, e.note, e.platform_ref) for e in case.events]


def test_case_actions_and_listing(run, db_url: str) -> None:
    cid = seed_case(db_url)
    ok = run("case", str(cid), "confirm", "--db", db_url, "--actor", "ann", "--note", "clear fake")
    assert ok.returncode == 0, ok.stderr
    assert f"case {cid}: confirmed" in ok.stdout
    assert events(db_url, cid)[-1] == ("candidate", "confirmed", "ann", "clear fake", None)

    before = events(db_url, cid)
    one_line_error(run("case", str(cid), "submit", "--db", db_url), "needs the platform's complaint id")
    one_line_error(run("case", str(cid), "dispute", "--db", db_url),
                   f"case {cid} is confirmed: cannot go to dispute")
    one_line_error(run("case", str(cid), "fly", "--db", db_url), "unknown action 'fly'")
    one_line_error(run("case", "999", "confirm", "--db", db_url), "case 999 not found")
    assert events(db_url, cid) == before  # nothing changed

    sub = run("case", str(cid), "submit", "--complaint-id", "IPP-42", "--db", db_url, "--actor", "ann")
    assert sub.returncode == 0, sub.stderr
    notified = run("case", str(cid), "notify", "--db", db_url)
    assert "deadline" in notified.stdout
    with db.session_scope(db_url) as session:
        case = session.get(m.Case, cid)
        assert (case.state, case.complaint_id) == ("seller_notified", "IPP-42")
        assert case.deadline is not None or "deadline not set" in case.events[-1].note
    test_buy = run("case", str(cid), "test-buy", "--ref", "ORDER-7", "--db", db_url)
    assert test_buy.returncode == 0 and events(db_url, cid)[-1][4] == "test-buy:ORDER-7"

    listing = run("cases", "--db", db_url, "--state", "seller_notified", "--platform", "taobao")
    assert listing.returncode == 0, listing.stderr
    assert "taobao:1001" in listing.stdout and "IPP-42" in listing.stdout
    assert "taobao:1001" not in run("cases", "--db", db_url, "--state", "removed").stdout
    one_line_error(run("cases", "--db", db_url, "--platform", "wish"), "unknown platform 'wish'")
    one_line_error(run("cases", "--db", db_url, "--state", "gone"), "unknown case state 'gone'")
    show = run("case", str(cid), "show", "--db", db_url)
    assert "candidate -> confirmed" in show.stdout and "[test-buy:ORDER-7]" in show.stdout


def test_one_complaint_for_many_cases_moves_them_all_or_none(run, db_url: str) -> None:
    # Alibaba's IPP takes hundreds of links in one complaint: the cases move together.
    ids = [seed_case(db_url, "alibaba", f"a{i}", state="confirmed") for i in range(4)]
    dismissed = seed_case(db_url, "alibaba", "a9")
    run("case", str(dismissed), "dismiss", "--db", db_url)
    spec = f"{ids[0]},{ids[1]}-{ids[3]},{dismissed}"
    before = [events(db_url, i) for i in ids]
    refused = run("case", spec, "submit", "--complaint-id", "IPP-7", "--db", db_url)
    one_line_error(refused, f"case {dismissed} is dismissed: cannot go to submitted")
    assert "submitted" not in refused.stdout  # no case is said to have moved
    assert [events(db_url, i) for i in ids] == before  # none moved
    done = run("case", f"{ids[0]},{ids[1]}-{ids[3]}", "submit", "--complaint-id", "IPP-7", "--db", db_url)
    assert done.returncode == 0, done.stderr
    with db.session_scope(db_url) as session:
        cases = [session.get(m.Case, i) for i in ids]
        assert {(c.state, c.complaint_id) for c in cases} == {("submitted", "IPP-7")}
    one_line_error(run("case", "3-1", "show", "--db", db_url), "'3-1' is not a range")
    one_line_error(run("case", "12,x", "show", "--db", db_url), "expected a case id or ids such as 12,13,20-25")
    one_line_error(run("case", f"{ids[0]},999", "show", "--db", db_url), "case 999 not found")


def test_a_change_recorded_later_counts_its_deadline_from_the_day_it_happened(run, db_url: str) -> None:
    from crawler.takedown.deadlines import rules
    from crawler.takedown.states import case_today

    cid = seed_case(db_url, "dhgate", "late", state="confirmed")
    run("case", str(cid), "submit", "--complaint-id", "D-9", "--db", db_url)
    with db.session_scope(db_url) as session:
        today = case_today(session.get(m.Case, cid))
    happened = today - dt.timedelta(days=7)
    out = run("case", str(cid), "notify", "--on", happened.isoformat(), "--db", db_url, "--note", "mail from DHgate")
    assert out.returncode == 0, out.stderr
    with db.session_scope(db_url) as session:
        case = session.get(m.Case, cid)
        expected = case.deadline
        assert case.events[-1].note == f"happened on {happened}; mail from DHgate"
    # The deadline is the one counted from the day the seller was notified, not from today.
    platform = rules().platform("dhgate")
    rule = platform.deadline_for("seller_notified")
    assert expected == rule.due(platform.country, happened, estimate=True)
    assert expected != rule.due(platform.country, today, estimate=True)
    one_line_error(run("case", str(cid), "await", "--on", (today + dt.timedelta(days=2)).isoformat(), "--db", db_url),
                   "in the future")
    one_line_error(run("case", str(cid), "note", "--on", happened.isoformat(), "--note", "x", "--db", db_url),
                   "--on: only for a change of state")


def test_overdue_filter(run, db_url: str) -> None:
    cid = seed_case(db_url, "dhgate", "d1")
    with db.session_scope(db_url) as session:
        case = session.get(m.Case, cid)
        for step, extra in (("confirmed", {}), ("submitted", {"complaint_id": "D-1"}), ("seller_notified", {})):
            transition(session, case, step, "t", today=dt.date(2026, 3, 2), **extra)
    fresh = seed_case(db_url, "dhgate", "d2")
    out = run("cases", "--db", db_url, "--overdue").stdout
    assert "dhgate:d1" in out and "overdue" in out and "dhgate:d2" not in out
    assert fresh


def test_relisted_via_cli_opens_a_linked_case(run, db_url: str) -> None:
    cid = seed_case(db_url, "tmall", "t1")
    with db.session_scope(db_url) as session:
        case = session.get(m.Case, cid)
        for step, extra in (("confirmed", {}), ("submitted", {"complaint_id": "T-1"}), ("removed", {})):
            transition(session, case, step, "t", today=dt.date(2026, 6, 1), **extra)
    proc = run("case", str(cid), "relisted", "--db", db_url)
    assert proc.returncode == 0, proc.stderr
    with db.session_scope(db_url) as session:
        new = session.query(m.Case).filter(m.Case.relist_of == cid).one()
        assert new.state == "candidate" and session.get(m.Case, cid).state == "relisted"


def test_takedown_export_and_refusal(run, db_url: str, tmp_path: Path) -> None:
    config = write_client(tmp_path, [mark()])
    seed_case(db_url, "taobao", "e1", state="confirmed")
    out = tmp_path / "packages"
    proc = run("takedown", "export", "--config", str(config), "--platform", "taobao", "--db", db_url,
                   "--out", str(out), "--evidence-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "1 Taobao complaint(s) for 1 case(s)" in proc.stdout
    zips = list(out.glob("taobao-*.zip"))
    assert len(zips) == 1 and "zip: " in proc.stdout
    assert (next(p for p in out.iterdir() if p.is_dir()) / "001-taobao-acme-1" / "complaint.json").is_file()

    expired = [{"number": "12345678", "country": "CN", "valid_from": "2010-01-01", "valid_until": "2020-01-01",
                "certificate": "docs/cn-12345678.pdf"}]
    (tmp_path / "bad").mkdir()
    bad = write_client(tmp_path / "bad", [mark(registrations=expired)])
    refused_out = tmp_path / "refused"
    one_line_error(run("takedown", "export", "--config", str(bad), "--platform", "taobao", "--db", db_url,
                           "--out", str(refused_out)), "expired on 2020-01-01")
    assert not refused_out.exists() or not any(refused_out.iterdir())
    one_line_error(run("takedown", "export", "--config", str(config), "--platform", "wish", "--db", db_url),
                   "unknown platform 'wish'")
    acc = run("takedown", "accuracy", "--db", db_url, "--platform", "taobao")
    assert acc.returncode == 0 and "Reporter accuracy" in acc.stdout


@pytest.mark.parametrize("command", [
    ["calendar", "add-working-days"], ["readiness"], ["takedown", "export"], ["takedown", "accuracy"],
    ["cases"], ["case"],
])
def test_help_has_an_example(run, command: list[str]) -> None:
    proc = run(*command, "--help")
    assert proc.returncode == 0 and "Example: markwatch" in proc.stdout


def test_submit_on_an_expired_registration_is_one_line_and_changes_nothing(run, db_url: str, tmp_path: Path) -> None:
    from crawler.config import load_client

    expired = [{"number": "12345678", "country": "CN", "valid_from": "2010-01-01", "valid_until": "2020-01-01"}]
    client = load_client(write_client(tmp_path, [mark(registrations=expired)]))
    with db.session_scope(db_url) as session:
        db.sync_marks(session, client)
    cid = seed_case(db_url, "taobao", "x1", state="confirmed")
    before = events(db_url, cid)
    one_line_error(run("case", str(cid), "submit", "--complaint-id", "IPP-9", "--db", db_url),
                   "expired on 2020-01-01", "renew it before filing")
    assert events(db_url, cid) == before


def test_a_decision_on_the_case_is_the_listing_s_triage_too(run, db_url: str) -> None:
    # The triage queue and the report read the listing: a case confirmed or dismissed from
    # the command line must leave the queue as it does from the UI.
    confirmed, dismissed = seed_case(db_url), seed_case(db_url, listing_id="1002")
    assert run("case", str(confirmed), "confirm", "--db", db_url).returncode == 0
    assert run("case", str(dismissed), "dismiss", "--db", db_url).returncode == 0
    with db.session_scope(db_url) as session:
        one, two = session.get(m.Case, confirmed).listing, session.get(m.Case, dismissed).listing
        assert (one.triage_state, one.triage_label) == ("confirmed", "counterfeit")
        assert (two.triage_state, two.triage_label, two.triage_hash) == ("dismissed", None, two.content_hash)
    # A label other than counterfeit, as the UI offers: the case and the listing carry it.
    grey = seed_case(db_url, listing_id="1003")
    assert run("case", str(grey), "confirm", "--label", "grey market", "--db", db_url).returncode == 0
    with db.session_scope(db_url) as session:
        case = session.get(m.Case, grey)
        assert (case.label, case.listing.triage_label) == ("grey market", "grey market")
    one_line_error(run("case", str(grey), "confirm", "--label", "fake", "--db", db_url), "--label: expected one of")
    one_line_error(run("case", str(grey), "submit", "--label", "patent", "--db", db_url), "--label: only with confirm")
