"""Context: do the listing's goods fit the mark, and how is the brand used?

* goods fit: the listing's goods (found through the goods lexicon in
  `matching/data/goods.yaml`, English and Chinese) against the mark's `keywords`
  and Nice `classes`. `Nikon camera strap` is not Nike's goods, `Canon in D`
  sheet music is not Canon's.
* nominative use: "compatible with X", "for X", "适用于X": the brand names what
  the goods fit, which is not infringement by itself.
* resale: "used", "pre-owned", "二手", "95新": second-hand goods, which are not
  counterfeits when the price is fair.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from matching.normalize import fold

DATA = Path(__file__).with_name("data") / "goods.yaml"

FIT_KEYWORD = 2  # the goods are among the mark's keywords (or its products)
FIT_CLASS = 1  # the goods fall in one of the mark's Nice classes
FIT_UNKNOWN = 0  # the goods could not be told
FIT_OTHER = -1  # the goods are known and lie outside the mark's keywords and classes

_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")


def _folded(pattern: str) -> re.Pattern[str]:
    """A pattern written in any script, matched on folded text (Cyrillic look-alikes
    as Latin, accents dropped); ASCII is regex syntax and kept."""
    return re.compile("".join(c if c.isascii() else fold(c) for c in pattern))


_RESALE = _folded(
    r"\b(?:used|pre[\s-]?owned|pre[\s-]?loved|second[\s-]?hand|secondhand|gently[\s-]+used|like[\s-]+new"
    r"|refurbished|open[\s-]+box|ex[\s-]?display|ex[\s-]?demo|preowned|preloved|pre[\s-]?worn"
    r"|worn\s+(?:once|twice|only\s+once|a\s+few\s+times)|(?:barely|lightly|hardly|gently)\s+worn"
    # Consumables resold part-used: "80% left", "half used", "swatched once".
    r"|half[\s-]+used|tried\s+(?:once|twice)|swatched"
    r"|(?:excellent|very\s+good|good|mint|fair)\s+(?:used\s+)?condition|used\s+with\s+(?:receipt|box|tags?))\b"
    r"|\b\d{1,2}\s?%\s+(?:left|full|remaining)\b"
    r"|\bb[\s-]?stock\b"
    # Other languages (read folded: accents dropped, Cyrillic look-alikes as Latin).
    r"|\b(?:gebraucht|neuwertig|wie\s+neu|usad[oa]s?|de\s+segunda\s+mano|seminuev[oa]|como\s+nuev[oa]"
    r"|d'occasion|seconde\s+main|comme\s+neuf|usat[oa]|di\s+seconda\s+mano|come\s+nuov[oa]"
    r"|seminov[oa]|uzywan[yae]|ikinci\s+el)\b"
    r"|(?<![^\W\d_])(?:б/у|бу|подержанн\w*|бывш\w*\s+в\s+употреблении)(?![^\W\d_])"
    r"|美品|未使用に近い"
    r"|二手|已拆封|余量|试用过|闲置|閒置|自用|中古|转让|仅试穿|只穿过一次|穿过一次|用过一次|[0-9一二三四五六七八九十]成新|9[0-9]新|99新|(?:九五|九九|九八|八五)新",
)
_NOT_RESALE = re.compile(
    r"\b(?:widely|commonly|most|often|can be|be|is|are|easy to be)\s+used\b|\bused\s+(?:for|to|in|by|as|with(?!\s+(?:receipt|box|tags?)))\b"
)
_NOMINATIVE_BEFORE = re.compile(
    r"(?:\b(?:compatible|compatibility|fits?|fit for|replacement|replace|replaces|works|working|suitable|designed|made|"
    r"for use|adapter|adaptor|charger|case|cover|strap|band|mount|cable|battery|lens cap|skin|protector)?\s*"
    r"(?:with|for|to)\s+(?:the\s+|all\s+|most\s+)?$)"
    r"|\b(?:fits|replaces)\s+(?:the\s+|all\s+|most\s+|your\s+)?$"
    r"|(?:适用于|适用|兼容|适配|专用|用于|配)\s*$"
)


# The same in other languages: "Hülle für", "passend für", "étui pour", "funda para",
# "чехол для", "compatible avec".
_NOMINATIVE_BEFORE_OTHER = _folded(
    r"(?:\b(?:passend|geeignet|kompatibel|compatible|compatibles|compatibile|compatível|"
    r"adapté|adaptée|diseñad[oa]|совместим\w*|подходит)\s+(?:für|avec|con|com|per|pour|para|для|с)"
    r"|(?:hülle|kabel|ladekabel|ladegerät|armband|folie|tasche|etui|étui|coque|housse|câble|chargeur|"
    r"bracelet|funda|cargador|correa|custodia|cinturino|capa|pulseira|чехол|ремешок|кабель|"
    r"зарядк\w*|пленк\w*|стекло|накладк\w*)\s+(?:für|pour|para|per|для))\s*$"
)


_COMPATIBLE = re.compile(
    r"\b(?:compatible|compatibility|replacement for|fits? for|works with|interchangeable with)\b"
    r"|适用于|适配|兼容|通用于"
)
# How far (in characters) "compatible with" may stand before the brand it governs.
_COMPATIBLE_REACH = 60
# After the brand, words that say the goods fit what precedes them: "compatible" with no
# object of its own, "专用" (dedicated to), "配套" (matching).
_FITS_PRECEDING = re.compile(
    r"\b(?:compatible|replacement)\b(?!\s*(?:with|for|to)\b)(?=\s+\w)|专用|專用|配套|対応|対応品"
)
_FITS_AT_END = re.compile(r"\b(?:compatible|replacement)\s*$|(?:适用|适配|兼容|対応)\s*$")
_NOMINATIVE_AFTER = re.compile(
    r"^\s*[-]?\s*(?:(?:compatible|compatibility|replacement|fit|fits)\b|适用|兼容|适配|通用|专用|專用|配套|対応)"
)


# Accessories titled after the device they fit, without "for": "X2 screen protector",
# "Buds Pro case", "表带". Parts sold with the device ("charging case", "with strap",
# "送保护套") are not accessories on their own.
_ACCESSORY = re.compile(
    r"(?<!charging )\b(?:cases?|covers?|skins?|screen protectors?|protectors?|tempered glass|straps?|"
    r"watch ?bands?|ear ?tips?|ear ?pads?|ear cushions?|rain cover|dust bag|dust cover|footprint|"
    r"sheath|blade guard|wall mounts?|brackets?|charging (?:stand|dock|cradle)s?|docking station|"
    r"replacement parts?|spare parts?|"
    r"accessories)\b"
    r"|保护套|保护壳|保护膜|钢化膜|贴膜|表带|腕带|耳机套|耳套|耳帽|收纳包|收纳盒|防尘袋|挂绳|配件"
)
# Goods named with "case" that are no protective case: luggage, pencil and make-up cases.
_CASE_GOODS = re.compile(
    r"\b(?:trolley|cabin|luggage|carry[\s-]?on|pencil|cosmetic|makeup|vanity|brief)\s+cases?$"
)
_MATERIAL_BEFORE = re.compile(
    r"\b(?:leather|steel|metal|chain|mesh|silicone|rubber|nylon|canvas|ceramic|titanium|"
    r"gold|silver|fabric|suede)\s+$"
)
_INCLUDED = re.compile(r"\b(?:with|w/|incl|including|includes|plus|and)\b|[+&]|送|含|附|带")


@dataclass(slots=True)
class Goods:
    """What a listing sells, as far as the lexicon can tell."""

    concepts: set[str] = field(default_factory=set)
    classes: set[int] = field(default_factory=set)
    words: list[str] = field(default_factory=list)  # the words that named the goods
    # Concepts named only by one character inside a longer word the lexicon lacks
    # (锅 in 电炸锅): enough to say what the goods are, too weak to say what they are not.
    weak: set[str] = field(default_factory=set)


class GoodsLexicon:
    def __init__(self, path: Path = DATA) -> None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: cannot read the goods lexicon ({exc})") from None
        self.classes: dict[str, set[int]] = {}
        self.single: dict[str, set[str]] = {}  # one Latin word -> concepts
        self.phrases: list[tuple[re.Pattern[str], str, str]] = []
        self.cjk: list[tuple[str, str]] = []
        for concept, spec in data.items():
            if not isinstance(spec, dict) or "words" not in spec:
                raise ValueError(f"{path}: {concept}: expected classes: and words:")
            self.classes[concept] = {int(c) for c in spec.get("classes") or []}
            for word in spec["words"]:
                w = fold(str(word)).strip()
                if _CJK.search(w):
                    self.cjk.append((w, concept))
                elif re.fullmatch(r"[a-z0-9]+", w):
                    self.single.setdefault(singular(w), set()).add(concept)
                else:
                    words = [re.escape(x) for x in re.split(r"[\s-]+", w) if x]
                    pattern = re.compile(r"\b" + r"[\s-]*".join(words) + r"s?\b")
                    self.phrases.append((pattern, concept, w))

    def goods(self, text: str) -> Goods:
        folded = fold(text)
        g = Goods()
        for tok in _WORD.findall(folded):
            for concept in self.single.get(singular(tok), ()):
                g.concepts.add(concept)
                g.words.append(tok)
        for pattern, concept, w in self.phrases:
            if concept not in g.concepts and pattern.search(folded):
                g.concepts.add(concept)
                g.words.append(w)
        if _CJK.search(folded):
            from matching.chinese import segment, to_simplified

            simple = to_simplified(folded)
            words: set[str] | None = None
            for w, concept in self.cjk:
                if (concept in g.concepts and concept not in g.weak) or w not in simple:
                    continue
                if len(w) == 1:
                    # One character is a goods word only as a word of its own
                    # (包 is a bag, 包邮 is free shipping): ask the segmenter.
                    if words is None:
                        words = {w for w in segment(simple) if w.strip()}
                    # Chinese compounds end in their head noun: 运动袜 is a sock, 包邮 is not a bag.
                    heads = [x for x in words if x.endswith(w) and len(x) <= 4]
                    if not heads:
                        continue
                    if w not in heads:
                        # only inside a longer word: a hint, however many there are
                        if concept not in g.concepts:
                            g.weak.add(concept)
                            g.concepts.add(concept)
                            g.words.append(w)
                        continue
                g.weak.discard(concept)
                g.concepts.add(concept)
                g.words.append(w)
        for c in g.concepts:
            g.classes |= self.classes[c]
        return g


def singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=1)
def default_lexicon() -> GoodsLexicon:
    return GoodsLexicon()


@dataclass(slots=True)
class MarkGoods:
    """A mark's goods: its keywords (literal and as concepts) and Nice classes."""

    mark_id: str
    keywords: list[str]
    keyword_patterns: list[re.Pattern[str]]
    concepts: set[str]
    classes: set[int]

    @classmethod
    def build(cls, mark, products, lexicon: GoodsLexicon) -> MarkGoods:
        keywords = [fold(k).strip() for k in mark.keywords if k.strip()]
        patterns = []
        concepts: set[str] = set()
        for k in keywords:
            if _CJK.search(k):
                patterns.append(re.compile(re.escape(k)))
            else:
                words = [re.escape(singular(x)) for x in re.split(r"[\s-]+", k) if x]
                patterns.append(re.compile(r"\b" + r"[\s-]*".join(words) + r"(?:s|es)?\b"))
            concepts |= lexicon.goods(k).concepts
        for p in products:
            concepts |= lexicon.goods(p.name).concepts
        classes = set(mark.classes)
        if not classes:  # without registered classes, the keywords' classes stand in
            for c in concepts:
                classes |= lexicon.classes.get(c, set())
        return cls(mark.id, keywords, patterns, concepts, classes)

    def fit(self, text: str, goods: Goods) -> tuple[int, str]:
        """How well the listing's goods fit this mark, with the reason in words."""
        folded = fold(text)
        for k, pattern in zip(self.keywords, self.keyword_patterns):
            if pattern.search(folded):
                return FIT_KEYWORD, f"goods '{k}' are among the mark's keywords"
        shared = goods.concepts & self.concepts
        if shared:
            return FIT_KEYWORD, f"goods ({', '.join(sorted(shared))}) are the mark's kind of goods"
        classes = goods.classes & self.classes
        if classes:
            return (
                FIT_CLASS,
                f"goods fall in Nice class {', '.join(map(str, sorted(classes)))} of the mark",
            )
        if goods.concepts - goods.weak:
            words = ", ".join(sorted(set(goods.words))[:4])
            own = ", ".join(map(str, sorted(goods.classes)))
            return FIT_OTHER, (
                f"goods ({words}; class {own}) are outside the mark's keywords and classes "
                f"{', '.join(map(str, sorted(self.classes))) or '-'}"
            )
        return FIT_UNKNOWN, "goods not recognised"


