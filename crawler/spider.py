"""The base class every marketplace spider extends, and `run_crawl` to run one.

A marketplace spider is a name, a search URL and parse methods::

    class AcmeMarketSpider(MarketSpider):
        name = "acmemarket"
        default_base_url = "https://www.acmemarket.example"
        default_currency = "USD"

        def search_url(self, term: str, page: int) -> str:
            return f"{self.base_url}/search?q={quote_plus(term)}&page={page}"

        def parse_results(self, response) -> list[Listing]:
            return parse_search_page(response.text, response.url)   # a pure function

Spider arguments (keywords; strings are accepted, as from `scrapy crawl -a`):
`base_url`, `max_pages`, `download_delay`, `concurrency`, `user_agent`,
`obey_robots`, `use_browser` (the client file's marketplace block; explicit arguments
win over `config`), `config` (a `MarketplaceConfig` or its dict), `client` (a `Client`
or the path of its file: gives the config block and, without `terms`, the queries of
`crawler.queries.queries_for`), `terms` (a list or "a, b"), `retries`, `autothrottle`.

Everything else is here: search requests for every term and page (`async def start()`),
paging up to `max_pages`, following product pages when the search page lacks key
fields (`needs_product_page` / `parse_product_page`), per-marketplace politeness
settings from the client file, browser pages through scrapy-playwright per request,
and bookkeeping in the crawl stats:

- ``markwatch/pages``: search pages parsed; ``markwatch/listings``: listings yielded;
- ``markwatch/dropped/<reason>``: a page or a listing that could not be used
  (``PageError`` reason, ``missing_id``, ``missing_title``, ``parse_error``...);
  ``markwatch/pages_dropped/<reason>``: the search pages among them (`unusable_pages`
  turns "no listing, some pages unusable" into a failure reason);
- ``markwatch/duplicates``: listings already yielded in the same crawl run (a spider
  serving many runs, as a worker's does, keeps the keys of its latest runs only);
- ``markwatch/zero_results``: searches whose first page had no listings;
- ``markwatch/download_delay``, ``concurrency``, ``robots_obeyed``, ``browser``, ``terms``:
  the politeness and scope actually in force;
- ``markwatch/errors/<type>``: failed downloads; ``markwatch/product_page_failed/<reason>``;
- ``markwatch/blocked`` (reason) and ``markwatch/blocked_url``: set by
  `crawler.middlewares.BlockDetectionMiddleware`, which also closes the spider with
  the close reason ``"blocked"``, so a run can tell "blocked" from "0 results".

`run_crawl(spider_cls, settings, **spider_kwargs) -> CrawlResult` runs one crawl in a
fresh Python process by default (a Twisted reactor cannot restart within a process),
so tests and the monitoring loop can call it as often as they like.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import subprocess
import sys
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import scrapy
from scrapy import signals
from scrapy.http import Response, TextResponse

from crawler.config import Client, MarketplaceConfig, load_client
from crawler.items import Listing
from crawler.parsing import PageError, decode_response

# Settings keys the spider sets from the client file's marketplace block.
_CONFIG_FIELDS = (
    "base_url",
    "max_pages",
    "download_delay",
    "concurrency",
    "user_agent",
    "obey_robots",
    "use_browser",
)

BLOCKED = "blocked"


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


async def wait_for_selector_quietly(page: Any, selector: str, timeout_ms: int) -> bool:
    """Wait for `selector`; on timeout return False instead of failing the download, so a
    block page (which never shows the results) still reaches the block detection."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        await page.wait_for_selector(selector, timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    return True


