"""Taobao (淘宝) search spider.

s.taobao.com search pages embed every result in `g_page_config = {...};`
(`mods.itemlist.data.auctions[]`: nid, title with highlight markup, raw_title,
view_price, pic_url, detail_url, nick, user_id, shopLink, item_loc, view_sales
"1881人付款", p4p ad flag) and page counts in `mods.pager`. A page rendered by a
browser also carries the same results as DOM (`#mainsrp-itemlist div.item`), which is
the fallback when the object is missing. The Tmall spider reuses this parser: its
results come from the same search restricted to Tmall stores.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

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
    page_url_abs,
    query_param,
    response_block_reason,
    strip_highlight,
)
from crawler.spider import MarketSpider

PAGE_SIZE = 44  # Taobao shows 44 results per page; `s` is the offset.
# Ad images point at a "_sum.jpg" thumbnail of the real picture.
_SUM_SUFFIX = re.compile(r"_sum\.jpg$")
_AD_HOSTS = ("click.simba.taobao.com", "s.click.taobao.com", "click.mz.simba.taobao.com")


def item_url(detail_url: str | None, nid: str, page_url: str, is_tmall: bool = False) -> str:
    """Canonical item URL: the detail page with only `id=`, without tracking parameters.

    Ads point at a click-redirect host; their item lives on detail.tmall.com or
    item.taobao.com, chosen by the shop type.
    """
    url = page_url_abs(detail_url, page_url) if detail_url else None
    if url:
        parts = urlsplit(url)
        if parts.hostname not in _AD_HOSTS and (query_param(url, "id") == nid or not parts.query):
            return f"{parts.scheme}://{parts.netloc}{parts.path}?id={nid}"
    host = "https://detail.tmall.com" if is_tmall else "https://item.taobao.com"
    return f"{host}/item.htm?id={nid}"


def listing_from_auction(
    auction: dict[str, Any], page_url: str, marketplace: str = "taobao"
) -> Listing | None:
    """One `g_page_config` auction as a Listing; None for non-item slots (theme banners)."""
    nid = str(auction.get("nid") or "").strip()
    if not nid:
        return None
    is_tmall = bool(dig(auction, "shopcard", "isTmall")) or "tmall.com" in str(
        auction.get("detail_url") or ""
    )
    title = strip_highlight(auction.get("title")) or strip_highlight(auction.get("raw_title"))
    price_text = auction.get("view_price") or auction.get("reserve_price")
    price, _ = parse_price(price_text, CNY)
    seller_id = str(auction.get("user_id") or "").strip() or None
    store = page_url_abs(auction.get("shopLink"), page_url)
    if store and urlsplit(store).hostname in _AD_HOSTS:
        store = None  # an ad's shop link is a click redirect: use the shop URL itself
    if not store and seller_id:
        store = f"https://store.taobao.com/shop/view_shop.htm?user_number_id={seller_id}"
    image = page_url_abs(auction.get("pic_url"), page_url)
    return Listing(
        marketplace=marketplace,
        listing_id=nid,
        url=item_url(auction.get("detail_url"), nid, page_url, is_tmall),
        title=title,
        price=price,
        currency=CNY if price is not None else None,
        price_text=str(price_text) if price_text is not None else None,
        seller_id=seller_id,
        seller_name=strip_highlight(auction.get("nick")) or None,
        store_url=store,
        image_urls=[image] if image else [],
        location=strip_highlight(auction.get("item_loc")) or None,
        sales=parse_count(auction.get("view_sales")),
        is_ad=bool(auction.get("p4p")),
        page_url=page_url,
    )


def parse_p4p_ads(
    config: dict[str, Any], page_url: str, marketplace: str = "taobao"
) -> list[Listing]:
    """The sponsored results of the right column and the page bottom.

    They are not in `auctions` but in `mods.p4p.data.p4pdata`, a JSON string with
    `right`/`bottom` slots of ads (RESOURCEID, ADGTITLE, SALEPRICE, SELL, SELLERID,
    WANGWANGID, LOCATION, TBGOODSLINK, URL, ISMALL). A broken ads block is ignored:
    it must not cost the organic results. The Tmall spider keeps Tmall shops' ads only.
    """
    raw = dig(config, "mods", "p4p", "data", "p4pdata")
    if not raw:
        return []
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):
        return []
    out = []
    for slot in ("right", "bottom"):
        for ad in dig(data, slot, "data", "ds1", default=[]):
            item_id = str((ad or {}).get("RESOURCEID") or "").strip()
            is_tmall = str(ad.get("ISMALL")) == "1" if item_id else False
            if not item_id or (marketplace == "tmall" and not is_tmall):
                continue
            price, _ = parse_price(ad.get("SALEPRICE"), CNY)
            if price is None and str(ad.get("GOODSPRICE") or "").isdigit():
                price = int(ad["GOODSPRICE"]) / 100  # GOODSPRICE is in fen
            seller_id = str(ad.get("SELLERID") or "").strip() or None
            image = page_url_abs(_SUM_SUFFIX.sub("", ad.get("TBGOODSLINK") or ""), page_url)
            out.append(
                Listing(
                    marketplace=marketplace,
                    listing_id=item_id,
                    url=item_url(ad.get("URL"), item_id, page_url, is_tmall),
                    title=strip_highlight(ad.get("ADGTITLE")) or strip_highlight(ad.get("TITLE")),
                    price=price,
                    currency=CNY if price is not None else None,
                    price_text=ad.get("SALEPRICE") or None,
                    seller_id=seller_id,
                    seller_name=strip_highlight(ad.get("WANGWANGID") or ad.get("SHOPNAME")) or None,
                    store_url=(
                        f"https://store.taobao.com/shop/view_shop.htm?user_number_id={seller_id}"
                        if seller_id
                        else None
                    ),
                    image_urls=[image] if image else [],
                    location=strip_highlight(ad.get("LOCATION")) or None,
                    sales=parse_count(ad.get("SELL")),
                    is_ad=True,
                    page_url=page_url,
                )
            )
    return out


def parse_page_config(
    config: dict[str, Any], page_url: str, marketplace: str = "taobao"
) -> list[Listing]:
    """Listings of a parsed `g_page_config` object: the results, then the side/bottom ads."""
    auctions = dig(config, "mods", "itemlist", "data", "auctions")
    if not isinstance(auctions, list):
        status = dig(config, "mods", "noresult", "status")
        if status == "show" or dig(config, "mods", "itemlist", "status") == "hide":
            return []  # a genuine "no results" page
        raise PageError("no_listing_json", "g_page_config has no mods.itemlist.data.auctions")
    out = []
    for auction in auctions:
        if isinstance(auction, dict):
            listing = listing_from_auction(auction, page_url, marketplace)
            if listing is not None:
                out.append(listing)
    return out + parse_p4p_ads(config, page_url, marketplace)


def parse_search_dom(text: str, page_url: str, marketplace: str = "taobao") -> list[Listing]:
    """Listings from the rendered result DOM (`#mainsrp-itemlist div.items > div.item`)."""
    out = []
    for item in Selector(text=text, type="html").css("#mainsrp-itemlist div.items > div.item"):
        nid = (
            item.css("div.pic a::attr(data-nid)").get()
            or item.css("a[data-nid]::attr(data-nid)").get()
        )
        if not nid:
            continue
        link = item.css("div.pic a::attr(href)").get()
        shop = item.css("div.shop a.shopname")
        price_text = item.css("div.price strong::text").get()
        price, _ = parse_price(price_text, CNY)
        image = page_url_abs(
            item.css("div.pic img::attr(data-src)").get()
            or item.css("div.pic img::attr(src)").get(),
            page_url,
        )
        out.append(
            Listing(
                marketplace=marketplace,
                listing_id=nid,
                url=item_url(link, nid, page_url, "tmall.com" in (link or "")),
                title=strip_highlight(item.css("div.title a").get()),
                price=price,
                currency=CNY if price is not None else None,
                price_text=price_text,
                seller_id=shop.xpath("@data-userid").get() if shop else None,
                seller_name=(shop.css("span:last-child::text").get() or "").strip() or None
                if shop
                else None,
                store_url=page_url_abs(shop.xpath("@href").get(), page_url) if shop else None,
                image_urls=[image] if image else [],
                location=(item.css("div.location::text").get() or "").strip() or None,
                sales=parse_count(item.css("div.deal-cnt::text").get()),
                is_ad="p4p" in (item.xpath("@class").get() or "")
                or item.xpath("@data-category").get() == "p4p",
                page_url=page_url,
            )
        )
    return out


def load_page_config(text: str) -> dict[str, Any] | None:
    """The page's `g_page_config` object (also from a bare saved JSON body); None when absent."""
    if "g_page_config" in text:
        return extract_js_object(text, "g_page_config")
    stripped = text.lstrip()
    if stripped.startswith("{") and ('"mods"' in stripped[:5000] or '"pageName"' in stripped[:200]):
        data = parse_js_text(stripped)
        return data if isinstance(data, dict) else None
    return None


