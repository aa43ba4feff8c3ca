"""Downloader middlewares: block detection, proxies from the environment, the SSRF
guard on every request (redirect hops included) and retries with back-off.

`BlockDetectionMiddleware` looks at every response (plain HTTP and browser pages
alike) for captcha and slider pages, login walls, Alibaba "punish" pages, Akamai
"Access Denied" and similar. On a block it records the reason in the crawl stats
(`markwatch/blocked`, `markwatch/blocked_url`) and closes the spider with the close
reason "blocked", so a run ends as blocked and never as "0 results".

`ProxyFromEnvMiddleware` sends requests through `MARKWATCH_PROXY_<NAME>` (the
spider name upper-cased, e.g. `MARKWATCH_PROXY_ALIEXPRESS`) or `MARKWATCH_PROXY`;
the proxy URL is logged with its credentials masked.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response, TextResponse
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import deferred_from_coro

# URL markers: where marketplaces redirect blocked or logged-out visitors.
_URL_MARKERS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"/punish|_____tmd_____|/x5secdata|sec\.taobao\.com|/baxia", re.IGNORECASE),
        "punish_page",
    ),
    (
        re.compile(r"/errors/validatecaptcha|/captcha|/verify(?:ify)?[/?]|/sorry/", re.IGNORECASE),
        "captcha",
    ),
    (
        re.compile(
            r"login\.taobao\.com|login\.tmall\.com|login\.1688\.com|passport\.jd\.com|login\.aliexpress\.com"
            r"|passport\.alibaba\.com|signin\.ebay\.|/ap/signin|mobile\.yangkeduo\.com/login|/login\.html",
            re.IGNORECASE,
        ),
        "login_wall",
    ),
]

# Body markers, checked in the first part of the page only: specific ids and
# phrases of block pages, not words a listing title could contain.
_BODY_MARKERS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"errors\.edgesuite\.net|<title>\s*Access Denied\s*</title>", re.IGNORECASE),
        "akamai_access_denied",
    ),
    (
        re.compile(
            r"validateCaptcha|Type the characters you see in this image|api-services-support@amazon",
            re.IGNORECASE,
        ),
        "captcha",
    ),
    (
        re.compile(
            r"nc_1_n1z|nocaptcha|baxia-dialog|x5sec|punish-component|TMD_PUNISH|slide to verify|滑动验证|请按住滑块|请拖动下方滑块|verify_auth_token",
            re.IGNORECASE,
        ),
        "slider_captcha",
    ),
    (
        re.compile(
            r"Pardon Our Interruption|px-captcha|g-recaptcha|h-captcha|cf-chl-|Verify you are human|Just a moment\.\.\.</title>",
            re.IGNORECASE,
        ),
        "captcha",
    ),
    (
        re.compile(
            # Short titles only: a product page title may well mention "captcha" or "login".
            r"<title[^>]*>[^<]{0,25}(?:验证码|安全验证|访问受限|访问被拒绝|Robot Check|Security Check|Captcha)[^<]{0,25}</title>",
            re.IGNORECASE,
        ),
        "captcha",
    ),
    (
        re.compile(
            r"<title[^>]*>[^<]{0,25}(?:登录|登陆|Sign in|Sign-In|Log in|Login)[^<]{0,25}</title>",
            re.IGNORECASE,
        ),
        "login_wall",
    ),
]

_HEAD_BYTES = 40_000


def detect_block(response: Response) -> str | None:
    """A short reason ("captcha", "login_wall", "akamai_access_denied", ...) or None."""
    urls = (
        [response.url, *response.meta.get("redirect_urls", [])]
        if _has_meta(response)
        else [response.url]
    )
    for url in urls:
        for pattern, reason in _URL_MARKERS:
            if pattern.search(
                urlsplit(url).netloc + urlsplit(url).path + "?" + urlsplit(url).query
            ):
                return reason
    if not isinstance(response, TextResponse):
        # Images and other files: a refused image (hotlink protection) is not a blocked site.
        return None
    head = response.body[:_HEAD_BYTES]
    try:
        text = response.text[:_HEAD_BYTES]
    except (UnicodeError, LookupError, AttributeError):  # undecodable: read the bytes as UTF-8
        text = head.decode("utf-8", "replace")
    text = html.unescape(text)  # Akamai writes "errors&#46;edgesuite&#46;net"
    for pattern, reason in _BODY_MARKERS:
        if pattern.search(text):
            return reason
    # Status alone only counts for the spider's own pages (searches, product pages).
    if _has_meta(response) and "search_term" not in response.meta:
        return None
    if response.status in (401, 403):
        return f"http_{response.status}"
    if response.status == 429:
        return "rate_limited"
    return None


def _has_meta(response: Response) -> bool:
    try:
        return response.meta is not None
    except AttributeError:  # a response built outside a crawl has no request
        return False


class BlockDetectionMiddleware:
    """Close the spider with reason "blocked" when a response is a block page."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._closing: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> BlockDetectionMiddleware:
        if not crawler.settings.getbool("MARKWATCH_BLOCK_DETECTION", True):
            raise NotConfigured
        return cls(crawler)

    def process_response(self, request: Any, response: Response) -> Response:
        spider = self.crawler.spider
        check = getattr(spider, "block_reason", None) or detect_block
        reason = check(response)
        if not reason:
            return response
        stats = self.crawler.stats
        if stats.get_value("markwatch/blocked") is None:
            stats.set_value("markwatch/blocked", reason)
            stats.set_value("markwatch/blocked_url", response.url)
            spider.logger.error("blocked (%s) at %s: closing the spider", reason, response.url)
        stats.inc_value("markwatch/blocked_responses")
        if self._closing is None:
            self._closing = deferred_from_coro(
                self.crawler.engine.close_spider_async(reason="blocked")
            )
        raise IgnoreRequest(f"blocked: {reason}")


