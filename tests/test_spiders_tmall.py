"""Tmall spider: search results (Taobao format restricted to Tmall shops), item pages
(desktop `TShop.Setup`, mobile `_DATA_Detail`/`_DATA_Mdskip`), the `setMdskip` JSONP
price service, the lying gbk meta tag, and crawls against the local server."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from crawler.items import Listing
from crawler.marketplace_server import MarketplaceServer
from crawler.parsing import PageError
from crawler.parsing_cn import CNY
from crawler.spider import run_crawl
from spiders.taobao import pager, parse_search_page
from spiders.tmall import TmallSpider, merge_item, parse_item_page, parse_mdskip

FIX = Path(__file__).parent / "fixtures" / "tmall"
ITEM_URL = "https://detail.tmall.com/item.htm?id=18959526273"
SEARCH = "https://s.taobao.com/search?q=%E6%B1%BD%E8%BD%A6%E7%94%A8%E5%93%81&tab=mall"
GALLERY = [
    "https://img.alicdn.com/bao/uploaded/i4/TB1aKBSIFXXXXXjXXXXXXXXXXXX_!!0-item_pic.jpg",
    "https://img.alicdn.com/imgextra/i2/849727411/TB2eBfadFXXXXcWXXXXXXXXXXXX_!!849727411.jpg",
    "https://img.alicdn.com/imgextra/i2/849727411/TB2pR6seVXXXXXuXpXXXXXXXXXX_!!849727411.jpg",
    "https://img.alicdn.com/imgextra/i1/849727411/TB2oWK7dFXXXXa0XpXXXXXXXXXX_!!849727411.jpg",
    "https://img.alicdn.com/imgextra/i1/849727411/TB2S39_dFXXXXalXpXXXXXXXXXX_!!849727411.jpg",
]
TITLE = "AMH男装韩版2015秋装新款修身水洗微弹牛仔裤长裤NZ2508燊"


def page(name: str, url: str = ITEM_URL) -> str:
    """Decode like the spider does (the base spider's charset sniffer)."""
    response = HtmlResponse(url=url, body=(FIX / name).read_bytes())
    return TmallSpider(terms=["x"]).text_response(response).text


def test_search_results_of_tmall_shops():
    text = page("search_g_page_config_tmall_filter_2015.json", SEARCH)
    listings = parse_search_page(text, SEARCH, "tmall")
    assert len(listings) == 48 and pager(text) == (1, 76, 44)
    assert all(
        x.marketplace == "tmall" and x.url.startswith("http://detail.tmall.com/item.htm?id=")
        for x in listings
    )
    first = listings[0]
    assert first.listing_id == "35613606503"
    assert first.url == "http://detail.tmall.com/item.htm?id=35613606503"  # cm_id/abbucket dropped
    assert first.title == "诚饰 新款汽车头枕护颈枕一对 四季通用车头枕头腰靠枕 汽车用品"
    # view_price (what buyers pay now), not the 2015 schema's reserve_price 98.00.
    assert (first.price, first.currency, first.sales, first.location) == (
        25.8,
        CNY,
        4984,
        "浙江 杭州",
    )
    assert (first.seller_id, first.seller_name) == ("1780510933", "诚饰旗舰店")
    assert first.store_url == "http://store.taobao.com/shop/view_shop.htm?user_number_id=1780510933"
    assert first.image_urls == [
        "http://g.search.alicdn.com/img/bao/uploaded/i4/i2/TB1gTU6FVXXXXbCXFXXXXXXXXXX_!!0-item_pic.jpg"
    ]
    second, last = listings[1], listings[-1]
    assert (second.listing_id, second.price, second.sales, second.seller_name) == (
        "14546932051",
        45.0,
        109,
        "泰美汽车用品专营店",
    )
    assert (last.listing_id, last.price, last.sales, last.seller_name) == (
        "39855232489",
        28.0,
        28,
        "御衣靖汽车用品旗舰店",
    )
    assert not any(x.is_ad for x in listings)  # the 2015 schema has no p4p fields


def test_meta_gbk_over_utf8_bytes_is_decoded_by_its_bytes():
    raw = (FIX / "item_18959526273_desktop_utf8_meta_gbk.html").read_bytes()
    assert b'<meta charset="gbk"' in raw[:200]
    # Trusting the meta tag would garble the page.
    assert TITLE not in raw.decode("gbk", errors="replace")
    response = TmallSpider(terms=["x"]).text_response(HtmlResponse(url=ITEM_URL, body=raw))
    assert response.encoding == "utf-8"
    assert TITLE in response.text


def test_desktop_item_page():
    item = parse_item_page(page("item_18959526273_desktop_utf8_meta_gbk.html"), ITEM_URL)
    assert item["listing_id"] == "18959526273"
    assert item["title"] == TITLE
    assert item["brand"] == "AMH"
    assert item["price"] == 298.0  # detail.defaultItemPrice
    assert (item["seller_id"], item["seller_name"], item["shop_id"]) == (
        "849727411",
        "AMH官方旗舰店",
        "70986937",
    )
    assert item["store_url"] == "https://amh.tmall.com"
    assert item["image_urls"] == GALLERY  # thumbnails' _60x60q90.jpg suffix removed
    assert item["location"] == "山东"
    assert "品牌: AMH" in item["description"] and "货号: NZ2508" in item["description"]


def test_mobile_item_page_with_mdskip():
    item = parse_item_page(page("item_18959526273_mobile_utf8_meta_gbk.html"), ITEM_URL)
    assert (item["listing_id"], item["title"], item["brand"]) == ("18959526273", TITLE, "AMH")
    # `sellerNickName` is URL-encoded in `_DATA_Detail`.
    assert (item["seller_id"], item["seller_name"]) == ("849727411", "amh官方旗舰店")
    assert item["image_urls"] == [GALLERY[0]]  # itemDO.mainPic
    assert item["price"] == 179.0  # lowest promotion price in _DATA_Mdskip
    assert item["sales"] == 2247  # sellCountDO.sellCount
    assert item["location"] == "山东"


def test_setmdskip_jsonp():
    text = (FIX / "mdskip_setMdskip_jsonp_2015.js").read_text(encoding="utf-8")
    assert text.startswith("setMdskip(")
    assert parse_mdskip(text) == {
        "price": 45.0,
        "list_price": 58.0,
        "sales": 119,
        "stock": 57,
        "ships_from": "浙江杭州",
    }


def test_merge_item_completes_a_search_listing():
    listing = Listing(
        marketplace="tmall",
        listing_id="18959526273",
        url=ITEM_URL,
        title=TITLE,
        price=179.0,
        currency=CNY,
        seller_id="849727411",
        seller_name="amh官方旗舰店",
        image_urls=["https://g.search.alicdn.com/img/x.jpg"],
        sales=500,
    )
    merged = merge_item(
        listing, parse_item_page(page("item_18959526273_desktop_utf8_meta_gbk.html"), ITEM_URL)
    )
    assert merged.price == 179.0 and merged.sales == 500  # search values kept
    assert merged.seller_name == "AMH官方旗舰店" and merged.store_url == "https://amh.tmall.com"
    assert merged.image_urls == ["https://g.search.alicdn.com/img/x.jpg", *GALLERY]
    assert merged.location == "山东"
    assert merged.description.startswith("工艺处理: 猫须") and "品牌: AMH" in merged.description
    other = Listing(marketplace="tmall", listing_id="1", url="u", title="t")
    with pytest.raises(PageError) as exc:
        merge_item(
            other, parse_item_page(page("item_18959526273_desktop_utf8_meta_gbk.html"), ITEM_URL)
        )
    assert exc.value.reason == "item_mismatch"


def test_item_page_without_data_raises():
    with pytest.raises(PageError) as exc:
        parse_item_page("<html><body><h1>下架</h1></body></html>", ITEM_URL)
    assert exc.value.reason == "no_listing_json"


def test_search_url_restricts_to_tmall_shops():
    spider = TmallSpider(terms=["艾克米"])
    assert (
        spider.search_url("艾克米", 2)
        == "https://s.taobao.com/search?q=%E8%89%BE%E5%85%8B%E7%B1%B3&s=44&tab=mall"
    )
    assert spider.needs_product_page(
        Listing(marketplace="tmall", listing_id="1", url="u", title="t")
    )


def catalogue() -> list[dict]:
    return [
        {
            "marketplace": "tmall",
            "listing_id": str(8100 + i),
            "title": f"艾克米 官方 游戏手柄 Pro{i}",
            "price": 59.0 + i,
            "seller_id": str(990 + i),
            "seller_name": f"艾克米旗舰店{i}",
            "images": [f"tm{i}a.jpg", f"tm{i}b.jpg"],
            "location": "浙江 杭州",
            "sales": 10 + i,
            "brand": "ACME",
        }
        for i in range(5)
    ]


def test_crawl_follows_item_pages_on_local_server():
    with MarketplaceServer(catalogue()) as server:
        result = run_crawl(
            "tmall",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("tmall"),
            terms=["艾克米"],
            download_delay=0,
        )
        paths = list(server.requests)
    assert result.close_reason == "finished"
    assert sorted(x.listing_id for x in result.items) == [str(8100 + i) for i in range(5)]
    assert sum("/tmall/item.htm?id=" in p for p in paths) == 5
    item = next(x for x in result.items if x.listing_id == "8102")
    assert (item.title, item.price, item.seller_id, item.seller_name, item.sales) == (
        "艾克米 官方 游戏手柄 Pro2",
        61.0,
        "992",
        "艾克米旗舰店2",
        12,
    )
    assert item.description == "品牌: ACME"  # from the item page only
    assert item.image_urls == [f"{server.root}/images/tm2a.jpg", f"{server.root}/images/tm2b.jpg"]
    assert item.store_url == f"{server.url('tmall')}/store/992"


def test_slider_captcha_ends_the_crawl_blocked():
    with MarketplaceServer(catalogue()) as server:
        server.block("tmall", "slider")
        result = run_crawl(
            "tmall",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("tmall"),
            terms=["艾克米"],
            download_delay=0,
        )
    assert result.blocked and result.block_reason and result.items == []


def test_listing_kept_when_item_page_download_fails():
    from scrapy import Request
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.python.failure import Failure

    spider = TmallSpider(terms=["x"])
    listing = Listing(marketplace="tmall", listing_id="42", url=ITEM_URL, title="艾克米 手柄")
    request = Request(ITEM_URL, cb_kwargs={"listing": listing})
    failure = Failure(HttpError(HtmlResponse(url=ITEM_URL, status=404, request=request)))
    failure.request = request
    assert list(spider.on_error(failure)) == [listing]
    search_failure = Failure(HttpError(HtmlResponse(url=SEARCH, status=500)))
    search_failure.request = Request(SEARCH)
    assert list(spider.on_error(search_failure)) == []


def test_broken_item_page_keeps_the_search_listing(tmp_path):
    (tmp_path / "tmall_product.html").write_text(
        "<html><body>商品已下架</body></html>", encoding="utf-8"
    )
    with MarketplaceServer(catalogue()[:2], templates_dir=tmp_path) as server:
        result = run_crawl(
            "tmall",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("tmall"),
            terms=["艾克米"],
            download_delay=0,
        )
    assert sorted(x.listing_id for x in result.items) == ["8100", "8101"]
    assert result.stats["markwatch/product_page_failed/no_listing_json"] == 2
    assert all(x.description is None and x.price is not None for x in result.items)
