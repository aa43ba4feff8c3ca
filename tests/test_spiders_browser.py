"""Real-browser crawl: JD result pages whose listings only appear after JavaScript runs.

The local marketplace server's `js_only` mode serves a page with no listings in its
HTML; a script writes them after load. The JD spider (`requires_browser = True`)
fetches it through scrapy-playwright with Debian's Chromium and finds the listings;
the same crawl without the browser finds none and counts the page as dropped.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from crawler.evidence import chromium_path
from crawler.marketplace_server import MarketplaceServer
from crawler.spider import run_crawl

CHROMIUM = chromium_path()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not installed at {CHROMIUM}"),
]


def catalogue() -> list[dict]:
    return [
        {
            "marketplace": "jd",
            "listing_id": str(200100 + i),
            "title": f"艾克米 无线手柄 {i}号",
            "price": 99.0 + i,
            "seller_id": str(3000 + i),
            "seller_name": f"艾克米手柄专营店{i}",
            "image": f"b{i}.jpg",
            "is_ad": i == 0,
        }
        for i in range(4)
    ] + [
        {
            "marketplace": "jd",
            "listing_id": "209999",
            "title": "无关 键盘",
            "price": 50.0,
            "seller_id": "1",
        }
    ]


def test_browser_finds_listings_that_only_javascript_renders():
    with MarketplaceServer(catalogue()) as server:
        server.js_only("jd")
        search = f"{server.url('jd')}/Search?keyword=%E8%89%BE%E5%85%8B%E7%B1%B3&enc=utf-8&page=1"
        shell = urllib.request.urlopen(search, timeout=10).read().decode("utf-8")
        assert "gl-item" not in shell and "200100" not in shell  # nothing without JavaScript

        with_browser = run_crawl(
            "jd",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("jd"),
            terms=["艾克米"],
            download_delay=0,
            timeout=180,
        )
        without = run_crawl(
            "jd",
            {"LOG_LEVEL": "WARNING"},
            base_url=server.url("jd"),
            terms=["艾克米"],
            download_delay=0,
            use_browser=False,
        )

    assert with_browser.close_reason == "finished", with_browser.log_tail
    assert sorted(x.listing_id for x in with_browser.items) == [
        "200100",
        "200101",
        "200102",
        "200103",
    ]
    ad = next(x for x in with_browser.items if x.listing_id == "200100")
    assert (ad.title, ad.price, ad.seller_name, ad.is_ad) == (
        "艾克米 无线手柄 0号",
        99.0,
        "艾克米手柄专营店0",
        True,
    )
    assert ad.image_urls == [f"{server.root}/images/b0.jpg"]
    # The page really went through Chromium.
    assert any(k.startswith("playwright/") for k in with_browser.stats), sorted(with_browser.stats)

    assert without.items == []
    assert without.dropped == {"no_result_list": 1}
    assert not any(k.startswith("playwright/") for k in without.stats)
