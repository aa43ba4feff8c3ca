"""Helpers for the Chinese marketplaces (Taobao, Tmall, 1688, JD, Pinduoduo).

Complements `crawler.parsing` (embedded-JS extraction, charset sniffing, prices and
counts) with what only these sites need: highlight markup removed without adding
spaces into Chinese text, HTML entities in object keys (1688 SKU maps), prices in
fen (Pinduoduo), goods lists found by their item keys wherever a page version puts
them, canonical item URLs without tracking parameters, and the markers of their
block pages (login walls, "punish" slider captchas, x5sec).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from w3lib.html import remove_tags

CNY = "CNY"


def strip_highlight(value: Any) -> str:
    """Text without markup such as `<span class=H>女包</span>`, entities or runs of spaces.

    Tags are removed without putting a space in their place: in Chinese titles the
    highlighted word is part of a longer run of characters.
    """
    if value is None:
        return ""
    text = html.unescape(remove_tags(str(value)))
    return re.sub(r"\s+", " ", text).strip()


def unescape_keys(value: Any) -> Any:
    """Undo HTML entities in keys and strings (1688 SKU keys look like '粉色&gt;100cm')."""
    if isinstance(value, dict):
        return {
            html.unescape(k) if isinstance(k, str) else k: unescape_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [unescape_keys(v) for v in value]
    if isinstance(value, str) and "&" in value:
        return html.unescape(value)
    return value


def fen_to_yuan(fen: Any) -> float | None:
    """Pinduoduo prices are integers in fen (1/100 yuan)."""
    if fen is None or fen == "" or isinstance(fen, bool):
        return None
    try:
        return round(int(fen) / 100.0, 2)
    except (TypeError, ValueError):
        return None


def find_dict_lists(data: Any, keys: set[str]) -> Iterator[list[dict]]:
    """Every list of dicts in a nested structure whose items carry one of `keys`.

    Pinduoduo's `rawData` and 1688's search data move their goods list between page
    versions; the list is recognised by its items rather than by a fixed path.
    """
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            dicts = [x for x in node if isinstance(x, dict)]
            if dicts and any(keys & set(x) for x in dicts):
                yield dicts
            else:
                stack.extend(reversed(node))


def query_param(url: str | None, name: str) -> str | None:
    """One query parameter of a URL (`id` of `item.htm?id=...`), or None."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


# Block pages of the Chinese marketplaces. Login walls are recognised by the URL the
# request ended on (ordinary pages link to the login page too); captcha and "punish"
# pages by markers in their body. Lower-case.
CN_BLOCK_URL_MARKERS: dict[str, str] = {
    "login.taobao.com": "Taobao login wall",
    "login.tmall.com": "Tmall login wall",
    "login.1688.com": "1688 login wall",
    "passport.jd.com": "JD login wall",
    "/privatedomain/risk_handler": "JD risk-control page",
    "yangkeduo.com/login.html": "Pinduoduo login wall",
    "/punish": "Alibaba punish page",
}
CN_BLOCK_BODY_MARKERS: dict[str, str] = {
    "_____tmd_____/punish": "Alibaba punish page (slider captcha)",
    "x5secdata": "Alibaba x5sec captcha",
    "nc_1_n1z": "Alibaba slider captcha (nocaptcha)",
    "baxia-punish": "Alibaba baxia punish dialog",
    "请拖动下方滑块完成验证": "slider captcha",
    "verify_auth_token": "Pinduoduo verification page",
}


def block_reason(text: str, url: str = "") -> str | None:
    """Why a page is a Chinese-marketplace block page (login wall, captcha, punish), or None."""
    lowered_url = (url or "").lower()
    for marker, reason in CN_BLOCK_URL_MARKERS.items():
        if marker in lowered_url:
            return reason
    body = (text or "")[:200_000].lower()
    for marker, reason in CN_BLOCK_BODY_MARKERS.items():
        if marker in body:
            return reason
    return None


def response_block_reason(response: Any) -> str | None:
    """`block_reason` for a Scrapy response (URL, redirect chain and body head)."""
    urls = [response.url]
    try:
        urls += list(response.meta.get("redirect_urls", []))
    except AttributeError:  # a response built outside a crawl has no request
        pass
    try:
        text = response.text[:200_000]  # decoded with the response's charset (GBK pages)
    except (AttributeError, UnicodeDecodeError):
        text = response.body[:200_000].decode("utf-8", "replace")
    for url in urls:
        reason = block_reason(text, url)
        if reason:
            return reason
    return None


def page_url_abs(url: Any, page_url: str | None) -> str | None:
    """An absolute URL; protocol-relative `//host/x` takes the scheme of the page it is on."""
    from crawler.parsing import abs_url

    scheme = urlsplit(page_url).scheme if page_url else ""
    return abs_url(url, page_url, scheme=scheme if scheme in ("http", "https") else "https")
