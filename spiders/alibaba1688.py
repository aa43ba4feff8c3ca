"""1688 (阿里巴巴批发) spider: wholesale offers, completed from their offer pages.

Search: 1688's search is GBK (`keywords` is GBK-percent-encoded) and its result
data follows the offer fields of 1688's documented keyword search
(`product.search.keywordQuery`: `offerId`, `subject`, `imageUrl`, `priceInfo.price`,
`monthSold`, `repurchaseRate`, with `totalPage`/`currentPage`), either as the JSON
answer itself or embedded in the page (`window.data = {...}`). Those fields have no
seller, so every offer is completed from its offer page.

Offer page (detail.1688.com/offer/<id>.html, genuinely GBK): `var iDetailConfig =
{...}` is a single-quoted JavaScript object (offerid, memberid, loginId, refPrice,
companySiteLink, unit), `var iDetailData = {...}` has the SKU map whose keys carry
HTML entities ("粉色&gt;100cm"), and the DOM has the title (`h1.d-title`), the
company (`.company-name`), the gallery (`#dt-tab .tab-trigger@data-imgs`), the
30-day deal count (`.bargain-number`) and `<meta name="location">`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from parsel import Selector
from scrapy.http import Response, TextResponse

from crawler.items import Listing
from crawler.parsing import (
    PageError,
    dig,
    extract_js_object,
    parse_count,
    parse_js_text,
    parse_price,
)
from crawler.parsing_cn import (
    CNY,
    block_reason,
    find_dict_lists,
    page_url_abs,
    response_block_reason,
    strip_highlight,
    unescape_keys,
)
from crawler.spider import MarketSpider
from spiders.tmall import KeepListingWhenProductPageFails

DEFAULT_DETAIL_BASE = "https://detail.1688.com"
# Where a search page may carry its result data, newest page versions first.
_DATA_NAMES = ("window.__INIT_DATA", "window.data", "window.__STORE_DATA", "window.rawData")


def _search_data(text: str) -> Any:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return parse_js_text(stripped)
    errors = []
    for name in _DATA_NAMES:
        try:
            return extract_js_object(text, name)
        except PageError as exc:
            errors.append(exc)
    broken = [e for e in errors if e.reason == "broken_json"]
    raise broken[0] if broken else PageError("no_listing_json", "no 1688 search data in page")


def listing_from_offer(offer: dict[str, Any], page_url: str, detail_base: str) -> Listing | None:
    offer_id = str(offer.get("offerId") or offer.get("id") or "").strip()
    if not offer_id:
        return None
    title = strip_highlight(offer.get("subject") or dig(offer, "information", "subject"))
    price_text = dig(offer, "priceInfo", "price") or dig(
        offer, "tradePrice", "offerPrice", "valueString"
    )
    price, _ = parse_price(price_text, CNY)
    url = page_url_abs(offer.get("detailUrl") or dig(offer, "information", "detailUrl"), page_url)
    image = page_url_abs(offer.get("imageUrl") or dig(offer, "image", "imgUrl"), page_url)
    sold = offer.get("monthSold")
    return Listing(
        marketplace="1688",
        listing_id=offer_id,
        url=url or f"{detail_base.rstrip('/')}/offer/{offer_id}.html",
        title=title,
        price=price,
        currency=CNY if price is not None else None,
        price_text=str(price_text) if price_text is not None else None,
        seller_id=str(offer.get("memberId") or "") or None,
        seller_name=strip_highlight(dig(offer, "company", "name")) or None,
        image_urls=[image] if image else [],
        sales=parse_count(sold) if sold not in (None, "") else None,
        # Paid placements are marked by 1688 as "p4p"/ad offers.
        is_ad=bool(offer.get("isP4p") or offer.get("isAd") or offer.get("adOffer")),
        page_url=page_url,
    )


def parse_search_page(
    text: str, page_url: str, detail_base: str = DEFAULT_DETAIL_BASE
) -> list[Listing]:
    """Offers on a 1688 search page or keyword-search answer; PageError when the data is missing."""
    reason = block_reason(text, page_url)
    if reason:
        raise PageError("blocked", reason)
    data = _search_data(text)
    for offers in find_dict_lists(data, {"offerId"}):
        out = [
            x
            for x in (listing_from_offer(o, page_url, detail_base) for o in offers)
            if x is not None
        ]
        return out
    if isinstance(data, dict) and (dig(data, "result", "success") is not None or "data" in data):
        return []  # an answer without offers: no results
    raise PageError("no_listing_json", "no offer list in 1688 search data")


def search_pager(text: str) -> tuple[int, int] | None:
    """(current page, total pages) from the search data."""
    try:
        data = _search_data(text)
    except PageError:
        return None
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "totalPage" in node:
                return int(node.get("currentPage") or 1), int(node.get("totalPage") or 0)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def _location(sel: Selector) -> str | None:
    """'浙江 湖州' from `<meta name="location" content="province=浙江;city=湖州">`, or the delivery address."""
    content = sel.css('meta[name="location"]::attr(content)').get()
    if content:
        fields = dict(part.split("=", 1) for part in content.split(";") if "=" in part)
        place = " ".join(
            v.strip() for v in (fields.get("province"), fields.get("city")) if v and v.strip()
        )
        if place:
            return place
    addr = (sel.css(".delivery-addr::text").get() or "").strip()
    return addr or None


def parse_offer_page(text: str, page_url: str) -> dict[str, Any]:
    """Fields of a 1688 offer page: listing_id, title, price, seller_id, seller_login,
    seller_name, store_url, image_urls, location, sales, unit, skus (HTML entities undone)."""
    sel = Selector(text=text, type="html")
    try:
        config = extract_js_object(text, "iDetailConfig")
    except PageError:
        config = {}
    try:
        detail = unescape_keys(extract_js_object(text, "iDetailData"))
    except PageError:
        detail = {}
    if not config and not detail and not sel.css("h1.d-title"):
        raise PageError("no_listing_json", "no iDetailConfig, iDetailData or offer title")
    title = (
        strip_highlight(sel.css("h1.d-title").get())
        or (sel.css('meta[property="og:title"]::attr(content)').get() or "").strip()
    )
    price, _ = parse_price(dig(detail, "sku", "price") or config.get("refPrice"), CNY)
    if price is None:
        price, _ = parse_price(
            sel.css(".price-original-sku .value::text, tr.price span.value::text").get(), CNY
        )
    images: list[str] = []
    for raw in sel.css("#dt-tab .tab-trigger::attr(data-imgs)").getall():
        try:
            imgs = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if not isinstance(imgs, dict):
            continue
        url = page_url_abs(imgs.get("original") or imgs.get("preview"), page_url)
        if url and url not in images:
            images.append(url)
    if not images:
        og = page_url_abs(sel.css('meta[property="og:image"]::attr(content)').get(), page_url)
        images = [og] if og else []
    company = sel.css(".company-name::attr(title)").get() or sel.css(".company-name::text").get()
    deals = sel.css(".d-content.static-content .bargain-number em.value::text").get()
    sales = parse_count(deals) if deals else parse_count(dig(detail, "sku", "saleCount"))
    return {
        "listing_id": str(config.get("offerid") or "") or None,
        "title": title,
        "price": price,
        "seller_id": config.get("memberid") or None,
        "seller_login": config.get("loginId") or None,
        "seller_name": (company or "").strip() or config.get("loginId") or None,
        "store_url": page_url_abs(config.get("companySiteLink"), page_url),
        "image_urls": images,
        "location": _location(sel),
        "sales": sales,
        "unit": config.get("unit") or None,
        "skus": dig(detail, "sku", "skuMap") or {},
    }


def merge_offer(listing: Listing, offer: dict[str, Any]) -> Listing:
    """Complete a search listing with its offer page; PageError("item_mismatch") for another offer."""
    if offer.get("listing_id") and offer["listing_id"] != listing.listing_id:
        raise PageError(
            "item_mismatch", f"offer page of {offer['listing_id']} for {listing.listing_id}"
        )
    listing.title = listing.title or offer.get("title") or ""
    if listing.price is None and offer.get("price") is not None:
        listing.price, listing.currency = offer["price"], CNY
    listing.seller_id = listing.seller_id or offer.get("seller_id")
    listing.seller_name = offer.get("seller_name") or listing.seller_name
    listing.store_url = offer.get("store_url") or listing.store_url
    listing.location = listing.location or offer.get("location")
    if listing.sales is None:
        listing.sales = offer.get("sales")
    listing.image_urls = list(dict.fromkeys([*listing.image_urls, *offer.get("image_urls", [])]))
    if not listing.description and offer.get("skus"):
        listing.description = "SKU: " + "; ".join(list(offer["skus"])[:20])
    return listing


class Alibaba1688Spider(KeepListingWhenProductPageFails, MarketSpider):
    """1688 wholesale search; every offer is completed from its offer page (seller, gallery)."""

    name = "1688"
    chinese_site = True
    default_base_url = "https://s.1688.com"
    default_currency = CNY

    @property
    def detail_base(self) -> str:
        # A mirror or the local server serves offer pages under the same base URL.
        return DEFAULT_DETAIL_BASE if self.base_url == self.default_base_url else self.base_url

    def search_url(self, term: str, page: int) -> str:
        # 1688 reads `keywords` as GBK.
        keywords = quote(term.encode("gb18030"))
        return f"{self.base_url}/selloffer/offer_search.htm?keywords={keywords}&beginPage={page}"

    def parse_results(self, response: TextResponse) -> list[Listing]:
        return parse_search_page(response.text, response.url, self.detail_base)

    def has_next_page(self, response: TextResponse, listings: list[Listing]) -> bool:
        pages = search_pager(response.text)
        return bool(listings) and (pages is None or pages[0] < pages[1])

    def needs_product_page(self, listing: Listing) -> bool:
        return not (listing.seller_id and listing.seller_name and listing.location)

    def parse_product_page(self, response: TextResponse, listing: Listing) -> Listing:
        return merge_offer(listing, parse_offer_page(response.text, response.url))

    def block_reason(self, response: Response) -> str | None:
        return response_block_reason(response) or super().block_reason(response)
