"""Alert kinds, routing, escaping and secrets, with an in-memory apprise target.

`@apprise.decorators.notify(on="memo")` registers a target that appends what it
receives to a list, so routing and rendering are checked without a network.
"""

from __future__ import annotations

import datetime as dt
import logging

import apprise
import pytest
from apprise.decorators import notify
from sqlalchemy import select

import alerts
from alerts import render
from alerts.kinds import detect_health, working_days_between
from alerts.outbox import flush
from alerts.targets import ConfigError, Target, load_targets, parse_url_list
from crawler import db
from crawler import models as m

RECEIVED: list[dict] = []


@notify(on="memo", name="markwatch test target")
def _memo(body, title, notify_type, body_format, meta, *args, **kwargs):
    RECEIVED.append(
        {
            "to": meta.get("host"),
            "title": title,
            "body": body,
            "format": str(body_format),
            "type": str(notify_type),
        }
    )
    return True


@pytest.fixture(autouse=True)
def _clear():
    RECEIVED.clear()
    yield
    RECEIVED.clear()


def _listing(session, n: int, title: str = "ACME pad") -> m.Listing:
    res = db.upsert_listing(
        session,
        {
            "marketplace": "taobao",
            "listing_id": str(n),
            "url": f"https://item.taobao.com/{n}",
            "title": title,
            "price": 30.0,
            "currency": "CNY",
        },
    )
    return res.listing


# ---------------------------------------------------------------- escaping


def test_html_escaping_neutralises_markup_and_bad_links():
    doc = (
        render.Doc("t")
        .p("Title: ", '<img src=x onerror=alert(1)>"')
        .p(render.Link("open", "javascript:alert(1)"))
    )
    out = render.write(doc, render.HTML)
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;&quot;" in out
    assert "javascript" not in out.split("open")[0] and "href" not in out


def test_markdown_escaping_keeps_injected_links_and_emphasis_inert():
    evil = "[free](https://evil.example) **big** `code` <!here> _x_"
    out = render.write(render.Doc("t").p(evil), render.MARKDOWN)
    assert "](https://evil.example)" not in out
    assert r"\[free\]\(https://evil.example\)" in out
    assert r"\*\*big\*\*" in out and r"\`code\`" in out and r"\<\!here\>" in out


def test_control_and_bidi_characters_are_removed_and_urls_checked():
    assert render.clean("abc\u202edcba\x00\nnext") == "abcdcba next"
    assert render.safe_url('https://a.example/x y"') == "https://a.example/x%20y%22"
    assert render.safe_url("data:text/html,hi") is None
    assert render.safe_url("//evil.example") is None
    assert (
        render.clean("x" * 1000).endswith("…") and len(render.clean("x" * 1000)) == render.MAX_TEXT
    )


# ---------------------------------------------------------------- targets and secrets


def test_url_list_parsing_and_errors_hide_secrets():
    targets = parse_url_list("ops=memo://ops\n  memo://all   takedown,review=memo://legal")
    assert [(t.url, sorted(t.tags), t.min_verdict) for t in targets] == [
        ("memo://ops", ["ops"], "counterfeit"),
        ("memo://all", [], "counterfeit"),
        ("memo://legal", ["review", "takedown"], "review"),
    ]
    with pytest.raises(ConfigError) as err:
        parse_url_list("user:hunter2secret@nowhere")
    assert "hunter2secret" not in str(err.value)
    assert "s3cr3tT0ken" not in repr(Target("slack://T0/B0/s3cr3tT0ken"))
    assert Target("tgram://123456789:AAHsecretbot/12345").display == "tgram://***/***"
    assert (
        Target("mailtos://me:pw123456@smtp.example.com").display == "mailtos://***@smtp.example.com"
    )


