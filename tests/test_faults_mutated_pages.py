"""Hostile pages: mutations of the real saved pages through every spider's parser.

Each saved page under `tests/fixtures/<marketplace>/` is cut at random byte offsets,
loses HTML nodes, gets its embedded JSON broken, is re-encoded in a wrong charset,
emptied, or replaced by binary junk (a seeded RNG, so a failure is reproducible by
its case number). Every mutant goes through the spider's `parse_results` (and
`parse_product_page` for product pages) as a Scrapy `HtmlResponse`, and through the
base class's `parse_search`, which is what a crawl calls. The allowed outcomes are
listings or `PageError` (a counted drop with a reason); anything else is a bug.
"""

from __future__ import annotations

import random
import re
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.items import Listing
from crawler.parsing import PageError

FIX = Path(__file__).resolve().parent / "fixtures"
SEED = 20261128

# marketplace folder -> (spider module:class, page URL the fixture came from)
SPIDERS: dict[str, tuple[str, str]] = {
    "1688": (
        "spiders.alibaba1688:Alibaba1688Spider",
        "https://s.1688.com/selloffer/offer_search.htm?keywords=x",
    ),
    "alibaba": (
        "spiders.alibaba:AlibabaSpider",
        "https://www.alibaba.com/trade/search?SearchText=x",
    ),
    "aliexpress": (
        "spiders.aliexpress:AliexpressSpider",
        "https://www.aliexpress.com/wholesale?SearchText=x",
    ),
    "amazon": ("spiders.amazon:AmazonSpider", "https://www.amazon.de/s?k=x"),
    "dhgate": (
        "spiders.dhgate:DhgateSpider",
        "https://www.dhgate.com/wholesale/search.do?searchkey=x",
    ),
    "ebay": ("spiders.ebay:EbaySpider", "https://www.ebay.de/sch/i.html?_nkw=x"),
    "jd": ("spiders.jd:JdSpider", "https://search.jd.com/Search?keyword=x"),
    "pinduoduo": (
        "spiders.pinduoduo:PinduoduoSpider",
        "https://mobile.yangkeduo.com/search_result.html?search_key=x",
    ),
    "taobao": ("spiders.taobao:TaobaoSpider", "https://s.taobao.com/search?q=x"),
    "tmall": ("spiders.tmall:TmallSpider", "https://list.tmall.com/search_product.htm?q=x"),
}

GENERIC_SELECTORS = {
    "item": "ul.srp-results > li.s-item, div.s-result-item, li.gl-item",
    "id": "a::attr(href)",
    "title": "xpath:.//h2//text() | .//div[@class='s-item__title']/span/text()",
    "price": ".s-item__price, .a-price .a-offscreen",
    "url": "a::attr(href)",
    "image": "img::attr(src)",
}

PRODUCT_PAGE = re.compile(r"(product|item|offer)_", re.IGNORECASE)


# ------------------------------------------------------------------ mutations


def _truncate(rng: random.Random, body: bytes) -> bytes:
    return body[: rng.randrange(0, max(1, len(body)))]


def _delete_nodes(rng: random.Random, body: bytes) -> bytes:
    """Remove a few random elements (open tag to the matching-looking close tag)."""
    out = body
    for _ in range(rng.randint(1, 6)):
        tags = [m for m in re.finditer(rb"<([a-zA-Z][a-zA-Z0-9]*)[\s>]", out)]
        if not tags:
            break
        tag = rng.choice(tags)
        name = tag.group(1)
        end = out.find(b"</" + name + b">", tag.start())
        stop = (
            end + len(name) + 3 if end >= 0 else min(len(out), tag.start() + rng.randint(10, 2000))
        )
        out = out[: tag.start()] + out[stop:]
    return out