def resale_marker(text: str) -> str | None:
    """The words that say the goods are second-hand, if any."""
    folded = fold(text)
    cleaned = _NOT_RESALE.sub(" ", folded)
    m = _RESALE.search(cleaned)
    return m.group().strip() if m else None


def nominative(text: str, start: int, end: int | None = None) -> str | None:
    """The words around a brand mention that say the goods only fit the brand.

    The brand has to be what the goods fit: "case compatible with X", "X3 compatible
    charging case", "X专用". "X earbuds compatible with iPhone" says the brand's own
    goods fit something else, which is no nominative use.
    """
    before_all = fold(text[:start])
    found = list(_COMPATIBLE.finditer(before_all))
    if found and len(before_all) - found[-1].end() <= _COMPATIBLE_REACH:
        last = found[-1]
        # "Induction compatible Chinese wok X": goods between say what is compatible
        if not (
            last.group().strip() == "compatible"
            and default_lexicon().goods(before_all[last.end() :]).concepts
        ):
            return last.group().strip()
    if end is not None:
        after = fold(text[end : end + 30])
        m = _NOMINATIVE_AFTER.match(after)
        if m:
            return text[start:end] + " " + m.group().strip(" -")
        # A little further on, with the model between: "X Pulse X3 Compatible Case"; an
        # English "compatible" past goods words says what the brand's own goods suit
        # ("X wok pan induction compatible"), while 专用 follows the device it fits.
        near = fold(text[end : end + _COMPATIBLE_REACH])
        m = _FITS_PRECEDING.search(near)
        if m and not (m.group().isascii() and default_lexicon().goods(near[: m.start()]).concepts):
            return text[start:end] + " ... " + m.group().strip()
        # Or as the title's last word: "X parka hood replacement", "X2 保护壳 适用".
        tail = fold(text[end:])
        m = _FITS_AT_END.search(tail)
        if (
            m
            and len(tail) <= _COMPATIBLE_REACH
            # a part named before "replacement" is the point; goods before "compatible"
            # are the brand's own ("X wok induction compatible")
            and not (
                m.group().strip() == "compatible"
                and default_lexicon().goods(tail[: m.start()]).concepts
            )
        ):
            return text[start:end] + " ... " + m.group().strip()
    before = fold(text[max(0, start - 40) : start])
    m = _NOMINATIVE_BEFORE_OTHER.search(before)
    if m:
        return m.group().strip() + " " + text[start:end] if end is not None else m.group().strip()
    m = _NOMINATIVE_BEFORE.search(before)
    if not m:
        return None
    phrase = m.group().strip()
    # "for" alone is too common ("shoes for men ... Nike" is not nominative): insist
    # that the phrase sits right before the brand and is more than a bare "for"
    # unless goods words precede it.
    if phrase in ("for", "to", "with"):
        words = _WORD.findall(before)
        if len(words) < 2:
            return None
    return phrase + " " + text[start:end] if end is not None else phrase


