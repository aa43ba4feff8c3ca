"""1688 spider: the genuinely GBK offer page (single-quoted `iDetailConfig`, HTML entities
in `iDetailData` keys), search data, and crawls against the local server.

No saved 1688 search page exists: the search fixtures are built after the documented
answer of 1688's keyword search (`product.search.keywordQuery`), see
tests/fixtures/1688/README.md. The offer page is a real saved page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from crawler.items import Listing
from crawler.marketplace_server import MarketplaceServer
from crawler.parsing import PageError
from crawler.spider import run_crawl
from spiders.alibaba1688 import (
    Alibaba1688Spider,
    merge_offer,
    parse_offer_page,
    parse_search_page,
    search_pager,
)

FIX = Path(__file__).parent / "fixtures" / "1688"
OFFER_URL = "https://detail.1688.com/offer/578483276614.html"
SEARCH = "https://s.1688.com/selloffer/offer_search.htm?keywords=%CA%D6%B1%FA&beginPage=1"
TITLE = "2018秋冬季新款女童卡通调皮怪兽加绒卫衣裙 宝宝外套韩版潮"


def page(name: str, url: str) -> str:
    response = HtmlResponse(url=url, body=(FIX / name).read_bytes())
    return Alibaba1688Spider(terms=["x"]).text_response(response).text


def test_offer_page_is_gbk_and_parsed():
    raw = (FIX / "offer_578483276614_gbk_2018.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = page("offer_578483276614_gbk_2018.html", OFFER_URL)
    assert TITLE in text
    # A wrong charset in the HTTP header does not win over the bytes either.
    lying = HtmlResponse(
        url=OFFER_URL, body=raw, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    assert TITLE in Alibaba1688Spider(terms=["x"]).text_response(lying).text
    offer = parse_offer_page(text, OFFER_URL)
    assert offer["listing_id"] == "578483276614"  # from the single-quoted iDetailConfig
    assert offer["title"] == TITLE
    assert offer["price"] == 33.0
    assert (offer["seller_id"], offer["seller_login"]) == ("b2b-331938445414b48", "木希希boy")
    assert offer["seller_name"] == "湖州织里小身材制衣厂"
    assert offer["store_url"] == "https://shop099p5y59069y0.1688.com"
    assert offer["location"] == "浙江 湖州"
    assert offer["sales"] == 202  # 30-day deals shown on the page
    assert offer["unit"] == "件"
    assert len(offer["image_urls"]) == 6
    assert (
        offer["image_urls"][0]
        == "https://cbu01.alicdn.com/img/ibank/2018/584/824/9517428485_1956652068.jpg"
    )
    # SKU keys carry HTML entities in the page: "粉色&gt;100cm".
    assert len(offer["skus"]) == 10
    assert offer["skus"]["粉色>100cm"]["price"] == "33.00"
    assert offer["skus"]["紫色>80cm"]["saleCount"] == 17


def test_search_answer_json_and_gbk_page_agree():
    answer = parse_search_page(
        (FIX / "search_keywordQuery_built.json").read_text(encoding="utf-8"), SEARCH
    )
    in_page = parse_search_page(page("search_page_built_gbk.html", SEARCH), SEARCH)
    assert len(answer) == len(in_page) == 4
    assert [x.__dict__ for x in answer] == [x.__dict__ for x in in_page]
    real, pad, wired, cover = answer
    assert real.listing_id == "578483276614"
    assert real.url == "https://detail.1688.com/offer/578483276614.html"
    assert (real.title, real.price, real.currency, real.sales) == (TITLE, 33.0, "CNY", 202)
    assert real.image_urls == [
        "https://cbu01.alicdn.com/img/ibank/2018/584/824/9517428485_1956652068.jpg"
    ]
    assert (
        real.seller_id is None and real.seller_name is None
    )  # not in search data: the offer page has it
    assert pad.title == "艾克米同款游戏手柄 无线蓝牙 手柄 工厂直销"  # <em> highlight removed
    assert pad.image_urls == ["https://cbu01.alicdn.com/img/ibank/O1CN01example1.jpg"]
    assert (wired.price, wired.sales) == (9.8, 0)
    assert (cover.price, cover.price_text, cover.sales) == (2.3, "2.30-3.10", 10000)  # "1万+"
    assert search_pager(page("search_page_built_gbk.html", SEARCH)) == (1, 3)


def test_offer_page_completes_search_listing():
    listing = parse_search_page(
        (FIX / "search_keywordQuery_built.json").read_text(encoding="utf-8"), SEARCH
    )[0]
    spider = Alibaba1688Spider(terms=["x"])
    assert spider.needs_product_page(listing)
    merged = merge_offer(
        listing, parse_offer_page(page("offer_578483276614_gbk_2018.html", OFFER_URL), OFFER_URL)
    )
    assert (merged.seller_id, merged.seller_name, merged.location) == (
        "b2b-331938445414b48",
        "湖州织里小身材制衣厂",
        "浙江 湖州",
    )
    assert merged.store_url == "https://shop099p5y59069y0.1688.com"
    assert len(merged.image_urls) == 6  # search image is the first gallery image
    assert merged.sales == 202 and merged.price == 33.0
    assert merged.description.startswith("SKU: 粉色>")
    with pytest.raises(PageError):
        merge_offer(
            Listing(marketplace="1688", listing_id="1", url="u", title="t"),
            parse_offer_page(page("offer_578483276614_gbk_2018.html", OFFER_URL), OFFER_URL),
        )


def test_bad_search_data():
    with pytest.raises(PageError) as exc:
        parse_search_page("<html><body>维护中</body></html>", SEARCH)
    assert exc.value.reason == "no_listing_json"
    with pytest.raises(PageError):
        parse_search_page(
            '<script>window.data = {"result": {"result": {"data": [{"offerId": 1, "subj', SEARCH
        )
    assert parse_search_page('{"result": {"success": true, "result": {"data": []}}}', SEARCH) == []


def test_search_url_is_gbk_encoded():
    spider = Alibaba1688Spider(terms=["手柄"])
    assert (
        spider.search_url("手柄", 2)
        == "https://s.1688.com/selloffer/offer_search.htm?keywords=%CA%D6%B1%FA&beginPage=2"
    )
    assert spider.detail_base == "https://detail.1688.com"
    local = Alibaba1688Spider(terms=["x"], base_url="http://127.0.0.1:9/1688")
    assert local.detail_base == "http://127.0.0.1:9/1688"


def catalogue() -> list[dict]:
    return [
        {
            "marketplace": "1688",
            "listing_id": str(610000 + i),
            "title": f"艾克米 游戏手柄 批发 {i}号",
            "price": 8.5 + i,
            "seller_id": f"b2b-77{i}",
            "seller_name": f"深圳市手柄工厂{i}",
            "images": [f"w{i}.jpg", f"w{i}b.jpg"],
            "location": "广东 深圳",
            "sales": 300 + i,
        }
        for i in range(6)
    ]


def test_crawl_gbk_search_and_offer_pages_on_local_server():
    with MarketplaceServer(catalogue()) as server:
        result = run_crawl(
            "1688",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("1688"),
            terms=["艾克米"],
            download_delay=0,
        )
        paths = list(server.requests)
    assert result.close_reason == "finished"
    assert sorted(x.listing_id for x in result.items) == [str(610000 + i) for i in range(6)]
    assert any("keywords=%B0%AC%BF%CB%C3%D7" in p for p in paths)  # 艾克米 in GBK
    assert sum("/1688/offer/" in p for p in paths) == 6
    offer = next(x for x in result.items if x.listing_id == "610003")
    assert (
        offer.title,
        offer.price,
        offer.seller_id,
        offer.seller_name,
        offer.location,
        offer.sales,
    ) == ("艾克米 游戏手柄 批发 3号", 11.5, "b2b-773", "深圳市手柄工厂3", "广东 深圳", 303)
    assert offer.image_urls == [f"{server.root}/images/w3.jpg", f"{server.root}/images/w3b.jpg"]
    assert offer.url == f"{server.url('1688')}/offer/610003.html"


def test_login_wall_ends_the_crawl_blocked():
    with MarketplaceServer(catalogue()) as server:
        server.block("1688", "login")
        result = run_crawl(
            "1688",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("1688"),
            terms=["艾克米"],
            download_delay=0,
        )
    assert result.blocked and result.block_reason and result.items == []
