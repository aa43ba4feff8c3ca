"""DHgate: no real result page was found, so the search fixture is BUILT from the
format public DHgate scrapers document (Next.js `__NEXT_DATA__` with
`props.pageProps.data.totalProducts[]`: itemcode, productname, productDetailUrl,
price, seo300ImagePath / bigimagepath, storeName / domainname, supplierid,
sellerStoreUrl, recentlysold, minOrder). The Akamai "Access Denied" page is REAL
(saved from dhgate.com in 2025) and must end a crawl as blocked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.parsing import PageError
from crawler.spider import run_crawl
from spiders.dhgate import page_info, parse_search_page

FIX = Path(__file__).resolve().parent / "fixtures" / "dhgate"


def test_search_page_from_documented_next_data_format():
    text = (FIX / "search_next_data_documented.html").read_text(encoding="utf-8")
    listings = parse_search_page(text, "https://www.dhgate.com")
    assert [x.listing_id for x in listings] == ["889912345", "902233101", "877650022", "911000456"]
    first = listings[0]
    assert first.title == "TWS Wireless Earbuds Bluetooth 5.3 Noise Cancelling Pro 2 Headphones"
    assert (
        first.url
        == "https://www.dhgate.com/product/wireless-earbuds-tws-bluetooth-5-3/889912345.html"
    )
    assert (first.price, first.currency, first.price_text) == (3.85, "USD", "US $3.85 - 5.20")
    assert (first.seller_id, first.seller_name) == ("21455012", "Shenzhen Audio Factory Store")
    assert first.store_url == "https://www.dhgate.com/store/21455012"
    assert first.image_urls == [
        "https://www.dhresource.com/300x300/f2/albu/g21/M00/AA/01/earbuds-pro2.jpg",
        "https://www.dhresource.com/0x0/f2/albu/g21/M00/AA/01/earbuds-pro2.jpg",
    ]
    assert (first.sales, first.location, first.description) == (1400, "CN", "Min. order: 2 Pieces")
    ad = listings[1]
    assert (
        ad.is_ad and ad.price == 12.99 and ad.store_url == "https://www.dhgate.com/store/20987733"
    )
    no_store_name = listings[2]  # falls back to the domain name, and the big image
    assert no_store_name.seller_name == "runnergear"
    assert no_store_name.image_urls == [
        "https://www.dhresource.com/0x0/f2/albu/g19/M00/5C/7E/sports-hook.jpg"
    ]
    assert listings[3].sales is None and listings[3].location is None
    assert page_info(text) == (1, 3)


def test_page_without_next_data_falls_back_to_product_links():
    html = '<div><a href="/product/acme-pad/123456789.html">ACME Pad Pro controller</a></div>'
    (only,) = parse_search_page(html, "https://www.dhgate.com")
    assert (only.listing_id, only.title) == ("123456789", "ACME Pad Pro controller")
    assert only.url == "https://www.dhgate.com/product/acme-pad/123456789.html"
    with pytest.raises(PageError) as err:
        parse_search_page("<html><body>nothing</body></html>", "https://www.dhgate.com")
    assert err.value.reason == "no_listing_json"
    broken = '<script id="__NEXT_DATA__" type="application/json">{"props": {"pageProps": {"data": {"totalProducts": [</script>'
    with pytest.raises(PageError):
        parse_search_page(broken, "https://www.dhgate.com")


def test_end_to_end_crawl(market_server):
    result = run_crawl(
        "dhgate",
        {"LOG_LEVEL": "WARNING"},
        base_url=market_server.url("dhgate"),
        terms=["acme pad"],
        download_delay=0,
    )
    assert result.close_reason == "finished", result.log_tail
    items = sorted(result.items, key=lambda x: x.listing_id)
    assert len(items) == 6 and result.stats["markwatch/pages"] == 2
    one = items[5]
    assert (one.title, one.price, one.seller_id, one.seller_name) == (
        "ACME Pad Pro wireless controller 5",
        14.75,
        "dh-seller-1",
        "Gadget Outlet 1",
    )
    assert one.url == market_server.url("dhgate") + f"/product/item/{one.listing_id}.html"
    assert one.store_url == market_server.url("dhgate") + "/store/dh-seller-1"


def test_akamai_block_ends_the_crawl_as_blocked(tmp_path):
    from crawler.marketplace_server import MarketplaceServer, sample_catalogue

    with MarketplaceServer(sample_catalogue(tmp_path, ["dhgate"]), tmp_path) as server:
        server.block("dhgate", "akamai")
        result = run_crawl(
            "dhgate",
            {"LOG_LEVEL": "ERROR"},
            base_url=server.url("dhgate"),
            terms=["acme pad", "acme"],
            download_delay=0,
        )
    assert result.close_reason == "blocked" and result.blocked
    assert result.block_reason == "akamai_access_denied"
    assert result.stats["markwatch/blocked_url"].startswith(
        server.url("dhgate") + "/wholesale/search.do"
    )
    assert result.items == []
