"""Combining the signals into one score, a verdict and the mark the evidence points to.

For every mark the listing may concern, two questions are asked:

1. Does the listing invoke the mark? The text hit (exact, disguised, fuzzy,
   Chinese, pinyin) weighed by how well the goods fit the mark: a brand word on
   goods outside the mark's keywords and classes (Canon in D sheet music) counts
   for little; a fuzzy hit on a short term that is an ordinary word (Mike) counts
   for little unless other evidence backs it.
2. Is it an imitation? A noisy-OR of the suspicion signals: replica cues, a
   disguised spelling, a price far below MSRP, a seller name posing as the brand,
   a registered photo or logo in the pictures.

text part = invoke x (0.3 + 0.7 x suspicion); the image part stands on its own
(a reused registered photo under a generic title is the classic counterfeit), but
under a title that names the brand openly a registered photo is only weak
suspicion: genuine resellers show the same photos, so brand + photo at a fair price
with no cue goes to review, not straight to a takedown;
score = noisy-OR of the two. Authorised sellers, second-hand goods at a fair
price and nominative use ("compatible with X") damp the score. The verdict
compares the score with the client's thresholds (crawler.config.Thresholds):
`counterfeit` at or above `counterfeit`, `review` at or above `review`.

Photos are the costly signal, so they are compared only where they can change the
verdict: not for authorised sellers, and not when the text alone already reaches
`counterfeit` (a signal says so; `images_always=True` compares them anyway).
"""

from __future__ import annotations

import html
import logging
import re
import threading
from dataclasses import dataclass, field, replace

from matching.context import (
    FIT_CLASS,
    FIT_KEYWORD,
    FIT_OTHER,
    FIT_UNKNOWN,
    GoodsLexicon,
    MarkGoods,
    accessory,
    default_lexicon,
    nominative,
    resale_marker,
)
from matching.cues import CueFinder, default_finder
from matching.normalize import analyse
from matching.price import PriceIndex, price_score
from matching.seller import imitation
from matching.text import TermIndex, TextHit
from matching.types import Assessment, ListingInput, Signal

log = logging.getLogger(__name__)

# How much a text hit invokes the mark, by goods fit.
_INVOKE_EXACT = {FIT_KEYWORD: 0.95, FIT_CLASS: 0.85, FIT_UNKNOWN: 0.7, FIT_OTHER: 0.2}
_INVOKE_FUZZY = {FIT_KEYWORD: 0.85, FIT_CLASS: 0.55, FIT_UNKNOWN: 0.6, FIT_OTHER: 0.1}
CUE_STRONG = 0.9
CUE_WEAK = 0.7
STYLE = 0.85
DISGUISE = 0.75
TYPO = 0.5
SELLER = 0.5
# How surely a seller's name posing as the brand ("Acme Outlet") invokes it when the
# title and description do not name it: with a price far below MSRP or a cue it goes to
# review, on its own it stays clear.
SELLER_INVOKE = 0.5
NO_PRICE = 0.25
ORDINARY_SPLIT = 0.5
WORD_WITH_CUE = 0.55  # strength of a typo that is an ordinary word, backed by a replica cue
PHOTO_WHEN_NAMED = 0.3
OPEN_KINDS = ("exact", "chinese", "pinyin")
IMAGE_KINDS = ("image", "logo", "ocr")
# Marketplace titles run to a few hundred characters and descriptions to some thousands;
# text beyond these is not read (a title of megabytes would cost minutes and gigabytes).
MAX_TEXT = {"title": 1_000, "description": 20_000, "seller_name": 300}
_PRODUCT_PHOTO_FIT = {FIT_KEYWORD: 1.0, FIT_CLASS: 1.0, FIT_UNKNOWN: 0.95, FIT_OTHER: 0.45}


def _noisy_or(values: list[float]) -> float:
    p = 1.0
    for v in values:
        p *= 1.0 - max(0.0, min(1.0, v))
    return 1.0 - p