def _break_json(rng: random.Random, body: bytes) -> bytes:
    """Damage embedded JSON/JS: drop or swap braces, brackets, quotes, colons, commas."""
    positions = [i for i, c in enumerate(body) if c in b'{}[]":,']
    if not positions:
        return _truncate(rng, body)
    out = bytearray(body)
    for _ in range(rng.randint(1, 12)):
        i = rng.choice(positions)
        if i < len(out):
            choice = rng.random()
            if choice < 0.4:
                out[i : i + 1] = b""
            elif choice < 0.8:
                out[i] = rng.choice(b"{}[]\":,'")
            else:
                out[i : i + 1] = rng.choice(
                    [b"NaN", b"undefined", b"\\", b"1e999999", b"null", b'"\\u12']
                )
    return bytes(out)


def _wrong_charset(rng: random.Random, body: bytes) -> bytes:
    """Re-encode the text in a charset the page does not declare (or declare a wrong one)."""
    text = body.decode("utf-8", errors="replace")
    enc = rng.choice(["utf-16", "utf-16-be", "gbk", "latin-1", "shift_jis", "cp1251", "utf-32"])
    data = text.encode(enc, errors="replace")
    if rng.random() < 0.5:
        data = re.sub(
            rb'charset=["\']?[\w-]+', b"charset=" + rng.choice([b"utf-8", b"gbk", b"bogus-9"]), data
        )
    return data


def _empty(rng: random.Random, body: bytes) -> bytes:
    return rng.choice([b"", b" ", b"\n", b"<html></html>", b"{}", b"null", b"[]", b"<"])


def _junk(rng: random.Random, body: bytes) -> bytes:
    junk = rng.randbytes(rng.randint(1, 20000))
    if rng.random() < 0.5:  # junk spliced into the real page
        at = rng.randrange(0, max(1, len(body)))
        return body[:at] + junk + body[at:]
    return junk


def _nesting(rng: random.Random, body: bytes) -> bytes:
    """Deeply nested brackets where JSON is expected (recursion bombs)."""
    depth = rng.choice([500, 5000, 50000])
    at = rng.randrange(0, max(1, len(body)))
    return body[:at] + b"[" * depth + body[at:]


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "truncate": _truncate,
    "delete_nodes": _delete_nodes,
    "break_json": _break_json,
    "wrong_charset": _wrong_charset,
    "empty": _empty,
    "junk": _junk,
    "nesting": _nesting,
}


@dataclass
class MutationReport:
    tried: int = 0
    listings: int = 0
    page_errors: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def survived(self) -> int:
        return self.tried - len(self.failures)


def _spider(folder: str) -> Any:
    from crawler.spider import load_spider_class

    path, _url = SPIDERS[folder]
    cls = load_spider_class(path)
    spider = cls.from_crawler(get_crawler(cls), terms=["x"])
    return spider


def _generic() -> Any:
    from crawler.spider import load_spider_class

    cls = load_spider_class("spiders.generic:GenericSpider")
    config = {
        "search_url": "https://shop.example/s?q={term}&p={page}",
        "selectors": GENERIC_SELECTORS,
    }
    return cls.from_crawler(get_crawler(cls), marketplace="shop", config=config, terms=["x"])


def fixture_pages() -> Iterator[tuple[str, Path]]:
    for folder in sorted(SPIDERS):
        for path in sorted((FIX / folder).iterdir()):
            if path.suffix in (".html", ".json", ".js"):
                yield folder, path


def _response(body: bytes, url: str, meta: dict[str, Any]) -> HtmlResponse:
    request = Request(url, meta=meta)
    return HtmlResponse(url, body=body, request=request, headers={"Content-Type": "text/html"})


