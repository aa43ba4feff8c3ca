"""Scrapy settings of markwatch (`scrapy.cfg` points here; `run_crawl` loads them).

Per-marketplace politeness (download delay, concurrency, user agent, robots.txt)
comes from the client file and is applied by `crawler.spider.MarketSpider`; the
values here are the defaults. Browser pages go through scrapy-playwright only for
requests with `meta={"playwright": True}`; Chromium is Debian's (`MARKWATCH_CHROMIUM`
overrides the path).
"""

from __future__ import annotations

import os

BOT_NAME = "markwatch"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
ROBOTSTXT_OBEY = True

# Politeness: a marketplace is crawled slowly; AutoThrottle slows down further when
# the site answers slowly and never goes below DOWNLOAD_DELAY.
DOWNLOAD_DELAY = 2.0
# Wait between 0.5x and 1.5x DOWNLOAD_DELAY, so requests do not tick like a clock.
DOWNLOAD_DELAY_JITTER = 0.5
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Items of one response in the pipelines at once. Scrapy starts that many tasks for every
# response, and a product page yields one listing: 100 (the default) cost about 10 % of
# the crawl's CPU for nothing, since photo downloads queue per domain anyway.
CONCURRENT_ITEMS = 16
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30

RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 1.0  # seconds before the first retry, doubled for each further one
RETRY_BACKOFF_MAX = 30.0

COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = os.environ.get("MARKWATCH_LOG_LEVEL", "INFO")

DOWNLOADER_MIDDLEWARES = {
    # First: every request, redirect hops included, to a public or allowed address only.
    "crawler.middlewares.NetGuardMiddleware": 50,
    # Retries with exponential back-off instead of Scrapy's immediate ones.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    # Before HttpProxyMiddleware (750) so it sees the proxy in request.meta.
    "crawler.middlewares.ProxyFromEnvMiddleware": 350,
    # process_response runs in descending order: after decompression (590) and
    # retries (550), so only the final answer is judged.
    "crawler.middlewares.BlockDetectionMiddleware": 540,
}
# The address Scrapy connects to is checked too (DNS rebinding; see GuardedResolver).
DNS_RESOLVER = "crawler.middlewares.GuardedResolver"
MARKWATCH_BLOCK_DETECTION = True

# Item pipelines (normalise, images, store, assess) are set by the run that
# stores results; a bare crawl only yields items.
ITEM_PIPELINES: dict[str, int] = {}

# Browser pages: scrapy-playwright handles only requests marked playwright=True.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DOWNLOAD_HANDLERS = {
    "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
}
PLAYWRIGHT_BROWSER_TYPE = "chromium"
# How markwatch runs Chromium everywhere (crawl pages here, evidence in crawler.evidence).
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PLAYWRIGHT_LAUNCH_OPTIONS = {
    "executable_path": os.environ.get("MARKWATCH_CHROMIUM") or DEFAULT_CHROMIUM,
    "headless": True,
    "args": list(CHROMIUM_ARGS),
}
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
PLAYWRIGHT_MAX_CONTEXTS = 2
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 2

FEED_EXPORT_ENCODING = "utf-8"