def _load_image_matcher(client, cache=None, fetch_urls: bool = False):
    """The image side (photos, logos, text in photos), when it is installed."""
    try:
        from matching.image import ImageMatcher
    except ImportError:
        return None
    try:
        return ImageMatcher.from_client(client, cache=cache, fetch_urls=fetch_urls)
    except Exception as exc:  # a broken image index must not stop text matching
        log.warning("image matching disabled: %s", exc)
        return None


@dataclass(slots=True)
class _MarkCase:
    mark_id: str
    score: float = 0.0
    signals: list[Signal] = field(default_factory=list)
    product_id: str | None = None
    named: bool = False  # the text names this mark exactly (any script or disguise)
    fit: int = FIT_UNKNOWN
    fits_it: bool = False  # named only as what the goods fit ("case for X")


class Matcher:
    """Everything precomputed for one client; `assess` scores one listing."""

    def __init__(
        self,
        client,
        *,
        images: bool = True,
        lexicon: GoodsLexicon | None = None,
        cues: CueFinder | None = None,
        images_always: bool = False,
        explain_skips: bool = True,
        photo_cache=None,
        fetch_urls: bool = False,
    ) -> None:
        # photo_cache: a matching.image.PhotoCache to share between matchers of this client;
        # fetch_urls: download photos given as http(s) URLs (`markwatch score`, CONTRACT §2)
        self.client = client
        self.terms = TermIndex.from_client(client)
        self.lexicon = lexicon or default_lexicon()
        self.cues = cues or default_finder()
        self.goods = {
            m.id: MarkGoods.build(m, client.products_of(m.id), self.lexicon) for m in client.marks
        }
        self.prices = PriceIndex(
            client, self.lexicon, {m: g.concepts for m, g in self.goods.items()}
        )
        self.thresholds = client.thresholds
        self.images = _load_image_matcher(client, photo_cache, fetch_urls) if images else None
        # images_always: compare photos even when the text alone makes the verdict
        # (slower; for evidence packages that want every photo match listed).
        self.images_always = images_always
        self.explain_skips = explain_skips

    # ------------------------------------------------------------------ helpers
    def verdict(self, score: float) -> str:
        if score >= self.thresholds.counterfeit:
            return "counterfeit"
        if score >= self.thresholds.review:
            return "review"
        return "clear"

    def _image_signals(self, listing: ListingInput) -> list[Signal]:
        if self.images is None or not (listing.images or listing.image_bytes):
            return []
        try:
            return list(self.images.match(listing))
        except Exception as exc:  # one bad picture skips the image signal, never the listing
            log.warning("%s: image matching skipped: %s", listing.id, exc)
            return []

    # ------------------------------------------------------------------ assess
    def assess(self, listing: ListingInput) -> Assessment:
        listing = _readable(_within_limits(listing))
        title = listing.title or ""
        desc = listing.description or ""
        full = f"{title}\n{desc}" if desc else title
        doc = analyse(title)
        hits: dict[str, tuple[TextHit, bool]] = {
            m: (h, False) for m, h in self.terms.find(title, doc).items()
        }
        if desc:
            for m, h in self.terms.find(desc).items():
                # A weak title hit ("Sale" near Sable) gives way to the description naming the brand.
                if m not in hits or hits[m][0].strength < h.strength * 0.8:
                    hits[m] = (h, True)
        cues = self.cues.find(full)
        goods = self.lexicon.goods(full)
        resale = resale_marker(full)
        authorised = self.client.is_authorized(
            listing.marketplace, listing.seller_id, listing.seller_name
        )
        seller_hit = None if authorised else imitation(listing.seller_name, self.terms)
        # Owners of the marks the title names openly: their photos and logos in the
        # pictures are what a genuine listing of that brand shows too.
        named_owners = {
            self.client.mark(m).owner
            for m, (h, in_desc) in hits.items()
            if h.kind in OPEN_KINDS and not in_desc
        }

        def build(img_by_mark: dict[str, list[Signal]]) -> list[_MarkCase]:
            marks = set(hits) | set(img_by_mark) | ({seller_hit[0]} if seller_hit else set())
            return [
                self._case(
                    m,
                    listing,
                    full,
                    hits.get(m),
                    cues,
                    goods,
                    resale,
                    img_by_mark.get(m, []),
                    seller_hit,
                    self.client.mark(m).owner in named_owners,
                )
                for m in sorted(marks)  # sorted: ties resolve the same way every run
            ]

        cases = build({})
        skipped = None
        if self.images is not None and (listing.images or listing.image_bytes):
            # Photos are the costly part: compare them only where they can change the verdict.
            text_best = max((c.score for c in cases), default=0.0)
            if authorised:
                skipped = "photos not compared: authorised seller"
            elif text_best >= self.thresholds.counterfeit and not self.images_always:
                skipped = "photos not compared: the text evidence already decides"
            else:
                img_by_mark: dict[str, list[Signal]] = {}
                for sig in self._image_signals(listing):
                    if sig.mark_id:
                        img_by_mark.setdefault(sig.mark_id, []).append(sig)
                if img_by_mark:
                    cases = build(img_by_mark)
        if any(c.named for c in cases):
            # The text names one mark; another mark seen only in the photos, on goods it
            # does not cover, is the weaker reading of the listing.
            for c in cases:
                if not c.named and c.fit == FIT_OTHER and not hits.get(c.mark_id):
                    c.score *= 0.5
        cues_signal = self._cue_signal(cues) if cues else None
        if not cases:
            signals = [cues_signal] if cues_signal else []
            if cues_signal:
                cues_signal.detail += " (no brand named: cues alone do not flag)"
                cues_signal.score = 0.0
            return Assessment(listing.id, 0.0, "clear", None, signals)

        # A mark named as what the goods fit ("Acme case for Zeta Nova 12") is not the
        # mark the listing offers when another of the client's marks is named too.
        offered = [c for c in cases if not c.fits_it and self.verdict(c.score) != "clear"]
        best = max(offered or cases, key=lambda c: c.score)
        score = best.score
        signals = list(best.signals)
        if authorised:
            score *= 0.1
            signals.append(
                Signal(
                    "seller",
                    0.0,
                    f"seller {listing.seller_id or listing.seller_name} on "
                    f"{listing.marketplace or 'this marketplace'} is an authorised seller",
                    best.mark_id,
                )
            )
        if skipped and self.explain_skips:
            signals.append(Signal("image", 0.0, skipped, best.mark_id))
        score = round(max(0.0, min(1.0, score)), 4)
        return Assessment(
            listing.id,
            score,
            self.verdict(score),
            best.mark_id if score > 0 else None,
            signals,
            best.product_id,
        )

    def _cue_signal(self, cues) -> Signal:
        strong = [c.phrase for c in cues if c.strong]
        weak = [c.phrase for c in cues if not c.strong]
        parts = []
        if strong:
            parts.append("replica cue " + ", ".join(f"'{p}'" for p in strong))
        if weak:
            parts.append("copy cue " + ", ".join(f"'{p}'" for p in weak))
        return Signal("cue", CUE_STRONG if strong else CUE_WEAK, "; ".join(parts))

    def _case(
        self,
        mark_id: str,
        listing: ListingInput,
        full: str,
        hit_info,
        cues,
        goods,
        resale,
        image_signals: list[Signal],
        seller_hit,
        brand_named: bool = False,
    ) -> _MarkCase:
        case = _MarkCase(mark_id)
        mark_goods = self.goods[mark_id]
        fit, fit_detail = mark_goods.fit(full, goods)
        hit: TextHit | None
        hit, in_desc = hit_info if hit_info is not None else (None, False)
        # The hit's offsets are in the text it was found in.
        source = (listing.description or "") if in_desc else listing.title
        # A model word after the brand names the product too, unless the goods are known
        # to be others ("Acme One size hat" is no Acme One headphones).
        after_brand = source[hit.end : hit.end + 40] if hit and fit != FIT_OTHER else ""
        named, named_score = self.prices.product_for(mark_id, full, after_brand)
        if named is not None and named_score >= 2 and fit < FIT_KEYWORD and hit is not None:
            fit, fit_detail = FIT_KEYWORD, f"names the mark's product '{named.name}'"
        suspicion: list[float] = []
        invoke = 0.0
        strong_cue = any(c.strong for c in cues)
        style = None
        if hit is not None:
            strength = hit.strength
            if (
                hit.kind == "fuzzy"
                and hit.is_word
                and hit.distance == 1
                and fit == FIT_KEYWORD
                and strong_cue
            ):
                # An ordinary word one edit from the brand ("Vira" for Vyra), on the
                # mark's own goods, sold as a replica: worth an analyst's look.
                strength = max(strength, WORD_WITH_CUE)
            strength *= 0.8 if in_desc else 1.0
            table = _INVOKE_FUZZY if hit.kind == "fuzzy" else _INVOKE_EXACT
            invoke = strength * table[fit]
            split = hit.ordinary and hit.kind == "disguised"  # "Silver Wood Craft"
            if split and fit < FIT_CLASS:
                # Ordinary words that happen to spell the brand, on goods not its own.
                invoke *= ORDINARY_SPLIT
            kind = "chinese" if hit.kind in ("chinese", "pinyin") else "text"
            where = " in the description" if in_desc else ""
            case.signals.append(Signal(kind, round(strength, 3), hit.describe() + where, mark_id))
            if not in_desc:
                style = self.cues.styled(listing.title, hit.start, hit.end)
            if split:
                if fit >= FIT_CLASS:
                    suspicion.append(TYPO)
            elif hit.kind == "disguised" or (
                hit.kind == "fuzzy" and hit.disguises - {"same-sounding characters", "accents"}
            ):
                suspicion.append(DISGUISE)
            elif hit.kind == "fuzzy" and not hit.is_word:
                suspicion.append(TYPO)
        if cues:
            sig = self._cue_signal(cues)
            case.signals.append(Signal("cue", sig.score, sig.detail, mark_id))
            suspicion.append(sig.score)
        if style:
            suspicion.append(STYLE)
            case.signals.append(
                Signal(
                    "cue", STYLE, f"'{style}' next to the brand: sold as like the brand", mark_id
                )
            )
        case.signals.append(
            Signal("context", {2: 1.0, 1: 0.6, 0: 0.3, -1: 0.0}[fit], fit_detail, mark_id)
        )

        nominal = None
        if hit is not None:
            fits = nominative(source, hit.start, hit.end)
            case.fits_it = bool(fits)
            if not cues and not style:
                nominal = fits or accessory(source, hit.start, hit.end, mark_goods)
        ratio = None
        if fit != FIT_OTHER or hit is None or image_signals:
            check = self.prices.check(
                mark_id, listing.price, listing.currency, goods.concepts, (named, named_score)
            )
            if (
                check is not None
                and hit is not None
                # (accents alone are how other languages write: Brisolé)
                and (hit.ordinary or (hit.kind == "fuzzy" and not hit.disguises - {"accents"}))
                and fit == FIT_UNKNOWN
                and not named_score
                and not cues
            ):
                # A brand that is an ordinary word ("Summit"), or a word one or two
                # letters from it ("Trova pasta maker"), on goods that cannot be told
                # and with no word of its products, may be just that word: the mark's
                # typical price says nothing about such goods.
                check = None
            if check is not None:
                ratio = check.ratio
                ps = price_score(ratio)
                if nominal:
                    ps = (
                        0.0  # an accessory that fits the brand is not priced like the brand's goods
                    )
                case.signals.append(Signal("price", ps, check.detail, mark_id, check.product_id))
                case.product_id = check.product_id
                if ps > 0:
                    suspicion.append(ps)
        if (
            listing.price is None
            and hit is not None
            and fit >= FIT_CLASS
            and self.prices.by_mark.get(mark_id)
        ):
            # Without a price the listing cannot be cleared as fairly priced.
            suspicion.append(NO_PRICE)
            case.signals.append(
                Signal("price", NO_PRICE, "no price given: cannot compare with MSRP", mark_id)
            )
        if seller_hit and seller_hit[0] == mark_id:
            suspicion.append(SELLER)
            case.signals.append(Signal("seller", SELLER, seller_hit[1], mark_id))
            if hit is None and fit >= FIT_CLASS:
                # No brand in the texts, but a seller posing as the brand offers the
                # mark's kind of goods: the shop's name is what invokes the brand.
                invoke = SELLER_INVOKE * _INVOKE_EXACT[fit]

        image_score = 0.0
        for s in image_signals:
            case.signals.append(s)
            weight = 1.0
            if s.kind == "image" and s.product_id:
                # A reused product photo comes with that product's kind of goods; the same
                # photo match on goods the mark does not cover is more likely a false match.
                weight = _PRODUCT_PHOTO_FIT[fit]
            image_score = max(image_score, float(s.score) * weight)
            if s.product_id and not case.product_id:
                case.product_id = s.product_id
        image_part = image_score
        if image_score and brand_named:
            # A listing that names the brand openly shows the brand's photos whether it is
            # genuine or not: the photo is weak suspicion there (unauthorised use of the
            # owner's pictures), not proof. Under a generic or disguised title it is strong.
            suspicion.append(image_score * PHOTO_WHEN_NAMED)
            image_part = 0.0
        elif image_score:
            suspicion.append(image_score * 0.9)
        susp = _noisy_or(suspicion)
        text_part = invoke * (0.3 + 0.7 * susp)
        score = _noisy_or([text_part, image_part])

        if resale and not strong_cue and (ratio is None or ratio >= 0.45):
            score *= 0.35
            fair = f" at {ratio:.0%} of MSRP" if ratio is not None else ""
            case.signals.append(
                Signal(
                    "context",
                    0.0,
                    f"second-hand ('{resale}'){fair}: resale, not counterfeiting",
                    mark_id,
                )
            )
        if nominal:
            score *= 0.3
            case.signals.append(
                Signal(
                    "context",
                    0.0,
                    f"'{nominal}': names the brand the goods fit (nominative use)",
                    mark_id,
                )
            )
        case.score = score
        case.fit = fit
        case.named = hit is not None and hit.kind != "fuzzy"
        return case


