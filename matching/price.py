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
_COMMON = {"the", "and", "for", "with", "new", "of", "mm", "ml", "date", "mark", "classic", "pro", "size"}


@dataclass(slots=True)
class PriceCheck:
    product_id: str
    ratio: float  # listing price / MSRP, both in the base currency
    detail: str


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(fold(text)) if w not in _COMMON and len(w) > 1}


class PriceIndex:
    """The products of each mark, with their MSRP in the base currency."""

    def __init__(self, client) -> None:
        self.rates = client.exchange_rates
        self.by_mark: dict[str, list[tuple[object, set[str], float | None]]] = {}
        from matching.text import mark_terms

        own = {m.id: {w for t in mark_terms(m) for w in _words(t)} for m in client.marks}
        for p in client.products:
            msrp = self.rates.to_base(p.msrp, p.currency) if p.msrp else None
            words = _words(p.name) - own.get(p.mark, set())
            self.by_mark.setdefault(p.mark, []).append((p, words, msrp))

    def product_for(self, mark_id: str, text: str, concepts: set[str], lexicon) -> tuple[object | None, int]:
        """The mark's product the listing is most likely about, and how sure (0 = a guess)."""
        products = self.by_mark.get(mark_id) or []
        if not products:
            return None, 0
        words = _words(text)
        best, best_score = None, 0
        for p, pwords, _ in products:
            score = sum(2 if any(ch.isdigit() for ch in w) else 1 for w in pwords & words)
            if concepts and lexicon.goods(p.name).concepts & concepts:
                score += 1
            if score > best_score:
                best, best_score = p, score
        return best, best_score

    def check(self, mark_id: str, price: float | None, currency: str | None, text: str, concepts: set[str],
              lexicon) -> PriceCheck | None:
        if price is None or price <= 0:
            return None
        products = [(p, w, m) for p, w, m in self.by_mark.get(mark_id, []) if m]
        if not products:
            return None
        listing = self.rates.to_base(price, currency)
        if listing is None:
            return None
        product, sure = self.product_for(mark_id, text, concepts, lexicon)
        if product is None or not product.msrp:
            # No product named: compare with the cheapest, the most lenient reading.
            product = min(products, key=lambda t: t[2])[0]
            sure = 0
        msrp_base = self.rates.to_base(product.msrp, product.currency)
        if not msrp_base:
            return None
        ratio = listing / msrp_base
        shown = f"{price:.2f} {(currency or self.rates.base).upper()}"
        msrp = f"{product.msrp:.2f} {product.currency}"
        conv = ""
        if (currency or self.rates.base).upper() != product.currency.upper():
            conv = f" (converted at exchange_rates, base {self.rates.base})"
        which = product.name if sure else f"{product.name}, the mark's cheapest product"
        detail = f"{shown} is {ratio:.0%} of MSRP {msrp} of {which}{conv}"
        return PriceCheck(product.id, ratio, detail)


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
