"""Taobao spider: the parser on saved s.taobao.com pages, and crawls against the local server.

Saved pages (tests/fixtures/taobao/README.md): two `g_page_config` objects (女包,
芝麻糊) and a browser-rendered ipad page that has the same results as JSON and DOM.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from crawler.marketplace_server import MarketplaceServer
from crawler.parsing import PageError, decode_response
from crawler.spider import run_crawl
from spiders.taobao import TaobaoSpider, pager, parse_search_dom, parse_search_page

FIX = Path(__file__).parent / "fixtures" / "taobao"
SEARCH = "https://s.taobao.com/search?q=%E5%A5%B3%E5%8C%85"
FIELDS = (
    "listing_id",
    "url",
    "title",
    "price",
    "currency",
    "seller_id",
    "seller_name",
    "store_url",
    "image_urls",
    "location",
    "sales",
    "is_ad",
)


def fixture_text(name: str, url: str = SEARCH) -> str:
    return decode_response(HtmlResponse(url=url, body=(FIX / name).read_bytes())).text


def by_id(listings):
    return {x.listing_id: x for x in listings}


def test_nvbao_page_config_items_and_fields():
    listings = parse_search_page(fixture_text("search_g_page_config_nvbao_2018.json"), SEARCH)
    # 36 slots, three of them theme banners ("activity") without an item; then the
    # 12 right-column and 5 bottom ads of `mods.p4p.data.p4pdata`.
    assert len(listings) == 33 + 17
    assert [x.is_ad for x in listings[:33]].count(True) == 1
    assert all(x.is_ad for x in listings[33:])
    ad = listings[0]
    assert ad.listing_id == "44280017876"
    assert ad.is_ad is True
    # The ad's detail URL is a click.simba redirect: the canonical item URL replaces it.
    assert ad.url == "https://detail.tmall.com/item.htm?id=44280017876"
    assert (
        ad.title == "金狐狸女包链条包小包包2017新款牛皮小方包百搭时尚单肩包斜挎包"
    )  # <span class=H> removed
    assert (ad.price, ad.currency, ad.price_text) == (238.0, "CNY", "238.00")
    assert (ad.seller_id, ad.seller_name) == ("1026415371", "金狐狸旗舰店")
    assert ad.store_url == "https://store.taobao.com/shop/view_shop.htm?user_number_id=1026415371"
    assert ad.image_urls == [
        (
            "https://g-search1.alicdn.com/img/bao/uploaded/i4/imgextra/i1/1391906034290755214/"
            "TB2rd_CorJkpuFjy1zcXXa5FFXa_!!0-saturn_solar.jpg"
        )
    ]
    assert (ad.location, ad.sales) == ("广东 广州", 1881)

    items = by_id(listings)
    tmall = items["533989404526"]
    assert tmall.url == "https://detail.tmall.com/item.htm?id=533989404526"
    assert (tmall.price, tmall.sales, tmall.location, tmall.is_ad) == (
        69.9,
        6290,
        "广东 广州",
        False,
    )
    assert tmall.seller_name == "花心小铺箱包旗舰店"
    taobao = items["540307999096"]
    assert (
        taobao.url == "https://item.taobao.com/item.htm?id=540307999096"
    )  # tracking parameters dropped
    assert taobao.title == "小熊波士顿女包新款枕头女包帆布小包斜挎包手拎包百搭迷你手提包"
    assert (taobao.price, taobao.seller_id, taobao.seller_name, taobao.location, taobao.sales) == (
        118.0,
        "1601492989",
        "西瑞德",
        "上海",
        3,
    )
    side_ad = items["528266844051"]  # first right-column ad
    assert side_ad.url == "https://item.taobao.com/item.htm?id=528266844051"
    assert side_ad.title == "2017春夏新款百搭女包欧美时尚潮手提包中年女士包包单肩包斜挎包"
    assert (side_ad.price, side_ad.sales, side_ad.location, side_ad.is_ad) == (
        69.0,
        252,
        "浙江 台州",
        True,
    )
    assert (side_ad.seller_id, side_ad.seller_name) == ("1672190266", "济南军区退伍老兵")
    assert side_ad.image_urls == [
        (
            "https://img.alicdn.com/imgextra/i4/1515306027177207491/"
            "TB2mZEWnl4lpuFjy1zjXXcAKpXa_!!0-saturn_solar.jpg"
        )  # "_sum.jpg" thumbnail suffix removed
    ]
    bottom_ad = listings[-1]
    assert (bottom_ad.listing_id, bottom_ad.price, bottom_ad.seller_name, bottom_ad.sales) == (
        "542591119062",
        329.0,
        "金狐狸旗舰店",
        992,
    )
    assert bottom_ad.url == "https://detail.tmall.com/item.htm?id=542591119062"  # ISMALL=1
    lv = items["40560712045"]
    assert lv.title.startswith("【龙妈家】LV女包FAVORITE") and lv.price == 5350.0 and lv.sales == 1
    for x in listings[:33]:
        assert x.image_urls[0].startswith("https://g-search")  # protocol-relative made absolute
    for x in listings:
        assert x.marketplace == "taobao" and x.currency == "CNY" and x.price and x.seller_id
        assert "click.simba" not in x.url and "click.simba" not in (x.store_url or "")


def test_zhimahu_js_assignment_items_and_fields():
    text = fixture_text("search_g_page_config_zhimahu_2018.js")
    assert text.startswith("g_page_config = ")
    listings = parse_search_page(text, SEARCH)
    assert len(listings) == 36 + 21  # results, then 16 right-column and 5 bottom ads
    assert len({x.listing_id for x in listings}) == 52  # five ads also rank organically
    first = listings[0]
    assert (first.listing_id, first.is_ad, first.price, first.sales) == (
        "10609596736",
        True,
        52.9,
        7261,
    )
    assert first.title == "老金磨坊方 黑芝麻核桃粉 芝麻核桃桑葚粉糊熟即食搭黑豆粉芝麻糊"
    second = listings[1]
    assert second.title == "南方黑芝麻糊原味720g*2袋 黑芝麻糊营养早餐冲饮冲调芝麻糊包邮"
    assert (second.seller_id, second.seller_name, second.location, second.sales) == (
        "1848219836",
        "南方黑芝麻旗舰店",
        "广西 南宁",
        16199,
    )
    shop = by_id(listings)["568796204027"]
    assert shop.url == "https://item.taobao.com/item.htm?id=568796204027"
    assert (shop.price, shop.seller_name, shop.location) == (180.0, "nightblue999", "湖北 黄石")
    # The ad and the organic result of the same item share the id (the crawl keeps one).
    assert [x.listing_id for x in listings].count("10609596736") == 2
    side = by_id(listings[36:])["552482366167"]
    assert (side.title, side.price, side.seller_name, side.location, side.sales, side.is_ad) == (
        "孕妇黑芝麻糊营养早餐芝麻糊现磨无添加红枣核桃儿童低糖哺乳产妇",
        49.9,
        "fashion090613",
        "广东 中山",
        59,
        True,
    )
    assert pager(text) == (1, 100, 44)


def test_rendered_page_json_and_dom_agree():
    text = fixture_text("search_ipad_rendered_dom_2018.html")
    parsed = parse_search_page(text, SEARCH)
    assert len(parsed) == 36 + 21 and all(x.is_ad for x in parsed[36:])  # ads are JSON only
    from_json = parsed[:36]
    from_dom = parse_search_dom(text, SEARCH)
    assert len(from_dom) == 36
    differences = []
    for a, b in zip(from_json, from_dom, strict=True):
        for name in FIELDS:
            if getattr(a, name) != getattr(b, name):
                differences.append((a.listing_id, name))
    # The four items of applestore官方旗舰店 render no shop link in the DOM; all else agrees.
    assert differences == [
        (i, f)
        for i in ("566719206678", "552644716383", "552647276387", "538589484448")
        for f in ("seller_id", "seller_name")
    ]
    top = from_dom[0]
    assert (top.listing_id, top.price, top.sales, top.location, top.seller_name) == (
        "566741234264",
        2288.0,
        51601,
        "江苏 南京",
        "苏宁易购官方旗舰店",
    )
    assert top.title == "2018新款 Apple/苹果 9.7英寸iPad 智能平板电脑 正品国行新品"
    assert top.image_urls == [
        (
            "https://g-search2.alicdn.com/img/bao/uploaded/i4/i3/2616970884/"
            "TB2KZB1BYSYBuNjSspiXXXNzpXa_!!2616970884-0-item_pic.jpg"
        )
    ]
    apple = by_id(from_json)["566719206678"]
    assert (apple.seller_name, apple.sales) == ("applestore官方旗舰店", None)  # no "人付款" shown


def test_dom_is_the_fallback_when_the_json_is_missing():
    text = fixture_text("search_ipad_rendered_dom_2018.html")
    start = text.index("<script>")
    end = text.index("</script>", start) + len("</script>")
    listings = parse_search_page(text[:start] + text[end:], SEARCH)
    assert (
        len(listings) == 36
        and listings[5].listing_id == "552789216451"
        and listings[5].price == 4658.0
    )


def test_bad_pages_raise_page_error_with_a_reason():
    text = fixture_text("search_g_page_config_zhimahu_2018.js")
    with pytest.raises(PageError) as truncated:
        parse_search_page(text[: len(text) // 3], SEARCH)
    assert truncated.value.reason in ("broken_json", "no_listing_json")
    with pytest.raises(PageError) as empty:
        parse_search_page("<html><body>nothing here</body></html>", SEARCH)
    assert empty.value.reason == "no_listing_json"
    with pytest.raises(PageError) as blocked:
        parse_search_page(fixture_text("block_punish_slider_built.html"), SEARCH)
    assert blocked.value.reason == "blocked"


def test_block_pages_are_recognised_by_the_spider():
    spider = TaobaoSpider(terms=["艾克米"])
    punish = HtmlResponse(url=SEARCH, body=(FIX / "block_punish_slider_built.html").read_bytes())
    assert spider.block_reason(punish)
    login = HtmlResponse(
        url="https://login.taobao.com/member/login.jhtml?redirectURL=x", body=b"<html></html>"
    )
    assert spider.block_reason(login) == "Taobao login wall"
    normal = HtmlResponse(
        url=SEARCH, body=(FIX / "search_ipad_rendered_dom_2018.html").read_bytes()
    )
    assert spider.block_reason(normal) is None  # login links on a normal page are not a wall


def test_search_urls_and_start_requests():
    spider = TaobaoSpider(terms=["艾克米", "ACME 手柄"], base_url="http://127.0.0.1:9/taobao")
    assert (
        spider.search_url("艾克米", 1)
        == "http://127.0.0.1:9/taobao/search?q=%E8%89%BE%E5%85%8B%E7%B1%B3&s=0"
    )
    assert spider.search_url("艾克米", 3).endswith("&s=88")
    assert TaobaoSpider(terms=["x"]).search_url("x", 1) == "https://s.taobao.com/search?q=x&s=0"

    async def collect():
        return [r async for r in spider.start()]

    requests = asyncio.run(collect())
    assert [r.meta["search_term"] for r in requests] == ["艾克米", "ACME 手柄"]
    assert requests[1].url.endswith("q=ACME%20%E6%89%8B%E6%9F%84&s=0")


def catalogue(marketplace: str, n: int = 6) -> list[dict]:
    return [
        {
            "marketplace": marketplace,
            "listing_id": str(7100 + i),
            "title": f"艾克米 无线游戏手柄 款{i}",
            "price": 19.9 + i,
            "currency": "CNY",
            "seller_id": str(880 + i),
            "seller_name": f"手柄小铺{i}",
            "image": f"pad{i}.jpg",
            "location": "广东 深圳",
            "sales": 120 + i,
            "is_ad": i == 0,
        }
        for i in range(n)
    ] + [
        {
            "marketplace": marketplace,
            "listing_id": "7999",
            "title": "无关商品",
            "price": 1.0,
            "seller_id": "1",
        }
    ]


def test_crawl_against_local_server_pages_through_results():
    with MarketplaceServer(catalogue("taobao")) as server:
        result = run_crawl(
            "taobao",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("taobao"),
            terms=["艾克米"],
            download_delay=0,
            max_pages=5,
        )
        paths = list(server.requests)
    assert result.close_reason == "finished"
    assert sorted(x.listing_id for x in result.items) == [str(7100 + i) for i in range(6)]
    assert result.stats["markwatch/pages"] == 2  # 4 per page on the local server, offset s=4
    assert any("&s=4" in p for p in paths)
    first = next(x for x in result.items if x.listing_id == "7100")
    assert (
        first.title,
        first.price,
        first.seller_id,
        first.seller_name,
        first.sales,
        first.is_ad,
    ) == ("艾克米 无线游戏手柄 款0", 19.9, "880", "手柄小铺0", 120, True)
    assert first.image_urls == [f"{server.root}/images/pad0.jpg"]
    assert first.url == f"{server.url('taobao')}/item.htm?id=7100"
    assert first.search_term == "艾克米"


@pytest.mark.parametrize("kind", ["punish", "login"])
def test_blocked_crawl_ends_blocked_not_empty(kind):
    with MarketplaceServer(catalogue("taobao")) as server:
        server.block("taobao", kind)
        result = run_crawl(
            "taobao",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("taobao"),
            terms=["艾克米"],
            download_delay=0,
        )
    assert result.blocked and result.block_reason
    assert result.items == []
