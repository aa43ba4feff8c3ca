"""Alibaba.com (English B2B) search spider.

Search pages: `/trade/search?fsb=y&IndexArea=product_en&SearchText=<term>&page=<n>`.
The page renders about one card; the results are streamed into
`window.__page__data_sse10._offer_list = {"offerResultData": {"offers": [...],
"totalCount", "paginationData": {"pageCount"...}}}`. Offer keys: `productId`,
`title` (with `<img>`/`<strong>` markup), `price` (a range string in the visitor's
currency, e.g. "₹59,577.18-1,09,988.64" or "$12.50-15.00"), `moq`, `mainImage`,
`multiImage`, `productUrl`, `companyName`, `companyId`, `supplierHomeHref`,
`countryCode`, `soldOrder`, ad flags `isP4P` / `adInfo`.

The product page parser reads a rendered detail page (`h1`, tiered prices in
`.module_price .price-item`, supplier in `[class*=company-name]`); search results
already name the supplier, so it is used only for a listing without one.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote_plus

from parsel import Selector

from crawler.items import Listing
from crawler.parsing import (
    PageError,
    abs_url,
    clean_text,
    dig,
    extract_js_object,
    parse_count,
    parse_js_text,
    parse_price,
    strip_tags,
)
from crawler.spider import MarketSpider

_OFFER_LIST_NAMES = (
    "window.__page__data_sse10._offer_list",
    "_offer_list",
    "window.__page__data._offer_list",
)


def load_offer_data(text: str) -> dict[str, Any]:
    """`offerResultData` (or a bare `{"offers": [...]}` payload) of a search page."""
    for name in _OFFER_LIST_NAMES:
        try:
            data = extract_js_object(text, name)
        except PageError as exc:
            if exc.reason == "broken_json":
                raise
            continue
        result = data.get("offerResultData") if isinstance(data, dict) else None
        if isinstance(result, dict):
            return result
    if text.lstrip().startswith("{"):
        data = parse_js_text(text)
        if isinstance(data, dict) and isinstance(
            data.get("offers") or dig(data, "offerResultData", "offers"), list
        ):
            return data.get("offerResultData") or data
    raise PageError("no_listing_json", "no _offer_list / offerResultData on the page")


def _images(offer: dict[str, Any], base_url: str | None = None) -> list[str]:
    multi = offer.get("multiImage") or []
    if isinstance(multi, str):
        multi = re.findall(r"(?:https?:)?//[^'\",\s\]]+", multi)
    urls = [offer.get("mainImage"), *multi]
    return list(dict.fromkeys(u for u in (abs_url(x, base_url) for x in urls) if u))


def listing_from_offer(
    offer: dict[str, Any], base_url: str, default_currency: str = "USD"
) -> Listing:
    pid = str(offer.get("productId") or offer.get("id") or "").strip()
    price_text = offer.get("price")
    price, currency = parse_price(price_text, default_currency)
    product_url = abs_url(offer.get("productUrl"), base_url)
    if product_url:
        product_url = product_url.split("?")[0].split("#")[0]
    company_id = offer.get("companyId")
    moq = clean_text(offer.get("moqV2") or offer.get("moq") or "")
    return Listing(
        marketplace="alibaba",
        listing_id=pid,
        url=product_url or (f"{base_url}/product-detail/_{pid}.html" if pid else ""),
        title=strip_tags(offer.get("title")),
        price=price,
        currency=currency if price is not None else None,
        price_text=str(price_text).strip() if price_text else None,
        seller_id=str(company_id) if company_id not in (None, "") else None,
        seller_name=(offer.get("companyName") or "").strip() or None,
        store_url=abs_url(offer.get("supplierHomeHref"), base_url)
        or abs_url(offer.get("supplierHref"), base_url),
        image_urls=_images(offer, base_url),
        location=(offer.get("countryCode") or None),
        sales=parse_count(offer.get("soldOrder")) if offer.get("soldOrder") else None,
        is_ad=bool(offer.get("isP4P") or offer.get("adInfo")),
        description=moq or None,
    )


def parse_search_page(text: str, base_url: str, default_currency: str = "USD") -> list[Listing]:
    """Listings of an Alibaba.com search page (or an `{"offers": [...]}` payload)."""
    data = load_offer_data(text)
    offers = data.get("offers")
    if not isinstance(offers, list):
        raise PageError("no_listing_json", "offerResultData without offers")
    return [
        listing_from_offer(o, base_url.rstrip("/"), default_currency)
        for o in offers
        if isinstance(o, dict)
    ]


def page_count(text: str) -> int | None:
    try:
        value = dig(load_offer_data(text), "paginationData", "pageCount")
    except PageError:
        return None
    return int(value) if str(value).isdigit() else None


def parse_product_page(
    text: str, page_url: str, listing: Listing | None = None, default_currency: str = "USD"
) -> Listing:
    """Complete (or build) a Listing from an Alibaba.com product detail page (rendered DOM)."""
    sel = Selector(text=text, type="html")
    title = clean_text(sel.css("h1 ::text").getall())
    if not title and listing is None:
        raise PageError("no_product_markup", "no h1 title")
    link = sel.css("a[href*='product-detail']::attr(href)").get() or page_url
    m = re.search(r"_(\d{8,})\.html", link) or re.search(r"_(\d{8,})\.html", page_url)
    pid = m.group(1) if m else ""
    if listing is None:
        url = abs_url(link.split("#")[0].split("?")[0], page_url) or page_url
        listing = Listing(marketplace="alibaba", listing_id=pid, url=url, title=title)
    if title:
        listing.title = title
    tiers = [clean_text(p.css("::text").getall()) for p in sel.css(".module_price .price-item")]
    tiers = [t for t in tiers if t]
    if tiers:
        # Tiers run from small to large orders; the last is the lowest unit price.
        price_part = re.sub(r"^.*?(?=[$€£¥₹]|US\s?\$|[A-Z]{3}\s?\d)", "", tiers[-1])
        price, cur = parse_price(price_part or tiers[-1], default_currency)
        if price is not None:
            listing.price, listing.currency, listing.price_text = price, cur, " | ".join(tiers)
    company = sel.css("[class*=company-name]")
    if company:
        listing.seller_name = clean_text(company[0].css("::text").getall()) or listing.seller_name
        href = company[0].css("a::attr(href)").get() or company[0].xpath("@href").get()
        if href:
            listing.store_url = abs_url(href.split("?")[0], page_url)
            # Supplier sites are <name>.en.alibaba.com; mirrors use /company/<id>/.
            sub = re.match(r"(?:https?:)?//([^./]+)\.en\.alibaba\.com", href) or re.search(
                r"/company/([^/?#]+)", href
            )
            if sub and not listing.seller_id:
                listing.seller_id = sub.group(1)
    images = [
        u
        for u in sel.css("img::attr(src)").getall()
        if "/kf/" in u and re.search(r"_(?:9\d\d|[6-8]\d\d)x", u)
    ]
    for u in images:
        full = abs_url(u, page_url)
        if full and full not in listing.image_urls:
            listing.image_urls.append(full)
    return listing


class AlibabaSpider(MarketSpider):
    name = "alibaba"
    default_base_url = "https://www.alibaba.com"
    default_currency = "USD"

    def search_url(self, term: str, page: int) -> str:
        return f"{self.base_url}/trade/search?fsb=y&IndexArea=product_en&SearchText={quote_plus(term)}&page={page}"

    def parse_results(self, response: Any) -> list[Listing]:
        return parse_search_page(response.text, self.base_url, self.default_currency or "USD")

    def has_next_page(self, response: Any, listings: list[Listing]) -> bool:
        pages = page_count(response.text)
        page = int(response.meta.get("search_page", 1))
        return bool(listings) and (pages is None or page < pages)

    def needs_product_page(self, listing: Listing) -> bool:
        return not listing.seller_name

    def parse_product_page(self, response: Any, listing: Listing) -> Listing:
        return parse_product_page(
            response.text, response.url, listing, self.default_currency or "USD"
        )