def test_failed_send_does_not_log_or_store_the_password(db_url, caplog):
    dead = Target("json://alice:hunter2secret@127.0.0.1:9/hook")  # port 9: nothing listens
    with db.session_scope(db_url) as session:
        alerts.enqueue_alerts(
            session, [alerts.kinds.review_alert(None, 3, dt.date(2026, 11, 30))], [dead]
        )
    with caplog.at_level(logging.DEBUG):
        result = flush(db_url, None, targets=[dead])
    assert (result.sent, result.pending) == (0, 1)
    with db.session_scope(db_url) as session:
        [row] = session.scalars(select(m.OutboxAlert)).all()
    assert row.last_error and "hunter2secret" not in row.last_error
    assert "hunter2secret" not in caplog.text
    assert "hunter2secret" not in " ".join(result.errors)
    assert "hunter2secret" not in str(row.payload)


# ---------------------------------------------------------------- routing


def test_routing_by_tags_sends_each_kind_to_its_targets(db_url):
    targets = [
        Target("memo://everything"),
        Target("memo://ops", frozenset({"ops"})),
        Target("memo://legal", frozenset({"takedown"})),
        Target("memo://analysts", frozenset({"acme"}), "review"),
    ]
    today = dt.date(2026, 11, 30)  # a Monday
    with db.session_scope(db_url) as session:
        listing = _listing(session, 1)
        from tests.test_alerts_delivery import Assessment, Signal

        hit = db.add_assessment(
            session,
            listing,
            Assessment("taobao:1", 0.5, "review", "acme", [Signal("text", 0.5, "x")]),
            "v1",
        )
        session.add(
            m.Case(
                listing_pk=listing.id,
                platform="taobao",
                state="awaiting_response",
                deadline=dt.date(2026, 12, 1),
            )
        )
        created = alerts.enqueue_cycle_alerts(
            session,
            None,
            "c1",
            [hit.id],
            review_count=2,
            health_events=[
                {
                    "marketplace": "taobao",
                    "kind": "zero_results",
                    "detail": "0 listings now, 40 before",
                }
            ],
            targets=targets,
            today=today,
        )
    # review-verdict hit: only analysts (min_verdict review); review summary: everything;
    # health: everything + ops; deadline: everything + legal.
    assert created.created == {"hits": 1, "review": 1, "health": 2, "deadline": 2}
    result = flush(db_url, None, targets=targets)
    assert result.sent == 6 and result.messages == 6
    got = {}
    for msg in RECEIVED:
        got.setdefault(msg["to"], []).append(msg["title"])
    assert sorted(got["ops"]) == ["markwatch crawl health: 1 problem on taobao"]
    assert got["legal"] == ["markwatch: case 1 deadline due in 1 working day"]
    assert got["analysts"] == ["markwatch: 1 new hit (0 counterfeit, 1 to review) for acme"]
    assert len(got["everything"]) == 3


def test_review_summary_once_a_day_and_only_when_needed(db_url):
    targets = [Target("memo://a")]
    with db.session_scope(db_url) as session:
        day = dt.date(2026, 11, 30)
        first = alerts.enqueue_cycle_alerts(
            session, None, "c1", [], review_count=3, health_events=[], targets=targets, today=day
        ).total
        again = alerts.enqueue_cycle_alerts(
            session, None, "c2", [], review_count=5, health_events=[], targets=targets, today=day
        ).total
        empty = alerts.enqueue_cycle_alerts(
            session,
            None,
            "c3",
            [],
            review_count=0,
            health_events=[],
            targets=targets,
            today=day + dt.timedelta(days=1),
        ).total
    assert (first, again, empty) == (1, 0, 0)


# ---------------------------------------------------------------- deadlines, relists, health


def test_deadline_stages_in_working_days(db_url):
    targets = [Target("memo://legal", frozenset({"takedown"}))]
    friday = dt.date(2026, 12, 4)
    with db.session_scope(db_url) as session:
        for n, (state, deadline) in enumerate(
            [
                ("awaiting_response", dt.date(2026, 12, 7)),  # Monday: 1 working day after Friday
                ("dispute", friday),  # due today
                ("seller_notified", dt.date(2026, 12, 2)),  # overdue by 2 working days
                ("awaiting_response", dt.date(2026, 12, 18)),  # far away: no reminder
                ("dismissed", dt.date(2026, 12, 1)),  # closed: no reminder
            ],
            start=1,
        ):
            listing = _listing(session, n)
            session.add(
                m.Case(listing_pk=listing.id, platform="generic", state=state, deadline=deadline)
            )
        session.flush()
        first = alerts.enqueue_cycle_alerts(
            session, None, "c1", [], review_count=0, health_events=[], targets=targets, today=friday
        )
        second = alerts.enqueue_cycle_alerts(
            session, None, "c2", [], review_count=0, health_events=[], targets=targets, today=friday
        )
    assert first.created == {"deadline": 3} and second.total == 0
    flush(db_url, None, targets=targets)
    titles = sorted(msg["title"] for msg in RECEIVED)
    assert titles == [
        "markwatch: case 1 deadline due in 1 working day",
        "markwatch: case 2 deadline due today",
        "markwatch: case 3 deadline overdue by 2 working days",
    ]