def mask_proxy(url: str) -> str:
    """A proxy URL with user and password masked, safe to log."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, f"***@{host}", parts.path, "", ""))
    return url


def proxy_for(spider_name: str, environ: dict[str, str] | None = None) -> str | None:
    """`MARKWATCH_PROXY_<NAME>` (name upper-cased, non-alphanumerics as `_`), else `MARKWATCH_PROXY`."""
    env = os.environ if environ is None else environ
    key = "MARKWATCH_PROXY_" + re.sub(r"[^A-Za-z0-9]", "_", spider_name).upper()
    return env.get(key) or env.get("MARKWATCH_PROXY") or None


class ProxyFromEnvMiddleware:
    """Put the marketplace's proxy from the environment in `request.meta["proxy"]`."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.proxy: str | None = None
        self._resolved = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProxyFromEnvMiddleware:
        return cls(crawler)

    def process_request(self, request: Any) -> None:
        if not self._resolved:
            spider = self.crawler.spider
            self.proxy = proxy_for(spider.name)
            self._resolved = True
            if self.proxy:
                spider.logger.info("using proxy %s", mask_proxy(self.proxy))
        if self.proxy and "proxy" not in request.meta:
            request.meta["proxy"] = self.proxy


class RefusedRequest(IgnoreRequest):
    """A request the net guard refused: its address is private, loopback or the like."""