def parse_search_page(text: str, page_url: str, marketplace: str = "taobao") -> list[Listing]:
    """Listings on a Taobao search page: `g_page_config` first, the rendered DOM as fallback.

    Raises PageError for a block page or a page with neither (truncated, broken JSON).
    """
    reason = block_reason(text, page_url)
    if reason:
        raise PageError("blocked", reason)
    try:
        config = load_page_config(text)
    except PageError:
        config = None
        broken = True
    else:
        broken = False
    if config is not None:
        return parse_page_config(config, page_url, marketplace)
    listings = parse_search_dom(text, page_url, marketplace)
    if listings:
        return listings
    raise PageError(
        "broken_json" if broken else "no_listing_json", "no g_page_config and no result DOM"
    )


def pager(text: str) -> tuple[int, int, int] | None:
    """(current page, total pages, page size) from `mods.pager`, when the page has them."""
    try:
        config = load_page_config(text)
    except PageError:
        return None
    data = dig(config or {}, "mods", "pager", "data")
    if not isinstance(data, dict) or "totalPage" not in data:
        return None
    return (
        int(data.get("currentPage") or 1),
        int(data.get("totalPage") or 0),
        int(data.get("pageSize") or PAGE_SIZE),
    )


class TaobaoSpider(MarketSpider):
    """Taobao search results from `g_page_config` (DOM fallback)."""

    name = "taobao"
    chinese_site = True
    default_base_url = "https://s.taobao.com"
    default_currency = CNY
    page_size = PAGE_SIZE
    #: Extra query parameters of the search URL (the Tmall spider restricts to Tmall shops).
    search_params = ""

    def search_url(self, term: str, page: int) -> str:
        offset = (page - 1) * self.page_size
        url = f"{self.base_url}/search?q={quote(term)}&s={offset}"
        return url + self.search_params

    def parse_results(self, response: TextResponse) -> list[Listing]:
        return parse_search_page(response.text, response.url, self.name)

    def has_next_page(self, response: TextResponse, listings: list[Listing]) -> bool:
        pages = pager(response.text)
        if pages is None:
            return bool(listings)
        current, total, size = pages
        # The offset parameter `s` counts results: take the page size the site reports.
        self.page_size = size or self.page_size
        return bool(listings) and current < total

    def block_reason(self, response: Response) -> str | None:
        return response_block_reason(response) or super().block_reason(response)