class MarketSpider(scrapy.Spider):
    """Base spider: search every term, page through results, yield `Listing` items.

    Subclasses set `name`, `default_base_url`, and implement `search_url` and
    `parse_results` (usually a thin wrapper around a pure module-level function
    so saved pages can be tested without Scrapy). Optional hooks:
    `needs_product_page`, `parse_product_page`, `has_next_page`, `block_reason`,
    `browser_page_methods`.
    """

    name: ClassVar[str] = "market"
    #: The site needs JavaScript: search pages go through Chromium (scrapy-playwright).
    requires_browser: ClassVar[bool] = False
    #: Chinese-language site: queries use the Chinese terms and keywords.
    chinese_site: ClassVar[bool] = False
    default_base_url: ClassVar[str] = ""
    #: Currency assumed when a page shows a bare number.
    default_currency: ClassVar[str | None] = None
    #: CSS selector the browser waits for before the page is handed to the parser.
    browser_wait_selector: ClassVar[str | None] = None
    #: How long to wait for it; then the page is parsed (or judged a block page) as it is.
    browser_wait_ms: ClassVar[int] = 15000
    #: Listing keys are remembered for this many crawl runs at most: a long-lived
    #: spider (a worker's) serves run after run and must not grow without end.
    seen_runs_kept: ClassVar[int] = 4

    def __init__(
        self,
        *,
        base_url: str | None = None,
        max_pages: int | str | None = None,
        download_delay: float | str | None = None,
        concurrency: int | str | None = None,
        user_agent: str | None = None,
        obey_robots: bool | str | None = None,
        use_browser: bool | str | None = None,
        terms: Iterable[str] | str | None = None,
        client: Client | str | os.PathLike[str] | None = None,
        config: MarketplaceConfig | dict[str, Any] | None = None,
        retries: int | str | None = None,
        autothrottle: bool | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(client, (str, os.PathLike)):
            client = load_client(client)  # `scrapy crawl NAME -a client=markwatch.yaml`
        self.client: Client | None = client
        if config is None and client is not None:
            config = client.marketplaces.get(self.name)
        if isinstance(config, dict):
            config = MarketplaceConfig.model_validate(config)
        cfg = config or MarketplaceConfig()
        explicit = {
            "base_url": base_url,
            "max_pages": max_pages,
            "download_delay": download_delay,
            "concurrency": concurrency,
            "user_agent": user_agent,
            "obey_robots": obey_robots,
            "use_browser": use_browser,
        }
        merged = {
            k: (explicit[k] if explicit[k] is not None else getattr(cfg, k)) for k in _CONFIG_FIELDS
        }
        self.base_url: str = str(merged["base_url"] or self.default_base_url).rstrip("/")
        self.max_pages: int = int(merged["max_pages"])
        self.delay: float = float(merged["download_delay"])
        self.concurrency: int = int(merged["concurrency"])
        self.agent: str | None = merged["user_agent"]
        self.obey_robots: bool = bool(_as_bool(merged["obey_robots"]))
        browser = _as_bool(merged["use_browser"])
        self.use_browser: bool = self.requires_browser if browser is None else browser
        self.market_config = cfg
        # Not (yet) keys of the client file: spider arguments, or fields a config may add.
        retries = retries if retries is not None else getattr(cfg, "retries", None)
        self.retries: int | None = None if retries is None else int(retries)
        throttle = autothrottle if autothrottle is not None else getattr(cfg, "autothrottle", None)
        self.autothrottle: bool | None = _as_bool(throttle)
        if isinstance(terms, str):
            terms = [t for t in (x.strip() for x in terms.split(",")) if t]
        if terms is None and client is not None:
            from crawler.queries import queries_for

            terms = queries_for(client, self.name, chinese=self.chinese_site)
        self.terms: list[str] = list(dict.fromkeys(terms or []))
        # Listing keys already yielded, per crawl run (see `crawl_run`), oldest run first.
        self._seen: OrderedDict[Hashable, set[str]] = OrderedDict()

    # -- settings ---------------------------------------------------------

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> MarketSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Settings are still writable here (Scrapy >= 2.11 freezes them after this).
        if not crawler.settings.frozen:
            for key, value in spider.crawl_settings().items():
                crawler.settings.set(key, value, priority="spider")
        return spider

    def crawl_settings(self) -> dict[str, Any]:
        """Scrapy settings derived from the marketplace block of the client file."""
        out: dict[str, Any] = {
            "DOWNLOAD_DELAY": self.delay,
            "CONCURRENT_REQUESTS_PER_DOMAIN": self.concurrency,
            "ROBOTSTXT_OBEY": self.obey_robots,
            # AutoThrottle never goes below the configured politeness delay.
            "AUTOTHROTTLE_START_DELAY": max(self.delay, 0.0),
            "AUTOTHROTTLE_TARGET_CONCURRENCY": float(self.concurrency),
        }
        if self.agent:
            out["USER_AGENT"] = self.agent
        if self.retries is not None:
            out["RETRY_TIMES"] = self.retries
        if self.autothrottle is not None:
            out["AUTOTHROTTLE_ENABLED"] = self.autothrottle
        if not self.use_browser:
            # No browser wanted: keep the plain HTTP handlers so no browser driver starts.
            out["DOWNLOAD_HANDLERS"] = {}
        return out

    # -- requests ---------------------------------------------------------

    def search_url(self, term: str, page: int) -> str:
        """The URL of result page `page` (1-based) for `term`, built from `self.base_url`."""
        raise NotImplementedError(f"{type(self).__name__} must define search_url(term, page)")

    def browser_page_methods(self) -> list[Any]:
        """Playwright page methods run before the page is returned (browser requests only)."""
        if not self.browser_wait_selector:
            return []
        from scrapy_playwright.page import PageMethod

        return [
            PageMethod(wait_for_selector_quietly, self.browser_wait_selector, self.browser_wait_ms)
        ]

    def browser_meta(self, search: bool = True) -> dict[str, Any]:
        """Request meta for a browser page; the wait selector applies to search pages only."""
        if not self.use_browser:
            return {}
        return {
            "playwright": True,
            "playwright_page_methods": self.browser_page_methods() if search else [],
        }

    def search_request(self, term: str, page: int = 1) -> scrapy.Request:
        return scrapy.Request(
            self.search_url(term, page),
            callback=self.parse_search,
            errback=self.on_error,
            meta={"search_term": term, "search_page": page, **self.browser_meta()},
        )

    async def start(self) -> AsyncIterator[Any]:
        if getattr(self, "crawler", None) is not None:
            # The politeness actually in force, for the run report.
            settings, stats = self.crawler.settings, self.crawler.stats
            stats.set_value("markwatch/download_delay", settings.getfloat("DOWNLOAD_DELAY"))
            stats.set_value(
                "markwatch/concurrency", settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
            )
            stats.set_value("markwatch/robots_obeyed", settings.getbool("ROBOTSTXT_OBEY"))
            stats.set_value("markwatch/browser", self.use_browser)
            stats.set_value("markwatch/terms", len(self.terms))
        if not self.terms:
            self.logger.warning("%s: no search terms; nothing to crawl", self.name)
        for term in self.terms:
            yield self.search_request(term, 1)

    # -- parsing ----------------------------------------------------------

    def parse_results(self, response: TextResponse) -> list[Listing]:
        """Listings on a search results page; raise `PageError(reason)` for an unusable page."""
        raise NotImplementedError(f"{type(self).__name__} must define parse_results(response)")

    def has_next_page(self, response: TextResponse, listings: list[Listing]) -> bool:
        """Whether another result page exists; by default: this page had listings."""
        return bool(listings)

    def needs_product_page(self, listing: Listing) -> bool:
        """Whether the search page lacked key fields that the product page has."""
        return False

    def parse_product_page(self, response: TextResponse, listing: Listing) -> Listing:
        """Complete `listing` from its product page; raise `PageError` when unusable."""
        return listing

    def block_reason(self, response: Response) -> str | None:
        """A short reason when `response` is a block page (captcha, login wall...), else None."""
        from crawler.middlewares import detect_block

        return detect_block(response)

    def text_response(self, response: Response) -> TextResponse:
        """The response decoded with a charset sniffer that does not trust a lying meta tag."""
        return decode_response(response)

    def _count(self, key: str, n: int = 1) -> None:
        if getattr(self, "crawler", None) is not None:
            self.crawler.stats.inc_value(key, n)

    def drop(self, reason: str, detail: str = "") -> None:
        """Count an unusable page or listing under `markwatch/dropped/<reason>`."""
        self._count(f"markwatch/dropped/{reason}")
        self.logger.info("dropped (%s) %s", reason, detail)

    def crawl_run(self, response: Response) -> Hashable:
        """The crawl run `response` belongs to; duplicates are dropped within a run only.

        A plain spider crawls one run in its lifetime (None); a spider that serves many
        runs (a worker's, see `crawler.distributed`) returns the run of the request.
        """
        return None

    def seen_in(self, run: Hashable) -> set[str]:
        """The listing keys already yielded in `run`; only the latest runs are kept."""
        seen = self._seen.get(run)
        if seen is None:
            seen = self._seen[run] = set()
            while len(self._seen) > max(1, self.seen_runs_kept):
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(run)
        return seen

    def drop_page(self, response: Response, reason: str, detail: str = "") -> None:
        """Count an unusable search page: under ``markwatch/dropped/<reason>`` as any drop,
        and under ``markwatch/pages_dropped/<reason>``, so a crawl whose result pages were
        all unusable is told from one that found nothing (`unusable_pages`)."""
        self._count(f"markwatch/pages_dropped/{reason}")
        self.drop(reason, f"{response.url}: {detail}")

    def _accept(self, listing: Listing, response: Response) -> Listing | None:
        """Check a parsed listing; fill the common fields; drop it with a reason when unusable."""
        if not listing.listing_id:
            self.drop("missing_id", response.url)
            return None
        if not (listing.title or "").strip():
            self.drop("missing_title", f"{listing.listing_id} on {response.url}")
            return None
        listing.marketplace = listing.marketplace or self.name
        listing.search_term = listing.search_term or response.meta.get("search_term")
        listing.page_url = listing.page_url or response.url
        if listing.price is not None and not listing.currency:
            listing.currency = self.default_currency
        return listing

    def parse_search(self, response: Response) -> Iterator[Any]:
        term = response.meta.get("search_term", "")
        page = int(response.meta.get("search_page", 1))
        self._count("markwatch/pages")
        try:
            text = self.text_response(response)
            listings = self.parse_results(text)
        except PageError as exc:
            self.drop_page(response, exc.reason, exc.detail)
            return
        except Exception as exc:  # a parser bug must not end the crawl of other terms
            self.logger.exception("parse error on %s", response.url)
            self.drop_page(response, "parse_error", exc.__class__.__name__)
            return
        if page == 1 and not listings:
            self._count("markwatch/zero_results")
        seen = self.seen_in(self.crawl_run(response))
        for listing in listings:
            ok = self._accept(listing, response)
            if ok is None:
                continue
            if ok.key in seen:
                self._count("markwatch/duplicates")
                continue
            seen.add(ok.key)
            if self.needs_product_page(ok) and ok.url:
                yield scrapy.Request(
                    ok.url,
                    callback=self.parse_product,
                    errback=self.on_product_error,
                    cb_kwargs={"listing": ok},
                    meta={"search_term": term, **self.browser_meta(search=False)},
                )
            else:
                self._count("markwatch/listings")
                yield ok
        if page < self.max_pages and self.has_next_page(text, listings):
            yield self.search_request(term, page + 1)

    def parse_product(self, response: Response, listing: Listing) -> Iterator[Any]:
        try:
            listing = self.parse_product_page(self.text_response(response), listing)
        except PageError as exc:
            # The search page already gave id and title: keep the listing, note the gap.
            self._count(f"markwatch/product_page_failed/{exc.reason}")
        except Exception as exc:
            self.logger.exception("product page parse error on %s", response.url)
            self._count(f"markwatch/product_page_failed/parse_error_{exc.__class__.__name__}")
        self._count("markwatch/listings")
        yield listing

    def on_product_error(self, failure: Any) -> Iterator[Listing]:
        """A product page that failed (404, timeout): keep what the search page gave."""
        self.on_error(failure)
        if (
            self.crawler.stats.get_value("markwatch/blocked")
            if getattr(self, "crawler", None)
            else False
        ):
            return
        listing = failure.request.cb_kwargs.get("listing") if hasattr(failure, "request") else None
        if listing is not None:
            self._count("markwatch/product_page_failed/download")
            self._count("markwatch/listings")
            yield listing

    def failure_kind(self, failure: Any) -> str | None:
        """The name a failed request is counted under, None when it is no error."""
        kind = failure.type.__name__ if getattr(failure, "type", None) else "error"
        blocked = getattr(self, "crawler", None) is not None and self.crawler.stats.get_value(
            "markwatch/blocked"
        )
        if kind == "IgnoreRequest" and blocked:
            return None  # requests dropped because the site blocked us are the block, not errors
        return kind

    def on_error(self, failure: Any) -> None:
        """Count download failures by type; a failure of one page does not end the crawl."""
        kind = self.failure_kind(failure)
        if kind is None:
            return
        self._count(f"markwatch/errors/{kind}")
        self.logger.warning(
            "request failed (%s): %s",
            kind,
            failure.request.url if hasattr(failure, "request") else "",
        )


# -- running a crawl --------------------------------------------------------


@dataclass
class CrawlResult:
    """What one crawl produced: items, the final stats and the close reason."""

    items: list[Listing] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    close_reason: str | None = None
    #: The last lines of the crawl's log (isolated runs only), for diagnosing failures.
    log_tail: str = ""

    @property
    def blocked(self) -> bool:
        return self.close_reason == BLOCKED

    @property
    def block_reason(self) -> str | None:
        return self.stats.get("markwatch/blocked")

    @property
    def dropped(self) -> dict[str, int]:
        prefix = "markwatch/dropped/"
        return {k[len(prefix) :]: v for k, v in self.stats.items() if k.startswith(prefix)}

    @property
    def unusable(self) -> str | None:
        """Why this crawl's result pages were unusable (see `unusable_pages`), else None."""
        return unusable_pages(self.stats)


def unusable_pages(stats: dict[str, Any]) -> str | None:
    """"20 of 20 result pages unusable: no_listing_json" when a crawl yielded no listing
    while some of its result pages were dropped as unusable; None otherwise.

    Such a crawl did not find "no results": it could not read what the site showed (a
    JavaScript-only page, a changed layout). One whose pages parsed fine but held no
    listings (`markwatch/zero_results`) is a genuine zero and gives None.
    """
    prefix = "markwatch/pages_dropped/"
    dropped = {k[len(prefix) :]: int(v) for k, v in stats.items() if k.startswith(prefix) and v}
    if not dropped or int(stats.get("markwatch/listings", 0) or 0) > 0:
        return None
    total = sum(dropped.values())
    pages = max(int(stats.get("markwatch/pages", 0) or 0), total)
    ranked = sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))
    reasons = ", ".join(r if len(ranked) == 1 else f"{r} ({n})" for r, n in ranked)
    return f"{total} of {pages} result pages unusable: {reasons}"


