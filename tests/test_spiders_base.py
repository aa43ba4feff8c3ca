"""The base spider, shared parsing helpers, block detection, proxies and query generation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from crawler.config import Client, MarketplaceConfig
from crawler.items import Listing
from crawler.marketplace_server import TEMPLATES_DIR
from crawler.middlewares import ProxyFromEnvMiddleware, detect_block, mask_proxy, proxy_for
from crawler.parsing import (
    PageError,
    abs_url,
    decode_response,
    extract_js_object,
    parse_count,
    parse_js_text,
    parse_price,
    sniff_encoding,
    strip_tags,
)
from crawler.queries import queries_for, to_pinyin
from crawler.spider import CrawlResult, MarketSpider, run_crawl
from spiders.amazon import AmazonSpider

FIXTURES = Path(__file__).resolve().parent / "fixtures"


class ToySpider(MarketSpider):
    """A minimal marketplace: `<li data-id=.. data-price=..>title</li>` items."""

    name = "toy"
    default_base_url = "https://toy.example"
    default_currency = "EUR"

    def search_url(self, term: str, page: int) -> str:
        return f"{self.base_url}/find?q={term}&p={page}"

    def parse_results(self, response):
        if b"BROKEN" in response.body:
            raise PageError("broken_json", "test")
        if b"CRASH" in response.body:
            raise KeyError("parser bug")
        return [
            Listing(
                marketplace="toy",
                listing_id=li.attrib.get("data-id", ""),
                url=response.urljoin(f"/i/{li.attrib.get('data-id', '')}"),
                title=li.css("::text").get(default=""),
                price=float(li.attrib["data-price"]) if li.attrib.get("data-price") else None,
            )
            for li in response.css("li")
        ]

    def needs_product_page(self, listing):
        return listing.listing_id == "needs-seller"

    def parse_product_page(self, response, listing):
        listing.seller_name = response.css("#seller::text").get()
        return listing


class ChineseToySpider(ToySpider):
    name = "toycn"
    chinese_site = True


def client(**extra) -> Client:
    data = {
        "client": {"name": "Acme Games Ltd."},
        "marks": [
            {
                "id": "acme",
                "title": "ACME",
                "terms": ["ACME", "艾克米", "aikemi"],
                "keywords": ["controller", "手柄"],
            }
        ],
        "products": [{"id": "pad", "mark": "acme", "name": "ACME Pad Pro", "msrp": 59.99}],
        "marketplaces": {
            "toy": {"base_url": "https://mirror.example/toy", "max_pages": 3, "download_delay": 0.5}
        },
        **extra,
    }
    return Client.model_validate(data, context={"base_dir": "."})


def response(url: str, body: str, meta: dict | None = None, status: int = 200) -> HtmlResponse:
    request = Request(url, meta=meta or {})
    return HtmlResponse(
        url, body=body.encode("utf-8"), encoding="utf-8", request=request, status=status
    )


def crawler_spider(cls=ToySpider, **kwargs):
    crawler = get_crawler(cls, {"LOG_LEVEL": "ERROR"})
    spider = cls.from_crawler(crawler, **kwargs)
    crawler.spider = spider
    return crawler, spider


# -- constructor and settings ---------------------------------------------------


def test_constructor_takes_the_marketplace_config_and_explicit_overrides():
    cfg = MarketplaceConfig(
        base_url="https://mirror.example/amazon",
        max_pages=3,
        download_delay=0.5,
        concurrency=4,
        user_agent="markwatch-test/1",
        obey_robots=False,
    )
    spider = AmazonSpider(config=cfg, terms="acme pad, acme controller", max_pages="7")
    assert spider.base_url == "https://mirror.example/amazon"
    assert spider.max_pages == 7  # explicit argument (as from `-a max_pages=7`) wins
    assert spider.terms == ["acme pad", "acme controller"]
    assert spider.search_url("acme pad", 1) == "https://mirror.example/amazon/s?k=acme+pad"
    assert spider.search_url("acme pad", 2) == "https://mirror.example/amazon/s?k=acme+pad&page=2"
    settings = spider.crawl_settings()
    assert settings["DOWNLOAD_DELAY"] == 0.5
    assert settings["CONCURRENT_REQUESTS_PER_DOMAIN"] == 4
    assert settings["USER_AGENT"] == "markwatch-test/1"
    assert settings["ROBOTSTXT_OBEY"] is False
    assert settings["AUTOTHROTTLE_START_DELAY"] == 0.5
    # No browser wanted: the plain HTTP download handlers stay in place.
    assert settings["DOWNLOAD_HANDLERS"] == {}
    assert "RETRY_TIMES" not in settings and "AUTOTHROTTLE_ENABLED" not in settings
    tuned = AmazonSpider(
        config=cfg, terms=["x"], retries="5", autothrottle="false"
    ).crawl_settings()
    assert tuned["RETRY_TIMES"] == 5 and tuned["AUTOTHROTTLE_ENABLED"] is False


def test_defaults_come_from_the_class_when_no_config():
    spider = AmazonSpider(terms=["acme"])
    assert spider.base_url == "https://www.amazon.com"
    assert spider.max_pages == 5 and spider.delay == 2.0 and spider.obey_robots is True
    assert spider.use_browser is False


def test_use_browser_keeps_the_playwright_handler():
    spider = ToySpider(terms=["x"], use_browser="true")
    assert spider.use_browser is True
    assert "DOWNLOAD_HANDLERS" not in spider.crawl_settings()
    assert spider.browser_meta()["playwright"] is True


def test_client_gives_config_block_and_queries():
    spider = ToySpider(client=client())
    assert spider.base_url == "https://mirror.example/toy"
    assert spider.max_pages == 3 and spider.delay == 0.5
    # Latin-script site: no Chinese terms.
    assert spider.terms[:2] == ["ACME", "aikemi"]
    assert "艾克米" not in spider.terms
    assert "ACME controller" in spider.terms and "ACME Pad Pro" in spider.terms
    cn = ChineseToySpider(client=client())
    assert cn.terms[0] == "艾克米"
    assert "艾克米 手柄" in cn.terms and "ACME" in cn.terms


def test_queries_per_marketplace_and_pinyin():
    c = client()
    western = queries_for(c, "amazon")
    chinese = queries_for(c, "taobao")
    assert all("艾克米" not in q for q in western)
    assert chinese[0] == "艾克米" and "aikemi" in chinese
    assert to_pinyin("艾克米") == "aikemi"
    assert len(queries_for(c, "taobao", limit=2)) == 2
    # Generated pinyin for a Chinese term the client did not spell out.
    c2 = client(marks=[{"id": "m", "title": "飞达", "terms": ["飞达"]}], products=[])
    assert "feida" in queries_for(c2, "jd")


def test_start_really_yields_search_requests():
    spider = AmazonSpider(terms=["acme pad", "艾克米"], base_url="http://127.0.0.1:9/amazon")

    async def collect():
        return [r async for r in spider.start()]

    requests = asyncio.run(collect())
    assert [r.url for r in requests] == [
        "http://127.0.0.1:9/amazon/s?k=acme+pad",
        "http://127.0.0.1:9/amazon/s?k=%E8%89%BE%E5%85%8B%E7%B1%B3",
    ]
    assert requests[0].meta["search_term"] == "acme pad" and requests[0].meta["search_page"] == 1
    assert requests[0].callback == spider.parse_search
    assert "playwright" not in requests[0].meta


# -- parse_search: items, paging, drops -----------------------------------------------


def test_parse_search_yields_items_next_page_and_counts_drops():
    crawler, spider = crawler_spider(terms=["acme"], max_pages=2)
    body = "<ul><li data-id='1' data-price='9.5'>ACME pad</li><li data-id='2'></li><li>no id</li><li data-id='1'>dup</li></ul>"
    out = list(
        spider.parse_search(
            response(
                "https://toy.example/find?q=acme&p=1",
                body,
                {"search_term": "acme", "search_page": 1},
            )
        )
    )
    items = [o for o in out if isinstance(o, Listing)]
    requests = [o for o in out if isinstance(o, Request)]
    assert [i.listing_id for i in items] == ["1"]
    assert items[0].currency == "EUR" and items[0].search_term == "acme"
    assert items[0].page_url == "https://toy.example/find?q=acme&p=1"
    assert [r.url for r in requests] == ["https://toy.example/find?q=acme&p=2"]
    stats = crawler.stats.get_stats()
    assert stats["markwatch/dropped/missing_title"] == 1
    assert stats["markwatch/dropped/missing_id"] == 1
    assert stats["markwatch/duplicates"] == 1
    # Last allowed page: no further request.
    out = list(
        spider.parse_search(
            response(
                "https://toy.example/find?q=acme&p=2",
                "<li data-id='3'>x</li>",
                {"search_term": "acme", "search_page": 2},
            )
        )
    )
    assert not [o for o in out if isinstance(o, Request)]


def test_bad_pages_are_dropped_with_a_reason_and_the_spider_goes_on():
    crawler, spider = crawler_spider(terms=["acme"])
    meta = {"search_term": "acme", "search_page": 1}
    assert list(spider.parse_search(response("https://toy.example/a", "BROKEN", meta))) == []
    assert list(spider.parse_search(response("https://toy.example/b", "CRASH", meta))) == []
    assert (
        list(spider.parse_search(response("https://toy.example/c", "<p>nothing</p>", meta))) == []
    )
    stats = crawler.stats.get_stats()
    assert stats["markwatch/dropped/broken_json"] == 1
    assert stats["markwatch/dropped/parse_error"] == 1
    assert stats["markwatch/zero_results"] == 1
    assert stats["markwatch/pages"] == 3


def test_product_page_is_followed_when_key_fields_are_missing():
    crawler, spider = crawler_spider(terms=["acme"])
    meta = {"search_term": "acme", "search_page": 1}
    out = list(
        spider.parse_search(
            response("https://toy.example/s", "<li data-id='needs-seller'>ACME</li>", meta)
        )
    )
    (req,) = [o for o in out if isinstance(o, Request)][:1]
    assert req.url == "https://toy.example/i/needs-seller" and req.callback == spider.parse_product
    listing = req.cb_kwargs["listing"]
    done = list(
        spider.parse_product(response(req.url, "<b id=seller>Best Store</b>"), listing=listing)
    )
    assert done[0].seller_name == "Best Store"
    assert crawler.stats.get_value("markwatch/listings") == 1


def test_failed_product_page_keeps_the_search_listing():
    from twisted.python.failure import Failure

    crawler, spider = crawler_spider(terms=["acme"])
    listing = Listing(
        marketplace="toy", listing_id="9", url="https://toy.example/i/9", title="ACME"
    )
    request = Request(listing.url, cb_kwargs={"listing": listing})
    try:
        raise TimeoutError("slow")
    except TimeoutError:
        failure = Failure()
    failure.request = request
    assert list(spider.on_product_error(failure)) == [listing]
    assert crawler.stats.get_value("markwatch/errors/TimeoutError") == 1


# -- block detection ------------------------------------------------------------------


def real_pages() -> list[Path]:
    blocks = ("akamai", "block", "captcha", "punish", "login", "denied")
    pages = [
        p
        for p in FIXTURES.rglob("*")
        if p.suffix in (".html", ".js", ".json") and not any(b in p.name for b in blocks)
    ]
    assert len(pages) >= 12
    return pages


@pytest.mark.parametrize("page", real_pages(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_result_pages_are_not_mistaken_for_blocks(page: Path):
    resp = HtmlResponse(f"https://www.example.com/{page.name}", body=page.read_bytes())
    assert detect_block(resp) is None


def test_real_akamai_access_denied_page_is_a_block():
    body = (FIXTURES / "dhgate" / "akamai_access_denied_2025.html").read_bytes()
    resp = HtmlResponse(
        "https://www.dhgate.com/store/products/20522858.html", status=403, body=body
    )
    assert detect_block(resp) == "akamai_access_denied"
    # Even if a CDN answered 200, the page itself gives it away.
    assert (
        detect_block(HtmlResponse("https://www.dhgate.com/x", status=200, body=body))
        == "akamai_access_denied"
    )


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("captcha", "captcha"),
        ("slider", "slider_captcha"),
        ("punish", "slider_captcha"),
        ("login", "login_wall"),
    ],
)
def test_block_page_templates_are_detected(template: str, reason: str):
    body = (TEMPLATES_DIR / "blocks" / f"{template}.html").read_bytes()
    assert detect_block(HtmlResponse("https://www.example.com/search", body=body)) == reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://s.taobao.com//search/_____tmd_____/punish?x5secdata=abc", "punish_page"),
        ("https://login.taobao.com/member/login.jhtml?redirectURL=x", "login_wall"),
        ("https://passport.jd.com/new/login.aspx", "login_wall"),
        ("https://www.amazon.com/errors/validateCaptcha?amzn=1", "captcha"),
        ("https://www.amazon.com/ap/signin?openid=1", "login_wall"),
    ],
)
def test_block_redirect_targets_are_detected(url: str, reason: str):
    assert detect_block(HtmlResponse(url, body=b"<html><body>ok</body></html>")) == reason


def test_rate_limit_and_forbidden_statuses_are_blocks():
    assert (
        detect_block(HtmlResponse("https://x.example/s", status=429, body=b"slow down"))
        == "rate_limited"
    )
    assert detect_block(HtmlResponse("https://x.example/s", status=403, body=b"no")) == "http_403"
    assert detect_block(HtmlResponse("https://x.example/s", status=404, body=b"gone")) is None


# -- proxies ---------------------------------------------------------------------------


def test_proxy_from_environment_per_marketplace_and_masked_in_logs():
    env = {
        "MARKWATCH_PROXY": "http://shared:3128",
        "MARKWATCH_PROXY_ALIEXPRESS": "http://user:secret@ae-proxy:8080",
    }
    assert proxy_for("aliexpress", env) == "http://user:secret@ae-proxy:8080"
    assert proxy_for("amazon", env) == "http://shared:3128"
    assert proxy_for("1688", {"MARKWATCH_PROXY_1688": "http://cn:1"}) == "http://cn:1"
    assert proxy_for("ebay", {}) is None
    masked = mask_proxy("http://user:secret@ae-proxy:8080")
    assert "secret" not in masked and "user" not in masked and masked == "http://***@ae-proxy:8080"


def test_proxy_middleware_sets_request_meta(monkeypatch):
    monkeypatch.setenv("MARKWATCH_PROXY_TOY", "http://u:p@toy-proxy:1")
    crawler, _ = crawler_spider(terms=["x"])
    mw = ProxyFromEnvMiddleware.from_crawler(crawler)
    req = Request("https://toy.example/find")
    mw.process_request(req)
    assert req.meta["proxy"] == "http://u:p@toy-proxy:1"


# -- parsing helpers ---------------------------------------------------------------------


def test_extract_js_object_skips_the_empty_first_assignment_and_reads_js_syntax():
    text = "window.runParams = {};\nwindow.runParams = {'mods': {items: [1, 2,]}, flag: true, none: null};"
    assert extract_js_object(text, "window.runParams") == {
        "mods": {"items": [1, 2]},
        "flag": True,
        "none": None,
    }
    assert extract_js_object('setMdskip({"a": 1})', "setMdskip") == {"a": 1}
    assert parse_js_text('export const data = {"content": [{"x": 1}]}') == {"content": [{"x": 1}]}


def test_extract_js_object_missing_and_broken():
    with pytest.raises(PageError) as missing:
        extract_js_object("<html>no data here</html>", "window.runParams")
    assert missing.value.reason == "no_listing_json"
    with pytest.raises(PageError) as broken:
        extract_js_object('g_page_config = {"mods": {"a": [1, 2 ;', "g_page_config")
    assert broken.value.reason in ("broken_json", "no_listing_json")


def test_charset_sniffer_does_not_trust_a_lying_meta_tag():
    text = '<html><head><meta charset="gbk"><title>天猫 AMH官方旗舰店</title></head></html>'
    utf8_with_gbk_meta = text.encode("utf-8")
    assert sniff_encoding(utf8_with_gbk_meta) == "utf-8"
    real_gbk = text.encode("gbk")
    assert sniff_encoding(real_gbk) == "gb18030"
    lying_utf8_meta = text.replace("gbk", "utf-8").encode("gbk")
    assert sniff_encoding(lying_utf8_meta) == "gb18030"
    assert sniff_encoding("Café crème".encode("cp1252"), "iso-8859-1") == "cp1252"
    # A Scrapy response decoded by the meta tag is replaced by a correctly decoded one.
    resp = HtmlResponse("https://detail.tmall.com/item.htm?id=1", body=utf8_with_gbk_meta)
    fixed = decode_response(resp)
    assert "天猫 AMH官方旗舰店" in fixed.text
    gbk_resp = TextResponse(
        "https://detail.1688.com/offer/1.html",
        body=real_gbk,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    assert "天猫" in decode_response(gbk_resp).text


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("EUR 10,79", None, (10.79, "EUR")),
        ("EUR 124,00 bis EUR 174,00", None, (124.0, "EUR")),
        ("US $12.50", None, (12.5, "USD")),
        ("$9.85", "USD", (9.85, "USD")),
        ("€2.95", None, (2.95, "EUR")),
        ("AED29.99", None, (29.99, "AED")),
        ("₹59,577.18-1,09,988.64", "USD", (59577.18, "INR")),
        ("ARS 1.515,50", None, (1515.5, "ARS")),
        ("¥ 59.00 - 89.00", "CNY", (59.0, "CNY")),
        ("US $3.85 - 5.20", None, (3.85, "USD")),
        ("", "USD", (None, None)),
        (None, "USD", (None, None)),
    ],
)
def test_parse_price(text, default, expected):
    assert parse_price(text, default) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("51601人付款", 51601),
        ("1.5万+人付款", 15000),
        ("4000+ sold", 4000),
        ("6.698+ verkauft", 6698),
        ("59 vendido(s)", 59),
        ("已拼140件", 140),
        ("1.4K+", 1400),
        ("no sales", None),
    ],
)
def test_parse_count(text, expected):
    assert parse_count(text) == expected


def test_text_and_url_helpers():
    assert (
        strip_tags("Nordic <strong>Fabric</strong>&amp; <img src='x'></img>Sofa")
        == "Nordic Fabric & Sofa"
    )
    assert abs_url("//ae01.alicdn.com/kf/x.jpg") == "https://ae01.alicdn.com/kf/x.jpg"
    assert abs_url("//127.0.0.1:8/x.jpg", "http://127.0.0.1:8/a") == "http://127.0.0.1:8/x.jpg"
    assert abs_url("/itm/1", "https://www.ebay.de/sch/i.html") == "https://www.ebay.de/itm/1"


def test_run_crawl_reports_a_broken_spider_path_as_one_error():
    with pytest.raises(RuntimeError, match="crawl with spiders.nothing:Missing failed"):
        run_crawl("spiders.nothing:Missing", {"LOG_LEVEL": "ERROR"}, terms=["x"], timeout=60)


def test_crawl_result_helpers():
    result = CrawlResult(
        stats={"markwatch/blocked": "captcha", "markwatch/dropped/broken_json": 2},
        close_reason="blocked",
    )
    assert result.blocked and result.block_reason == "captcha"
    assert result.dropped == {"broken_json": 2}


def test_settings_put_the_browser_handler_and_chromium_in_place(monkeypatch):
    import importlib

    import crawler.settings as project

    monkeypatch.setenv("MARKWATCH_CHROMIUM", "/opt/chromium/chrome")
    settings = importlib.reload(project)
    try:
        assert settings.PLAYWRIGHT_LAUNCH_OPTIONS["executable_path"] == "/opt/chromium/chrome"
        assert "--no-sandbox" in settings.PLAYWRIGHT_LAUNCH_OPTIONS["args"]
        assert (
            settings.DOWNLOAD_HANDLERS["https"]
            == "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
        )
        assert settings.TWISTED_REACTOR == "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
        assert (
            settings.DOWNLOADER_MIDDLEWARES["crawler.middlewares.BlockDetectionMiddleware"] == 540
        )
        assert settings.AUTOTHROTTLE_ENABLED and settings.RETRY_TIMES >= 1
    finally:
        monkeypatch.delenv("MARKWATCH_CHROMIUM")
        importlib.reload(project)


def test_product_titles_mentioning_login_or_captcha_are_not_blocks():
    body = b"<html><head><title>Amazon.com: Wireless Keyboard with one-touch Login key and Captcha-proof fingerprint reader, black</title></head></html>"
    assert detect_block(HtmlResponse("https://www.amazon.com/dp/B000000001", body=body)) is None
    assert (
        detect_block(HtmlResponse("https://x.example/", body=b"<title>Amazon Sign-In</title>"))
        == "login_wall"
    )
    assert (
        detect_block(
            HtmlResponse("https://x.example/", body=b'<title dir="ltr">Robot Check</title>')
        )
        == "captcha"
    )


def test_markwatch_spiders_lists_all_eleven():
    from tests.conftest import run_cli

    done = run_cli("spiders", timeout=120)
    assert done.returncode == 0, done.stderr
    names = [
        "1688",
        "alibaba",
        "aliexpress",
        "amazon",
        "dhgate",
        "ebay",
        "generic",
        "jd",
        "pinduoduo",
        "taobao",
        "tmall",
    ]
    for name in names:
        assert f"│ {name} " in done.stdout
    assert done.stdout.count("│ yes ") + done.stdout.count("│ no ") == 11


def test_refused_images_and_robots_do_not_block_the_marketplace():
    from scrapy.http import Response

    image = Response("https://ae01.alicdn.com/kf/x.jpg", status=403, body=b"\xff\xd8\xff denied")
    assert detect_block(image) is None
    robots = HtmlResponse(
        "https://x.example/robots.txt",
        status=403,
        body=b"no",
        request=Request("https://x.example/robots.txt"),
    )
    assert detect_block(robots) is None
    search = HtmlResponse(
        "https://x.example/s?q=a",
        status=403,
        body=b"no",
        request=Request("https://x.example/s?q=a", meta={"search_term": "a"}),
    )
    assert detect_block(search) == "http_403"
