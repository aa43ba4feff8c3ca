"""Price evidence: the listing's price against the genuine product's MSRP.

Both prices are converted to the client's base currency with `exchange_rates`.
The product a listing is about is the mark's product whose name shares the most
words (model numbers count double) and goods with the listing; when none is
named, the mark's cheapest product stands in, which understates the discount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from matching.normalize import fold

_WORD = re.compile(r"[a-z0-9]+")
_PARTS = re.compile(r"[a-z]+|[0-9]+")
_CAMEL_EDGE = re.compile(r"(?<=[a-z])(?=[A-Z])")
_AFTER_BRAND = re.compile(r"[\s\-:|/\u3400-\u9fff]*([a-z0-9]+)")
_COMMON = {
    "the",
    "and",
    "for",
    "with",
    "new",
    "of",
    "mm",
    "ml",
    "date",
    "mark",
    "classic",
    "pro",
    "size",
}


# Currency names shops write instead of the ISO code.
_CURRENCY_ALIASES = {
    "RMB": "CNY",
    "CN¥": "CNY",
    "元": "CNY",
    "US$": "USD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "HK$": "HKD",
    "JP¥": "JPY",
    "円": "JPY",
}


def currency_code(currency: str | None) -> str | None:
    """The ISO code of a listing's currency ("rmb" -> "CNY", "€" -> "EUR")."""
    if currency is None:
        return None
    code = currency.strip().upper()
    return _CURRENCY_ALIASES.get(code, code)


@dataclass(slots=True)
class PriceCheck:
    product_id: str | None
    ratio: float  # listing price / MSRP, both in the base currency
    detail: str
    named: bool = False  # the listing names the product (not a guess)


def _words(text: str) -> set[str]:
    words = set()
    # Words glued in camel case are words too: "ZormandiLumen".
    for w in _WORD.findall(fold(_CAMEL_EDGE.sub(" ", text))):
        words.add(w)
        # "41mm" also names "41": split numbers from units and letters.
        words.update(_PARTS.findall(w))
    return {w for w in words if w not in _COMMON and len(w) > 1}


def _model_word(name: str, own: set[str]) -> str | None:
    """The first word of a product name after the brand's own words, if the name starts
    with the brand ("Acme Lune leather wallet" -> "lune")."""
    words = _WORD.findall(fold(name))
    i = 0
    while i < len(words) and words[i] in own:
        i += 1
    if i == 0 or i == len(words) or words[i] in _COMMON or len(words[i]) < 2:
        return None
    return words[i]


class PriceIndex:
    """The products of each mark, with their MSRP in the base currency and their goods."""

    def __init__(self, client, lexicon, mark_concepts: dict[str, set[str]] | None = None) -> None:
        from matching.text import mark_terms

        self.rates = client.exchange_rates
        self.lexicon = lexicon
        own = {m.id: {w for t in mark_terms(m) for w in _words(t)} for m in client.marks}
        mark_concepts = mark_concepts or {}
        # mark id -> [(product, name words, MSRP in base currency, goods concepts)]
        self.by_mark: dict[str, list[tuple[object, set[str], float | None, set[str]]]] = {}
        for p in client.products:
            msrp = self.rates.to_base(p.msrp, p.currency) if p.msrp else None
            words = _words(p.name) - own.get(p.mark, set())
            # A product name without goods words ("Submariner Date 41 mm") takes the mark's goods.
            concepts = lexicon.goods(p.name).concepts or set(mark_concepts.get(p.mark, set()))
            self.by_mark.setdefault(p.mark, []).append((p, words, msrp, concepts))
        # The word that follows the brand in a product's name is its model ("Acme Lune
        # wallet"): written after the brand in a listing, it names that product even
        # when it is an ordinary word. Only a model word no other product of the mark
        # shares, and not a goods word ("Acme Band").
        self.models: dict[str, dict[str, object]] = {}
        for mark_id, items in self.by_mark.items():
            leads: dict[str, list[object]] = {}
            for p, _, _, _ in items:
                lead = _model_word(p.name, own.get(mark_id, set()))
                if lead and not lexicon.goods(lead).concepts:
                    leads.setdefault(lead, []).append(p)
            self.models[mark_id] = {w: ps[0] for w, ps in leads.items() if len(ps) == 1}

    def product_for(
        self, mark_id: str, text: str, after_brand: str = ""
    ) -> tuple[object | None, int]:
        """The mark's product the listing names, and how many of its name words (model
        numbers count double); a product's model word right after the brand
        (`after_brand`: the text that follows the brand mention) counts as two."""
        words = _words(text)
        best, best_score = None, 0
        for p, pwords, _, _ in self.by_mark.get(mark_id) or []:
            score = sum(2 if any(ch.isdigit() for ch in w) else 1 for w in pwords & words)
            if score > best_score:
                best, best_score = p, score
        # the first Latin word after the brand, past its Chinese name ("Acme艾克米 Lune")
        first = _AFTER_BRAND.match(fold(after_brand))
        model = self.models.get(mark_id, {}).get(first.group(1)) if first else None
        if model is not None and best_score < 2:
            best, best_score = model, 2
        return best, best_score

    def check(
        self,
        mark_id: str,
        price: float | None,
        currency: str | None,
        concepts: set[str],
        named: tuple[object | None, int],
    ) -> PriceCheck | None:
        """The listing's price against the MSRP of the product it names (`named`, from
        `product_for`), or else of the mark's products of its goods (`concepts`)."""
        if price is None or price <= 0:
            return None
        products = [t for t in self.by_mark.get(mark_id, []) if t[2]]
        if not products:
            return None
        currency = currency_code(currency)
        listing = self.rates.to_base(price, currency)
        if listing is None:
            return None
        shown = f"{price:.2f} {(currency or self.rates.base).upper()}"
        product, sure = named
        if product is None or not product.msrp or sure < 2:
            # No product named: compare with the typical (median) MSRP of the mark's
            # products of the same goods; goods unlike every product give no evidence.
            # (A product whose goods are unknown cannot be ruled out.)
            same = sorted(
                (t for t in products if t[3] & concepts or not t[3]) if concepts else products,
                key=lambda t: t[2],
            )
            if not same:
                return None
            if len(same) == 1:
                product, sure = same[0][0], 0
            else:
                mid = len(same) // 2
                typical = same[mid][2] if len(same) % 2 else (same[mid - 1][2] + same[mid][2]) / 2
                ratio = listing / typical
                names = ", ".join(t[0].id for t in same)
                detail = (
                    f"{shown} is {ratio:.0%} of the median MSRP {typical:.2f} {self.rates.base} of the "
                    f"mark's products of these goods ({names}); no product named"
                )
                return PriceCheck(None, ratio, detail, False)
        msrp_base = self.rates.to_base(product.msrp, product.currency)
        if not msrp_base:
            return None
        ratio = listing / msrp_base
        msrp = f"{product.msrp:.2f} {product.currency}"
        conv = ""
        if (currency or self.rates.base).upper() != product.currency.upper():
            conv = f" (converted at exchange_rates, base {self.rates.base})"
        which = product.name if sure else f"{product.name}, the mark's only product of these goods"
        detail = f"{shown} is {ratio:.0%} of MSRP {msrp} of {which}{conv}"
        return PriceCheck(product.id, ratio, detail, bool(sure))


def price_score(ratio: float) -> float:
    """How suspicious a price is: far below MSRP is the classic counterfeit sign."""
    if ratio < 0.15:
        return 0.95
    if ratio < 0.3:
        return 0.85
    if ratio < 0.45:
        return 0.55
    if ratio < 0.6:
        return 0.3
    return 0.0
