"""SSRF: image, evidence and redirect URLs to non-public addresses are refused before
any connection, outside the explicit allow list (here: the loopback host the local
marketplace runs on).

The crawl runs with a tripwire after every downloader middleware: a request to a
non-loopback address that got past the guard is recorded and dropped there, so this
test never sends traffic off the machine even when the guard is broken.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from crawler import db
from crawler import models as m
from crawler.config import load_client
from crawler.demo import demo_files
from crawler.marketplace_server import MarketplaceServer
from crawler.middlewares import NetGuardMiddleware
from crawler.netguard import UnsafeURL, check_url
from tests.test_faults_support import Answer, HostileServer, client_file, tripwire_settings

# Addresses a page may name; none may be requested. Never contacted: refusals happen first.
REFUSED = {
    "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/x.jpg",
    "private-10": "http://10.0.0.1/a.jpg",
    "private-192": "http://192.168.1.1/a.jpg",
    "private-172": "http://172.16.5.4/a.jpg",
    "multicast": "http://224.0.0.1/a.jpg",
    "decimal-metadata": "http://2852039166/a.jpg",
    "ipv6-mapped-metadata": "http://[::ffff:169.254.169.254]/a.jpg",
    "ipv6-loopback": "http://[::1]/a.jpg",
    "ipv6-link-local": "http://[fe80::1]/a.jpg",
    "unspecified": "http://0.0.0.0/a.jpg",
    "file-scheme": "file:///etc/passwd",
    "gopher-scheme": "gopher://127.0.0.1:6379/_INFO",
}

# Redirect targets behind an allowed host.
REDIRECTS = {
    "/img/to-metadata.jpg": "http://169.254.169.254/latest/meta-data/",
    "/img/to-private.jpg": "http://10.0.0.1/x.jpg",
    "/img/to-decimal.jpg": "http://2852039166/x.jpg",
    "/img/to-multicast.jpg": "http://239.255.255.250/x.jpg",
}


def test_guard_refuses_every_unsafe_form_and_allows_the_listed_host():
    allow = {"127.0.0.1"}
    for name, url in REFUSED.items():
        with pytest.raises(UnsafeURL):
            check_url(url, allow)
        assert name
    check_url("http://127.0.0.1:8080/x.jpg", allow)  # the allow list wins
    # Without it, loopback is refused however it is spelled.
    for url in (
        "http://127.0.0.1:8080/x.jpg",
        "http://0x7f000001/x.jpg",
        "http://2130706433/x.jpg",
        "http://localhost/x.jpg",
        "http://127.1/x.jpg",
    ):
        with pytest.raises(UnsafeURL):
            check_url(url)


def test_downloader_middleware_refuses_before_the_download():
    from spiders.aliexpress import AliexpressSpider

    crawler = get_crawler(AliexpressSpider, {"MARKWATCH_ALLOW_HOSTS": ["127.0.0.1"]})
    crawler.spider = AliexpressSpider.from_crawler(
        crawler, terms=["x"], base_url="http://127.0.0.1:9/aliexpress"
    )
    guard = NetGuardMiddleware.from_crawler(crawler)
    for url in REFUSED.values():
        if not url.startswith("http"):
            continue  # Scrapy has no handler for these schemes at all
        with pytest.raises(IgnoreRequest, match="refused"):
            guard.process_request(Request(url))
    assert guard.process_request(Request("http://127.0.0.1:9/aliexpress/item/1.html")) is None
    assert crawler.stats.get_value("markwatch/refused_unsafe") == len(
        [u for u in REFUSED.values() if u.startswith("http")]
    )


def test_the_address_scrapy_connects_to_is_checked_too():
    # DNS rebinding: the host looked public when the middleware checked it and answers
    # loopback when Scrapy looks it up to connect. Scrapy's resolver is ours, so the
    # answer it connects to is checked; cached answers need no running reactor.
    from scrapy.resolver import dnscache
    from twisted.internet.error import DNSLookupError

    from crawler.middlewares import GuardedResolver
    from spiders.aliexpress import AliexpressSpider

    crawler = get_crawler(AliexpressSpider, {"MARKWATCH_ALLOW_HOSTS": ["mirror.internal"]})
    crawler.spider = AliexpressSpider.from_crawler(
        crawler, terms=["x"], base_url="http://market.test:8080/aliexpress"
    )
    # Scrapy makes one resolver per process, from the process that runs the crawlers.
    process = SimpleNamespace(settings=get_crawler(AliexpressSpider).settings, crawlers={crawler})
    resolver = GuardedResolver.from_crawler(process, reactor=None)
    answers = {
        "127.0.0.1": "127.0.0.1",  # an address literal: the middleware checked it, nothing to rebind
        "rebind.test": "127.0.0.1",
        "metadata.test": "169.254.169.254",
        "public.test": "93.184.216.34",
        "market.test": "127.0.0.1",  # the marketplace's own base_url host
        "mirror.internal": "10.1.2.3",  # allowed explicitly
    }
    got: dict[str, Any] = {}
    try:
        for name, address in answers.items():
            dnscache[name] = address
            resolver.getHostByName(name).addCallbacks(
                lambda a, n=name: got.__setitem__(n, a), lambda f, n=name: got.__setitem__(n, f.value)
            )
    finally:
        for name in answers:
            dnscache.pop(name, None)
    assert {n: got[n] for n in ("127.0.0.1", "public.test", "market.test", "mirror.internal")} == {
        "127.0.0.1": "127.0.0.1", "public.test": "93.184.216.34", "market.test": "127.0.0.1",
        "mirror.internal": "10.1.2.3",
    }
    assert isinstance(got["rebind.test"], DNSLookupError) and "loopback" in str(got["rebind.test"])
    assert isinstance(got["metadata.test"], DNSLookupError) and "link-local" in str(got["metadata.test"])
    assert crawler.stats.get_value("markwatch/refused_unsafe") == 2


def test_a_marketplace_named_by_host_name_is_crawled_through_the_guarded_resolver(tmp_path: Path):
    # Scrapy connects through GuardedResolver: a base_url host that resolves to loopback
    # is the marketplace's own and is crawled.
    from crawler.monitor import run_cycle
    from crawler.settings import DNS_RESOLVER

    assert DNS_RESOLVER == "crawler.middlewares.GuardedResolver"
    _, catalogue, images = demo_files()
    with MarketplaceServer(catalogue, images) as market:
        by_name = market.url("aliexpress").replace("127.0.0.1", "localhost")
        path = client_file(tmp_path, {"aliexpress": {"base_url": by_name}})
        report = run_cycle(load_client(path), f"sqlite:///{tmp_path / 's.db'}", evidence=False, send_alerts=False)
    [mr] = report.markets
    assert mr.status == "ok" and mr.items > 0, (mr.status, mr.reason)


def ssrf_family(folder: Path) -> dict[str, Any]:
    """A crawl cycle with listing images at refused addresses, and a marketplace (the
    generic spider) whose allowed host redirects its searches to refused addresses."""
    from crawler.monitor import run_cycle

    _, _, images = demo_files()
    answers = {
        path: Answer(302, b"", None, {"Location": target}) for path, target in REDIRECTS.items()
    }
    answers["/img/chain.jpg"] = Answer(302, b"", None, {"Location": "/img/to-private.jpg"})
    # Search pages: a hop on the allowed host first, then the refused targets in turn.
    answers["/s"] = Answer(302, b"", None, locations=[f"/hop?n={i}" for i in range(40)])
    answers["/hop"] = Answer(302, b"", None, locations=list(REDIRECTS.values()))
    with HostileServer(answers) as server:
        urls = dict(REFUSED)
        urls.update(
            {f"redirect{path}": server.url(path) for path in [*REDIRECTS, "/img/chain.jpg"]}
        )
        catalogue = [
            {
                "marketplace": "aliexpress",
                "listing_id": f"66000{n:02d}",
                "title": f"Lumora Pods Pro replica {name}",
                "price": 9.9,
                "currency": "USD",
                "seller_id": f"8{n}",
                "seller_name": "Shop",
                "image": url,
            }
            for n, (name, url) in enumerate(urls.items())
        ]
        tripwire = folder / "tripwire.txt"
        with MarketplaceServer(catalogue, images, page_size=60) as market:
            shop = {
                "search_url": server.url("/s?q={term}"),
                "selectors": {"item": "li", "id": "a::attr(href)", "title": "a::text"},
            }
            config = client_file(
                folder, {"aliexpress": {"base_url": market.url("aliexpress")}, "shop": shop}
            )
            url = f"sqlite:///{folder / 'store.db'}"
            report = run_cycle(
                load_client(config),
                url,
                evidence=False,
                send_alerts=False,
                settings=tripwire_settings(tripwire),
            )
        hits = dict(server.hits)
    with db.session_scope(url) as s:
        stored = {
            lst.listing_id: (
                a.verdict if a else None,
                [(i.url, i.sha256, i.error) for i in lst.images],
            )
            for lst, a in db.iter_listings_with_assessment(s)
        }
        stats = {run.marketplace: dict(run.stats or {}) for run in s.scalars(select(m.CrawlRun))}
    return {
        "report": report,
        "urls": urls,
        "catalogue": catalogue,
        "stored": stored,
        "stats": stats,
        "hits": hits,
        "leaked": tripwire.read_text().split() if tripwire.exists() else [],
    }


def test_crawl_refuses_unsafe_image_urls_and_redirects_without_connecting(tmp_path: Path):
    out = ssrf_family(tmp_path)
    assert out["leaked"] == [], "requests got past the guard"
    # The shop's every search redirects to a refused address: nothing came back, the run failed.
    aliexpress, shop_run = out["report"].markets
    assert (aliexpress.status, shop_run.status) == ("ok", "failed"), out["report"].markets
    assert "refused as unsafe" in shop_run.reason, shop_run.reason
    # Every listing is still stored and assessed; none has a downloaded picture.
    assert set(out["stored"]) == {item["listing_id"] for item in out["catalogue"]}
    assert all(verdict for verdict, _ in out["stored"].values())
    assert not any(sha for _, images in out["stored"].values() for _, sha, _ in images)
    # Direct image URLs are refused by the images step (no request at all); image
    # redirects are not followed (Scrapy's media default), each asked once.
    market = out["stats"]["aliexpress"]
    assert market.get("markwatch/images/refused_unsafe", 0) >= len(
        [u for u in REFUSED.values() if u.startswith("http")]
    ), market
    for path in [*REDIRECTS, "/img/chain.jpg"]:
        assert out["hits"].get(path) == 1, out["hits"]
    # Page redirects are followed on the allowed host and refused at the first unsafe hop.
    shop = out["stats"]["shop"]
    assert out["hits"]["/hop"] >= len(REDIRECTS)
    # (each distinct target once: Scrapy drops repeats of a request it already made)
    assert shop.get("markwatch/refused_unsafe", 0) == len(set(REDIRECTS.values())), shop


def test_matching_never_downloads_listing_photo_urls():
    from matching import Matcher
    from matching.types import ListingInput

    config, _, _ = demo_files()
    with HostileServer({"/x.jpg": Answer(200, b"x", "image/jpeg")}) as server:
        result = Matcher(load_client(config), images_always=True).assess(
            ListingInput(
                id="t:1",
                title="Lumora Pods Pro",
                images=[REFUSED["metadata"], server.url("/x.jpg")],
            )
        )
        assert result.verdict in ("counterfeit", "review", "clear")
        assert server.hits == {}


def test_evidence_refuses_unsafe_urls_and_redirect_hops(tmp_path: Path):
    from crawler.evidence import EvidenceBrowser, EvidenceError

    with HostileServer(
        {"/listing": Answer(302, b"", None, {"Location": REDIRECTS["/img/to-metadata.jpg"]})}
    ) as srv:
        browser = EvidenceBrowser(allow_hosts={"127.0.0.1"}, timeout_s=15)
        with pytest.raises(UnsafeURL):
            browser.snapshot(REFUSED["private-10"])  # refused before Chromium even starts
        try:
            with pytest.raises((UnsafeURL, EvidenceError), match="169.254.169.254|refused"):
                browser.snapshot(srv.url("/listing"))
        finally:
            browser.close()
        assert srv.hits["/listing"] == 1
