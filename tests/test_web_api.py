"""The triage web app over a seeded store: pages, actions, CSRF, login, JSON API, media."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile

from fastapi.testclient import TestClient

from crawler import db as storage
from crawler import models as m
from crawler.config import load_client
from crawler.web import create_app
from tests.test_web_seed import XSS_TITLE, Seeded


def csrf(client: TestClient) -> str:
    return client.get("/api/session").json()["csrf_token"]


def listing(seeded: Seeded, key: str) -> m.Listing:
    with storage.session_scope(seeded.db_url) as s:
        row = s.get(m.Listing, seeded.pks[key])
        assert row is not None
        return row


def queue_keys(web: TestClient, query: str = "") -> list[str]:
    return [item["id"] for item in web.get("/api/hits" + query).json()["items"]]


def test_queue_lists_hits_by_score_and_escapes_listing_text(web: TestClient, seeded: Seeded) -> None:
    page = web.get("/queue")
    assert page.status_code == 200
    body = page.text
    assert "ACME Pad Pro wireless controller" in body
    assert "Phone case, blue" not in body  # clear verdicts are not hits
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img src=x onerror" not in body
    assert "script-src 'self'" in page.headers["content-security-policy"]
    scores = [float(x) for x in re.findall(r'<span class="score">([0-9.]+)</span>', body)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5


def test_filters_are_bound_parameters(web: TestClient) -> None:
    assert queue_keys(web, "?marketplace=taobao") == ["taobao:2001"]
    assert queue_keys(web, "?verdict=review") == ["taobao:2001", "amazon:B0003"]
    assert queue_keys(web, "?min_score=0.7&max_score=0.9") == ["aliexpress:1002", "aliexpress:1003"]
    assert set(queue_keys(web, "?seller=Best")) == {"aliexpress:1001", "aliexpress:1003"}
    # A wildcard or a quote in the filter is text, not SQL.
    assert queue_keys(web, "?seller=%25") == []
    assert queue_keys(web, "?seller=x%27%20OR%20%271%27%3D%271") == []
    assert web.get("/api/hits?min_score=2").status_code == 422
    assert web.get("/queue?date_from=yesterday").status_code == 422


def test_post_without_csrf_token_is_refused(web: TestClient, seeded: Seeded) -> None:
    pk = seeded.pks["aliexpress:1001"]
    web.get("/queue")
    assert web.post(f"/hits/{pk}/action", data={"action": "dismiss"}).status_code == 403
    assert web.post(f"/hits/{pk}/action", data={"action": "dismiss", "csrf_token": "forged"}).status_code == 403
    assert web.post("/api/actions", json={"listing_ids": [pk], "action": "dismiss"}).status_code == 403
    assert listing(seeded, "aliexpress:1001").triage_state == "new"
    # A token from another session does not work either.
    other = TestClient(web.app)
    assert web.post(f"/hits/{pk}/action", data={"action": "dismiss", "csrf_token": csrf(other)}).status_code == 403


def test_confirm_and_dismiss_from_the_detail_forms(web: TestClient, seeded: Seeded) -> None:
    token = csrf(web)
    pk = seeded.pks["aliexpress:1001"]
    r = web.post(f"/hits/{pk}/action", data={"action": "confirm", "label": "copycat", "csrf_token": token,
                                             "next": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == f"/hits/{pk}"
    row = listing(seeded, "aliexpress:1001")
    assert (row.triage_state, row.triage_label, row.triage_hash) == ("confirmed", "copycat", row.content_hash)
    assert "aliexpress:1001" not in queue_keys(web)
    assert "aliexpress:1001" in queue_keys(web, "?state=confirmed")
    bad = web.post(f"/hits/{pk}/action", data={"action": "confirm", "label": "fake", "csrf_token": token})
    assert bad.status_code == 409

    pk2 = seeded.pks["aliexpress:1003"]
    assert web.post(f"/hits/{pk2}/action", data={"action": "dismiss", "csrf_token": token}).status_code == 303
    assert "aliexpress:1003" not in queue_keys(web)


def test_dismissed_listing_stays_quiet_until_it_changes(web: TestClient, seeded: Seeded) -> None:
    pk = seeded.pks["taobao:2001"]
    web.post("/api/actions", json={"listing_ids": [pk], "action": "dismiss"}, headers={"X-CSRF-Token": csrf(web)})
    assert "taobao:2001" not in queue_keys(web)
    fields = {"marketplace": "taobao", "listing_id": "2001", "url": "https://taobao.example/item/2001",
              "title": "艾克米 游戏手柄 无线", "description": "Description of 艾克米 游戏手柄 无线", "price": 80.0,
              "currency": "CNY", "seller_id": "t9", "seller_name": "游戏店",
              "image_urls": ["https://img.example/taobao/2001.jpg"]}
    with storage.session_scope(seeded.db_url) as s:
        assert storage.upsert_listing(s, fields).changed is False
    assert "taobao:2001" not in queue_keys(web)  # seen again, unchanged: still quiet
    with storage.session_scope(seeded.db_url) as s:
        assert storage.upsert_listing(s, {**fields, "price": 40.0}).changed is True
    assert "taobao:2001" in queue_keys(web)  # changed: back in the queue
    assert ">changed</span>" in web.get("/queue?marketplace=taobao").text


def test_whitelist_note_and_bulk(web: TestClient, seeded: Seeded) -> None:
    token = csrf(web)
    pk = seeded.pks["aliexpress:1001"]
    assert web.post(f"/hits/{pk}/action", data={"action": "whitelist", "csrf_token": token}).status_code == 303
    keys = queue_keys(web)
    assert "aliexpress:1001" not in keys and "aliexpress:1003" not in keys  # same seller s1
    note = "<b>called the seller</b>"
    web.post(f"/hits/{pk}/action", data={"action": "note", "note": note, "csrf_token": token})
    detail = web.get(f"/hits/{pk}").text
    assert "&lt;b&gt;called the seller&lt;/b&gt;" in detail and "seller s1 whitelisted" in detail

    ids = [seeded.pks["taobao:2001"], seeded.pks["amazon:B0003"]]
    r = web.post("/bulk", data={"action": "dismiss", "ids": [str(i) for i in ids], "csrf_token": token})
    assert r.status_code == 303
    assert queue_keys(web) == ["aliexpress:1002"]
    assert "dismiss: 2 listings" in web.get("/queue").text
    assert web.post("/bulk", data={"action": "dismiss", "ids": ["x"], "csrf_token": token}).status_code == 400


def test_detail_shows_evidence_price_signals_and_history(web: TestClient, seeded: Seeded) -> None:
    pk = seeded.pks["aliexpress:1001"]
    body = web.get(f"/hits/{pk}").text
    assert "12.50 USD is 21% of MSRP 59.99 USD" in body  # the signal's evidence
    assert "21%</strong> of MSRP" in body  # the price check against the product's MSRP
    assert "/media/mark/acme/0" in body and "/media/product/acme-pad/0" in body
    with storage.session_scope(seeded.db_url) as s:
        ev = s.query(m.Evidence).one()
        assert ev.sha256 in body
    assert "ACME style gamepad for PC" in body  # the seller's other listing
    assert 'href="https://aliexpress.example/item/1001"' in body
    assert web.get("/hits/999999").status_code == 404


def test_media_serves_only_registered_and_stored_images(web: TestClient, seeded: Seeded) -> None:
    r = web.get("/media/mark/acme/0")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert web.get("/media/product/acme-pad/0").status_code == 200
    assert web.get("/media/mark/acme/1").status_code == 404
    assert web.get("/media/mark/nope/0").status_code == 404
    assert web.get("/media/mark/acme/-1").status_code == 404
    assert web.get("/media/mark/..%2F..%2Fsecret.txt/0").status_code == 404
    with storage.session_scope(seeded.db_url) as s:
        img = s.query(m.ListingImage).first()
        assert img is not None
        img_id = img.id
        img2 = s.query(m.ListingImage).order_by(m.ListingImage.id.desc()).first()
        img2.path = str(seeded.root / "secret.txt")  # a row pointing at a non-image is refused
        bad_id = img2.id
    assert web.get(f"/media/listing/{img_id}").status_code == 200
    assert web.get(f"/media/listing/{bad_id}").status_code == 404
    with storage.session_scope(seeded.db_url) as s:
        ev = s.query(m.Evidence).one()
        ev_id, digest = ev.id, ev.sha256
    got = web.get(f"/media/evidence/{ev_id}")
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == digest
    # Stored without an extension: the screenshot is recognised by its bytes and shown.
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"] == f'inline; filename="aliexpress-1001-screenshot-{digest}.png"'
    page = seeded.root / "store-data" / "evidence" / "sha256" / "ab" / "cdef"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("<html><script>alert(1)</script></html>")
    with storage.session_scope(seeded.db_url) as s:
        s.query(m.Evidence).one().path = "sha256/ab/cdef"
    saved = web.get(f"/media/evidence/{ev_id}")  # saved marketplace HTML is only downloaded
    assert saved.headers["content-type"] == "application/octet-stream"
    assert saved.headers["content-disposition"].startswith("attachment")
    with storage.session_scope(seeded.db_url) as s:
        s.query(m.Evidence).one().path = "../../secret.txt"  # outside the evidence folder
    assert web.get(f"/media/evidence/{ev_id}").status_code == 404


def test_api_lists_and_acts(web: TestClient, seeded: Seeded) -> None:
    page = web.get("/api/listings?limit=2").json()
    assert page["total"] == 6 and len(page["items"]) == 2
    one = web.get(f"/api/listings/{seeded.pks['aliexpress:1002']}").json()
    assert one["title"] == XSS_TITLE and one["verdict"] == "counterfeit"
    assert web.get("/api/cases").json() == [] or isinstance(web.get("/api/cases").json(), list)
    headers = {"X-CSRF-Token": csrf(web)}
    r = web.post("/api/actions", json={"listing_ids": [seeded.pks["aliexpress:1002"]], "action": "confirm",
                                       "label": "counterfeit"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["listings"][0]["triage_state"] == "confirmed"
    bad = web.post("/api/actions", json={"listing_ids": [1], "action": "confirm", "label": "fake"}, headers=headers)
    assert bad.status_code == 422
    extra = web.post("/api/actions", json={"listing_ids": [1], "action": "note", "sql": "x"}, headers=headers)
    assert extra.status_code == 422
    junk = web.post("/api/actions", content=b"{not json", headers={**headers, "content-type": "application/json"})
    assert junk.status_code == 422
    big = web.post("/api/actions", content=b"x" * 300_000, headers={**headers, "content-type": "application/json"})
    assert big.status_code == 413
    spec = web.get("/openapi.json").json()
    assert {"/api/listings", "/api/hits", "/api/cases", "/api/actions"} <= set(spec["paths"])


def test_login_required_when_a_token_is_set(seeded: Seeded) -> None:
    app = create_app(load_client(seeded.config), seeded.db_url, token="correct-horse-battery")
    web = TestClient(app, follow_redirects=False)
    r = web.get("/queue?state=all")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert web.get("/api/hits").status_code == 401
    assert web.get("/healthz").status_code == 200
    login = web.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    assert web.post("/login", data={"token": "wrong", "csrf_token": token}).status_code == 401
    assert web.post("/login", data={"token": "correct-horse-battery"}).status_code == 403  # no CSRF token
    ok = web.post("/login", data={"token": "correct-horse-battery", "csrf_token": token, "name": "ana"})
    assert ok.status_code == 303
    assert web.get("/queue").status_code == 200
    assert TestClient(app).get("/api/hits", headers={"Authorization": "Bearer correct-horse-battery"}).status_code == 200
    note = {"action": "note", "note": "hi"}
    url = f"/hits/{seeded.pks['aliexpress:1001']}/action"
    assert web.post(url, data={**note, "csrf_token": token}).status_code == 403  # rotated at login
    assert web.post(url, data={**note, "csrf_token": csrf(web)}).status_code == 303
    with storage.session_scope(seeded.db_url) as s:
        assert s.query(m.Note).one().author == "web:ana"


def test_dashboard_has_charts(web: TestClient) -> None:
    body = web.get("/dashboard?since=30d").text
    assert body.count("<svg") >= 3 and "aliexpress" in body
    assert web.get("/dashboard?since=soon").status_code == 400


def test_serve_refuses_a_public_address_without_a_token(seeded: Seeded) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MARKWATCH_WEB_TOKEN"}
    r = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "serve", "--config", str(seeded.config), "--db", seeded.db_url,
         "--host", "0.0.0.0", "--port", "0"],
        check=False, capture_output=True, text=True, timeout=60, env=env,
    )
    assert r.returncode == 2 and "MARKWATCH_WEB_TOKEN" in r.stderr


def test_confirm_opens_a_case_that_moves_on_the_board(web: TestClient, seeded: Seeded) -> None:
    token = csrf(web)
    pk = seeded.pks["aliexpress:1001"]
    web.post(f"/hits/{pk}/action", data={"action": "confirm", "label": "counterfeit", "csrf_token": token})
    cases = web.get("/api/cases").json()
    assert [(c["listing_pk"], c["state"], c["label"]) for c in cases] == [(pk, "confirmed", "counterfeit")]
    case_id = cases[0]["id"]
    board = web.get("/cases").text
    assert f'id="case-{case_id}"' in board and "ACME Pad Pro wireless controller" in board
    # The protocol decides: submitting to a portal needs the complaint id; a jump is refused.
    assert web.post(f"/cases/{case_id}/state", data={"to_state": "removed", "csrf_token": token}).status_code == 409
    r = web.post(f"/cases/{case_id}/state", data={"to_state": "submitted", "complaint_id": "IPP-77",
                                                 "note": "filed <today>", "csrf_token": token})
    assert r.status_code == 303
    with storage.session_scope(seeded.db_url) as s:
        case = s.get(m.Case, case_id)
        assert case is not None and case.state == "submitted" and case.complaint_id == "IPP-77"
        assert [(e.from_state, e.to_state, e.actor.startswith("web:")) for e in case.events][-1] == (
            "confirmed", "submitted", True)
    web.post(f"/cases/{case_id}/state", data={"to_state": "seller_notified", "csrf_token": token})
    board = web.get("/cases").text
    assert "working days left" in board  # AliExpress: 3 working days for the seller's response
    with storage.session_scope(seeded.db_url) as s:
        case = s.get(m.Case, case_id)
        assert case is not None and case.deadline is not None
        case.deadline = case.deadline - dt.timedelta(days=30)
    board = web.get("/cases").text
    assert f'class="casecard overdue" id="case-{case_id}"' in board and "overdue by" in board
    api = web.post(f"/api/cases/{case_id}/transition", json={"to_state": "removed"}, headers={"X-CSRF-Token": token})
    assert api.status_code == 200 and api.json()["state"] == "removed"
    # The listing is back: "relisted" on the board opens the linked stay-down case.
    api = web.post(f"/api/cases/{case_id}/transition", json={"to_state": "relisted"}, headers={"X-CSRF-Token": token})
    assert api.status_code == 200 and api.json()["state"] == "relisted"
    relist = [c for c in web.get("/api/cases").json() if c["relist_of"] == case_id]
    assert [(c["listing_pk"], c["state"]) for c in relist] == [(pk, "candidate")]
    # Dismissing another listing closes its candidate case through the same function.
    pk2 = seeded.pks["aliexpress:1002"]
    web.post(f"/hits/{pk2}/action", data={"action": "confirm", "label": "copycat", "csrf_token": token})
    web.post(f"/hits/{pk2}/action", data={"action": "dismiss", "csrf_token": token})
    states = {c["listing_pk"]: c["state"] for c in web.get("/api/cases").json()}
    assert states[pk2] == "dismissed"


def test_readiness_page_and_package_export(web: TestClient, seeded: Seeded) -> None:
    body = web.get("/readiness").text
    assert "ACME" in body and "no business licence" in body and "Nothing to export" in body
    token = csrf(web)
    for key in ("aliexpress:1001", "amazon:B0003"):
        web.post(f"/hits/{seeded.pks[key]}/action", data={"action": "confirm", "label": "counterfeit",
                                                          "csrf_token": token})
    body = web.get("/readiness").text
    assert "Export aliexpress" in body and "Export amazon" in body and "Export ebay" not in body
    # Alibaba IPP needs the business licence the client file lacks: refused with the reason.
    r = web.post("/takedown/export", data={"platform": "aliexpress", "csrf_token": token},
                 headers={"accept": "text/html"})
    assert r.status_code == 409 and "business licence" in r.text
    ok = web.post("/takedown/export", data={"platform": "amazon", "csrf_token": token})
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(ok.content)).namelist()
    assert any(n.endswith("manifest.json") for n in names)
    assert web.post("/takedown/export", data={"platform": "nowhere", "csrf_token": token}).status_code == 400


def test_detail_shows_the_sellers_history_and_network(web: TestClient, seeded: Seeded) -> None:
    with storage.session_scope(seeded.db_url) as s:
        mine = s.get(m.Listing, seeded.pks["aliexpress:1001"])
        other = s.get(m.Listing, seeded.pks["amazon:B0003"])
        assert mine is not None and other is not None
        other.images[0].sha256 = mine.images[0].sha256  # the same photo in another shop
    body = web.get(f"/hits/{seeded.pks['aliexpress:1001']}").text
    assert 'id="seller-stats"' in body and "2 listings found" in body
    assert "Linked sellers" in body and "amazon:a7" in body


def test_new_since_last_visit(web: TestClient, seeded: Seeded) -> None:
    now = m.utcnow()
    with storage.session_scope(seeded.db_url) as s:
        for a in s.query(m.AssessmentRow):
            a.created_at = a.listing.first_seen
    # The previous visit ended 36 hours ago: the session cookie says so.
    security = web.app.state.security
    old = (now - dt.timedelta(hours=36)).isoformat(timespec="seconds")
    web.cookies.set("markwatch_session", security.dump({"csrf": "t" * 20, "active": old}))
    keys = queue_keys(web, "?new=1")
    assert "aliexpress:1003" not in keys and len(keys) == 4  # first seen two days ago
    assert len(queue_keys(web)) == 5
    assert 'title="since ' in web.get("/queue?new=1").text


def test_oversized_and_malformed_forms_are_refused(web: TestClient, seeded: Seeded) -> None:
    token = csrf(web)
    url = f"/hits/{seeded.pks['aliexpress:1001']}/action"
    assert web.post(url, data={"action": "note", "note": "x" * 5000, "csrf_token": token}).status_code == 400
    assert web.post(url, data={"action": "explode", "csrf_token": token}).status_code == 409
    assert web.post(url, data={"csrf_token": token}).status_code == 400  # no action
    broken = web.post(url, content=b"--b\r\nContent-Disposition: form-data\r\n\r\nx",
                      headers={"content-type": "multipart/form-data; boundary=b", "x-csrf-token": token})
    assert broken.status_code == 400
    huge = web.post(url, data={"action": "note", "note": "x" * 300_000, "csrf_token": token})
    assert huge.status_code == 413
    with storage.session_scope(seeded.db_url) as s:
        assert s.query(m.Note).count() == 0


def test_the_api_files_a_case_with_the_platform_s_complaint_id(web: TestClient, seeded: Seeded) -> None:
    token = csrf(web)
    pk = seeded.pks["aliexpress:1001"]
    web.post(f"/hits/{pk}/action", data={"action": "confirm", "label": "counterfeit", "csrf_token": token})
    case_id = web.get("/api/cases").json()[0]["id"]
    url, headers = f"/api/cases/{case_id}/transition", {"X-CSRF-Token": token}
    assert web.post(url, json={"to_state": "submitted"}, headers=headers).status_code == 409  # needs the id
    r = web.post(url, json={"to_state": "submitted", "complaint_id": "IPP-9", "platform_ref": "T-1"}, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["complaint_id"]) == ("submitted", "IPP-9")
    assert web.post(url, json={"to_state": "seller_notified", "color": "red"}, headers=headers).status_code == 422


def _notified_case(web: TestClient, seeded: Seeded, deadline: dt.date) -> int:
    """A hit confirmed on the board, its case moved to seller_notified with `deadline`."""
    token = csrf(web)
    pk = seeded.pks["aliexpress:1001"]
    web.post(f"/hits/{pk}/action", data={"action": "confirm", "label": "counterfeit", "csrf_token": token})
    case_id = web.get("/api/cases").json()[0]["id"]
    with storage.session_scope(seeded.db_url) as s:
        case = s.get(m.Case, case_id)
        assert case is not None
        case.state, case.deadline = "seller_notified", deadline
    return case_id


def test_the_board_judges_a_deadline_on_the_platform_s_date(web: TestClient, seeded: Seeded, monkeypatch) -> None:
    # AliExpress deadlines are counted on Beijing's date: past Beijing's midnight the card is
    # overdue even while the server's date is still the deadline's day.
    from crawler.takedown import states

    beijing = dt.date.today() + dt.timedelta(days=10)
    monkeypatch.setattr(states, "local_today", lambda country: beijing if country == "CN" else dt.date.today())
    case_id = _notified_case(web, seeded, beijing - dt.timedelta(days=1))
    assert f'class="casecard overdue" id="case-{case_id}"' in web.get("/cases").text


def test_the_board_counts_down_to_a_deadline_in_a_year_without_a_published_calendar(
    web: TestClient, seeded: Seeded
) -> None:
    deadline = dt.date.today() + dt.timedelta(days=400)
    _notified_case(web, seeded, deadline)
    board = web.get("/cases")
    assert board.status_code == 200
    left = re.search(rf"deadline {deadline}:\s*(\d+) working days left", board.text)
    assert left and 250 < int(left.group(1)) < 290, board.text[:2000]


def test_board_and_api_leave_withdrawn_and_candidate_to_markwatch(web: TestClient, seeded: Seeded) -> None:
    from crawler.takedown import states

    pk = seeded.pks["aliexpress:1001"]
    with storage.session_scope(seeded.db_url) as s:
        row = s.get(m.Listing, pk)
        assert row is not None
        candidate = states.create_case(s, row, actor="markwatch")
        withdrawn = states.create_case(s, row, actor="markwatch")
        states.transition(s, withdrawn, "withdrawn", "markwatch", note="no longer counterfeit")
        ids = (candidate.id, withdrawn.id)
    board = web.get("/cases").text
    for case_id in ids:
        card = re.search(rf'id="case-{case_id}".*?</select>', board, re.DOTALL)
        assert card is not None
        offered = re.findall(r'<option value="([a-z_]+)"', card.group(0))
        assert offered == ["confirmed", "dismissed"], offered
    token = csrf(web)
    refused = web.post(f"/cases/{ids[0]}/state", data={"to_state": "withdrawn", "csrf_token": token})
    assert refused.status_code == 409
    api = web.post(f"/api/cases/{ids[1]}/transition", json={"to_state": "candidate"}, headers={"X-CSRF-Token": token})
    assert api.status_code == 409 and "set by markwatch" in api.json()["detail"]
    assert {c["id"]: c["state"] for c in web.get("/api/cases").json()} == {ids[0]: "candidate", ids[1]: "withdrawn"}
    # The analyst's own decisions stay offered and work on a withdrawn case.
    ok = web.post(f"/api/cases/{ids[1]}/transition", json={"to_state": "confirmed"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.json()["state"] == "confirmed"


def test_label_and_dismissal_follow_the_case_once_filed(web: TestClient, seeded: Seeded) -> None:
    token = csrf(web)
    headers = {"X-CSRF-Token": token}
    pk = seeded.pks["aliexpress:1001"]

    def act(action: str, label: str | None = None) -> int:
        body: dict[str, object] = {"listing_ids": [pk], "action": action}
        if label:
            body["label"] = label
        return web.post("/api/actions", json=body, headers=headers).status_code

    assert act("confirm", "copyright") == 200
    # Confirmed, not filed: a new label is the case's too (the package is built from it).
    assert act("confirm", "grey market") == 200
    (case,) = web.get("/api/cases").json()
    assert (case["state"], case["label"]) == ("confirmed", "grey market")
    with storage.session_scope(seeded.db_url) as s:
        notes = [e.note for e in s.get(m.Case, case["id"]).events]
        assert "label copyright -> grey market" in notes
    url = f"/api/cases/{case['id']}/transition"
    assert web.post(url, json={"to_state": "submitted", "complaint_id": "IPP-5"}, headers=headers).status_code == 200
    # Filed: another label or a dismissal of the listing alone is refused, nothing changes.
    assert act("confirm", "patent") == 409
    assert act("dismiss") == 409
    assert act("confirm", "grey market") == 200  # the same decision again is harmless
    assert listing(seeded, "aliexpress:1001").triage_state == "confirmed"
    assert listing(seeded, "aliexpress:1001").triage_label == "grey market"
    (case,) = web.get("/api/cases").json()
    assert (case["state"], case["label"]) == ("submitted", "grey market")


def test_seller_figures_follow_case_moves_at_once(web: TestClient, seeded: Seeded) -> None:
    token = csrf(web)
    headers = {"X-CSRF-Token": token}
    pk = seeded.pks["aliexpress:1001"]
    web.post("/api/actions", json={"listing_ids": [pk], "action": "confirm"}, headers=headers)

    def taken_down() -> str:
        found = re.search(r'id="seller-stats">[^<]*?(\d+) taken down', web.get(f"/hits/{pk}").text)
        assert found is not None
        return found.group(1)

    assert taken_down() == "0"  # the seller figures are now cached
    case_id = web.get("/api/cases").json()[0]["id"]
    url = f"/api/cases/{case_id}/transition"
    web.post(url, json={"to_state": "submitted", "complaint_id": "IPP-8"}, headers=headers)
    assert web.post(url, json={"to_state": "removed"}, headers=headers).status_code == 200
    assert taken_down() == "1"


def test_whitelisting_a_seller_closes_its_undecided_cases(web: TestClient, seeded: Seeded) -> None:
    from crawler.takedown import states

    # Seller s1 has two hits with candidate cases (intake opened them) and another seller one.
    with storage.session_scope(seeded.db_url) as s:
        for key in ("aliexpress:1001", "aliexpress:1003", "aliexpress:1002"):
            row = s.get(m.Listing, seeded.pks[key])
            assert row is not None
            states.create_case(s, row, actor="markwatch")
    token = csrf(web)
    pk = seeded.pks["aliexpress:1001"]
    assert web.post(f"/hits/{pk}/action", data={"action": "whitelist", "csrf_token": token}).status_code == 303
    by_listing = {c["listing_pk"]: c["state"] for c in web.get("/api/cases").json()}
    assert by_listing == {
        pk: "dismissed", seeded.pks["aliexpress:1003"]: "dismissed", seeded.pks["aliexpress:1002"]: "candidate",
    }
    board = web.get("/cases").text
    assert "seller s1 whitelisted" in web.get(f"/hits/{pk}").text and f'data-listing="{pk}"' in board


def test_cases_api_refuses_an_unknown_state(web: TestClient) -> None:
    r = web.get("/api/cases?state=seller-notified")
    assert r.status_code == 422 and "seller_notified" in r.json()["detail"]
    assert web.get("/api/cases?state=seller_notified").status_code == 200
