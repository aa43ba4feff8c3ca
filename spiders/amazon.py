"""Amazon search spider (any Amazon storefront: .com, .de, .ae, .com.br ...).

Search pages: `/s?k=<term>&page=<n>`. Results are server-rendered cards,
`div[data-component-type="s-search-result"][data-asin]` (title `h2 a span`, price
`span.a-price > span.a-offscreen`, image `img.s-image`, sponsored cards carry the
`AdHolder` class or a "Sponsored" label and link through `/sspa/click`). The
pre-2019 layout (`li.s-result-item[data-asin]`, `h2.s-access-title`,
`a.s-access-detail-page`, `span.s-price`) is still understood.

Cards never name the seller, so each new listing's product page (`/dp/<ASIN>`) is
followed for the seller (`#sellerProfileTriggerId`, id in its `seller=` link), a
price when the card had none, the brand and the feature bullets.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

from parsel import Selector

from crawler.items import Listing
from crawler.parsing import PageError, abs_url, clean_text, parse_count, parse_price
from crawler.spider import MarketSpider

# Storefront currency, by host suffix; "$" alone is ambiguous across storefronts.
_CURRENCY_BY_HOST = [
    (".com.br", "BRL"),
    (".com.mx", "MXN"),
    (".com.au", "AUD"),
    (".co.uk", "GBP"),
    (".co.jp", "JPY"),
    (".com.tr", "TRY"),
    (".de", "EUR"),
    (".fr", "EUR"),
    (".es", "EUR"),
    (".it", "EUR"),
    (".nl", "EUR"),
    (".ae", "AED"),
    (".sa", "SAR"),
    (".in", "INR"),
    (".ca", "CAD"),
    (".se", "SEK"),
    (".pl", "PLN"),
    (".sg", "SGD"),
    (".com", "USD"),
]
_SPONSORED_WORDS = ("Sponsored", "Gesponsert", "Patrocinado", "Sponsorisé", "Sponsorizzato", "ممول")


def storefront_currency(url: str) -> str:
    host = urlsplit(url).hostname or ""
    for suffix, code in _CURRENCY_BY_HOST:
        if host.endswith(suffix):
            return code
    return "USD"


def _text(sel: Selector, query: str) -> str:
    return clean_text(sel.css(query).getall())


def _card(card: Selector, base_url: str, currency: str) -> Listing:
    asin = (card.xpath("@data-asin").get() or "").strip()
    title = (
        # Legacy cards hide "[Sponsored]" inside the h2; data-attribute has the bare title.
        (card.css("h2::attr(data-attribute)").get() or "").strip()
        or _text(card, "h2 a span")
        or _text(card, "h2 span")
        or _text(card, "h2.s-access-title")
    )
    href = (
        card.css("h2 a::attr(href)").get()
        or card.css("a.s-access-detail-page::attr(href)").get()
        or ""
    )
    price_text = (
        card.css("span.a-price:not(.a-text-price) > span.a-offscreen::text").get()
        or card.css("span.a-price > span.a-offscreen::text").get()
        or card.css("span.s-price::text").get()
        or card.css("span.a-color-price::text").get()
    )
    price, cur = parse_price(price_text, currency)
    image = (
        card.css("img.s-image::attr(src)").get()
        or card.css("img.s-access-image::attr(src)").get()
        or card.css(".s-product-image-container img::attr(src)").get()
    )
    classes = (card.xpath("@class").get() or "")
    labels = " ".join(
        card.css(
            ".s-label-popover-default ::text, .puis-label-popover-default ::text, h5 ::text"
        ).getall()
    )
    is_ad = (
        "AdHolder" in classes
        or any(w in labels for w in _SPONSORED_WORDS)
        or "/sspa/click" in href
        or "picassoRedirect" in href
        or bool(card.css(".s-sponsored-label-text, .s-sponsored-header"))
    )
    bought = next(
        (t for t in card.css("span.a-size-base.a-color-secondary::text").getall() if "bought" in t),
        None,
    )
    return Listing(
        marketplace="amazon",
        listing_id=asin,
        url=f"{base_url}/dp/{asin}" if asin else "",
        title=title,
        price=price,
        currency=cur if price is not None else None,
        price_text=(price_text or "").strip() or None,
        image_urls=[u for u in [abs_url(image, base_url)] if u],
        is_ad=is_ad,
        sales=parse_count(bought) if bought else None,
    )


def parse_search_page(text: str, base_url: str, currency: str | None = None) -> list[Listing]:
    """Listings of an Amazon search page; `base_url` is the storefront root (no trailing /)."""
    base_url = base_url.rstrip("/")
    currency = currency or storefront_currency(base_url)
    sel = Selector(text=text, type="html")
    cards = sel.css('div[data-component-type="s-search-result"][data-asin]')
    if not cards:
        cards = sel.css("li.s-result-item[data-asin]")
    if not cards and not sel.css(
        "#search, #s-results-list-atf, #resultsCol, .s-main-slot, .s-no-outline"
    ):
        raise PageError("no_results_markup", "no Amazon result list on the page")
    return [
        _card(c, base_url, currency) for c in cards if (c.xpath("@data-asin").get() or "").strip()
    ]


def parse_product_page(
    text: str,
    page_url: str,
    listing: Listing | None = None,
    currency: str | None = None,
    base_url: str | None = None,
) -> Listing:
    """Complete (or build) a Listing from an Amazon product page; `base_url`: storefront root."""
    sel = Selector(text=text, type="html")
    title = _text(sel, "#productTitle")
    if not title:
        raise PageError("no_product_markup", "no #productTitle")
    base = (base_url or f"{urlsplit(page_url).scheme}://{urlsplit(page_url).netloc}").rstrip("/")
    currency = currency or storefront_currency(page_url)
    asin = sel.css("input#ASIN::attr(value)").get() or ""
    m = re.search(r"/dp/([A-Z0-9]{10})", page_url)
    if listing is None:
        canonical = sel.css("link[rel=canonical]::attr(href)").get() or page_url
        listing = Listing(
            marketplace="amazon", listing_id=(m.group(1) if m else asin), url=canonical, title=title
        )
    listing.title = title
    price_text = (
        sel.css("#corePrice_feature_div .a-offscreen::text").get()
        or sel.css("#corePriceDisplay_desktop_feature_div .a-offscreen::text").get()
        or sel.css("#priceblock_ourprice::text, #priceblock_dealprice::text").get()
    )
    if price_text:
        listing.price, listing.currency = parse_price(price_text, currency)
        listing.price_text = price_text.strip()
    seller = sel.css("#sellerProfileTriggerId")
    if seller:
        listing.seller_name = clean_text(seller.css("::text").get()) or None
        href = (seller.xpath("@href").get() or "")
        seller_id = (parse_qs(urlsplit(href).query).get("seller") or [None])[0]
        if seller_id:
            listing.seller_id = seller_id
            listing.store_url = f"{base}/sp?seller={seller_id}"
    image = (
        sel.css("#landingImage::attr(data-old-hires)").get()
        or sel.css("#landingImage::attr(src)").get()
    )
    if image and image.startswith(("http", "//")):
        url = abs_url(image, page_url)
        listing.image_urls = [url] + [u for u in listing.image_urls if u != url]
    brand = _text(sel, "tr.po-brand td.a-span9 span") or _text(sel, "#bylineInfo")
    bullets = [
        clean_text(b.css("::text").getall())
        for b in sel.css("#feature-bullets li span.a-list-item")
    ]
    parts = [f"Brand: {brand}"] if brand else []
    parts += [b for b in bullets if b]
    if parts:
        listing.description = "\n".join(parts)
    return listing


class AmazonSpider(MarketSpider):
    name = "amazon"
    default_base_url = "https://www.amazon.com"
    browser_wait_selector = "div.s-main-slot"

    @property
    def currency(self) -> str:
        return storefront_currency(self.base_url)

    def search_url(self, term: str, page: int) -> str:
        url = f"{self.base_url}/s?k={quote_plus(term)}"
        return url if page <= 1 else f"{url}&page={page}"

    def parse_results(self, response: Any) -> list[Listing]:
        return parse_search_page(response.text, self.base_url, self.currency)

    def has_next_page(self, response: Any, listings: list[Listing]) -> bool:
        if response.css("a.s-pagination-next, #pagnNextLink"):
            return True
        # A page with a pager but no "next" link is the last one.
        return bool(listings) and not response.css(".s-pagination-strip, #pagn")

    def needs_product_page(self, listing: Listing) -> bool:
        return not listing.seller_id

    def parse_product_page(self, response: Any, listing: Listing) -> Listing:
        return parse_product_page(
            response.text, response.url, listing, self.currency, self.base_url
        )
