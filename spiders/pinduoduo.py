"""Pinduoduo (拼多多) search spider.

Pinduoduo's mobile site (mobile.yangkeduo.com) renders search results on the server
and ships them in `window.rawData = {...}`; its goods-list API answers with the same
goods objects. Either is accepted: the goods list is found by its items' keys
(`goods_id`/`goodsID`), wherever a page version puts it. Goods fields:

- `goods_id`, `goods_name` (or `short_name`);
- `thumb_url` / `hd_thumb_url` images;
- prices in **fen**: `group.price` (group-buy price, what the page shows),
  `normal_price`, `market_price`, or `min_group_price`;
- `sales_tip` ("已拼140件", "已拼10万+件") and the exact `cnt`;
- the shop: `mall_id`, else `ad.mall_id` on promoted goods; `mall_name` when present;
- promoted (paid) goods carry an `ad` block with an `ad_id`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from scrapy.http import Response, TextResponse

from crawler.items import Listing
from crawler.parsing import PageError, dig, extract_js_object, parse_count, parse_js_text
from crawler.parsing_cn import (
    CNY,
    block_reason,
    fen_to_yuan,
    find_dict_lists,
    page_url_abs,
    response_block_reason,
    strip_highlight,
)
from crawler.spider import MarketSpider

DEFAULT_BASE = "https://mobile.yangkeduo.com"
_ID_KEYS = {"goods_id", "goodsID", "goodsId"}


def _first(goods: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = goods.get(key)
        if value not in (None, "", 0):
            return value
    return None


def _origin(page_url: str) -> str:
    parts = urlsplit(page_url)
    if parts.scheme and parts.netloc:
        # A mirror serves everything under the search page's folder.
        folder = parts.path.rsplit("/", 1)[0]
        return f"{parts.scheme}://{parts.netloc}{folder}"
    return DEFAULT_BASE


def listing_from_goods(goods: dict[str, Any], page_url: str) -> Listing | None:
    goods_id = str(_first(goods, "goods_id", "goodsID", "goodsId") or "").strip()
    if not goods_id:
        return None
    origin = _origin(page_url)
    fen = (
        _first(goods, "min_group_price")
        or dig(goods, "group", "price")
        or _first(goods, "price", "normal_price")
    )
    price = fen_to_yuan(fen)
    ad = goods.get("ad") if isinstance(goods.get("ad"), dict) else {}
    mall_id = _first(goods, "mall_id", "mallID", "mallId") or ad.get("mall_id")
    image = page_url_abs(
        _first(goods, "hd_thumb_url", "thumb_url", "hdThumbUrl", "thumbURL", "thumbUrl"), page_url
    )
    count = goods.get("cnt")
    link = page_url_abs(_first(goods, "link_url", "linkURL", "linkUrl"), origin + "/")
    return Listing(
        marketplace="pinduoduo",
        listing_id=goods_id,
        url=link or f"{origin}/goods.html?goods_id={goods_id}",
        title=strip_highlight(_first(goods, "goods_name", "goodsName", "short_name")),
        price=price,
        currency=CNY if price is not None else None,
        price_text=f"{price:.2f}" if price is not None else None,
        seller_id=str(mall_id) if mall_id else None,
        seller_name=strip_highlight(_first(goods, "mall_name", "mallName")) or None,
        store_url=f"{origin}/mall_page.html?mall_id={mall_id}" if mall_id else None,
        image_urls=[image] if image else [],
        sales=int(count)
        if isinstance(count, int) and count > 0
        else parse_count(_first(goods, "sales_tip", "salesTip")),
        is_ad=bool(ad.get("ad_id")),
        page_url=page_url,
    )


def load_data(text: str) -> Any:
    """The search data: `window.rawData` of an HTML page, or an API answer / JS literal."""
    if "rawData" in text[:2_000_000] and "<" in text[:200]:
        return extract_js_object(text, "window.rawData")
    return parse_js_text(text)


def _find_key(data: Any, key: str) -> Any:
    """The first value of `key` anywhere in a nested structure (None when absent)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if key in node:
                return node[key]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def parse_search_page(text: str, page_url: str) -> list[Listing]:
    """Goods on a Pinduoduo search page or goods-list answer; PageError when the data is missing."""
    reason = block_reason(text, page_url)
    if reason:
        raise PageError("blocked", reason)
    data = load_data(text)
    for goods_list in find_dict_lists(data, _ID_KEYS):
        return [x for x in (listing_from_goods(g, page_url) for g in goods_list) if x is not None]
    if any(_find_key(data, key) == [] for key in ("list", "goods_list", "goodsList")):
        return []  # the goods list is there and empty: no (more) results
    raise PageError("no_listing_json", "no goods list in Pinduoduo data")


def has_more(text: str) -> bool | None:
    """The page's own `hasMore` flag, when it has one."""
    try:
        value = _find_key(load_data(text), "hasMore")
    except PageError:
        return None
    return None if value is None else bool(value)


class PinduoduoSpider(MarketSpider):
    """Pinduoduo mobile search results from `window.rawData` (server-rendered)."""

    name = "pinduoduo"
    chinese_site = True
    default_base_url = DEFAULT_BASE
    default_currency = CNY

    def search_url(self, term: str, page: int) -> str:
        return f"{self.base_url}/search_result.html?search_key={quote(term)}&page={page}"

    def parse_results(self, response: TextResponse) -> list[Listing]:
        return parse_search_page(response.text, response.url)

    def has_next_page(self, response: TextResponse, listings: list[Listing]) -> bool:
        more = has_more(response.text)
        return bool(listings) and (more is None or more)

    def block_reason(self, response: Response) -> str | None:
        return response_block_reason(response) or super().block_reason(response)