def nothing_fetched(stats: dict[str, Any]) -> str | None:
    """"no result page could be fetched: 42 requests failed (ConnectionRefusedError 42)"
    when a crawl got neither a result page nor a listing back while requests failed
    (the site is down, or answers errors to everything); None otherwise.

    Failures are counted per kind as ``markwatch/errors/<kind>``; requests refused as
    unsafe (a redirect to a private address) as ``markwatch/refused_unsafe``.
    """
    prefix = "markwatch/errors/"
    kinds = {k[len(prefix) :]: int(v) for k, v in stats.items() if k.startswith(prefix) and v}
    errors = sum(kinds.values()) + int(stats.get("log_count/ERROR", 0) or 0)
    if not errors or int(stats.get("markwatch/pages", 0) or 0) or int(stats.get("markwatch/listings", 0) or 0):
        return None
    ranked = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    refused = int(stats.get("markwatch/refused_unsafe", 0) or 0)
    return (
        f"no result page could be fetched: {errors} requests failed"
        + (f" ({', '.join(f'{kind} {n}' for kind, n in ranked)})" if ranked else "")
        + (f"; {refused} led to addresses refused as unsafe" if refused else "")
    )


class CrawlFailed(RuntimeError):
    """The crawl's child process failed: a one-line message naming its last error.

    `log_tail` keeps the last lines of the child's output for a closer look.
    """

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


