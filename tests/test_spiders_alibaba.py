"""Alibaba.com: the real 2025 search page (offers streamed into
`window.__page__data_sse10._offer_list`), the real extracted offers payload, the real
product-detail DOM snapshot of a "Roche Bobois"-style knock-off, and an end-to-end
crawl against the local marketplace server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.parsing import PageError
from crawler.spider import run_crawl
from spiders.alibaba import page_count, parse_product_page, parse_search_page

FIX = Path(__file__).resolve().parent / "fixtures" / "alibaba"


def page(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def test_search_page_2025():
    text = page("search_bubble_sofa_2025.html")
    listings = parse_search_page(text, "https://www.alibaba.com")
    assert len(listings) == 20
    assert page_count(text) == 56
    assert {x.currency for x in listings} == {"INR"} and {x.location for x in listings} == {"CN"}
    assert [x.listing_id for x in listings if x.is_ad] == [
        "1601596682242",
        "1601520019939",
        "1601523593774",
        "1600958623039",
        "1601371318671",
        "1601590916454",
        "1600890371790",
    ]
    first = listings[0]
    # The title carries an <img> badge and a <span>; only the text is kept.
    assert (
        first.title
        == "Living Room Modern Fabric Chaise Italian Bobble Modular Fabric Sectional Sofa Set Furniture"
    )
    assert (first.price, first.currency, first.price_text) == (
        59577.18,
        "INR",
        "₹59,577.18-1,09,988.64",
    )
    assert (first.seller_id, first.seller_name) == ("286329265", "Gainsville Home Furnishings Ltd.")
    assert first.store_url == "https://italiafurniture.en.alibaba.com/"
    assert (
        first.url
        == "https://www.alibaba.com/product-detail/Living-Room-Modern-Fabric-Chaise-Italian_1601596682242.html"
    )
    assert first.image_urls[:2] == [
        "https://s.alicdn.com/@sc04/kf/He955c3d7de93436ab2a9ea8423ef0af92.jpg_300x300.jpg",
        "https://s.alicdn.com/@sc04/kf/Hc4259fffc91e47df89703b18fa8caa6bM.jpg_300x300.jpg",
    ]
    assert first.description == "Min. order: 1 set"
    second = listings[1]
    # "<strong>" keyword highlights removed.
    assert (
        second.title
        == "Nordic Fabric Multi Size Sofa With Latex and Sponge for Apartment Washable Foam Living Room Furniture"
    )
    assert second.sales == 1 and second.price == 14206.87
    last = listings[-1]
    assert (last.listing_id, last.price, last.seller_name) == (
        "1600890371790",
        27405.51,
        "Guangdong Moon Top Furniture Co., Limited",
    )
    assert sum(1 for x in listings if x.sales) == 10


def test_offers_payload_matches_the_page():
    from_payload = parse_search_page(
        page("search_offers_payload_2025.json"), "https://www.alibaba.com"
    )
    from_page = parse_search_page(page("search_bubble_sofa_2025.html"), "https://www.alibaba.com")
    assert len(from_payload) == 10
    assert [(x.listing_id, x.title, x.price, x.seller_id) for x in from_payload] == [
        (x.listing_id, x.title, x.price, x.seller_id) for x in from_page[:10]
    ]
    assert from_payload[-1].title.startswith(
        "Nordic Minimalist Designer Rochburg-Style Bubble Sofa"
    )


def test_product_detail_snapshot_of_a_brand_knock_off():
    listing = parse_product_page(
        page("product_detail_bubble_sofa_2025.html"),
        "https://www.alibaba.com/product-detail/x_1600930741831.html",
    )
    assert listing.listing_id == "1600930741831"
    assert (
        listing.title
        == "Luxury Living Room Furniture 3 Seater Fabric Velvet Roche Bobois Bubble Sofa Chesterfield Set"
    )
    assert (
        listing.price_text
        == "10 - 29 pieces $890 | 30 - 99 pieces $690 | 100 - 999 pieces $550 | >= 1000 pieces $285"
    )
    assert (listing.price, listing.currency) == (285.0, "USD")  # the lowest tier's unit price
    assert listing.seller_name == "Guangdong Zhida Furnishings Industrial Co., Ltd."
    assert (listing.seller_id, listing.store_url) == (
        "zhida",
        "https://zhida.en.alibaba.com/index.html",
    )
    assert (
        listing.image_urls[0]
        == "https://s.alicdn.com/@sc04/kf/H5218a036e7a8410e9de98344cf681119j.jpg_960x960q80.jpg"
    )


def test_missing_and_broken_offer_data():
    with pytest.raises(PageError) as missing:
        parse_search_page("<html><body>Loading…</body></html>", "https://www.alibaba.com")
    assert missing.value.reason == "no_listing_json"
    broken = 'window.__page__data_sse10._offer_list = {"offerResultData": {"offers": [{"productId": "1", "title": "x"'
    with pytest.raises(PageError):
        parse_search_page(broken, "https://www.alibaba.com")


def test_end_to_end_crawl(market_server):
    result = run_crawl(
        "alibaba",
        {"LOG_LEVEL": "WARNING"},
        base_url=market_server.url("alibaba"),
        terms=["acme"],
        download_delay=0,
    )
    assert result.close_reason == "finished", result.log_tail
    items = sorted(result.items, key=lambda x: x.listing_id)
    assert len(items) == 6 and result.stats["markwatch/pages"] == 2
    one = items[3]
    assert (one.title, one.price, one.currency) == (
        "ACME Pad Pro wireless controller 3",
        12.25,
        "USD",
    )
    assert (one.seller_id, one.seller_name, one.location, one.sales) == (
        "al-seller-1",
        "Gadget Outlet 1",
        "CN",
        40,
    )
    assert one.url == market_server.url("alibaba") + f"/product-detail/item_{one.listing_id}.html"
    assert [x.is_ad for x in items] == [True, False, False, False, False, False]
