"""Generic spider for small sites without their own spider file.

Everything comes from the client file's marketplace block::

    marketplaces:
      smallshop:
        base_url: https://smallshop.example
        search_url: https://smallshop.example/search?q={term}&page={page}
        selectors:
          item: "div.product"                 # CSS (default)
          id: "::attr(data-id)"
          title: "h2 a"
          url: "h2 a::attr(href)"
          price: "xpath:.//span[@class='price']/text()"   # XPath with "xpath:"
          seller_name: ".shop"
          image: "img::attr(src)"
          next_page: "a.next::attr(href)"

For JSON answers, selectors start with "json:" and are dotted paths
(`item: "json:data.items"`, `id: "json:sku"`, `title: "json:name"`,
`price: "json:price.value"`). `{term}` is URL-encoded; `{page}` is 1-based and
`{offset}` is the index of the first result (for sites that page by offset,
20 results per page).

Run it as `scrapy crawl generic -a marketplace=smallshop -a client=markwatch.yaml`
or `run_crawl("generic", ..., marketplace="smallshop", client=client)`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import quote_plus

from crawler.config import MarketplaceConfig, Selectors, load_client
from crawler.items import Listing
from crawler.parsing import PageError, abs_url, clean_text, dig, parse_price
from crawler.spider import MarketSpider


def _json_path(obj: Any, path: str) -> Any:
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    return dig(obj, *[int(p) if p.isdigit() else p for p in parts])


def _select(node: Any, query: str | None) -> str | None:
    """The first value `query` finds in `node` (a parsel Selector or a JSON value), as text."""
    if not query:
        return None
    if query.startswith("json:"):
        value = _json_path(node, query[5:])
        return None if value is None else str(value)
    if query.startswith("xpath:"):
        found = node.xpath(query[6:]).getall()
    elif "::" in query:
        found = node.css(query).getall()
    else:
        found = [" ".join(node.css(query + " ::text").getall())] if node.css(query) else []
    text = clean_text(found[0]) if found and "::attr" in query else clean_text(found)
    return text or None


def parse_search_page(
    text: str, page_url: str, selectors: Selectors, marketplace: str, currency: str | None = None
) -> list[Listing]:
    """Listings found with the configured selectors; `page_url` resolves relative links."""
    if selectors.item.startswith("json:"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise PageError("broken_json", str(exc)[:80]) from None
        items = _json_path(data, selectors.item[5:])
        if not isinstance(items, list):
            raise PageError("no_listing_json", f"{selectors.item} is not a list")
        nodes: list[Any] = items
    else:
        from parsel import Selector

        sel = Selector(text=text, type="html")
        nodes = list(
            sel.xpath(selectors.item[6:])
            if selectors.item.startswith("xpath:")
            else sel.css(selectors.item)
        )
    out: list[Listing] = []
    for node in nodes:
        lid = _select(node, selectors.id) or ""
        price_text = _select(node, selectors.price)
        price, cur = parse_price(price_text, currency)
        cur = _select(node, selectors.currency) or cur
        url = abs_url(_select(node, selectors.url), page_url) if selectors.url else None
        image = abs_url(_select(node, selectors.image), page_url) if selectors.image else None
        out.append(
            Listing(
                marketplace=marketplace,
                listing_id=lid.strip(),
                url=url or page_url,
                title=_select(node, selectors.title) or "",
                price=price,
                currency=cur if price is not None else None,
                price_text=price_text,
                seller_id=_select(node, selectors.seller_id),
                seller_name=_select(node, selectors.seller_name),
                image_urls=[image] if image else [],
            )
        )
    return out


class GenericSpider(MarketSpider):
    name = "generic"

    def __init__(
        self,
        *,
        marketplace: str = "generic",
        config: MarketplaceConfig | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        client = kwargs.get("client")
        if isinstance(client, (str, os.PathLike)):
            client = kwargs["client"] = load_client(client)
        if config is None and client is not None:
            config = client.marketplaces.get(marketplace)
        self.marketplace = marketplace
        super().__init__(config=config, **kwargs)
        cfg = self.market_config
        if not cfg.search_url or "{term}" not in cfg.search_url:
            raise ValueError(
                f"marketplaces.{marketplace}.search_url: expected a URL with {{term}} (and {{page}})"
            )
        if cfg.selectors is None:
            raise ValueError(
                f"marketplaces.{marketplace}.selectors: expected item, id and title selectors"
            )
        self.template = cfg.search_url
        self.selectors: Selectors = cfg.selectors
        self.page_size = 20
        if not self.base_url:
            m = re.match(r"^(https?://[^/]+)", self.template)
            self.base_url = m.group(1) if m else ""

    def search_url(self, term: str, page: int) -> str:
        return (
            self.template.replace("{term}", quote_plus(term))
            .replace("{page}", str(page))
            .replace("{offset}", str((page - 1) * self.page_size))
        )

    def parse_results(self, response: Any) -> list[Listing]:
        listings = parse_search_page(
            response.text, response.url, self.selectors, self.marketplace, self.default_currency
        )
        if listings and not any(x.listing_id and x.title.strip() for x in listings):
            # Items found, not one with an id and a title: the client file's `id` or `title`
            # selector does not fit this site. Each would be dropped and the crawl end
            # "ok" with 0 listings, monitoring silently off; an unusable page says so.
            raise PageError(
                "no_id_or_title",
                f"{len(listings)} items, none with an id and a title (check selectors.id and selectors.title)",
            )
        return listings

    def has_next_page(self, response: Any, listings: list[Listing]) -> bool:
        if not listings:
            return False
        if self.selectors.next_page and not self.selectors.item.startswith("json:"):
            return bool(_select(response, self.selectors.next_page))
        return "{page}" in self.template or "{offset}" in self.template