class NetGuardMiddleware:
    """Refuse requests to loopback, private, link-local or multicast addresses outside
    the allow list (`MARKWATCH_ALLOW_HOSTS` plus the spider's base_url host).

    Product-page and image URLs and every redirect's `Location` come from pages that
    counterfeiters write. Scrapy sends each redirect hop back through the downloader
    middlewares, so checking here, before the download, covers all of them; the
    refusal is counted as `markwatch/refused_unsafe`.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.allow = set(crawler.settings.getlist("MARKWATCH_ALLOW_HOSTS"))

    @classmethod
    def from_crawler(cls, crawler: Any) -> NetGuardMiddleware:
        if not crawler.settings.getbool("MARKWATCH_NETGUARD", True):
            raise NotConfigured
        return cls(crawler)

    def process_request(self, request: Any) -> None:
        from crawler.netguard import UnsafeURL, check_url, host_of

        spider = self.crawler.spider
        allow = set(self.allow)
        base = host_of(getattr(spider, "base_url", "") or "")
        if base:
            allow.add(base)
        try:
            check_url(request.url, allow)
        except UnsafeURL as exc:
            self.crawler.stats.inc_value("markwatch/refused_unsafe")
            spider.logger.warning("request refused: %s", exc)
            raise RefusedRequest(f"refused: {exc}") from None


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's DNS resolver, refusing a non-public answer for a host that is not allowed.

    NetGuardMiddleware checks a URL's host before the download, but Scrapy looks the
    name up again to connect; a DNS answer that changes in between (rebinding) would
    slip through. This resolver gives Scrapy its addresses, so the address checked here
    is the one connected to. Allowed: `MARKWATCH_ALLOW_HOSTS`, the spiders' base_url
    hosts and their proxies' hosts. A refusal is a failed lookup, counted as
    `markwatch/refused_unsafe`. Scrapy makes one resolver per process: `crawler` is a
    crawler, or the process that runs the crawlers.
    """

    crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        settings = crawler.settings
        size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        resolver = cls(reactor, size, settings.getfloat("DNS_TIMEOUT"))
        if settings.getbool("MARKWATCH_NETGUARD", True):
            resolver.crawler = crawler
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Any:
        d = super().getHostByName(name, timeout)
        if self.crawler is not None:
            d.addCallback(self._checked, name)
        return d

    def _checked(self, address: str, name: str) -> str:
        from twisted.internet.error import DNSLookupError

        from crawler.netguard import UnsafeURL, check_address, host_of

        if name == address:
            return address  # an address literal: nothing was looked up, the middleware checked it
        crawlers = [c for c in getattr(self.crawler, "crawlers", [self.crawler]) if getattr(c, "spider", None)]
        allow = set(self.crawler.settings.getlist("MARKWATCH_ALLOW_HOSTS"))
        for crawler in crawlers:
            allow.update(crawler.settings.getlist("MARKWATCH_ALLOW_HOSTS"))
            spider = crawler.spider
            for url in (getattr(spider, "base_url", "") or "", proxy_for(spider.name)):
                if url and (host := host_of(url)):
                    allow.add(host)
        try:
            check_address(name, address, allow)
        except UnsafeURL as exc:
            for crawler in crawlers[:1]:  # the process's crawl (one per process here)
                crawler.stats.inc_value("markwatch/refused_unsafe")
                crawler.spider.logger.warning("request refused: %s", exc)
            raise DNSLookupError(f"refused: {exc}") from None
        return address


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (5xx, 429, timeouts, dropped connections) with exponential back-off.

    A storm of server errors must not be answered with a storm of retries: retry n of
    a request waits `RETRY_BACKOFF_BASE * 2**(n-1)` seconds (at most
    `RETRY_BACKOFF_MAX`) before it is scheduled; at most `RETRY_TIMES` retries.
    The wait holds the request's place in the download slot, so the whole crawl of
    that marketplace slows down while its server fails.
    """

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)

    async def _after_backoff(self, result: Any) -> Any:
        if isinstance(result, Request) and self.backoff_base > 0:
            n = int(result.meta.get("retry_times", 1))
            await asyncio.sleep(min(self.backoff_max, self.backoff_base * 2 ** (n - 1)))
        return result

    async def process_response(self, request: Any, response: Response) -> Any:  # type: ignore[override]
        return await self._after_backoff(super().process_response(request, response))

    async def process_exception(self, request: Any, exception: Exception) -> Any:  # type: ignore[override]
        return await self._after_backoff(super().process_exception(request, exception))
