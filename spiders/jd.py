"""JD (京东) search spider; result pages are rendered in Chromium.

search.jd.com sends only part of a result page as HTML: the rest of the page, lazy
images and the shop names are filled in by JavaScript after load and on scroll, so
this spider declares `requires_browser` and its pages come through scrapy-playwright.
The parser reads the result DOM:

- item `#J_goodsList li.gl-item`, id `@data-sku`;
- title `.p-name em` (keyword highlight `<font class="skcolor_ljg">` removed);
- link `.p-name a@href` (`//item.jd.com/<sku>.html`);
- price `.p-price strong@data-price` or `.p-price strong > i`;
- image `.p-img img@src`, or `@data-lazy-img` on items not yet scrolled into view;
- vendor id `.p-img div@data-venid`; shop name and link `.p-shop a` (filled by JS);
- ad marker `.p-promo-flag` ("广告").

JD shows review counts ("已有820人评价"), not sales counts; `sales` stays empty.
Page numbers: JD counts half pages (`page=1,3,5...` for result pages 1, 2, 3).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from parsel import Selector
from scrapy.http import Response, TextResponse

from crawler.items import Listing
from crawler.parsing import PageError, extract_js_object, parse_price
from crawler.parsing_cn import (
    CNY,
    block_reason,
    page_url_abs,
    response_block_reason,
    strip_highlight,
)
from crawler.spider import MarketSpider

# Enough to see that a rendered page has results, or that JD said there are none.
_RENDERED_JS = (
    "() => document.querySelectorAll('#J_goodsList li.gl-item').length > 0"
    " || !!document.querySelector('.ns-content, .notice-search, #J_searchWrap .no-result')"
)


def parse_search_page(text: str, page_url: str) -> list[Listing]:
    """Listings of a JD result page (rendered DOM); PageError for a block page or no result list."""
    reason = block_reason(text, page_url)
    if reason:
        raise PageError("blocked", reason)
    sel = Selector(text=text, type="html")
    if not sel.css("#J_goodsList"):
        raise PageError("no_result_list", "no #J_goodsList on page")
    out: list[Listing] = []
    for li in sel.css("#J_goodsList li.gl-item"):
        sku = (li.xpath("@data-sku").get() or "").strip()
        if not sku:
            continue
        link = li.css(".p-name a::attr(href)").get() or li.css(".p-img a::attr(href)").get()
        price_text = (
            li.css(".p-price strong::attr(data-price)").get()
            or li.css(".p-price strong i::text").get()
        )
        price, _ = parse_price(price_text, CNY)
        img = li.css(".p-img img")
        image = (
            page_url_abs(img.xpath("@data-lazy-img").get() or img.xpath("@src").get(), page_url)
            if img
            else None
        )
        if image and image.endswith("/blank.gif"):
            image = None
        shop = li.css(".p-shop a")
        promo = " ".join(li.css(".p-promo-flag::text").getall())
        out.append(
            Listing(
                marketplace="jd",
                listing_id=sku,
                url=f"https://item.jd.com/{sku}.html"
                if not link or "item.jd.com" in link
                else page_url_abs(link, page_url),
                title=strip_highlight(li.css(".p-name em").get())
                or (li.css(".p-name a::attr(title)").get() or "").strip(),
                price=price,
                currency=CNY if price is not None else None,
                price_text=price_text,
                seller_id=li.css(".p-img div::attr(data-venid)").get()
                or li.xpath("@data-venid").get()
                or None,
                seller_name=(shop.xpath("@title").get() or strip_highlight(shop.get()))
                if shop
                else None,
                store_url=page_url_abs(shop.xpath("@href").get(), page_url) if shop else None,
                image_urls=[image] if image else [],
                is_ad="广告" in promo or li.xpath("@data-type").get() == "ad",
                page_url=page_url,
            )
        )
    return out


def search_pager(text: str) -> tuple[int, int] | None:
    """(result page, page count) from `SEARCH.adv_param = {page:"1", page_count:"50"}`."""
    try:
        adv: Any = extract_js_object(text, "SEARCH.adv_param")
        half = int(adv.get("page") or 1)
        return (half + 1) // 2, int(adv.get("page_count") or 0)
    except (PageError, ValueError, TypeError, AttributeError):
        return None


class JdSpider(MarketSpider):
    """JD search results, rendered by Chromium (listings are filled in by JavaScript)."""

    name = "jd"
    chinese_site = True
    requires_browser = True
    default_base_url = "https://search.jd.com"
    default_currency = CNY

    def search_url(self, term: str, page: int) -> str:
        return f"{self.base_url}/Search?keyword={quote(term)}&enc=utf-8&page={2 * page - 1}"

    def browser_page_methods(self) -> list[Any]:
        from scrapy_playwright.page import PageMethod

        # Scroll so lazy items and images load, then wait until results (or JD's
        # "no results" notice) are in the DOM.
        return [
            PageMethod("evaluate", "window.scrollTo(0, document.body.scrollHeight)"),
            PageMethod("wait_for_function", _RENDERED_JS, timeout=15000),
        ]

    def parse_results(self, response: TextResponse) -> list[Listing]:
        return parse_search_page(response.text, response.url)

    def has_next_page(self, response: TextResponse, listings: list[Listing]) -> bool:
        pages = search_pager(response.text)
        return bool(listings) and (pages is None or pages[0] < pages[1])

    def block_reason(self, response: Response) -> str | None:
        return response_block_reason(response) or super().block_reason(response)
