"""JD spider: the result DOM of a saved search.jd.com page (2016 layout, 60 items), the
current layout through the local server, half-page numbering and block pages.
(The real-browser crawl is in tests/test_spiders_browser.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from crawler.marketplace_server import MarketplaceServer
from crawler.parsing import PageError
from crawler.spider import run_crawl
from spiders.jd import JdSpider, parse_search_page, search_pager

FIX = Path(__file__).parent / "fixtures" / "jd"
SEARCH = "https://search.jd.com/Search?keyword=123&enc=utf-8&page=1"


def text() -> str:
    return (FIX / "search_keyword_123_2016.html").read_text(encoding="utf-8")


def test_saved_result_page():
    listings = parse_search_page(text(), SEARCH)
    assert len(listings) == 60
    first = listings[0]
    assert first.listing_id == "11371342"
    assert first.url == "https://item.jd.com/11371342.html"
    assert first.title == "123成人式"  # <font class="skcolor_ljg">123</font> highlight removed
    assert (first.price, first.currency, first.price_text) == (25.2, "CNY", "25.20")
    assert first.seller_id == "1000004210"  # vendor id; the 2016 page has no shop names
    assert first.seller_name is None and first.store_url is None
    assert first.image_urls == [
        "https://img12.360buyimg.com/n7/g15/M0A/06/07/rBEhWlMDGzQIAAAAAAEyWH3nBQwAAIrCgBsdHMAATJw181.jpg"
    ]
    piano = listings[1]
    assert (piano.listing_id, piano.title, piano.price, piano.seller_id) == (
        "1195464225",
        "卡罗德Carod钢琴T23立式家用教学 黑色",
        16899.0,
        "78166",
    )
    # Items further down have only a lazy image (data-lazy-img).
    lazy = listings[5]
    assert (lazy.listing_id, lazy.title, lazy.price) == (
        "1720699429",
        "珠江钢琴 立式钢琴 C系列 123cm C3S",
        18400.0,
    )
    assert lazy.image_urls == [
        "https://img14.360buyimg.com/n7/jfs/t859/164/453668619/69134/ead6e63/5524fd79N9e84f927.jpg"
    ]
    last = listings[-1]
    assert (last.listing_id, last.price, last.seller_id) == ("1715729143", 59.0, "134025")
    assert last.title == "大显（Daxian）JL123 移动联通2G 老人手机 单卡单待 手机 黑色"
    assert all(x.image_urls and x.image_urls[0].startswith("https://img1") for x in listings)
    assert sum(1 for x in listings if x.seller_id) == 57
    assert not any(x.is_ad for x in listings) and all(x.sales is None for x in listings)
    assert search_pager(text()) == (1, 50)


def test_page_without_result_list_and_block_pages():
    with pytest.raises(PageError) as exc:
        parse_search_page("<html><body><div id='app'>Loading…</div></body></html>", SEARCH)
    assert exc.value.reason == "no_result_list"
    spider = JdSpider(terms=["x"])
    login = HtmlResponse(
        url="https://passport.jd.com/new/login.aspx?ReturnUrl=x", body=b"<html></html>"
    )
    assert spider.block_reason(login) == "JD login wall"
    assert (
        spider.block_reason(
            HtmlResponse(url=SEARCH, body=(FIX / "search_keyword_123_2016.html").read_bytes())
        )
        is None
    )


def test_half_page_numbers_and_browser_declaration():
    spider = JdSpider(terms=["艾克米"])
    assert JdSpider.requires_browser is True and spider.use_browser is True
    assert (
        spider.search_url("艾克米", 1)
        == "https://search.jd.com/Search?keyword=%E8%89%BE%E5%85%8B%E7%B1%B3&enc=utf-8&page=1"
    )
    assert spider.search_url("艾克米", 3).endswith("&page=5")
    request = spider.search_request("艾克米", 1)
    assert request.meta["playwright"] is True and request.meta["playwright_page_methods"]
    assert (
        JdSpider(terms=["x"], use_browser=False).search_request("x", 1).meta.get("playwright")
        is None
    )


def catalogue() -> list[dict]:
    return [
        {
            "marketplace": "jd",
            "listing_id": str(100012 + i),
            "title": f"艾克米 蓝牙游戏手柄 {i}代",
            "price": 129.0 + i,
            "seller_id": str(1000 + i),
            "seller_name": f"艾克米京东自营{i}",
            "image": f"jd{i}.jpg",
            "sales": 5 + i,
            "is_ad": i == 1,
        }
        for i in range(12)
    ]


def test_crawl_current_layout_on_local_server():
    with MarketplaceServer(catalogue()) as server:
        result = run_crawl(
            "jd",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("jd"),
            terms=["艾克米"],
            download_delay=0,
            use_browser=False,
        )
    assert result.close_reason == "finished"
    assert len(result.items) == 12
    item = next(x for x in result.items if x.listing_id == "100013")
    assert (item.title, item.price, item.seller_id, item.seller_name, item.is_ad) == (
        "艾克米 蓝牙游戏手柄 1代",
        130.0,
        "1001",
        "艾克米京东自营1",
        True,
    )
    assert item.store_url == f"{server.url('jd')}/store/1001"
    lazy = next(x for x in result.items if x.listing_id == "100023")  # 12th: lazy image
    assert lazy.image_urls == [f"{server.root}/images/jd11.jpg"]
    assert result.stats["markwatch/pages"] == 1  # SEARCH.adv_param says one page


def test_captcha_ends_the_crawl_blocked():
    with MarketplaceServer(catalogue()) as server:
        server.block("jd", "captcha")
        result = run_crawl(
            "jd",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("jd"),
            terms=["艾克米"],
            download_delay=0,
            use_browser=False,
        )
    assert result.blocked and result.block_reason and result.items == []