#: Longest error line quoted from a crawl's output.
ERROR_LINE_LIMIT = 300
_LOGGED_ERROR = re.compile(r"\b(?:ERROR|CRITICAL): (.+)")


def _bounded(line: str, limit: int = ERROR_LINE_LIMIT) -> str:
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def last_error_line(output: str, limit: int = ERROR_LINE_LIMIT) -> str:
    """The last meaningful error line of a crawl's output, on one line of at most `limit`.

    That is whichever comes last: the exception line of the last traceback (the first
    unindented line after "Traceback (most recent call last):") or the message of the
    last ERROR/CRITICAL log line; failing both, the last non-blank line; "" for none.
    """
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    best: tuple[int, str] | None = None
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if starts:
        for i in range(starts[-1] + 1, len(lines)):
            # Frames and source lines are indented; Twisted adds "--- <...> ---" markers.
            if not lines[i][0].isspace() and not lines[i].startswith("---"):
                best = (i, lines[i])
                break
    for i in range(len(lines) - 1, -1, -1):
        found = _LOGGED_ERROR.search(lines[i])
        if found:
            if best is None or i > best[0]:
                best = (i, found.group(1))
            break
    if best is None and lines:
        best = (len(lines) - 1, lines[-1])
    return _bounded(best[1], limit) if best else ""


