"""Amazon: three real search pages (2022 .de, 2023 .com, legacy 2019 .de), two real
product pages (.ae with a seller, .com.br without a price), and an end-to-end crawl
against the local marketplace server (search, paging, product pages for the seller).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.parsing import PageError
from crawler.spider import run_crawl
from spiders.amazon import parse_product_page, parse_search_page, storefront_currency

FIX = Path(__file__).resolve().parent / "fixtures" / "amazon"


def page(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def test_search_de_2022():
    listings = parse_search_page(page("search_de_2022.html"), "https://www.amazon.de")
    assert len(listings) == 12
    assert [x.listing_id for x in listings if x.is_ad] == [
        "B013JF5F0C",
        "B0B7NQCJJD",
        "B09QX7FB88",
        "B09QXBN75N",
    ]
    first = listings[0]
    assert (
        first.title
        == "FELIX Countryside Sensations Dry Cat Food with Beef and Chicken, Pack of 1 (1 x 1 kg)"
    )
    assert (first.price, first.currency, first.price_text) == (2.95, "EUR", "€2.95")
    assert first.url == "https://www.amazon.de/dp/B013JF5F0C"  # not the /sspa/click redirect
    assert first.image_urls == ["https://m.media-amazon.com/images/I/81j2n1ziQcL._AC_UL320_.jpg"]
    last = listings[-1]
    assert (last.listing_id, last.price, last.is_ad) == ("B0716W7P6R", 16.49, False)
    assert last.title.startswith("Sheba Delikatesse in Jelly")
    assert all(x.price is not None and x.image_urls for x in listings)


def test_search_com_2023():
    listings = parse_search_page(page("search_com_2023.html"), "https://www.amazon.com")
    assert len(listings) == 16
    assert [x.listing_id for x in listings if x.is_ad] == ["B0775C19C5"]
    assert [x.listing_id for x in listings if x.price is None] == [
        "B0775C19C5",
        "B073G96V4N",
        "B0089OQ3SW",
        "B012XWYD3W",
        "B07HR8C4X3",
    ]
    champion = listings[1]
    assert (champion.listing_id, champion.title, champion.price, champion.currency) == (
        "B078LDHS8Z",
        "Champion Mens T-Shirt, Classic Script",
        9.85,
        "USD",
    )
    assert listings[-1].title == "Wrangler Men's Denim Shirt" and listings[-1].price == 34.0
    # The saved page has hard line breaks inside class names; the image is still found.
    assert all(x.image_urls for x in listings)


def test_search_legacy_2019_layout():
    listings = parse_search_page(page("search_de_2019_legacy.html"), "https://www.amazon.de")
    assert len(listings) == 16
    assert len({x.listing_id for x in listings}) == 15  # the sponsored B077ZB6LWK is also organic
    ad = listings[0]
    # The h2 hides "[Gesponsert]"; the title comes from its data-attribute.
    assert (
        ad.title
        == "Freiglas 1,0l Trinkflasche aus Glas *Blume des Lebens* 100% plastikfrei, Nachhaltig, Made in Freiburg"
    )
    assert ad.is_ad and ad.price is None
    assert (listings[1].price, listings[1].currency, listings[1].price_text) == (
        13.97,
        "EUR",
        "EUR 13,97",
    )
    organic = listings[2]
    assert (organic.listing_id, organic.is_ad, organic.price) == ("B077ZB6LWK", False, 24.9)
    assert listings[-1].listing_id == "B07JZH4Y3L"


def test_product_page_ae_gives_seller_price_brand():
    listing = parse_product_page(
        page("product_ae_B0CCJPGYC2_2024.html"), "https://www.amazon.ae/dp/B0CCJPGYC2"
    )
    assert listing.listing_id == "B0CCJPGYC2"
    assert listing.title.startswith("JETech Screen Protector for iPhone 15 Pro Max 6.7-Inch")
    assert (listing.price, listing.currency, listing.price_text) == (29.99, "AED", "AED29.99")
    assert (listing.seller_id, listing.seller_name) == ("A11TDSN2MJL3GW", "JE Products AE")
    assert listing.store_url == "https://www.amazon.ae/sp?seller=A11TDSN2MJL3GW"
    assert listing.image_urls == ["https://m.media-amazon.com/images/I/71cz+zFjc2L._AC_SL1500_.jpg"]
    assert listing.description.startswith("Brand: JETech\n")


def test_product_page_br_without_price_keeps_url_asin():
    listing = parse_product_page(
        page("product_br_B09B2SRTB3_2022.html"), "https://www.amazon.com.br/dp/B09B2SRTB3"
    )
    # input#ASIN holds the parent ASIN B085VK7LYQ; the listing keeps the ASIN it was found as.
    assert listing.listing_id == "B09B2SRTB3"
    assert listing.title == "Camisa Polo Listra na Gola, Aramis, Masculino"
    assert listing.price is None and listing.seller_id is None
    assert listing.image_urls == ["https://m.media-amazon.com/images/I/81kqffaeEDL._AC_SL1500_.jpg"]


def test_pages_without_results_markup_are_page_errors():
    with pytest.raises(PageError) as err:
        parse_search_page("<html><body><p>Hello</p></body></html>", "https://www.amazon.com")
    assert err.value.reason == "no_results_markup"
    with pytest.raises(PageError):
        parse_product_page("<html></html>", "https://www.amazon.com/dp/B000000000")
    assert storefront_currency("https://www.amazon.co.uk") == "GBP"
    assert storefront_currency("http://127.0.0.1:8080/amazon") == "USD"


def test_end_to_end_crawl_follows_paging_and_product_pages(market_server):
    result = run_crawl(
        "amazon",
        {"LOG_LEVEL": "WARNING"},
        base_url=market_server.url("amazon"),
        terms=["acme pad"],
        download_delay=0.05,
        max_pages=5,
    )
    assert result.close_reason == "finished", result.log_tail
    items = sorted(result.items, key=lambda x: x.listing_id)
    assert [x.listing_id for x in items] == [f"B0ACME{i:04d}" for i in range(6)]
    first = items[0]
    assert first.title == "ACME Pad Pro wireless controller 0" and first.is_ad
    assert (first.price, first.currency) == (8.5, "USD")
    # The seller comes from the product page.
    assert (first.seller_id, first.seller_name) == ("am-seller-0", "Gadget Outlet 0")
    assert first.store_url == market_server.url("amazon") + "/sp?seller=am-seller-0"
    assert first.image_urls == [market_server.root + "/images/sample-0.png"]
    assert first.url == market_server.url("amazon") + "/dp/B0ACME0000"
    assert result.stats["markwatch/pages"] == 2  # 6 results, 4 per page
    assert result.stats["markwatch/download_delay"] == 0.05
    assert result.stats["markwatch/listings"] == 6