def test_deadline_reminders_count_on_the_platform_s_date(db_url, monkeypatch):
    # Past midnight in Beijing a Taobao deadline of yesterday is overdue, even while the
    # server's UTC date is still that day.
    from crawler.takedown import states

    monkeypatch.setattr(
        states, "local_today", lambda country: dt.date(2026, 12, 3) if country == "CN" else dt.date(2026, 12, 2)
    )
    targets = [Target("memo://legal", frozenset({"takedown"}))]
    with db.session_scope(db_url) as session:
        listing = _listing(session, 1)
        session.add(m.Case(listing_pk=listing.id, platform="taobao", state="seller_notified",
                           deadline=dt.date(2026, 12, 2)))
        session.flush()
        alerts.enqueue_cycle_alerts(session, None, "c1", [], review_count=0, health_events=[], targets=targets)
        keys = session.scalars(select(m.OutboxAlert.key)).all()
    assert [k.split(">")[0] for k in keys] == ["deadline:1:2026-12-02:overdue"]


def test_working_days_skip_weekends():
    assert working_days_between(dt.date(2026, 12, 4), dt.date(2026, 12, 7)) == 1  # Fri -> Mon
    assert working_days_between(dt.date(2026, 12, 7), dt.date(2026, 12, 4)) == -1
    assert working_days_between(dt.date(2026, 12, 4), dt.date(2026, 12, 4)) == 0


def test_relist_case_is_announced_once_even_when_also_queued_without_target(db_url):
    targets = [
        Target("memo://legal", frozenset({"takedown"})),
        Target("memo://ops", frozenset({"ops"})),
    ]
    with db.session_scope(db_url) as session:
        old_listing = _listing(session, 1, "ACME <b>pad</b> back again")
        old = m.Case(listing_pk=old_listing.id, platform="taobao", state="relisted")
        session.add(old)
        session.flush()
        new = m.Case(
            listing_pk=old_listing.id, platform="taobao", state="candidate", relist_of=old.id
        )
        session.add(new)
        session.flush()
        # The takedown module queues its own row, for whichever target takes `takedown`.
        session.add(
            m.OutboxAlert(
                key=f"relist:case:{new.id}",
                kind="relist",
                tags=["takedown"],
                title="Relisted: taobao 1",
                body="back\nhttps://item.taobao.com/1",
                payload={"case_id": new.id},
            )
        )
        session.flush()
        created = alerts.enqueue_cycle_alerts(
            session, None, "c1", [], review_count=0, health_events=[], targets=targets
        )
    assert created.created == {"relist": 1}
    result = flush(db_url, None, targets=targets)
    assert result.messages == 1
    [msg] = RECEIVED
    assert (
        msg["to"] == "legal"
        and msg["title"] == f"markwatch: listing back after takedown (case {2})"
    )
    assert "https://item.taobao.com/1" in msg["body"]
    with db.session_scope(db_url) as session:
        statuses = sorted(session.scalars(select(m.OutboxAlert.status)).all())
    assert statuses == ["sent", "sent"]
    assert flush(db_url, None, targets=targets).messages == 0