def failure_reason(exc: BaseException, limit: int = 500) -> str:
    """`exc` as one bounded line for a run report: its first line, plus the last error
    line of whatever output follows it (a child's stderr tail); the class name if empty."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return exc.__class__.__name__
    head, rest = lines[0].strip(), "\n".join(lines[1:])
    detail = last_error_line(rest, limit) if rest.strip() else ""
    if detail and detail not in head:
        head = f"{head.rstrip(':')}: {detail}" if head.endswith(":") else f"{head} ({detail})"
    return _bounded(head, limit)


def _class_path(spider_cls: type[scrapy.Spider] | str) -> str:
    if isinstance(spider_cls, str):
        return spider_cls
    return f"{spider_cls.__module__}:{spider_cls.__qualname__}"


def load_spider_class(path: str) -> type[MarketSpider]:
    """A spider class from "module:Class" or from a spider name ("amazon")."""
    if ":" in path:
        module, _, qualname = path.partition(":")
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    from scrapy.spiderloader import SpiderLoader

    return SpiderLoader.from_settings(project_settings()).load(path)


def _spider_or_generic(name: str, spider_kwargs: dict[str, Any]) -> type[scrapy.Spider]:
    """The spider called `name`; a marketplace without its own spider whose config has
    `search_url` and `selectors` gets the generic spider (`spider_kwargs` gains `marketplace`)."""
    try:
        return load_spider_class(name)
    except KeyError:
        config = spider_kwargs.get("config")
        fields = config if isinstance(config, dict) else getattr(config, "__dict__", {})
        if ":" in name or not (fields.get("search_url") and fields.get("selectors")):
            raise
        spider_kwargs.setdefault("marketplace", name)
        return load_spider_class("generic")


def project_settings(overrides: dict[str, Any] | None = None) -> Any:
    """The project's Scrapy settings (`crawler.settings`) with `overrides` on top."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    if overrides:
        settings.update(overrides, priority="cmdline")
    return settings


