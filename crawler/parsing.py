"""Shared helpers for the marketplace parsers (no Scrapy needed to use them).

- `PageError(reason)`: a page that cannot be used (truncated, listing JSON missing or
  broken). The base spider counts it as `markwatch/dropped/<reason>` and goes on.
- `extract_js_object(text, name)`: a JavaScript object assigned or passed in a page
  (`window.runParams = {...}`, `g_page_config = {...};`, `setMdskip({...})`,
  single-quoted keys), parsed with chompjs rather than a regex per site.
- `decode_html(body, declared)`: charset sniffing that does not trust a lying
  `<meta charset>` (Tmall pages declare GBK and are UTF-8; 1688 pages really are GBK).
- `parse_price(text, default_currency)`: price text to (amount, ISO currency), via
  price-parser; `parse_count("1.5万人付款")` for sales counts.
- `abs_url`, `strip_tags`, `clean_text`: small normalisers.
"""

from __future__ import annotations

import codecs
import html
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import chompjs
from price_parser import Price


class PageError(Exception):
    """A page that cannot be parsed; `reason` is a short stats key such as `no_listing_json`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# -- embedded JavaScript objects ---------------------------------------------


def _candidates(text: str, name: str) -> list[int]:
    """Offsets just after `name = `, `name: `, `name(` or `"name":` occurrences."""
    pattern = re.compile(r"(?<![\w$.])" + re.escape(name) + r"""['"]?\s*(?:=(?!=)|:|\()\s*""")
    return [m.end() for m in pattern.finditer(text)]


def extract_js_object(text: str, name: str, *, allow_empty: bool = False) -> Any:
    """The first non-empty object or array assigned to / passed to `name` in `text`.

    `name` may be dotted (`window.runParams`). Pages often assign an empty object
    first (`window.runParams = {};`) and fill it later, so empty ones are skipped
    unless `allow_empty`. Raises `PageError("no_listing_json")` when `name` does not
    occur with an object, `PageError("broken_json")` when it occurs but cannot be parsed.
    """
    offsets = _candidates(text, name)
    if not offsets:
        raise PageError("no_listing_json", f"{name} not found")
    broken = None
    for start in offsets:
        head = text[start : start + 1]
        if head not in "{[":
            continue
        try:
            value = chompjs.parse_js_object(text[start:], loader_kwargs={"strict": False})
        except (ValueError, TypeError, RecursionError) as exc:
            broken = exc
            continue
        if value or allow_empty:
            return value
    if broken is not None:
        raise PageError("broken_json", f"{name}: {str(broken)[:80]}")
    raise PageError("no_listing_json", f"{name} holds no data")


def parse_js_text(text: str) -> Any:
    """Parse a whole file/body that is one JS object, possibly wrapped (`export const x = {...}`, JSONP)."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise PageError("no_listing_json", "no object in body")
    try:
        return chompjs.parse_js_object(text[start:], loader_kwargs={"strict": False})
    except (ValueError, TypeError, RecursionError) as exc:
        raise PageError("broken_json", str(exc)[:80]) from None


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """`obj[path[0]][path[1]]...`, or `default` when any step is missing."""
    for key in path:
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            return default
    return default if obj is None else obj


# -- charsets ----------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
# GBK and GB2312 pages use characters only GB18030 (their superset) decodes.
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
}


def _norm_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        canonical = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    return _SUPERSETS.get(canonical, canonical)


def meta_charset(body: bytes) -> str | None:
    m = _META_CHARSET.search(body[:4096])
    return m.group(1).decode("ascii", "replace") if m else None


def sniff_encoding(body: bytes, declared: str | None = None) -> str:
    """The encoding `body` really uses.

    Order: a byte-order mark; UTF-8 when the bytes decode as UTF-8 strictly (a
    multi-byte GBK text almost never does, so a `<meta charset=gbk>` over UTF-8 bytes
    loses); the declared (header) charset; the meta charset; GB18030; cp1252.
    """
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            return enc
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    for name in (declared, meta_charset(body), "gb18030"):
        enc = _norm_codec(name)
        if not enc or enc == "utf-8":
            continue
        try:
            body.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    return "cp1252"


def decode_html(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding) of a page body; undecodable bytes become U+FFFD rather than failing."""
    enc = sniff_encoding(body, declared)
    return body.decode(enc, errors="replace"), enc


def decode_response(response: Any) -> Any:
    """A Scrapy TextResponse decoded with `sniff_encoding` (same object when already right)."""
    from scrapy.http import HtmlResponse, TextResponse

    declared = None
    ctype = response.headers.get(b"Content-Type", b"") or b""
    m = re.search(rb"charset=([\w-]+)", ctype, re.IGNORECASE)
    if m:
        declared = m.group(1).decode("ascii", "replace")
    enc = sniff_encoding(response.body, declared)
    cls = response.__class__ if isinstance(response, TextResponse) else HtmlResponse
    if _XML_UNSAFE.search(response.body.decode(enc, errors="replace")):
        # lxml refuses control characters in attribute names: junk in a page must not crash the parser.
        text = _XML_UNSAFE.sub(" ", response.body.decode(enc, errors="replace"))
        return response.replace(cls=cls, body=text.encode("utf-8"), encoding="utf-8")
    if isinstance(response, TextResponse) and _norm_codec(response.encoding) == _norm_codec(enc):
        return response
    return response.replace(cls=cls, encoding=enc)


_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# -- prices and counts -------------------------------------------------------

_SYMBOLS = {
    "US $": "USD",
    "US$": "USD",
    "USD": "USD",
    "$": None,
    "€": "EUR",
    "EUR": "EUR",
    "£": "GBP",
    "GBP": "GBP",
    "¥": None,
    "￥": "CNY",
    "元": "CNY",
    "RMB": "CNY",
    "CNY": "CNY",
    "CN¥": "CNY",
    "JP¥": "JPY",
    "JPY": "JPY",
    "R$": "BRL",
    "BRL": "BRL",
    "AED": "AED",
    "₹": "INR",
    "Rs.": "INR",
    "INR": "INR",
    "C$": "CAD",
    "CA$": "CAD",
    "AU $": "AUD",
    "AU$": "AUD",
    "A$": "AUD",
    "CHF": "CHF",
    "ARS": "ARS",
    "₽": "RUB",
    "руб.": "RUB",
    "zł": "PLN",
    "MX$": "MXN",
    "₩": "KRW",
    "TL": "TRY",
    "₺": "TRY",
    "SEK": "SEK",
    "kr": None,
}


def currency_code(symbol: str | None, default: str | None = None) -> str | None:
    """ISO 4217 code for a currency symbol or code; `default` when ambiguous (`$`, `¥`)."""
    if not symbol:
        return default
    s = symbol.strip()
    if s in _SYMBOLS:
        return _SYMBOLS[s] or default
    if re.fullmatch(r"[A-Z]{3}", s):
        return s
    return default


def parse_price(text: Any, default_currency: str | None = None) -> tuple[float | None, str | None]:
    """(amount, currency) from price text such as "EUR 10,79", "US $12.50", "¥ 59.00 - 89.00".

    A range gives its lower bound. Numbers pass through unchanged.
    """
    if text is None:
        return None, None
    if isinstance(text, (int, float)):
        return float(text), default_currency
    raw = html.unescape(str(text)).strip()
    if not raw:
        return None, None
    # Ranges: "EUR 10,79 bis EUR 20,00", "$1.00 - $3.00", "¥59-89", "1,20 a 3,40".
    first = re.split(r"\s+(?:bis|to|a|à|до)\s+|\s*[-–~～]\s*(?=\D*\d)", raw, maxsplit=1)[0]
    price = Price.fromstring(first)
    amount = price.amount_float
    if amount is None:
        price = Price.fromstring(raw)
        amount = price.amount_float
    cur = price.currency or Price.fromstring(raw).currency
    explicit = _EXPLICIT.search(raw)
    if explicit and currency_code(cur) is None:
        cur = explicit.group(0).replace(" ", "")
    return amount, currency_code(cur, default_currency)


# Prefixes that make "$" unambiguous, which price-parser reports as a bare "$".
_EXPLICIT = re.compile(r"US ?\$|C ?\$|CA\$|AU ?\$|A\$|MX\$|R\$|CN¥|JP¥")


_COUNT = re.compile(r"(\d[\d.,\s]*)\s*(万|w|萬|k|K|千|m|M)?\s*\+?")


def parse_count(text: Any) -> int | None:
    """A sales/review count from text: "51601人付款", "1.5万+", "10,000+ sold", "1.234 vendidos"."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return int(text)
    m = _COUNT.search(str(text))
    if not m:
        return None
    digits, unit = m.group(1).strip().replace(" ", ""), m.group(2)
    mult = {
        "万": 10_000,
        "萬": 10_000,
        "w": 10_000,
        "k": 1000,
        "K": 1000,
        "千": 1000,
        "m": 1_000_000,
        "M": 1_000_000,
    }.get(unit or "", 1)
    if mult > 1:
        value = float(digits.replace(",", "."))
    else:
        # "1.234" and "1,234" are thousands; "1.5" without a unit is not a count format.
        value = float(re.sub(r"[.,](?=\d{3}(?:\D|$))", "", digits).replace(",", "."))
    return round(value * mult)


# -- text and URLs -------------------------------------------------------------

_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def strip_tags(text: Any) -> str:
    """Text without HTML tags and entities, whitespace collapsed (titles carry highlight markup)."""
    if text is None:
        return ""
    return _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", str(text)))).strip()


def clean_text(parts: Any) -> str:
    """Join text nodes (a list from `::text` / `.getall()`) into one clean string."""
    if isinstance(parts, (list, tuple)):
        parts = " ".join(p for p in parts if p)
    return strip_tags(parts)


def abs_url(url: Any, base: str | None = None, scheme: str = "https") -> str | None:
    """An absolute URL: protocol-relative `//host/x` gets `scheme`, relative ones join `base`."""
    if not url:
        return None
    url = html.unescape(str(url).strip())
    try:
        urlsplit(url)
        if url.startswith("//"):
            # A mirror served over http keeps http; marketplaces themselves are https.
            base_scheme = base.split(":", 1)[0] if base and "://" in base else scheme
            return f"{base_scheme}:{url}"
        return urljoin(base, url) if base else url
    except ValueError:  # "http://[bad" from a damaged page: no usable URL
        return None
