"""Triage UI behaviour found wanting in review: the filter form's empty fields, readable
errors on pages, linked sellers' reasons, j after c/d, evidence download names, and
the wording and back links of error pages."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from crawler import db as storage
from crawler import models as m
from crawler.web.queries import invalidate_seller_reports
from tests.test_web_api import csrf
from tests.test_web_browser import browser, server  # noqa: F401  (fixtures: a served seeded store, Chromium)
from tests.test_web_seed import Seeded

HTML = {"accept": "text/html,application/xhtml+xml"}
# What the queue's Filter form sends with only the marketplace picked.
FORM_QUERY = "state=open&marketplace={mp}&mark=&verdict=&min_score=&max_score=&seller=&date_from=&date_to="


def hit_keys(web: TestClient, query: str) -> list[str]:
    r = web.get("/api/hits?" + query)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def test_empty_filter_fields_mean_no_filter(web: TestClient) -> None:
    page = web.get("/queue?" + FORM_QUERY.format(mp="taobao"), headers=HTML)
    assert page.status_code == 200, page.text[:300]
    assert page.headers["content-type"].startswith("text/html")
    assert "艾克米 游戏手柄 无线" in page.text and "ACME Pad Pro wireless" not in page.text
    assert hit_keys(web, FORM_QUERY.format(mp="taobao")) == ["taobao:2001"]
    assert len(hit_keys(web, "min_score=")) == 5
    assert len(hit_keys(web, "min_score=&max_score=&date_from=&date_to=&page=&state=&new=")) == 5
    assert hit_keys(web, "min_score=0.7&max_score=&date_to=") == ["aliexpress:1001", "aliexpress:1002", "aliexpress:1003"]
    # The hit page takes the same filters (its j/k links carry them).
    assert web.get("/hits/1?" + FORM_QUERY.format(mp=""), headers=HTML).status_code == 200


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("page=-1", "page: expected at least 1 (got '-1')"),
        ("min_score=1.5", "min_score: expected at most 1 (got '1.5')"),
        ("max_score=lots", "max_score: expected a number (got 'lots')"),
        ("date_from=yesterday", "date_from: expected a date as YYYY-MM-DD (got 'yesterday')"),
        ("state=closed", "state: expected one of open, confirmed, dismissed, all (got 'closed')"),
    ],
)
def test_bad_filter_values_give_a_readable_page(web: TestClient, query: str, expected: str) -> None:
    page = web.get("/queue?" + query, headers=HTML)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    box = re.search(r'<div class="error-box">(.*?)</div>', page.text, re.DOTALL)
    assert box and box.group(1).strip().replace("&#39;", "'") == expected
    assert '"detail"' not in page.text and 'href="/queue" id="error-back"' in page.text
    # The JSON API keeps its structured 422, whatever the client accepts.
    api = web.get("/api/hits?" + query, headers=HTML)
    assert api.status_code == 422 and api.headers["content-type"] == "application/json"
    assert api.json()["detail"][0]["loc"][-1] == query.split("=")[0]


def _set_photo(session: Session, pk: int, sha: str, phash: str) -> None:
    listing = session.get(m.Listing, pk)
    assert listing is not None
    listing.images[0].sha256, listing.images[0].phash = sha, phash


def test_linked_sellers_give_the_reasons_that_link_them_to_this_seller(web: TestClient, seeded: Seeded) -> None:
    # amazon:a7 shows one photo that aliexpress:s1 shows too; s1 shares another photo
    # with taobao:t9. t9 is in a7's network only through s1.
    first, second = "7bae232703ae" + "1" * 52, "c0ffee000000" + "2" * 52
    with storage.session_scope(seeded.db_url) as s:
        _set_photo(s, seeded.pks["amazon:B0003"], first, "ee91836e11111111")
        _set_photo(s, seeded.pks["aliexpress:1001"], first, "ee91836e11111111")
        _set_photo(s, seeded.pks["aliexpress:1003"], second, "00000000ffffffff")
        _set_photo(s, seeded.pks["taobao:2001"], second, "00000000ffffffff")
    invalidate_seller_reports()
    body = web.get(f"/hits/{seeded.pks['amazon:B0003']}").text
    para = re.search(r'<p class="small" id="linked-sellers">(.*?)</p>', body, re.DOTALL)
    assert para is not None
    text = re.sub(r"<[^>]+>", "", para.group(1))
    # One reason per shared photo: the file, not the file and its pHash too.
    assert "aliexpress:s1 Best Store (same photo (sha256 7bae232703ae...))" in text
    assert "c0ffee" not in text and "00000000ffffffff" not in text and "pHash" not in text
    assert "taobao:t9 游戏店 (through aliexpress:s1)" in text

    # Seen from s1, both are linked directly, each by its own photo.
    body = web.get(f"/hits/{seeded.pks['aliexpress:1001']}").text
    text = re.sub(r"<[^>]+>", "", re.search(r'id="linked-sellers">(.*?)</p>', body, re.DOTALL).group(1))  # type: ignore[union-attr]
    assert "amazon:a7 Gadgets (same photo (sha256 7bae232703ae...))" in text
    assert "taobao:t9 游戏店 (same photo (sha256 c0ffee000000...))" in text


def _nav(web: TestClient, pk: int, query: str = "") -> tuple[str, str]:
    body = web.get(f"/hits/{pk}" + (f"?{query}" if query else "")).text
    nav = re.search(r'id="hit-nav"\s+data-prev="([^"]*)"\s+data-next="([^"]*)"', body)
    assert nav is not None
    return nav.group(1), nav.group(2)


@pytest.mark.parametrize("action", ["confirm", "dismiss"])
def test_next_after_handling_a_hit_is_the_one_that_followed_it(web: TestClient, seeded: Seeded, action: str) -> None:
    pks = seeded.pks
    third = pks["aliexpress:1003"]  # queue: 1001, 1002, 1003, 2001, B0003
    assert _nav(web, third) == (f"/hits/{pks['aliexpress:1002']}", f"/hits/{pks['taobao:2001']}")
    r = web.post(f"/hits/{third}/action", data={"action": action, "label": "counterfeit", "csrf_token": csrf(web),
                                                  "next": f"/hits/{third}"})
    assert r.status_code == 303
    assert _nav(web, third) == (f"/hits/{pks['aliexpress:1002']}", f"/hits/{pks['taobao:2001']}")
    # With a filter, the neighbours are those of the filtered queue; none after the last.
    assert _nav(web, third, "marketplace=aliexpress") == (f"/hits/{pks['aliexpress:1002']}?marketplace=aliexpress", "")
    # Handled at the top: previous is none, next is the second.
    top = pks["aliexpress:1001"]
    web.post(f"/hits/{top}/action", data={"action": action, "label": "counterfeit", "csrf_token": csrf(web)})
    assert _nav(web, top) == ("", f"/hits/{pks['aliexpress:1002']}")


def test_evidence_downloads_are_named_by_listing_kind_and_full_hash(web: TestClient, seeded: Seeded) -> None:
    html = b"<html><body>saved listing</body></html>"
    digest = hashlib.sha256(html).hexdigest()
    rel = f"sha256/{digest[:2]}/{digest[2:]}"
    target = seeded.root / "store-data" / "evidence" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(html)
    with storage.session_scope(seeded.db_url) as s:
        row = m.Evidence(listing_pk=seeded.pks["aliexpress:1001"], kind="html", url="https://aliexpress.example/item/1001",
                         sha256=digest, path=rel, entry_hash=hashlib.sha256(b"x" + html).hexdigest())
        s.add(row)
        s.flush()
        ev_id = row.id
    got = web.get(f"/media/evidence/{ev_id}")
    assert got.status_code == 200 and got.content == html
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"] == f'attachment; filename="aliexpress-1001-html-{digest}.html"'


def test_case_errors_speak_of_the_form_and_lead_back_to_the_board(web: TestClient, seeded: Seeded) -> None:
    token = csrf(web)
    pk = seeded.pks["aliexpress:1001"]
    web.post(f"/hits/{pk}/action", data={"action": "confirm", "label": "counterfeit", "csrf_token": token})
    case_id = web.get("/api/cases").json()[0]["id"]
    r = web.post(f"/cases/{case_id}/state", data={"to_state": "submitted", "csrf_token": token}, headers=HTML)
    assert r.status_code == 409
    assert "the complaint id field" in r.text and "--complaint-id" not in r.text
    assert '<a href="/cases" id="error-back">Back to the cases board</a>' in r.text
    # The API speaks to scripts: its wording is the takedown module's own.
    api = web.post(f"/api/cases/{case_id}/transition", json={"to_state": "submitted"}, headers={"X-CSRF-Token": token})
    assert api.status_code == 409 and "complaint id" in api.json()["detail"]
    # An action refused on a hit's page leads back to that hit.
    bad = web.post(f"/hits/{pk}/action", data={"action": "explode", "csrf_token": token}, headers=HTML)
    assert bad.status_code == 409 and f'<a href="/hits/{pk}" id="error-back">Back to the hit</a>' in bad.text


# ---------------------------------------------------------------- in Chromium


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False])
def test_the_filter_form_filters_in_the_browser(
    server: tuple[str, Seeded], browser: object, javascript: bool  # noqa: F811 (pytest fixtures by name)
) -> None:
    base, _ = server
    context = browser.new_context(java_script_enabled=javascript)  # type: ignore[attr-defined]
    try:
        pg = context.new_page()
        pg.set_default_timeout(10_000)
        pg.goto(base + "/queue")
        pg.select_option("select[name=marketplace]", "taobao")
        with pg.expect_navigation():
            pg.click("form.filters button[type=submit]")
        assert "marketplace=taobao" in pg.url and "min_score=" in pg.url  # the form sends every field
        assert pg.locator("#queue tr.hit").count() == 1
        assert "游戏手柄" in pg.locator("#queue").inner_text()
        pg.goto(base + "/queue?min_score=1.5")
        assert pg.locator(".error-box").inner_text() == "min_score: expected at most 1 (got '1.5')"
    finally:
        context.close()


@pytest.mark.browser
def test_j_after_confirming_goes_to_the_next_hit(
    server: tuple[str, Seeded], browser: object  # noqa: F811 (pytest fixtures by name)
) -> None:
    base, seeded = server
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        pg = context.new_page()
        pg.set_default_timeout(10_000)
        pg.goto(base + "/queue")
        for key in ("j", "j", "o"):  # the third hit of the queue
            pg.keyboard.press(key)
        pg.wait_for_url(f"**/hits/{seeded.pks['aliexpress:1003']}")
        pg.keyboard.press("c")
        pg.wait_for_selector(".flash")
        assert pg.locator("#triage-state").inner_text() == "confirmed"
        pg.keyboard.press("j")
        pg.wait_for_url(f"**/hits/{seeded.pks['taobao:2001']}")
        pg.keyboard.press("d")
        pg.wait_for_selector(".flash")
        pg.keyboard.press("k")  # back past the handled ones to the hit before them
        pg.wait_for_url(f"**/hits/{seeded.pks['aliexpress:1002']}")
    finally:
        context.close()