def crawl_in_this_process(
    spider_cls: type[scrapy.Spider] | str,
    settings: dict[str, Any] | None = None,
    **spider_kwargs: Any,
) -> CrawlResult:
    """Run one crawl in this process (starts the reactor: once per process only)."""
    from scrapy.crawler import CrawlerProcess

    if isinstance(spider_cls, str):
        cls = _spider_or_generic(spider_cls, spider_kwargs)
    else:
        cls = spider_cls
    result = CrawlResult()
    process = CrawlerProcess(project_settings(settings))
    crawler = process.create_crawler(cls)

    def on_item(item: Any) -> None:
        result.items.append(item)

    def on_closed(spider: Any, reason: str) -> None:
        result.close_reason = reason

    crawler.signals.connect(on_item, signal=signals.item_scraped)
    crawler.signals.connect(on_closed, signal=signals.spider_closed)
    process.crawl(crawler, **spider_kwargs)
    process.start()
    result.stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    return result


def run_crawl(
    spider_cls: type[scrapy.Spider] | str,
    settings: dict[str, Any] | None = None,
    *,
    isolate: bool = True,
    timeout: float | None = 600.0,
    **spider_kwargs: Any,
) -> CrawlResult:
    """Crawl with `spider_cls` (a class, "module:Class" or a spider name) and return the result.

    `settings` override `crawler.settings`; `spider_kwargs` go to the spider
    (`terms=[...]`, `base_url=...`, `client=...`, `config=...`, `max_pages=...`).
    With `isolate` (the default) the crawl runs in a fresh Python process, so this
    can be called many times from one process; items and stats come back pickled.
    Raises RuntimeError when the child process exceeds `timeout` seconds, and its
    subclass `CrawlFailed` when the child fails: one line ending with the child's last
    error line (`last_error_line`), e.g. "crawl with x failed (exit 1): KeyError: ...".

    Example::

        result = run_crawl("amazon", {"LOG_LEVEL": "WARNING"},
                           base_url="http://127.0.0.1:8080/amazon", terms=["acme"])
        if result.blocked: print("blocked:", result.block_reason)
    """
    if not isolate:
        return crawl_in_this_process(spider_cls, settings, **spider_kwargs)
    with tempfile.TemporaryDirectory(prefix="markwatch-crawl-") as tmp:
        job, out = Path(tmp, "job.pkl"), Path(tmp, "result.pkl")
        job.write_bytes(pickle.dumps((_class_path(spider_cls), settings or {}, spider_kwargs)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [p for p in sys.path if p] + [env.get("PYTHONPATH", "")]
        )
        env[PARENT_ENV] = str(os.getpid())
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "crawler.spider", str(job), str(out)],
                env=env,
                timeout=timeout,
                capture_output=True,
                text=True,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"crawl with {_class_path(spider_cls)} exceeded {timeout} s"
            ) from None
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-40:])
            why = last_error_line(proc.stderr)
            if proc.returncode < 0:
                why = f"killed by signal {-proc.returncode}" + (f"; {why}" if why else "")
            raise CrawlFailed(
                f"crawl with {_class_path(spider_cls)} failed (exit {proc.returncode}): "
                + (why or "no error output"),
                tail,
            )
        result: CrawlResult = pickle.loads(out.read_bytes())
        result.log_tail = "\n".join(proc.stderr.strip().splitlines()[-40:])
        return result


PARENT_ENV = "MARKWATCH_CRAWL_PARENT"


def _die_with_parent() -> None:
    """End this crawl child when the process that started it dies (a `run` killed with
    SIGKILL, an OOM kill): an orphan would crawl on beside the next cycle. Linux only."""
    import ctypes
    import signal

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit() and os.getppid() != int(parent):
        try:
            os.kill(int(parent), 0)
        except ProcessLookupError:
            os._exit(1)  # the parent died before the request above took effect
        except OSError:
            pass


def _child_main(job: str, out: str) -> None:
    _die_with_parent()
    spider_path, settings, kwargs = pickle.loads(Path(job).read_bytes())
    result = crawl_in_this_process(spider_path, settings, **kwargs)
    Path(out).write_bytes(pickle.dumps(result))


if __name__ == "__main__":
    # Import by module name so pickled results refer to crawler.spider, not __main__.
    from crawler.spider import _child_main as _main

    _main(sys.argv[1], sys.argv[2])
