"""Relist detection against a real SQLite store with removed takedown cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crawler import db
from crawler import models as m
from crawler.relists import find_relist, hamming, match_relist
from crawler.takedown.cases import open_relist
from crawler.takedown.states import create_case, transition

PHASH = "c3d4e5f60718293a"


def _flip(hexhash: str, bits: int) -> str:
    value = int(hexhash, 16)
    for i in range(bits):
        value ^= 1 << (i * 7)
    return f"{value:0{len(hexhash)}x}"


@pytest.fixture()
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    db.upgrade(url)
    return url


def _listing(
    s: Session,
    listing_id: str,
    *,
    marketplace: str = "aliexpress",
    title: str = "Wireless gamepad",
    seller: str | None = None,
    images: list[dict[str, Any]] | None = None,
) -> m.Listing:
    listing = db.upsert_listing(
        s,
        {
            "marketplace": marketplace,
            "listing_id": listing_id,
            "title": title,
            "seller_id": seller,
            "url": f"https://{marketplace}.example/item/{listing_id}",
            "image_urls": [i["url"] for i in images or []],
        },
    ).listing
    if images:
        db.set_images(s, listing, images)
        s.flush()
    return listing


def _removed_case(s: Session, listing: m.Listing) -> m.Case:
    case = create_case(s, listing, actor="test", mark_id="acme")
    transition(s, case, "confirmed", "analyst")
    transition(s, case, "submitted", "analyst", complaint_id="IPP-1")
    transition(s, case, "removed", "analyst")
    return case


def _img(url: str, sha: str | None = None, phash: str | None = None) -> dict[str, Any]:
    return {"url": url, "sha256": sha, "phash": phash, "dhash": phash}


def test_same_image_file_on_another_seller_is_a_relist(store: str) -> None:
    with db.session_scope(store) as s:
        old = _listing(s, "1", seller="111", images=[_img("https://img/1.jpg", "a" * 64, PHASH)])
        case = _removed_case(s, old)
        new = _listing(
            s,
            "2",
            seller="222",
            title="Something else entirely",
            images=[_img("https://img/other.jpg", "a" * 64, "0" * 16)],
        )
        found = match_relist(s, new)
        assert found is not None and found.case.id == case.id
        assert found.kinds == {"image-file"} and "identical image" in found.describe()


def test_near_image_seller_and_title_each_match(store: str) -> None:
    with db.session_scope(store) as s:
        old = _listing(
            s,
            "1",
            seller="111",
            title="ACME Pad Pro wireless controller 2024",
            images=[_img("https://img/1.jpg", "a" * 64, PHASH)],
        )
        case = _removed_case(s, old)
        # A re-encoded photo: different file, perceptual hash 3 bits away.
        near = _listing(
            s,
            "2",
            seller="999",
            title="x",
            images=[_img("https://img/2.jpg", "b" * 64, _flip(PHASH, 3))],
        )
        by_seller = _listing(s, "3", seller="111", title="A different product")
        by_title = _listing(
            s, "4", marketplace="dhgate", seller="5", title="ACME  Pad Pro Wireless Controller 2024"
        )
        for listing, kind in ((near, "image-phash"), (by_seller, "seller"), (by_title, "title")):
            found = match_relist(s, listing)
            assert found is not None and found.case.id == case.id, kind
            assert found.kinds == {kind}


def test_unrelated_listings_are_not_relists(store: str) -> None:
    with db.session_scope(store) as s:
        old = _listing(
            s,
            "1",
            seller="111",
            title="ACME Pad Pro wireless controller 2024",
            images=[_img("https://img/1.jpg", "a" * 64, PHASH)],
        )
        _removed_case(s, old)
        far = _listing(
            s,
            "2",
            seller="222",
            title="Garden hose 20m",
            images=[_img("https://img/2.jpg", "b" * 64, _flip(PHASH, 12))],
        )
        # The same seller id on another marketplace is another seller.
        other_market = _listing(s, "3", marketplace="dhgate", seller="111", title="Phone case")
        similar_title = _listing(s, "4", seller="333", title="ACME Pad Lite wired controller 2021")
        for listing in (far, other_market, similar_title):
            assert find_relist(s, listing) is None, listing.listing_id


def test_open_cases_are_not_relist_targets_and_whitelisted_sellers_never_relist(store: str) -> None:
    with db.session_scope(store) as s:
        old = _listing(s, "1", seller="111", images=[_img("https://img/1.jpg", "a" * 64, PHASH)])
        case = create_case(s, old, actor="test")
        new = _listing(s, "2", seller="111")
        assert find_relist(s, new) is None  # still a candidate: nothing was removed
        transition(s, case, "confirmed", "analyst")
        transition(s, case, "submitted", "analyst", complaint_id="IPP-1")
        transition(s, case, "removed", "analyst")
        assert find_relist(s, new) is case
        s.add(m.Seller(marketplace="aliexpress", seller_id="111", whitelisted=True))
        s.flush()
        assert find_relist(s, new) is None


def test_strongest_match_wins_and_the_caller_links_it(store: str) -> None:
    with db.session_scope(store) as s:
        by_title = _removed_case(
            s, _listing(s, "1", seller="7", title="ACME Pad Pro wireless controller 2024")
        )
        by_image = _removed_case(
            s,
            _listing(
                s,
                "2",
                seller="8",
                title="Gamepad",
                images=[_img("https://img/2.jpg", "c" * 64, PHASH)],
            ),
        )
        new = _listing(
            s,
            "3",
            seller="9",
            title="ACME Pad Pro wireless controller 2024",
            images=[_img("https://img/3.jpg", "c" * 64, PHASH)],
        )
        old = find_relist(s, new)
        assert old is by_image and by_title.id != by_image.id
        relist = open_relist(s, new, old)
        assert relist.relist_of == by_image.id and old.state == "relisted"
        # A relisted case still counts: the next copy links to it too.
        again = _listing(s, "4", seller="10", images=[_img("https://img/4.jpg", "c" * 64, PHASH)])
        assert find_relist(s, again) is by_image


def test_hamming() -> None:
    assert hamming(PHASH, PHASH) == 0
    assert hamming(PHASH, _flip(PHASH, 5)) == 5
    assert hamming(PHASH, "abc") is None
    assert hamming("zz", "zz") is None


def test_a_relist_says_who_sells_it_why_it_matched_and_what_was_taken_down(store: str) -> None:
    from types import SimpleNamespace

    from alerts.kinds import relist_alerts, relist_document
    from alerts.render import write
    from crawler.intake import take_in

    with db.session_scope(store) as s:
        old = _listing(s, "1", seller="111", images=[_img("https://img/1.jpg", "a" * 64, PHASH)])
        old_case = _removed_case(s, old)
        new = _listing(s, "2", seller="222", images=[_img("https://img/2.jpg", "a" * 64, PHASH)])
        new.seller_name, new.price, new.currency = "Gamepad Outlet", 9.5, "USD"
        verdict = SimpleNamespace(score=0.93, verdict="counterfeit", mark_id="acme", signals=[])
        case = take_in(s, new.id, db.add_assessment(s, new, verdict, "v1").id)
        assert case is not None and case.relist_of == old_case.id
        assert case.events[0].note.startswith(f"matches removed case {old_case.id}: 1 identical image file")
        [alert] = [a for a in relist_alerts(s) if a.key == f"relist:case:{case.id}"]
        text = write(relist_document(alert.payload), "text")
    assert "Seller: Gamepad Outlet (222)" in text
    assert "Price: 9.50 USD" in text
    assert "Why it is the same listing: matches removed case" in text and "identical image file" in text
    assert "https://aliexpress.example/item/1" in text  # the listing taken down before
    assert "complaint IPP-1" in text and "removed 20" in text
