"""Search queries per marketplace, generated from the client file.

Each mark contributes its terms (Latin, Chinese, pinyin) alone and combined with
the goods it is used on (`keywords`), plus the names of its genuine products.
Chinese-language marketplaces (Taobao, Tmall, 1688, JD, Pinduoduo) get the
Chinese terms first, with Chinese keywords, and a pinyin spelling generated for
Chinese terms; other marketplaces get Latin-script queries only, because a
Chinese query on Amazon or eBay finds little and costs requests.
"""

from __future__ import annotations

import re

from crawler.config import Client, Mark

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

#: Spider names of the Chinese-language marketplaces.
CHINESE_MARKETPLACES = frozenset({"taobao", "tmall", "1688", "jd", "pinduoduo"})


def is_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def to_pinyin(text: str) -> str:
    """Toneless pinyin of the Chinese characters, joined: 艾克米 -> "aikemi"."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text)).replace(" ", "")


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        item = re.sub(r"\s+", " ", item).strip()
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def mark_queries(mark: Mark, *, chinese: bool, product_names: list[str] | None = None) -> list[str]:
    """Queries for one mark: terms, then term + keyword, then product names."""
    terms = list(mark.terms)
    cjk_terms = [t for t in terms if is_chinese(t)]
    latin_terms = [t for t in terms if not is_chinese(t)]
    cjk_keywords = [k for k in mark.keywords if is_chinese(k)]
    latin_keywords = [k for k in mark.keywords if not is_chinese(k)]
    out: list[str] = []
    if chinese:
        pinyin = [to_pinyin(t) for t in cjk_terms]
        out += cjk_terms + latin_terms + pinyin
        out += [f"{t} {k}" for t in cjk_terms for k in cjk_keywords]
        out += [f"{t} {k}" for t in latin_terms[:1] for k in cjk_keywords]
        out += [f"{t} {k}" for t in latin_terms[:1] for k in latin_keywords]
    else:
        # Pinyin the client listed is Latin script too, and sellers use it abroad.
        out += latin_terms
        out += [f"{t} {k}" for t in latin_terms[:2] for k in latin_keywords]
    for name in product_names or []:
        if chinese or not is_chinese(name):
            out.append(name)
    return _dedupe(out)


def queries_for(
    client: Client, marketplace: str, *, chinese: bool | None = None, limit: int = 40
) -> list[str]:
    """All queries for `marketplace`, marks in file order, at most `limit` (first ones kept)."""
    if chinese is None:
        chinese = marketplace in CHINESE_MARKETPLACES
    out: list[str] = []
    for mark in client.marks:
        names = [p.name for p in client.products_of(mark.id)]
        out += mark_queries(mark, chinese=chinese, product_names=names)
    return _dedupe(out)[:limit]
