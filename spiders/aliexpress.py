"""AliExpress search spider.

Search pages: `/wholesale?SearchText=<term>&page=<n>`. The page renders only a few
cards (with hashed class names); every result is in the embedded object
`window.runParams = {"mods": {"itemList": {"content": [...]}}, "pageInfo": ...}`
(an empty `window.runParams = {}` comes first). Newer pages carry the same
`itemList` elsewhere (`_init_data_`), so the list is found by its shape. Item keys:
`productId`, `title.displayTitle`, `prices.salePrice.{minPrice,currencyCode,
formattedPrice}`, `image.imgUrl` / `images[]`, `store.{storeId,storeName,storeUrl}`,
`trade.tradeDesc` ("59 vendido(s)", "4000+ sold"), `productType` ("ad"/"natural").

Search results already name the store, so product pages are followed only for a
listing without one; the product-page parser reads the pre-2019 layout
(`h1.product-name`, `#j-sku-discount-price`, `.shop-name a`, `og:image`).
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
)
from crawler.spider import MarketSpider


def _is_item_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and "productId" in value[0]
    )


def find_item_list(obj: Any, depth: int = 0) -> list[dict[str, Any]] | None:
    """The first list of product dicts (`[{"productId": ...}, ...]`) inside `obj`."""
    if depth > 8:
        return None
    if isinstance(obj, dict):
        content = dig(obj, "mods", "itemList", "content")
        if _is_item_list(content):
            return content
        for value in obj.values():
            if _is_item_list(value):
                return value
            found = find_item_list(value, depth + 1)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for value in obj[:50]:
            found = find_item_list(value, depth + 1)
            if found is not None:
                return found
    return None


def load_search_data(text: str) -> Any:
    """The search data object of a page (runParams / _init_data_) or of a bare JS/JSON payload."""
    for name in ("window.runParams", "_init_data_", "window._dida_config_._init_data_"):
        try:
            return extract_js_object(text, name)
        except PageError as exc:
            if exc.reason == "broken_json":
                raise
    stripped = text.lstrip()
    if stripped.startswith(("{", "[", "export", "var ", "const ", "let ")):
        return parse_js_text(text)
    raise PageError("no_listing_json", "no window.runParams or itemList on the page")


def listing_from_item(item: dict[str, Any], base_url: str) -> Listing:
    pid = str(item.get("productId") or "").strip()
    title = clean_text(dig(item, "title", "displayTitle") or dig(item, "title", "seoTitle") or "")
    sale = dig(item, "prices", "salePrice", default={}) or dig(
        item, "prices", "originalPrice", default={}
    )
    price_text = sale.get("formattedPrice")
    price = sale.get("minPrice")
    currency = sale.get("currencyCode")
    if price is None and price_text:
        price, currency = parse_price(price_text, currency)
    images = [dig(item, "image", "imgUrl")] + [
        i.get("imgUrl") for i in item.get("images") or [] if isinstance(i, dict)
    ]
    image_urls = list(dict.fromkeys(u for u in (abs_url(i, base_url) for i in images) if u))
    store = item.get("store") or {}
    store_id = store.get("storeId")
    return Listing(
        marketplace="aliexpress",
        listing_id=pid,
        url=f"{base_url}/item/{pid}.html" if pid else "",
        title=title,
        price=float(price) if price is not None else None,
        currency=currency if price is not None else None,
        price_text=price_text,
        seller_id=str(store_id) if store_id not in (None, "") else None,
        seller_name=(store.get("storeName") or "").strip() or None,
        store_url=abs_url(store.get("storeUrl"), base_url)
        or (f"{base_url}/store/{store_id}" if store_id else None),
        image_urls=image_urls,
        sales=parse_count(dig(item, "trade", "tradeDesc")),
        is_ad=str(item.get("productType") or "").lower() == "ad",
    )


def parse_search_page(text: str, base_url: str) -> list[Listing]:
    """Listings of an AliExpress search page (or itemList payload); `base_url` without trailing /."""
    base_url = base_url.rstrip("/")
    data = load_search_data(text)
    items = find_item_list(data)
    if items is None:
        # A search with no results has an itemList with an empty content list.
        if isinstance(dig(data, "mods", "itemList", "content"), list):
            return []
        raise PageError("no_listing_json", "runParams without itemList.content")
    return [listing_from_item(i, base_url) for i in items if isinstance(i, dict)]


def result_counts(text: str) -> tuple[int | None, int]:
    """(total results, page size) from `pageInfo`; total None when the page does not say."""
    try:
        data = load_search_data(text)
    except PageError:
        return None, 60
    total = dig(data, "pageInfo", "totalResults")
    size = dig(data, "pageInfo", "pageSize", default=60)
    total = int(total) if str(total).isdigit() else None
    return total, int(size) if str(size).isdigit() and int(size) > 0 else 60


def parse_item_page(
    text: str, page_url: str, listing: Listing | None = None, base_url: str | None = None
) -> Listing:
    """Complete (or build) a Listing from an AliExpress product page (pre-2019 layout)."""
    sel = Selector(text=text, type="html")
    title = clean_text(sel.css("h1.product-name ::text").getall()) or clean_text(
        sel.css("meta[property='og:title']::attr(content)").get()
    )
    m = re.search(r"runParams\.productId\s*=\s*\"(\d+)\"", text) or re.search(
        r"/(?:item/|_)(\d{8,})\.html", page_url
    )
    pid = m.group(1) if m else ""
    if not title and listing is None:
        raise PageError("no_product_markup", "no product title")
    if listing is None:
        listing = Listing(marketplace="aliexpress", listing_id=pid, url=page_url, title=title)
    if title:
        listing.title = title
    cur_m = re.search(r"runParams\.baseCurrencyCode\s*=\s*\"([A-Z]{3})\"", text)
    currency = (
        cur_m.group(1)
        if cur_m
        else (sel.css("[itemprop=priceCurrency]::attr(content)").get() or None)
    )
    price_text = clean_text(sel.css("#j-sku-discount-price ::text").getall()) or clean_text(
        sel.css("#j-sku-price ::text").getall()
    )
    if price_text:
        price, cur = parse_price(price_text, currency)
        listing.price, listing.currency, listing.price_text = price, cur or currency, price_text
    shop = sel.css(".shop-name a")
    if shop:
        listing.seller_name = clean_text(shop[0].css("::text").getall()) or listing.seller_name
        href = (shop[0].xpath("@href").get() or "")
        store = re.search(r"/store/([^/?#]+)", href)
        if store:
            listing.seller_id = store.group(1)
            listing.store_url = abs_url(href, base_url or page_url)
    image = sel.css("meta[property='og:image']::attr(content)").get()
    if image:
        url = abs_url(image, page_url)
        if url and url not in listing.image_urls:
            listing.image_urls.insert(0, url)
    orders = sel.css("#j-order-num::text").get()
    if orders and listing.sales is None:
        listing.sales = parse_count(orders)
    return listing


class AliexpressSpider(MarketSpider):
    name = "aliexpress"
    default_base_url = "https://www.aliexpress.com"
    default_currency = "USD"

    def search_url(self, term: str, page: int) -> str:
        return f"{self.base_url}/wholesale?SearchText={quote_plus(term)}&page={page}"

    def parse_results(self, response: Any) -> list[Listing]:
        return parse_search_page(response.text, self.base_url)

    def has_next_page(self, response: Any, listings: list[Listing]) -> bool:
        if not listings:
            return False
        total, size = result_counts(response.text)
        page = int(response.meta.get("search_page", 1))
        return True if total is None else page * size < total

    def needs_product_page(self, listing: Listing) -> bool:
        return not listing.seller_id

    def parse_product_page(self, response: Any, listing: Listing) -> Listing:
        return parse_item_page(response.text, response.url, listing, self.base_url)