def test_health_detection_from_crawl_runs(db_url):
    with db.session_scope(db_url) as session:
        for cycle, market, status, items, errors in [
            ("c0", "taobao", "ok", 40, 1),
            ("c0", "ebay", "ok", 30, 0),
            ("c0", "jd", "ok", 10, 0),
            ("c1", "taobao", "ok", 0, 0),
            ("c1", "ebay", "blocked", 0, 0),
            ("c1", "jd", "ok", 9, 25),
        ]:
            run = db.start_run(session, market, cycle)
            db.finish_run(
                session,
                run.id,
                status,
                reason="captcha" if status == "blocked" else None,
                pages=5,
                items=items,
                errors=errors,
            )
        events = detect_health(session, "c1")
    assert sorted((e.marketplace, e.kind) for e in events) == [
        ("ebay", "blocked"),
        ("jd", "error_spike"),
        ("taobao", "zero_results"),
    ]
    assert all(e.cycle == "c1" and e.run_id for e in events)


def test_health_events_in_one_digest_per_cycle(db_url):
    targets = [Target("memo://ops", frozenset({"ops"}))]
    events = [
        alerts.HealthEvent("ebay", "blocked", "captcha", run_id=1),
        alerts.HealthEvent("jd", "error_spike", "25 errors", run_id=2),
    ]
    with db.session_scope(db_url) as session:
        assert (
            alerts.enqueue_cycle_alerts(session, None, "c1", [], 0, events, targets=targets).total
            == 2
        )
        assert (
            alerts.enqueue_cycle_alerts(session, None, "c1", [], 0, events, targets=targets).total
            == 0
        )
    with db.session_scope(db_url) as session:  # flush also takes the caller's session
        assert flush(session, None, targets=targets).messages == 1
    [msg] = RECEIVED
    assert msg["title"] == "markwatch crawl health: 2 problems on ebay, jd"
    assert "captcha" in msg["body"] and "25 errors" in msg["body"]


def test_no_targets_means_nothing_queued(db_url, monkeypatch):
    monkeypatch.delenv("MARKWATCH_ALERT_URLS", raising=False)
    monkeypatch.delenv("MARKWATCH_APPRISE_CONFIG", raising=False)
    assert load_targets(None) == []
    with db.session_scope(db_url) as session:
        assert alerts.enqueue_cycle_alerts(session, None, "c1", [], 3, []).total == 0


def test_apprise_knows_the_memo_target():
    assert apprise.Apprise.instantiate("memo://x") is not None


def test_a_flush_without_the_rows_target_leaves_them_untouched(db_url):
    legal = Target("memo://legal")
    with db.session_scope(db_url) as session:
        alerts.enqueue_alerts(
            session, [alerts.kinds.review_alert(None, 2, dt.date(2026, 11, 30))], [legal]
        )
    result = flush(db_url, None, targets=[Target("memo://other")])
    assert (result.messages, result.pending, result.unrouted) == (0, 1, 1)
    with db.session_scope(db_url) as session:
        [row] = session.scalars(select(m.OutboxAlert)).all()
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert flush(db_url, None, targets=[legal]).sent == 1
    assert [msg["to"] for msg in RECEIVED] == ["legal"]


def test_alerts_of_a_replaced_target_are_rerouted_to_the_new_one_once(db_url):
    # The URL was corrected (or its token rotated): the queued alerts would wait for good.
    old, new, ops = Target("memo://legal-typo"), Target("memo://legal"), Target("memo://ops", frozenset({"ops"}))
    review = alerts.kinds.review_alert(None, 2, dt.date(2026, 11, 30))
    with db.session_scope(db_url) as session:
        alerts.enqueue_alerts(session, [review], [old])
        alerts.enqueue_alerts(session, [alerts.kinds.review_alert(None, 3, dt.date(2026, 12, 1))], [old, new])
    with db.session_scope(db_url) as session:
        assert alerts.outbox.reroute(session, [new, ops]) == (2, 1)  # the new target had the second already
    with db.session_scope(db_url) as session:
        assert alerts.outbox.reroute(session, [new, ops]) == (0, 0)
        statuses = sorted(
            (r.payload["target"] == old.fingerprint, r.status, r.last_error or "")
            for r in session.scalars(select(m.OutboxAlert))
        )
    assert [(was_old, status) for was_old, status, _ in statuses] == [
        (False, "pending"), (False, "pending"), (True, "failed"), (True, "failed")
    ]
    assert statuses[-1][2].startswith("rerouted: ") and "no longer configured" in statuses[-1][2]
    result = flush(db_url, None, targets=[new, ops])
    assert (result.sent, result.unrouted) == (2, 0)
    assert [msg["to"] for msg in RECEIVED] == ["legal", "legal"]  # ops does not take reviews


