"""Pinduoduo spider: a real goods-list answer (single-quoted JS literal, prices in fen),
the HTML search page, and crawls against the local server.

No saved Pinduoduo HTML page exists: `search_result_rawdata_built.html` is built after
the mobile site's server-rendered `window.rawData` format around the 20 real goods of
the saved answer (tests/fixtures/pinduoduo/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from crawler.marketplace_server import MarketplaceServer
from crawler.parsing import PageError
from crawler.spider import run_crawl
from spiders.pinduoduo import PinduoduoSpider, has_more, parse_search_page

FIX = Path(__file__).parent / "fixtures" / "pinduoduo"
SEARCH = "https://mobile.yangkeduo.com/search_result.html?search_key=%E5%86%85%E8%A3%A4"


def read(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def test_goods_list_answer():
    text = read("goods_list_api_2018.js")
    assert text.startswith("export const data = {") and "'goods_list'" in text
    listings = parse_search_page(text, SEARCH)
    assert len(listings) == 20
    first = listings[0]
    assert first.listing_id == "4193771276"
    assert first.url == "https://mobile.yangkeduo.com/goods.html?goods_id=4193771276"
    assert first.title == "[4条]装95棉女士内裤黑色时尚简约纯棉透气"
    assert (first.price, first.currency, first.price_text) == (
        14.9,
        "CNY",
        "14.90",
    )  # group.price 1490 fen
    assert first.seller_id == "236190250"  # ad.mall_id; the top-level mall_id is null
    assert first.store_url == "https://mobile.yangkeduo.com/mall_page.html?mall_id=236190250"
    assert first.image_urls == [
        "http://t00img.yangkeduo.com/goods/images/2018-11-14/f3c2d2df6ccbd3e206983cb976c70b41.jpeg"
    ]
    assert first.sales == 140  # "已拼140件"
    assert first.is_ad is True  # promoted goods carry an ad block with ad_id
    socks = listings[6]
    assert (socks.listing_id, socks.price, socks.seller_id) == ("95182945", 18.89, "257195")
    assert socks.sales == 230502  # exact `cnt`; the tip only says "已拼10万+件"
    pan = listings[2]
    assert (pan.title, pan.price, pan.sales) == (
        "苏泊尔套装平底炒锅不粘锅无烟家用三件套",
        159.0,
        1608,
    )
    hook = listings[16]
    assert (hook.listing_id, hook.price) == ("4531998507", 5.03)
    assert all(x.marketplace == "pinduoduo" and x.seller_name is None for x in listings)


def test_rawdata_html_page_matches_the_answer():
    html = read("search_result_rawdata_built.html")
    from_page = parse_search_page(html, SEARCH)
    from_answer = parse_search_page(read("goods_list_api_2018.js"), SEARCH)
    assert [x.__dict__ for x in from_page] == [x.__dict__ for x in from_answer]
    assert has_more(html) is True


def test_sales_tip_used_when_count_missing_and_empty_pages():
    page = (
        '<html><body><script>window.rawData = {"stores": {"store": {"data": {"ssrListData": {"list": ['
        '{"goodsID": 42, "goodsName": "艾克米 手柄", "price": 990, "salesTip": "已拼1.2万件",'
        ' "thumbURL": "//img.pddpic.com/a.jpg", "mallName": "手柄店", "mallID": 7}]}}}}};</script></body></html>'
    )
    (item,) = parse_search_page(page, SEARCH)
    assert (item.listing_id, item.title, item.price, item.sales) == (
        "42",
        "艾克米 手柄",
        9.9,
        12000,
    )
    assert (item.seller_id, item.seller_name) == ("7", "手柄店")
    assert item.image_urls == ["https://img.pddpic.com/a.jpg"]
    empty = '<html><script>window.rawData = {"stores": {"store": {"data": {"ssrListData": {"list": []}}}}};</script></html>'
    assert parse_search_page(empty, SEARCH) == []
    with pytest.raises(PageError):
        parse_search_page("<html><body>请使用拼多多App</body></html>", SEARCH)


def test_block_pages():
    spider = PinduoduoSpider(terms=["x"])
    login = HtmlResponse(
        url="https://mobile.yangkeduo.com/login.html?from=search", body=b"<html></html>"
    )
    assert spider.block_reason(login)
    verify = HtmlResponse(
        url=SEARCH,
        body=b"<html><script>location.href='/?verify_auth_token=SCRUBBED'</script></html>",
    )
    assert spider.block_reason(verify)
    assert spider.search_url("艾克米", 2) == (
        "https://mobile.yangkeduo.com/search_result.html?search_key=%E8%89%BE%E5%85%8B%E7%B1%B3&page=2"
    )


def catalogue() -> list[dict]:
    return [
        {
            "marketplace": "pinduoduo",
            "listing_id": str(300100 + i),
            "title": f"艾克米 游戏手柄 拼单{i}",
            "price": 9.9 + i,
            "seller_id": str(55500 + i),
            "seller_name": f"拼手柄{i}店",
            "image": f"p{i}.jpg",
            "sales": 1000 + i,
            "is_ad": i == 2,
        }
        for i in range(6)
    ]


def test_crawl_pages_through_rawdata_on_local_server():
    with MarketplaceServer(catalogue()) as server:
        result = run_crawl(
            "pinduoduo",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("pinduoduo"),
            terms=["艾克米"],
            download_delay=0,
        )
    assert result.close_reason == "finished"
    assert sorted(x.listing_id for x in result.items) == [str(300100 + i) for i in range(6)]
    assert result.stats["markwatch/pages"] == 2 and not result.dropped  # hasMore=false ends paging
    item = next(x for x in result.items if x.listing_id == "300102")
    assert (item.title, item.price, item.seller_id, item.seller_name, item.sales, item.is_ad) == (
        "艾克米 游戏手柄 拼单2",
        11.9,
        "55502",
        "拼手柄2店",
        1002,
        True,
    )
    assert item.url == f"{server.url('pinduoduo')}/goods.html?goods_id=300102"
    assert item.store_url == f"{server.url('pinduoduo')}/mall_page.html?mall_id=55502"


def test_login_redirect_ends_the_crawl_blocked():
    with MarketplaceServer(catalogue()) as server:
        server.block("pinduoduo", "login")
        result = run_crawl(
            "pinduoduo",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("pinduoduo"),
            terms=["艾克米"],
            download_delay=0,
        )
    assert result.blocked and result.block_reason and result.items == []
