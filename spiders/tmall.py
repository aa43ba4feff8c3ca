"""Tmall (天猫) spider: Taobao search restricted to Tmall shops, completed from item pages.

Search results have the Taobao `g_page_config` format (the search runs on
s.taobao.com with `tab=mall`, Tmall's own shops only). The item page
(detail.tmall.com/item.htm?id=...) adds what the results lack and what matching
needs: the brand and item attributes, the full image gallery, the shop's name and
domain, the SKU prices. Item pages come in two forms:

- desktop: `TShop.Setup({...})` (`itemDO`, `valItemInfo.skuMap`, `detail.defaultItemPrice`,
  `rstShopId`) plus DOM (`div.tb-detail-hd h1`, `.slogo-shopname`, `#J_UlThumb img`);
- mobile: `_DATA_Detail = {...}` and `_DATA_Mdskip = {...}` (price, promotions, monthly sales).

The price/stock service answers JSONP `setMdskip({...})`; `parse_mdskip` reads it.
Saved Tmall pages declare `<meta charset="gbk">` over UTF-8 bytes: the base spider's
charset sniffer decodes them by their bytes, not by the meta tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from parsel import Selector
from scrapy.http import TextResponse

from crawler.items import Listing
from crawler.parsing import PageError, dig, extract_js_object, parse_js_text, parse_price
from crawler.parsing_cn import CNY, page_url_abs, strip_highlight
from spiders.taobao import TaobaoSpider

# Thumbnail suffixes such as "_60x60q90.jpg" or "_430x430q90.jpg" after the real file name.
_SIZE_SUFFIX = re.compile(r"(\.(?:jpe?g|png|gif|webp))_\d+x\d+[^/]*$", re.IGNORECASE)


def full_size(url: str | None, page_url: str) -> str | None:
    """An image URL without the thumbnail suffix, absolute."""
    url = page_url_abs(url, page_url)
    return _SIZE_SUFFIX.sub(r"\1", url) if url else None


def _attributes(item_do: dict[str, Any]) -> str | None:
    """'品牌: AMH; 货号: NZ2508; ...' from `itemDO.newProGroup` (the item's attribute table)."""
    parts: list[str] = []
    for group in item_do.get("newProGroup") or []:
        for attr in (group or {}).get("attrs") or []:
            if attr.get("name") and attr.get("value"):
                parts.append(f"{attr['name']}: {attr['value']}")
    return "; ".join(parts) or None


def _min_sku_price(sku_map: Any) -> float | None:
    prices = []
    for sku in (sku_map or {}).values() if isinstance(sku_map, dict) else []:
        price, _ = parse_price((sku or {}).get("price"), CNY)
        if price is not None:
            prices.append(price)
    return min(prices) if prices else None


def parse_mdskip(data: dict[str, Any] | str) -> dict[str, Any]:
    """Price, sales and stock from a Tmall mdskip answer (`setMdskip({...})` JSONP or `_DATA_Mdskip`).

    `price` is the lowest current price over all SKUs and promotions; `list_price` the
    lowest undiscounted one; `sales` the monthly count (`sellCountDO.sellCount`).
    """
    if isinstance(data, str):
        data = parse_js_text(data)
    model = data.get("defaultModel") or {}
    list_prices, prices = [], []
    for info in (dig(model, "itemPriceResultDO", "priceInfo") or {}).values():
        base, _ = parse_price((info or {}).get("price"), CNY)
        if base is not None:
            list_prices.append(base)
            prices.append(base)
        for promo in (info or {}).get("promotionList") or []:
            p, _ = parse_price((promo or {}).get("price"), CNY)
            if p is not None:
                prices.append(p)
    sales = dig(model, "sellCountDO", "sellCount")
    stock = dig(model, "inventoryDO", "totalQuantity")
    return {
        "price": min(prices) if prices else None,
        "list_price": min(list_prices) if list_prices else None,
        "sales": int(sales) if sales is not None else None,
        "stock": int(stock) if stock is not None else None,
        "ships_from": dig(model, "deliveryDO", "deliveryAddress"),
    }


def parse_item_page(text: str, page_url: str) -> dict[str, Any]:
    """Fields of a Tmall item page (desktop `TShop.Setup` or mobile `_DATA_Detail`).

    Returns a dict with listing_id, title, brand, description, price, seller_id,
    seller_name, shop_id, store_url, image_urls, location and (mobile) sales.
    Raises PageError when neither embedded object is present.
    """
    sel = Selector(text=text, type="html")
    setup: dict[str, Any] | None = None
    mobile = False
    if "TShop.Setup" in text:
        setup = extract_js_object(text, "TShop.Setup")
    elif "_DATA_Detail" in text:
        setup = extract_js_object(text, "_DATA_Detail")
        mobile = True
    if not isinstance(setup, dict) or not isinstance(setup.get("itemDO"), dict):
        raise PageError("no_listing_json", "neither TShop.Setup nor _DATA_Detail with itemDO")
    item = setup["itemDO"]
    nick = item.get("sellerNickName")
    seller_name = (sel.css(".slogo-shopname strong::text").get() or "").strip() or (
        unquote(nick) if nick else None
    )
    store = page_url_abs(sel.css(".slogo-shopname::attr(href)").get(), page_url)
    images: list[str] = []
    for src in [
        item.get("mainPic"),
        sel.css("#J_ImgBooth::attr(src)").get(),
        *sel.css("#J_UlThumb img::attr(src)").getall(),
    ]:
        url = full_size(src, page_url)
        if url and url not in images:
            images.append(url)
    price, _ = parse_price(dig(setup, "detail", "defaultItemPrice"), CNY)
    if price is None:
        price = _min_sku_price(dig(setup, "valItemInfo", "skuMap"))
    if price is None:
        price, _ = parse_price(item.get("reservePrice"), CNY)
    out: dict[str, Any] = {
        "listing_id": str(item.get("itemId") or "") or None,
        "title": strip_highlight(item.get("title"))
        or strip_highlight(sel.css("div.tb-detail-hd h1").get()),
        "brand": item.get("brand") or None,
        "description": _attributes(item),
        "price": price,
        "seller_id": str(item.get("userId") or "") or None,
        "seller_name": seller_name,
        "shop_id": str(setup.get("rstShopId") or "") or None,
        "store_url": store,
        "image_urls": images,
        "location": item.get("location") or item.get("prov") or None,
        "sales": None,
    }
    if mobile and "_DATA_Mdskip" in text:
        try:
            mdskip = parse_mdskip(extract_js_object(text, "_DATA_Mdskip"))
        except PageError:
            mdskip = {}
        if mdskip.get("price") is not None:
            out["price"] = mdskip["price"]
        out["sales"] = mdskip.get("sales")
    return out


def merge_item(listing: Listing, item: dict[str, Any]) -> Listing:
    """Complete a search-page listing with item-page fields; search values win where both exist.

    Raises PageError("item_mismatch") when the item page is of another item.
    """
    if item.get("listing_id") and item["listing_id"] != listing.listing_id:
        raise PageError(
            "item_mismatch", f"item page of {item['listing_id']} for {listing.listing_id}"
        )
    listing.title = listing.title or item.get("title") or ""
    if listing.price is None and item.get("price") is not None:
        listing.price, listing.currency = item["price"], CNY
    listing.seller_id = listing.seller_id or item.get("seller_id")
    # The shop's display name on the item page is the authoritative one.
    listing.seller_name = item.get("seller_name") or listing.seller_name
    listing.store_url = item.get("store_url") or listing.store_url
    listing.location = listing.location or item.get("location")
    if listing.sales is None:
        listing.sales = item.get("sales")
    listing.image_urls = list(dict.fromkeys([*listing.image_urls, *item.get("image_urls", [])]))
    description = item.get("description") or ""
    if item.get("brand") and "品牌:" not in description:
        description = "; ".join(p for p in (f"品牌: {item['brand']}", description) if p)
    listing.description = listing.description or description or None
    return listing


class KeepListingWhenProductPageFails:
    """Mixin for spiders that always follow product pages (Tmall, 1688).

    When the product page cannot be downloaded (404, timeout, retries exhausted), the
    listing from the search page is still yielded, with the failure counted under
    `markwatch/product_page_failed/<error>`, instead of being lost.
    """

    def on_error(self, failure: Any) -> Iterator[Listing]:
        super().on_error(failure)  # type: ignore[misc]
        request = getattr(failure, "request", None)
        listing = (getattr(request, "cb_kwargs", None) or {}).get("listing")
        if isinstance(listing, Listing):
            kind = failure.type.__name__ if getattr(failure, "type", None) else "error"
            self._count(f"markwatch/product_page_failed/{kind}")  # type: ignore[attr-defined]
            self._count("markwatch/listings")  # type: ignore[attr-defined]
            yield listing


class TmallSpider(KeepListingWhenProductPageFails, TaobaoSpider):
    """Tmall shops' results from Taobao search, each completed from its item page."""

    name = "tmall"
    search_params = "&tab=mall"

    def needs_product_page(self, listing: Listing) -> bool:
        # Brand, attributes and the image gallery are only on the item page.
        return True

    def parse_product_page(self, response: TextResponse, listing: Listing) -> Listing:
        return merge_item(listing, parse_item_page(response.text, response.url))