@pytest.mark.services
def test_outbox_on_postgresql():
    import os
    import uuid

    url = os.environ.get("MARKWATCH_TEST_PG")
    if not url:
        pytest.skip("MARKWATCH_TEST_PG not set (make test starts PostgreSQL)")
    db.upgrade(url)
    target = Target(f"memo://pg-{uuid.uuid4().hex[:8]}")
    alert = alerts.kinds.review_alert(None, 2, dt.date(2026, 11, 30))
    with db.session_scope(url) as session:
        assert alerts.enqueue_alerts(session, [alert], [target]).total == 1
        assert alerts.enqueue_alerts(session, [alert], [target]).total == 0
    now = m.utcnow() + dt.timedelta(seconds=1)
    with db.session_scope(url) as session:
        first = alerts.outbox.claim(session, now, only_targets={target.fingerprint})
        second = alerts.outbox.claim(session, now, only_targets={target.fingerprint})
    assert (len(first), len(second)) == (1, 0)
    later = now + alerts.outbox.LEASE + dt.timedelta(seconds=1)
    assert flush(url, None, targets=[target], now=later).sent == 1
    with db.session_scope(url) as session:
        row = session.scalars(select(m.OutboxAlert).where(m.OutboxAlert.id == first[0].id)).one()
        assert (row.status, row.attempts) == ("sent", 2)
        session.delete(row)


def test_review_summary_speaks_of_one_listing_in_the_singular():
    from alerts.kinds import review_document

    one = render.write(review_document({"count": 1}), render.TEXT)
    many = render.write(review_document({"count": 4}), render.TEXT)
    assert "1 listing scored" in one and "and waits for an analyst" in one
    assert "4 listings scored" in many and "and wait for an analyst" in many


def test_images_in_email_are_attached_files_only_and_slack_links_the_listing_photo():
    doc = render.Doc("t").images(
        [render.Image("listing image", None, "https://img.seller.example/1.jpg"), render.Image("registered mark: ACME")],
        missing="Photo not attached: see the listing.",
    )
    html_out = render.write(doc, render.HTML)
    assert "img.seller.example" not in html_out and "<img" not in html_out
    assert "Photo not attached: see the listing." in html_out
    assert "img.seller.example" not in render.write(doc, render.TEXT)
    assert render.write(doc, render.MARKDOWN) == "[listing image](https://img.seller.example/1.jpg)"
    attached = render.Doc("t").images([render.Image("listing image", "hit1-listing.jpg", "https://img.seller.example/1.jpg")])
    assert 'src="cid:hit1-listing.jpg"' in render.write(attached, render.HTML)
    assert "img.seller.example" not in render.write(attached, render.HTML)


@notify(on="memomd", name="markwatch test target (Markdown)", body_format="markdown")
def _memo_markdown(body, title, notify_type, body_format, meta, *args, **kwargs):
    RECEIVED.append({"to": meta.get("host"), "title": title, "body": body})
    return True


def test_a_target_that_takes_files_never_gets_links_to_the_sellers_photos(db_url):
    from tests.test_alerts_delivery import Assessment, Signal

    target = Target("memomd://chat")
    with db.session_scope(db_url) as session:
        listing = _listing(session, 7)
        # A photo that was never downloaded: nothing to attach, only the seller's URL.
        db.set_images(session, listing, [{"url": "https://img.seller.example/7.jpg", "path": None}])
        hit = db.add_assessment(
            session, listing, Assessment("taobao:7", 0.9, "counterfeit", "acme", [Signal("text", 0.9, "x")]), "v1"
        )
        alerts.enqueue_cycle_alerts(
            session, None, "c1", [hit.id], review_count=0, health_events=[], targets=[target]
        )
    assert flush(db_url, None, targets=[target]).sent == 1
    [msg] = RECEIVED
    assert "img.seller.example" not in msg["body"]
    assert "Photo not attached: see the listing." in msg["body"]
