"""eBay search spider (any eBay site: .com, .de, .co.uk ...).

Search pages: `/sch/i.html?_nkw=<term>&_pgn=<n>`. Results are server-rendered
`ul.srp-results > li.s-item` cards: title `.s-item__title` (a "Neues Angebot" /
"New listing" tag sits in a `LIGHT_HIGHLIGHT` span and is not part of the title),
price `.s-item__price` ("EUR 10,79"; ranges "EUR 124,00 bis EUR 174,00"), link
`a.s-item__link` (`/itm/<id>`), image `img.s-item__image-img`, sold count in
`.s-item__hotness` / `.s-item__quantitySold` ("321 verkauft"), location in
`.s-item__location` / `.s-item__itemLocation` where shown. A "Shop on eBay"
placeholder card (`/itm/123456`) is skipped.

Cards do not name the seller, so the item page (`/itm/<id>`) is followed for the
seller card (`.x-sellercard-atf__info__about-seller`: name, `/str/<store>` or
`/usr/<user>` link), the eBay item-page format since 2022. No real item page was
available to test with; the parser follows the documented markup.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote_plus, urlsplit

from parsel import Selector

from crawler.items import Listing
from crawler.parsing import PageError, abs_url, clean_text, parse_count, parse_price
from crawler.spider import MarketSpider

_PLACEHOLDER_IDS = {"123456"}
_CURRENCY_BY_HOST = [
    (".de", "EUR"),
    (".fr", "EUR"),
    (".it", "EUR"),
    (".es", "EUR"),
    (".co.uk", "GBP"),
    (".com.au", "AUD"),
    (".ca", "CAD"),
    (".com", "USD"),
]


def site_currency(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return next((code for suffix, code in _CURRENCY_BY_HOST if host.endswith(suffix)), "USD")


def item_id(href: str) -> str:
    m = re.search(r"/itm/(?:[^/?#]+/)?(\d+)(?:[/?#]|$)", href or "")
    return m.group(1) if m else ""


def _title(card: Selector) -> str:
    # "Neues Angebot" / "New listing" tags and screen-reader text are not the title.
    texts = (
        card.css(".s-item__title")
        .xpath(
            ".//text()[not(ancestor::*[contains(@class,'LIGHT_HIGHLIGHT') or contains(@class,'clipped')])]"
        )
        .getall()
    )
    return clean_text(texts)


def parse_search_page(text: str, base_url: str, currency: str | None = None) -> list[Listing]:
    """Listings of an eBay search page; `base_url` is the site root (no trailing /)."""
    base_url = base_url.rstrip("/")
    currency = currency or site_currency(base_url)
    sel = Selector(text=text, type="html")
    # Direct children only: "similar items" carousels nest more li.s-item cards.
    cards = sel.css("ul.srp-results > li.s-item")
    if not cards and not sel.css("ul.srp-results, .srp-river-results, .srp-save-null-search"):
        raise PageError("no_results_markup", "no eBay result list on the page")
    out: list[Listing] = []
    for card in cards:
        href = card.css("a.s-item__link::attr(href)").get() or ""
        lid = item_id(href)
        title = _title(card)
        if lid in _PLACEHOLDER_IDS or title.lower().startswith(
            ("shop on ebay", "bei ebay einkaufen")
        ):
            continue
        price_text = clean_text(card.css(".s-item__price ::text").getall())
        price, cur = parse_price(price_text, currency)
        image = (
            card.css("img.s-item__image-img::attr(src)").get()
            or card.css(".s-item__image img::attr(src)").get()
        )
        sold = next(
            (
                t
                for t in card.css(".s-item__hotness ::text, .s-item__quantitySold ::text").getall()
                if re.search(r"\d", t)
                and re.search(r"sold|verkauft|vendu|venduti|vendidos", t, re.IGNORECASE)
            ),
            None,
        )
        location = clean_text(
            card.css(".s-item__location ::text, .s-item__itemLocation ::text").getall()
        )
        location = re.sub(r"^(?:from|aus|de|da)\s+", "", location, flags=re.IGNORECASE) or None
        seller = clean_text(card.css(".s-item__seller-info-text ::text").getall())
        seller_name = seller.split("(")[0].strip() or None if seller else None
        out.append(
            Listing(
                marketplace="ebay",
                listing_id=lid,
                url=f"{base_url}/itm/{lid}" if lid else "",
                title=title,
                price=price,
                currency=cur if price is not None else None,
                price_text=price_text or None,
                seller_name=seller_name,
                image_urls=[u for u in [abs_url(image, base_url)] if u],
                location=location,
                sales=parse_count(sold) if sold else None,
                is_ad=bool(card.css(".s-item__sponsored, .s-item__ad-badge")),
            )
        )
    return out


def parse_item_page(
    text: str, page_url: str, listing: Listing | None = None, base_url: str | None = None
) -> Listing:
    """Complete (or build) a Listing from an eBay item page: seller, price, images, location."""
    sel = Selector(text=text, type="html")
    title = clean_text(sel.css("h1.x-item-title__mainTitle ::text, h1#itemTitle ::text").getall())
    if not title and listing is None:
        raise PageError("no_product_markup", "no item title")
    lid = item_id(page_url)
    if listing is None:
        listing = Listing(marketplace="ebay", listing_id=lid, url=page_url, title=title)
    if title:
        listing.title = title
    about = sel.css(".x-sellercard-atf__info__about-seller, .ux-seller-section__item--seller")
    link = (
        about.css("a::attr(href)").get()
        or sel.css(".x-sellercard-atf a[href*='/str/'], a[href*='/usr/']::attr(href)").get()
    )
    name = clean_text(about.css("a ::text, span.ux-textspans--BOLD::text").get()) if about else ""
    if name:
        listing.seller_name = name
    if link:
        m = re.search(r"/(?:str|usr)/([^/?#]+)", link)
        if m:
            listing.seller_id = m.group(1)
            listing.store_url = abs_url(link.split("?")[0], base_url or page_url)
    price_text = clean_text(sel.css(".x-price-primary ::text, #prcIsum::text").getall())
    if price_text and listing.price is None:
        listing.price, listing.currency = parse_price(
            price_text, site_currency(base_url or page_url)
        )
        listing.price_text = price_text
    images = sel.css(
        ".ux-image-carousel-item img::attr(data-zoom-src), .ux-image-carousel-item img::attr(src)"
    ).getall()
    for url in images:
        full = abs_url(url, page_url)
        if full and full not in listing.image_urls:
            listing.image_urls.append(full)
    location = clean_text(
        sel.css(
            ".ux-labels-values--itemLocation .ux-textspans--SECONDARY::text, .ux-labels-values--itemLocation .ux-labels-values__values ::text"
        ).getall()
    )
    if location and not listing.location:
        listing.location = location
    desc = clean_text(sel.css("#viTabs_0_is ::text, .x-about-this-item ::text").getall())
    if desc:
        listing.description = desc[:2000]
    return listing


class EbaySpider(MarketSpider):
    name = "ebay"
    default_base_url = "https://www.ebay.com"
    browser_wait_selector = "ul.srp-results"

    @property
    def currency(self) -> str:
        return site_currency(self.base_url)

    def search_url(self, term: str, page: int) -> str:
        url = f"{self.base_url}/sch/i.html?_nkw={quote_plus(term)}"
        return url if page <= 1 else f"{url}&_pgn={page}"

    def parse_results(self, response: Any) -> list[Listing]:
        return parse_search_page(response.text, self.base_url, self.currency)

    def has_next_page(self, response: Any, listings: list[Listing]) -> bool:
        nxt = response.css("a.pagination__next")
        return bool(listings) and bool(nxt) and nxt.xpath("@aria-disabled").get() != "true"

    def needs_product_page(self, listing: Listing) -> bool:
        return not listing.seller_id

    def parse_product_page(self, response: Any, listing: Listing) -> Listing:
        return parse_item_page(response.text, response.url, listing, self.base_url)