def _one(
    spider: Any, body: bytes, url: str, product: bool, report: MutationReport, case: str
) -> None:
    """One mutant through the parser the crawl would call; record the outcome.

    Search pages go through `parse_search` (what a crawl runs: decoding, the spider's
    `parse_results` and its pure parse function, the accept checks). It turns a
    `PageError` into a counted drop with its reason, and any other exception into the
    drop `parse_error`: that one is a bug, and the page is parsed again directly to
    report the exception and where it came from.
    """
    report.tried += 1
    try:
        response = _response(body, url, {"search_term": "x", "search_page": 1})
        if product:
            seed = Listing(marketplace=spider.name, listing_id="1", title="seed", url=url)
            out = spider.parse_product_page(spider.text_response(response), seed)
            assert isinstance(out, Listing), f"parse_product_page returned {type(out).__name__}"
            return
        stats = spider.crawler.stats
        before = {k: v for k, v in stats.get_stats().items() if k.startswith("markwatch/dropped/")}
        listings = [x for x in spider.parse_search(response) if isinstance(x, Listing)]
        report.listings += len(listings)
        after = {k: v for k, v in stats.get_stats().items() if k.startswith("markwatch/dropped/")}
        for key, value in after.items():
            if value != before.get(key, 0):
                report.dropped[key.rsplit("/", 1)[1]] += value - before.get(key, 0)
        if after.get("markwatch/dropped/parse_error", 0) != before.get(
            "markwatch/dropped/parse_error", 0
        ):
            spider.parse_results(spider.text_response(response))  # raises the hidden exception
            raise AssertionError("parse_error drop without an exception")
    except PageError as exc:
        report.page_errors[exc.reason] += 1
    except Exception as exc:  # noqa: BLE001 - the bug this suite looks for
        where = [f for f in traceback.extract_tb(exc.__traceback__) if "/tests/" not in f.filename]
        at = f" at {Path(where[-1].filename).name}:{where[-1].lineno}" if where else ""
        report.failures.append(f"{case}: {exc.__class__.__name__}: {str(exc)[:200]}{at}")


def run_mutations(per_page: int, seed: int = SEED) -> MutationReport:
    """`per_page` mutants of every saved page through its spider (and the generic one)."""
    rng = random.Random(seed)
    report = MutationReport()
    spiders = {folder: _spider(folder) for folder in SPIDERS}
    generic = _generic()
    kinds = list(MUTATIONS)
    for folder, path in fixture_pages():
        body = path.read_bytes()
        product = bool(PRODUCT_PAGE.match(path.name))
        url = SPIDERS[folder][1]
        for n in range(per_page):
            kind = kinds[n % len(kinds)]
            mutant = MUTATIONS[kind](rng, body)
            case = f"{folder}/{path.name}#{n}:{kind}"
            spiders[folder]._seen.clear()
            _one(spiders[folder], mutant, url, product, report, case)
            if n % 4 == 0 and not product:
                generic._seen.clear()
                _one(generic, mutant, url, False, report, case + ":generic")
    return report


def test_a_thousand_mutants_raise_nothing_but_page_errors():
    report = run_mutations(per_page=32)
    assert report.tried >= 1000, report.tried
    assert report.failures == [], "\n".join(report.failures[:20])
    # The outcomes are counted: some pages still give listings, most damaged ones are
    # refused with a reason, and the crawl's own path counts its drops.
    assert report.listings > 0
    drops = report.dropped + report.page_errors
    assert sum(drops.values()) > 500, drops
    assert all(re.fullmatch(r"[a-z0-9_]+", reason) for reason in drops), drops
    assert "parse_error" not in report.dropped


def test_each_mutation_family_is_exercised_on_every_marketplace():
    rng = random.Random(SEED)
    for folder, path in fixture_pages():
        body = path.read_bytes()
        for name, mutate in MUTATIONS.items():
            out = mutate(rng, body)
            assert isinstance(out, bytes)
            if name in ("truncate", "break_json", "junk", "delete_nodes") and len(body) > 100:
                assert out != body or name == "delete_nodes", (folder, path.name, name)


def test_a_spider_page_error_is_a_counted_drop_with_its_reason():
    spider = _spider("aliexpress")
    response = _response(
        b"<html><body>nothing here</body></html>",
        SPIDERS["aliexpress"][1],
        {"search_term": "x", "search_page": 1},
    )
    assert list(spider.parse_search(response)) == []
    dropped = {
        k: v
        for k, v in spider.crawler.stats.get_stats().items()
        if k.startswith("markwatch/dropped/")
    }
    assert dropped and all(v == 1 for v in dropped.values()), dropped