_CACHE: dict[int, tuple[object, Matcher]] = {}
_LOCK = threading.Lock()


_BREAK_TAG = re.compile(r"<\s*/?\s*(?:br|p|div|li|tr|td|h\d)\b[^<>]{0,60}>", re.IGNORECASE)
_INLINE_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*\b[^<>]{0,60}>")


def _readable(listing: ListingInput) -> ListingInput:
    """The listing's texts as a shopper reads them: HTML entities decoded and markup
    removed, so that "Q&#117;enzo" or "Ark<b>helm</b>" is the name it shows."""
    clean = {}
    for name in ("title", "description", "seller_name"):
        text = getattr(listing, name)
        if text and ("&" in text or "<" in text):
            plain = html.unescape(_INLINE_TAG.sub("", _BREAK_TAG.sub(" ", text)))
            if plain != text:
                clean[name] = plain
    return replace(listing, **clean) if clean else listing


def _within_limits(listing: ListingInput) -> ListingInput:
    """The listing with its texts cut to `MAX_TEXT`, saying so once per cut."""
    cut = {}
    for name, limit in MAX_TEXT.items():
        text = getattr(listing, name)
        if text and len(text) > limit:
            log.warning(
                "listing %s: %s of %d characters read up to %d", listing.id, name, len(text), limit
            )
            cut[name] = text[:limit]
    return replace(listing, **cut) if cut else listing


def assess(listing: ListingInput, client) -> Assessment:
    """Score one listing against a client's marks (a Matcher is built once per client)."""
    with _LOCK:
        entry = _CACHE.get(id(client))
        if entry is None or entry[0] is not client:
            if len(_CACHE) >= 8:
                _CACHE.clear()
            entry = (client, Matcher(client))
            _CACHE[id(client)] = entry
    return entry[1].assess(listing)
