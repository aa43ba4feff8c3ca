"""The generic spider: search URL template and CSS / XPath / JSON-path selectors from
the client file, run end to end against pages served by the local marketplace server.
"""

from __future__ import annotations

import pytest

from crawler.config import Selectors
from crawler.spider import run_crawl
from spiders.generic import GenericSpider, parse_search_page

HTML = """
<div class="results">
  <div class="product" data-id="p-1"><h2><a href="/p/1">ACME <b>Pad</b> Pro</a></h2>
    <span class="price">US $12.50</span><span class="shop" data-sid="s9">Best Store</span><img src="//cdn.example/1.jpg"></div>
  <div class="product" data-id="p-2"><h2><a href="/p/2">ACME Mini</a></h2><span class="price">€7,99</span></div>
  <div class="product"><h2>no id</h2></div>
</div>
"""

SELECTORS = Selectors(
    item="div.product",
    id="::attr(data-id)",
    title="h2",
    url="h2 a::attr(href)",
    price="xpath:.//span[@class='price']/text()",
    seller_id=".shop::attr(data-sid)",
    seller_name=".shop",
    image="img::attr(src)",
    next_page="a.next::attr(href)",
)


def test_css_and_xpath_selectors():
    listings = parse_search_page(
        HTML, "https://small.example/search?q=acme", SELECTORS, "smallshop", "USD"
    )
    assert len(listings) == 3
    one, two, three = listings
    assert (one.listing_id, one.title, one.url) == (
        "p-1",
        "ACME Pad Pro",
        "https://small.example/p/1",
    )
    assert (one.price, one.currency, one.seller_id, one.seller_name) == (
        12.5,
        "USD",
        "s9",
        "Best Store",
    )
    assert one.image_urls == ["https://cdn.example/1.jpg"] and one.marketplace == "smallshop"
    assert (two.price, two.currency) == (7.99, "EUR")
    assert three.listing_id == ""  # dropped by the base spider as missing_id


def test_json_path_selectors():
    body = '{"data": {"items": [{"sku": "A1", "name": "ACME", "price": {"value": "9.99"}, "img": "/i/a1.png"}]}}'
    sel = Selectors(
        item="json:data.items",
        id="json:sku",
        title="json:name",
        price="json:price.value",
        image="json:img",
    )
    (only,) = parse_search_page(body, "https://api.small.example/search", sel, "smallapi", "USD")
    assert (only.listing_id, only.title, only.price, only.currency) == ("A1", "ACME", 9.99, "USD")
    assert only.image_urls == ["https://api.small.example/i/a1.png"]


def test_configuration_errors_name_the_key():
    with pytest.raises(ValueError, match=r"marketplaces.shop.search_url"):
        GenericSpider(marketplace="shop", config={"base_url": "https://x.example"}, terms=["a"])
    with pytest.raises(ValueError, match=r"marketplaces.shop.selectors"):
        GenericSpider(
            marketplace="shop", config={"search_url": "https://x.example/s?q={term}"}, terms=["a"]
        )
    spider = GenericSpider(
        marketplace="shop",
        config={
            "search_url": "https://x.example/s?q={term}&o={offset}",
            "selectors": SELECTORS.model_dump(),
        },
        terms=["acme pad"],
    )
    assert spider.search_url("acme pad", 3) == "https://x.example/s?q=acme+pad&o=40"
    assert spider.base_url == "https://x.example"


def test_end_to_end_on_an_ebay_format_page(market_server):
    # Any server page works for the generic spider: here the eBay-format results.
    config = {
        "search_url": market_server.url("ebay") + "/sch/i.html?_nkw={term}&_pgn={page}",
        "selectors": {
            "item": "ul.srp-results > li.s-item",
            "id": "a.s-item__link::attr(href)",
            "title": "xpath:.//div[@class='s-item__title']/span/text()",
            "price": ".s-item__price",
            "url": "a.s-item__link::attr(href)",
            "image": "img::attr(src)",
            "next_page": "a.pagination__next:not([aria-disabled])::attr(href)",
        },
    }
    # A marketplace without its own spider file runs the generic spider by its own name.
    result = run_crawl(
        "smallshop",
        {"LOG_LEVEL": "WARNING"},
        config=config,
        terms=["acme pad"],
        download_delay=0,
    )
    assert result.close_reason == "finished", result.log_tail
    titles = sorted(x.title for x in result.items)
    assert titles == [f"ACME Pad Pro wireless controller {i}" for i in range(6)] + ["Shop on eBay"]
    assert {x.marketplace for x in result.items} == {"smallshop"}
    assert result.stats["markwatch/pages"] == 2


def test_selectors_that_find_items_but_no_id_fail_the_crawl(market_server):
    # An `id` selector that fits nothing: every item was dropped and the crawl ended "ok"
    # with 0 listings, so a new site was never monitored and nothing said so.
    from crawler.spider import unusable_pages

    config = {
        "search_url": market_server.url("ebay") + "/sch/i.html?_nkw={term}&_pgn={page}",
        "selectors": {"item": "ul.srp-results > li.s-item", "id": "::attr(data-nothing)", "title": ".s-item__title"},
    }
    result = run_crawl("smallshop", {"LOG_LEVEL": "WARNING"}, config=config, terms=["acme pad"], download_delay=0)
    assert result.items == []
    assert unusable_pages(result.stats) == "1 of 1 result pages unusable: no_id_or_title"
