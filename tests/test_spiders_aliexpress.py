"""AliExpress: the real 2022 es.aliexpress.com search page (`window.runParams`), the
real 2024 `itemList` payload, the real legacy 2018 product page, broken and truncated
pages, and an end-to-end crawl against the local marketplace server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.parsing import PageError
from crawler.spider import run_crawl
from spiders.aliexpress import parse_item_page, parse_search_page, result_counts

FIX = Path(__file__).resolve().parent / "fixtures" / "aliexpress"


def page(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def test_search_es_2022_reads_the_second_runparams():
    text = page("search_es_camisa_2022.html")
    assert text.count("window.runParams = ") == 2  # the first one is empty
    listings = parse_search_page(text, "https://es.aliexpress.com")
    assert len(listings) == 20
    assert {x.currency for x in listings} == {"ARS"}
    assert [x.listing_id for x in listings if x.is_ad] == [
        "1005004709387885",
        "1005004707325503",
        "1005004526848579",
        "1005004526823377",
    ]
    first = listings[0]
    assert first.listing_id == "1005004468964928"
    assert first.url == "https://es.aliexpress.com/item/1005004468964928.html"
    assert first.title.startswith("Camiseta de verano a rayas para hombre")
    assert (first.price, first.currency, first.price_text) == (1.39, "ARS", "ARS 1,39")
    assert (first.seller_id, first.seller_name) == ("1102158319", "Shop1102158319 Store")
    assert first.store_url == "https://es.aliexpress.com/store/1102158319"
    assert first.sales == 59  # "59 vendido(s)"
    assert first.image_urls[0].startswith(
        "https://ae01.alicdn.com/kf/Sd72f82d39ea743dc9f7380fd4a9be717y/"
    )
    second = listings[1]
    assert (second.price, second.price_text, second.seller_name) == (
        1515.5,
        "ARS 1.515,50",
        "Chinese Brand Discount Store",
    )
    assert result_counts(text) == (77841, 60)


def test_itemlist_payload_2024():
    listings = parse_search_page(
        page("search_itemlist_sneakers_2024.js"), "https://www.aliexpress.com"
    )
    assert len(listings) == 20
    assert sum(x.is_ad for x in listings) == 5
    first = listings[0]
    assert first.listing_id == "3256807259722145"
    assert (
        first.title
        == "Men's Running Shoes Air Cushion Men's Spring and Autumn New Trendy Breathable Soft Bottom Men's Casual Sneaker"
    )
    assert (first.price, first.currency, first.sales) == (2.22, "USD", 4000)
    assert (first.seller_id, first.seller_name) == ("1103731380", "Heartthrob Square Store")
    assert len(first.image_urls) == 6 and first.image_urls[0].startswith(
        "https://ae-pic-a1.aliexpress-media.com/kf/"
    )
    last = listings[-1]
    assert (last.listing_id, last.price, last.sales, last.is_ad) == (
        "3256806822875724",
        73.86,
        18,
        True,
    )
    assert last.seller_name == "Kadiervy 2 Shoes Store"


def test_legacy_product_page_2018():
    listing = parse_item_page(
        page("item_legacy_2018.html"), "https://www.aliexpress.com/item/32850275270.html"
    )
    assert listing.listing_id == "32850275270"
    assert listing.title.startswith("SHEIN Color Block Womens Tops and Blouses")
    assert (listing.price, listing.currency) == (20.97, "USD")  # the discounted price
    assert (listing.seller_id, listing.seller_name) == ("1159363", "SheIn Official Store")
    assert listing.store_url == "https://www.aliexpress.com/store/1159363"
    assert listing.image_urls[0].startswith(
        "https://ae01.alicdn.com/kf/HTB1eN_yl0rJ8KJjSspaq6xuKpXaH/"
    )
    assert listing.sales == 4


def test_missing_broken_and_truncated_listing_json():
    with pytest.raises(PageError) as missing:
        parse_search_page("<html><script>var x = 1;</script></html>", "https://www.aliexpress.com")
    assert missing.value.reason == "no_listing_json"
    text = page("search_es_camisa_2022.html")
    cut = text[: text.index('"displayTitle"', text.index('window.runParams = {"mods"'))]
    with pytest.raises(PageError) as truncated:
        parse_search_page(cut, "https://es.aliexpress.com")
    assert truncated.value.reason in ("broken_json", "no_listing_json")
    empty = 'window.runParams = {"mods": {"itemList": {"content": []}}, "pageInfo": {"totalResults": 0}};'
    assert parse_search_page(empty, "https://www.aliexpress.com") == []


def test_end_to_end_crawl(market_server):
    result = run_crawl(
        "aliexpress",
        {"LOG_LEVEL": "WARNING"},
        base_url=market_server.url("aliexpress"),
        terms=["ACME pad"],
        download_delay=0,
    )
    assert result.close_reason == "finished", result.log_tail
    items = sorted(result.items, key=lambda x: x.listing_id)
    assert len(items) == 6 and result.stats["markwatch/pages"] == 2
    ad = items[0]
    assert ad.is_ad and ad.title == "ACME Pad Pro wireless controller 0"
    assert (ad.price, ad.currency, ad.seller_id, ad.seller_name, ad.sales) == (
        8.5,
        "USD",
        "al-seller-0",
        "Gadget Outlet 0",
        10,
    )
    assert ad.store_url == market_server.url("aliexpress") + "/store/al-seller-0"
    assert ad.url == market_server.url("aliexpress") + f"/item/{ad.listing_id}.html"
    assert ad.image_urls == [market_server.root + "/images/sample-0.png"]
