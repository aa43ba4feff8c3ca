"""eBay: the real ebay.de search page (2022, MIT-licensed source), the item-page parser
on the documented 2022+ seller-card markup (no real item page was available), and an
end-to-end crawl against the local marketplace server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.parsing import PageError
from crawler.spider import run_crawl
from spiders.ebay import item_id, parse_item_page, parse_search_page

FIX = Path(__file__).resolve().parent / "fixtures" / "ebay"


@pytest.fixture(scope="module")
def listings():
    return parse_search_page(
        (FIX / "search_de_2022.html").read_text(encoding="utf-8"), "https://www.ebay.de"
    )


def test_search_de_counts_and_first_items(listings):
    # 20 result cards kept in the trimmed page; "similar items" carousel cards are not results.
    assert len(listings) == 20
    assert all(x.price is not None and x.currency == "EUR" and x.image_urls for x in listings)
    first = listings[0]
    assert first.listing_id == "144278067683"
    assert (
        first.title
        == "3x 2m Ladekabel NYLON für Original iPhone 6 7 8 11 12 X XS XR Pro Max USB Apple"
    )
    assert (first.price, first.price_text) == (10.79, "EUR 10,79")
    assert first.url == "https://www.ebay.de/itm/144278067683"  # tracking parameters dropped
    assert first.image_urls == [
        "https://i.ebayimg.com/thumbs/images/g/MMcAAOSwYLBjfqw~/s-l225.webp"
    ]
    ipad = listings[2]
    assert (ipad.listing_id, ipad.price) == ("185076426382", 159.0)
    assert (
        ipad.title
        == "Apple iPad Air 2 64/128 GB / WIFI(WLAN)-CELLULAR 4G (LTE) Space Grau / Sehr Gut"
    )


def test_sold_counts_ranges_and_new_listing_tag(listings):
    by_id = {x.listing_id: x for x in listings}
    assert by_id["175504719541"].sales == 321  # "321 verkauft"
    assert by_id["124924977463"].sales == 6698  # "6.698+ verkauft"
    assert sum(1 for x in listings if x.sales) == 10
    ranged = by_id["373649272098"]
    assert (ranged.price, ranged.price_text) == (234.95, "EUR 234,95 bis EUR 269,95")
    # "Neues Angebot" is a tag in its own span, not part of the title.
    tagged = by_id["275555202687"]
    assert (
        tagged.title
        == 'Apple MacBook Pro 16", M1 Max mit 10‑Corem, 32‑Core GPU, 32 GB RAM, 1TB SSD'
    )
    assert not any(x.title.startswith("Neues Angebot") for x in listings)


def test_placeholder_card_and_item_ids():
    page = (
        '<ul class="srp-results"><li class="s-item"><a class="s-item__link" href="https://ebay.com/itm/123456">'
        '<div class="s-item__title"><span>Shop on eBay</span></div></a><span class="s-item__price">$20.00</span></li></ul>'
    )
    assert parse_search_page(page, "https://www.ebay.com") == []
    assert item_id("https://www.ebay.de/itm/144278067683?hash=item2197") == "144278067683"
    assert item_id("https://www.ebay.com/itm/Some-Title/394100000001") == "394100000001"
    with pytest.raises(PageError):
        parse_search_page("<html><body>maintenance</body></html>", "https://www.ebay.com")


def test_item_page_seller_card():
    # Built from the documented item-page markup (x-sellercard-atf, ux-labels-values).
    html = (
        '<h1 class="x-item-title__mainTitle"><span class="ux-textspans">ACME Pad Pro</span></h1>'
        '<div class="x-price-primary"><span class="ux-textspans">US $12.50</span></div>'
        '<div class="x-sellercard-atf__info__about-seller"><a href="https://www.ebay.com/str/gadgetoutlet?_trksid=p1">'
        '<span class="ux-textspans ux-textspans--BOLD">gadget_outlet</span></a></div>'
        '<div class="ux-labels-values--itemLocation"><span class="ux-textspans ux-textspans--SECONDARY">Shenzhen, China</span></div>'
    )
    listing = parse_item_page(html, "https://www.ebay.com/itm/394100000001")
    assert (listing.listing_id, listing.title, listing.price, listing.currency) == (
        "394100000001",
        "ACME Pad Pro",
        12.5,
        "USD",
    )
    assert (listing.seller_id, listing.seller_name) == ("gadgetoutlet", "gadget_outlet")
    assert listing.store_url == "https://www.ebay.com/str/gadgetoutlet"
    assert listing.location == "Shenzhen, China"


def test_end_to_end_crawl_with_item_pages(market_server):
    result = run_crawl(
        "ebay",
        {"LOG_LEVEL": "WARNING"},
        base_url=market_server.url("ebay"),
        terms=["acme pad"],
        download_delay=0,
    )
    assert result.close_reason == "finished", result.log_tail
    items = sorted(result.items, key=lambda x: x.listing_id)
    assert [x.listing_id for x in items] == [str(394100000000 + i) for i in range(6)]
    one = items[1]
    assert (one.title, one.price, one.currency) == (
        "ACME Pad Pro wireless controller 1",
        9.75,
        "USD",
    )
    assert (one.seller_id, one.seller_name, one.location, one.sales) == (
        "eb-seller-1",
        "Gadget Outlet 1",
        "CN",
        20,
    )
    assert one.store_url == market_server.url("ebay") + "/str/eb-seller-1"
    assert result.stats["markwatch/pages"] == 2