def accessory(text: str, start: int, end: int, goods: MarkGoods) -> str | None:
    """An accessory titled after the brand's device it fits ("X2 strap"), or None.

    Not when the mark itself sells such goods (a strap brand), when the accessory comes
    with the device ("with case"), or when the device's goods follow it ("X2 strap
    smartwatch" is the watch).
    """
    after = fold(text[end:])
    # The mark's own goods are not accessories of them ("duvet cover", "dust bag" for a
    # brand of covers or of bags); "watch band" is a band even for a brand of watches.
    own = {singular(w) for k in goods.keywords for w in re.split(r"[\s-]+", fold(k)) if w}
    for m in _ACCESSORY.finditer(after):
        if m.start() > _COMPATIBLE_REACH:
            return None
        word = m.group().strip()
        if singular(word.split()[-1]) in own:  # the head noun: "dust bag" is a bag
            continue
        if _CASE_GOODS.search(after[: m.end()]):
            continue  # a trolley case is luggage, not a case for it
        if _INCLUDED.search(after[: m.start()]):
            return None
        # The device named before its part, the part described by its material: "X
        # Dress Watch Automatic Leather Strap" is a watch on a leather strap, while "X
        # Watch Strap" or "X knife magnetic blade guard" is the accessory.
        before = after[: m.start()]
        if _MATERIAL_BEFORE.search(before) and any(
            k.search(before) for k in goods.keyword_patterns
        ):
            return None
        rest = after[m.end() :]
        if any(p.search(rest) for p in goods.keyword_patterns):
            return None
        return f"{text[start:end]} ... {word}"
    return None
