"""Finding the mark terms in a listing's text, however they are disguised.

`TermIndex` is built once per client: every term folded to its compact Latin form,
Chinese terms in both scripts and as pinyin. `TermIndex.find(text)` returns the
best `TextHit` per mark:

* exact: a token or token n-gram equals a term after folding (`Nike`, `Coca Cola`
  for `Coca-Cola`, `Rolex2025new`); *disguised* when the folding removed look-alike
  letters, zero-width characters, fullwidth forms, accents, separators (symbols and
  emoji too: `K★E★L★S★O`) or leetspeak.
* fuzzy: a typo-squat within an edit distance that grows with the term's length,
  found for all terms at once with `rapidfuzz.process.cdist` (multi-word terms
  against token n-grams of as many words: `Zen Tke` for `Zen-Tek`). Short terms
  only allow one edit, and a candidate that is itself an English word (Mike, Nile,
  Role), or a same-sounding Chinese spelling that is a common word (墨鱼), is
  marked as such: it needs corroboration from the goods, cues, price or images
  before it counts. A word written with a masked or look-alike letter is not.
* chinese / pinyin: a Chinese term in simplified or traditional script (also with
  symbols between its characters), or its pinyin in Latin text. A mark whose only
  Latin name is its pinyin (`MOYU` for 墨羽) is matched like a Latin name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import numpy as np
from pypinyin import lazy_pinyin
from rapidfuzz import process
from rapidfuzz.distance import OSA

from matching import chinese
from matching.context import default_lexicon, singular
from matching.normalize import (
    DIACRITIC,
    HOMOGLYPH,
    LEET,
    MASKED,
    MASKS,
    ZERO_WIDTH,
    Analysed,
    Token,
    analyse,
    compact,
    fold,
    has_cjk,
    is_letter_gap,
    leet_reading,
)


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """A large English word list: a fuzzy candidate found in it is probably that word."""
    try:
        from english_words import get_english_words_set
    except ImportError:  # without the list, fuzzy hits simply get no word check
        return frozenset()
    words = get_english_words_set(["web2", "gcide"], lower=True, alpha=True)
    return frozenset(w for w in words if len(w) >= 3)


# How often (in jieba's dictionary counts) a same-sounding spelling must occur to be
# an ordinary Chinese word (墨鱼 cuttlefish, 296) rather than a made-up one (奈克, 2).
COMMON_CHINESE = 10


@lru_cache(maxsize=4096)
def common_chinese_word(word: str) -> bool:
    """Whether a Chinese spelling is a common word of its own (jieba's dictionary)."""
    try:
        import jieba
    except ImportError:  # without the dictionary no word check, as for English
        return False
    import logging

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # loads the dictionary once; get_FREQ does not
    return (jieba.get_FREQ(word) or 0) >= COMMON_CHINESE


def _chinese_name_at(text: str, name: str) -> tuple[int, bool]:
    """Where a Chinese name occurs in a text (-1 if nowhere), and whether it stands
    there as a word of its own.

    A short name made of common characters also occurs across other words: 家和 in
    国家和地区 ("countries and regions"), 乐高 in 快乐高兴. The text is segmented
    (jieba); where no occurrence begins and ends at word edges, the name may be those
    other words, and is read as an ordinary word that needs the mark's goods to count
    (segmenting is not sure either: 乐高科技 reads 乐/高科技, "high tech"). A name of
    three characters or more stands alone anywhere: segmenting splits unknown names of
    that length too often (速发家美乐 reads 速/发家/美乐).
    """
    pos = text.find(name)
    if pos < 0 or len(name) >= 3:
        return pos, True
    for m in _CJK_RUN.finditer(text):
        run = m.group()
        at = run.find(name)
        if at < 0:
            continue
        edges, i = {0}, 0
        for word in chinese.segment(run, hmm=False):
            i += len(word)
            edges.add(i)
        while at >= 0:
            if at in edges and at + len(name) in edges:
                return m.start() + at, True
            at = run.find(name, at + 1)
    return pos, False


# A one-word term at least this long, found as ordinary words written apart, is kept
# (as a weak, ordinary reading): "Silver Wood Craft", but not "can on" for Canon.
SPLIT_WORDS_MIN = 9


def allowed_edits(length: int) -> int:
    """Edits a typo-squat of a term of this length may have and still count."""
    if length <= 3:
        return 0
    if length <= 7:
        return 1
    if length <= 11:
        return 2
    return 3


def mark_terms(mark) -> list[str]:
    """A mark's terms, with its title added when the client did not list it."""
    terms = list(mark.terms)
    if mark.title.casefold() not in {t.casefold() for t in terms}:
        terms.insert(0, mark.title)
    return terms


@dataclass(slots=True)
class Term:
    mark_id: str
    term: str  # as written in the client file
    key: str  # compact folded form
    kind: str  # latin | pinyin | cjk
    leet: bool = False  # the key is a name with digits read as leetspeak
    spelled: bool = False  # "&" written as "and": ordinary words that may mean just that

    @property
    def words(self) -> int:
        """How many words the term itself has ("Levi's" and "Under Armour" have two; "Moss &
        Pine" three, as it is also written "Moss and Pine")."""
        return max(1, len(re.findall(r"[^\W_]+|&", fold(self.term))))


@dataclass(slots=True)
class TextHit:
    """The best place where a listing's text names (or imitates) a mark."""

    mark_id: str
    term: str
    quote: str  # the listing's own characters
    kind: str  # exact | disguised | fuzzy | chinese | pinyin
    distance: int = 0
    disguises: set[str] = field(default_factory=set)
    is_word: bool = False  # a fuzzy candidate that is an ordinary English word
    start: int = 0
    end: int = 0
    short: bool = False  # the term is short (<= 5 letters), so fuzzy hits are weak
    # The words found are ordinary words of their own ("Summit", "Silver Wood Craft"
    # for Silverwoodcraft): only the goods or other evidence say they mean the brand.
    ordinary: bool = False

    @property
    def strength(self) -> float:
        """How surely the text names the mark, before context (0..1)."""
        if self.kind in ("exact", "disguised", "chinese", "pinyin"):
            return 1.0
        base = 1.0 - 0.12 * self.distance
        if self.short:
            base -= 0.1
        if self.is_word:
            base -= 0.5
        return max(0.1, base)

    def describe(self) -> str:
        if self.kind == "exact":
            return f"'{self.quote}' matches term '{self.term}'"
        if self.kind == "disguised":
            how = ", ".join(sorted(self.disguises))
            if has_cjk(self.term) and not has_cjk(self.quote):
                return f"'{self.quote}' is the pinyin of '{self.term}' disguised with {how}"
            return f"'{self.quote}' is term '{self.term}' disguised with {how}"
        if self.kind == "chinese":
            return f"'{self.quote}' is the Chinese name '{self.term}'"
        if self.kind == "pinyin":
            return f"'{self.quote}' is the pinyin of '{self.term}'"
        if "same-sounding characters" in self.disguises:
            word = "; it is also an ordinary word" if self.is_word else ""
            return (
                f"'{self.quote}' sounds like the Chinese name '{self.term}' "
                f"(same pinyin, other characters){word}"
            )
        edits = "edit" if self.distance == 1 else "edits"
        extra = f" (disguised with {', '.join(sorted(self.disguises))})" if self.disguises else ""
        word = "; it is also an ordinary word" if self.is_word else ""
        return f"'{self.quote}' resembles term '{self.term}' ({self.distance} {edits}){extra}{word}"


_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff])[^\w\u3400-\u9fff]{1,4}(?=[\u3400-\u9fff])")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")


# Between Chinese characters a comma or an apostrophe ends a phrase; it does not space a name.
# Brackets around one character of a name do ("【耐】克").
_CJK_SEPARATORS = frozenset(" \t.-_·•*|/~+【】〔〕「」『』[]()（）")


def _close_cjk_gaps(text: str) -> str:
    """Chinese text with separators and symbols between characters removed (耐·克, 薇❤拉)."""
    return _CJK_GAP.sub(
        lambda m: "" if is_letter_gap(m.group(), separators=_CJK_SEPARATORS) else m.group(), text
    )


def _spread(key: str, text: str) -> str:
    """The listing's writing of a Chinese name with gaps between its characters."""
    for m in re.finditer(r"[^\w\u3400-\u9fff]{0,4}".join(map(re.escape, key)), text):
        if _close_cjk_gaps(m.group()) == key:
            return m.group()
    return key


_ASCII_LOOKALIKES = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("l", "i"), ("i", "l"), ("ii", "u"))
_GLUED_LEAD = re.compile(r"^[a-z]+(?=\d{2})")  # "vyra" in "vyra2025new"
_GLUED_TAIL = re.compile(r"(?<=\d{2})[a-z]+$")  # "vyra" in "2025vyra"
_HIDING = {MASKED, HOMOGLYPH, ZERO_WIDTH, LEET}
# Words glued in camel case: "Barista" in "ZebaoliBarista", "JIAMEILE" in "JIAMEILERice".
_CAMEL = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z]|\b|[^A-Za-z])|[A-Z]?[a-z]+|[A-Z]+")
_CODE_TAIL = re.compile(r"^([a-z]{5,})\d{1,4}$")  # a name and a model code: nuowalai + l3
_RANK = {"exact": 0, "chinese": 0, "disguised": 1, "pinyin": 1, "fuzzy": 2}


def _spelling(text: str) -> str:
    """Letters, digits and marks as written (accents, strokes), case ignored. Not
    normalised: a name spelt in decomposed characters hides from keyword filters."""
    return "".join(
        c for c in text.casefold() if c.isalnum() or unicodedata.category(c).startswith("M")
    )


def _mixed_pattern(chars: str, syllables: list[str]) -> re.Pattern[str]:
    """Each character of a Chinese name as itself, its pinyin or its initial, with no
    other Latin letter touching the name."""
    parts = [
        f"({re.escape(c)}|(?i:{re.escape(p)})|{re.escape(p[0].upper())})"
        for c, p in zip(chars, syllables, strict=True)
    ]
    # A capital may start the next word: 胡gePowerCore.
    return re.compile(r"(?<![A-Za-z0-9])" + "".join(parts) + r"(?![a-z])")


def _glued_parts(word: str) -> list[str]:
    """The words of three letters or more in a token that glues them to a number."""
    if not re.search(r"\d{2}", word):
        return []
    return re.findall(r"[a-z]{3,}", word)


@dataclass(slots=True)
class _Candidate:
    text: str
    start: int
    end: int
    disguises: set[str]
    ngram: int
    words: tuple[str, ...]


_MASK_CHARS = "".join(MASKS)


def _glued_rest(text: str, key: str) -> str | None:
    """What `text` holds besides `key` glued to its start or end, or None."""
    if text.startswith(key):
        return text[len(key) :]
    if text.endswith(key):
        return text[: -len(key)]
    return None


class TermIndex:
    """All terms of a client, precomputed for matching many listings."""

    def __init__(self, marks: list[tuple[str, list[str]]]) -> None:
        self.terms: list[Term] = []
        for mark_id, terms in marks:
            pinyin_keys: set[str] = set()
            for term in terms:
                if has_cjk(term):
                    for form in chinese.script_forms(term):
                        self.terms.append(Term(mark_id, term, form, "cjk"))
                    for form in chinese.pinyin_forms(term):
                        pinyin_keys.add(form)
                        self.terms.append(Term(mark_id, term, form, "pinyin"))
            listed = [compact(t) for t in terms if not has_cjk(t)]
            # A mark whose only Latin names are its pinyin ("MOYU" for 墨羽) is written in
            # Latin letters under that name: it is matched like any Latin name, typo-squats,
            # disguises and all.
            pinyin_named = bool(listed) and all(k in pinyin_keys for k in listed)
            for term in terms:
                if has_cjk(term):
                    continue
                # "Moss & Pine" is also written "Moss and Pine".
                spellings = [term, term.replace("&", " and ")] if "&" in term else [term]
                for i, key in enumerate(dict.fromkeys(compact(t) for t in spellings)):
                    if len(key) < 2:
                        continue
                    kind = "pinyin" if key in pinyin_keys and not pinyin_named else "latin"
                    self.terms.append(Term(mark_id, term, key, kind, spelled=i > 0))
        # Deduplicate (a pinyin term may be listed and also derived; a pinyin that is the
        # mark's Latin name is matched as that name only).
        latin = {(t.mark_id, t.key) for t in self.terms if t.kind == "latin"}
        seen: set[tuple[str, str, str]] = set()
        unique = []
        for t in self.terms:
            k = (t.mark_id, t.key, t.kind)
            if t.kind == "pinyin" and (t.mark_id, t.key) in latin:
                continue
            if k not in seen:
                seen.add(k)
                unique.append(t)
        self.terms = unique
        # A name with digits (Kora360, 4Runner) is disguised by writing letters for its
        # digits or digits for its letters (K0ra360, Kora36O): both sides are compared
        # read as leetspeak, which also lets typo-squats of such names be found.
        self.digit_terms = False
        for t in list(self.terms):
            if t.kind == "latin" and any(c.isdigit() for c in t.key):
                read = leet_reading(t.key)
                if read != t.key and read.isalpha():
                    self.terms.append(Term(t.mark_id, t.term, read, "latin", leet=True))
                    self.digit_terms = True
        self.exact: dict[str, list[Term]] = {}
        for t in self.terms:
            if t.kind != "cjk":
                self.exact.setdefault(t.key, []).append(t)
        self.cjk = [t for t in self.terms if t.kind == "cjk"]
        self.cjk_pinyin = []
        self.mixed: list[tuple[str, str, re.Pattern[str]]] = []
        for t in self.cjk:
            simple = chinese.to_simplified(t.key)
            if simple == t.key and len(simple) >= 2:
                syllables = lazy_pinyin(simple)
                self.cjk_pinyin.append((t.mark_id, t.term, simple, syllables))
                if len(simple) <= 6 and len(syllables) == len(simple):
                    self.mixed.append((t.mark_id, t.term, _mixed_pattern(simple, syllables)))
        self.fuzzy_terms = [t for t in self.terms if t.kind == "latin" and len(t.key) >= 4]
        self.fuzzy_keys = [t.key for t in self.fuzzy_terms]
        self.max_len = max((len(t.key) for t in self.terms), default=0)
        self.words = english_words()
        self.multiword = any(t.words > 1 for t in self.fuzzy_terms)
        self.glue_keys = sorted({t.key for t in self.fuzzy_terms})
        # Names with digits glued to a word: "kora360smartwatch".
        self.digit_glue_keys = sorted(
            {t.key for t in self.fuzzy_terms if not t.leet and any(c.isdigit() for c in t.key)}
        )
        self.goods_words = frozenset(default_lexicon().single)
        # A Chinese name of five or six characters is written as that many pinyin
        # syllables apart ("Mo Er Bu Lan De"): the word runs must be that long.
        self.max_ngram = min(6, max([4] + [len(p) for _, _, _, p in self.cjk_pinyin]))

    def _ordinary(self, term: Term) -> bool:
        """Whether a Latin term is made of ordinary English words ("Summit", "Blue
        Heron"): written plainly it may mean just those words (a great blue heron)."""
        words = re.findall(r"[a-z]+", fold(term.term))
        return bool(words) and term.key.isalpha() and all(self._is_word(w) for w in words)

    def _is_word(self, text: str) -> bool:
        """An English word, or the plural of one ("shoes")."""
        return text in self.words or (text.endswith("s") and text[:-1] in self.words)

    def _is_glue_word(self, text: str) -> bool:
        """A word a brand is glued to: an English word or a goods word the dictionary
        lacks ("earbuds", "smartwatch")."""
        return self._is_word(text) or singular(text) in self.goods_words

    @classmethod
    def from_client(cls, client) -> TermIndex:
        return cls([(m.id, mark_terms(m)) for m in client.marks])

    # ------------------------------------------------------------------ matching
    def _candidates(self, doc: Analysed) -> list[_Candidate]:
        latin = [t for t in doc.tokens if not t.is_cjk]
        out: list[_Candidate] = []
        for tok in latin:
            for form in tok.forms():
                dis = set(tok.disguises)
                if form == tok.text:
                    dis.discard(LEET)  # the word as written: a name with digits is not leetspeak
                out.append(_Candidate(form, tok.start, tok.end, dis, 1, (tok.text,)))
            for part in tok.parts:
                out.append(
                    _Candidate(
                        part.text, part.start, part.end, set(part.disguises), 1, (part.text,)
                    )
                )
            if any(c.isdigit() for c in tok.text) and any(c.isalpha() for c in tok.text):
                read = leet_reading(tok.text)
                # Names with digits compare every reading; others only a name written in
                # digits but for a letter or two ("73554R0"), too few for _leet_forms.
                if read not in tok.forms() and (
                    self.digit_terms or (read in self.exact and len(read) >= 4)
                ):
                    out.append(
                        _Candidate(
                            read, tok.start, tok.end, set(tok.disguises) | {LEET}, 1, (tok.text,)
                        )
                    )
            # Latin letters that pass for others: rn for m, vv for w, l for i and back.
            if tok.text.isalpha() and len(tok.text) >= 3:
                for a, b in _ASCII_LOOKALIKES:
                    if a in tok.text:
                        alt = tok.text.replace(a, b)
                        if alt in self.exact:
                            out.append(
                                _Candidate(
                                    alt,
                                    tok.start,
                                    tok.end,
                                    set(tok.disguises) | {"look-alike letters"},
                                    1,
                                    (alt,),
                                )
                            )
            # Capitals mark where glued words begin ("ZebaoliBarista", "QixinNano"), and
            # a short model code may follow a name in capitals ("NUOWALAIL3"). First, so
            # that a name glued in camel case is quoted without the word after it.
            pieces = [
                (p.group(), tok.start + p.start(), tok.start + p.end())
                for p in _CAMEL.finditer(doc.original[tok.start : tok.end])
            ]
            m = _CODE_TAIL.match(tok.text)
            if m:
                # the name before a model code of one to three letters and digits
                base = m.group(1)
                pieces += [(base[: len(base) - k], tok.start, tok.end) for k in range(3)]
            if len(pieces) > 1 or m:
                for piece, start, end in pieces:
                    key = compact(piece)
                    if key in self.exact and key != tok.text:
                        dis = set(tok.disguises) - {LEET}
                        out.append(_Candidate(key, start, end, dis, 1, (key,)))
            # A brand glued to a model number or a word: "Rolex2024", "rolex2024new", "Crocsclog".
            glued = _glued_parts(tok.text)
            if glued:
                for part in glued:
                    out.append(
                        _Candidate(
                            part, tok.start, tok.end, set(tok.disguises) - {"leetspeak"}, 1, (part,)
                        )
                    )
            elif len(tok.text) >= 7 and tok.text.isalpha() and tok.text not in self.words:
                # (an ordinary word is that word: "passable" is not "pas" + Sable)
                for key in self.glue_keys:
                    rest = _glued_rest(tok.text, key)
                    if rest and len(rest) >= 3 and self._is_glue_word(rest):
                        out.append(
                            _Candidate(key, tok.start, tok.end, set(tok.disguises), 1, (key,))
                        )
            for key in self.digit_glue_keys:
                rest = _glued_rest(tok.text, key)
                if rest and len(rest) >= 3 and rest.isalpha() and self._is_glue_word(rest):
                    out.append(_Candidate(key, tok.start, tok.end, set(tok.disguises), 1, (key,)))
        # Token n-grams: multi-word brands written together or apart, brands split up.
        for n in range(2, self.max_ngram + 1):
            for i in range(len(latin) - n + 1):
                run: list[Token] = latin[i : i + n]
                gaps = [doc.original[a.end : b.start] for a, b in pairwise(run)]
                # A masking symbol at a word's edge is not part of the gap ("Mol* & Brand").
                if any(len(g.strip(_MASK_CHARS)) > 3 for g in gaps):
                    continue
                masked = any(g[:1] in MASKS or g[-1:] in MASKS for g in gaps)
                plain = "".join(t.text for t in run)
                # Pieces of a name may be all digits but one letter ("Z3N-73K"): read them as
                # leetspeak here, where the joined run must still spell a term.
                leet = "".join(
                    (t.leet[0] if t.leet else leet_reading(t.text))
                    if not t.text.isalpha() and any(c.isalpha() for c in t.text)
                    else t.text
                    for t in run
                )
                # A multi-word brand glued to a number at its ends: "zen-tek2025".
                lead = _GLUED_LEAD.match(run[-1].text)
                tail = _GLUED_TAIL.search(run[0].text)
                edged = "".join(
                    [tail.group() if tail else run[0].text]
                    + [t.text for t in run[1:-1]]
                    + [lead.group() if lead else run[-1].text]
                )
                for text in {plain, leet, edged}:
                    if len(text) > self.max_len + 2:
                        continue
                    dis: set[str] = set()
                    for t in run:
                        dis |= t.disguises
                    if masked:
                        dis.add(MASKED)
                    if text != leet:
                        dis.discard("leetspeak")
                    elif leet != plain:
                        dis.add(LEET)
                    out.append(
                        _Candidate(
                            text, run[0].start, run[-1].end, dis, n, tuple(t.text for t in run)
                        )
                    )
        return out

    def find(self, text: str, doc: Analysed | None = None) -> dict[str, TextHit]:
        """The best hit per mark id in the text."""
        doc = doc or analyse(text)
        best: dict[str, TextHit] = {}

        def offer(hit: TextHit) -> None:
            cur = best.get(hit.mark_id)
            if cur is None or (_RANK[hit.kind], hit.distance, hit.is_word, hit.ordinary) < (
                _RANK[cur.kind],
                cur.distance,
                cur.is_word,
                cur.ordinary,
            ):
                best[hit.mark_id] = hit

        cands = self._candidates(doc)
        for c in cands:
            for term in self.exact.get(c.text, ()):
                if term.leet and LEET not in c.disguises:
                    continue  # plain letters ("Velo T") do not spell a name's digits
                dis = c.disguises
                ordinary = False
                if c.ngram > term.words and term.kind == "latin":
                    # A one-word brand found across tokens: only when the pieces are
                    # not ordinary words ("can on" is not Canon, "Ro lex" is). A long
                    # compound written as its words ("Silver Wood Craft") is kept as an
                    # ordinary reading, which needs the brand's goods to count.
                    if all(len(w) > 2 and w in self.words for w in c.words):
                        if len(term.key) < SPLIT_WORDS_MIN:
                            continue
                        ordinary = True
                        dis = c.disguises | {"words written apart"}
                    else:
                        c.disguises.add("letters written apart")
                quote = doc.quote(c.start, c.end)
                if DIACRITIC in dis and _spelling(quote) == _spelling(term.term):
                    dis = dis - {DIACRITIC}  # the accents of the registered name (Brüvo)
                if not dis and c.ngram <= term.words and term.kind == "latin":
                    ordinary = term.spelled or self._ordinary(term)
                # Tone marks are how pinyin is written, not a disguise (dài sēn).
                if term.kind == "pinyin" and not c.disguises - {DIACRITIC}:
                    offer(
                        TextHit(term.mark_id, term.term, quote, "pinyin", start=c.start, end=c.end)
                    )
                else:
                    kind = "disguised" if dis else "exact"
                    offer(
                        TextHit(
                            term.mark_id,
                            term.term,
                            quote,
                            kind,
                            0,
                            set(dis),
                            start=c.start,
                            end=c.end,
                            ordinary=ordinary,
                        )
                    )
        if self.cjk and has_cjk(text):
            simple = chinese.to_simplified(doc.folded)
            joined = _close_cjk_gaps(simple)
            for term in self.cjk:
                pos, alone = _chinese_name_at(simple, term.key)
                if pos >= 0:
                    offer(
                        TextHit(
                            term.mark_id,
                            term.term,
                            term.key,
                            "chinese",
                            start=pos,
                            end=pos + len(term.key),
                            ordinary=not alone or common_chinese_word(term.key),
                        )
                    )
                elif len(term.key) > 1 and term.key in joined:  # written apart: 胡 格
                    offer(
                        TextHit(
                            term.mark_id,
                            term.term,
                            _spread(term.key, simple),
                            "disguised",
                            disguises={"characters written apart"},
                        )
                    )
            self._homophones(simple, offer)
            self._mixed_scripts(doc.original, offer)
        self._fuzzy(doc, cands, offer)
        return best

    def _mixed_scripts(self, original: str, offer) -> None:
        """A Chinese name written partly in pinyin or pinyin initials (耐ke, hu格, J和)."""
        simple = chinese.to_simplified(original)
        for mark_id, term, pattern in self.mixed:
            for m in pattern.finditer(simple):
                parts = [p for p in m.groups() if p]
                latin = [p for p in parts if not has_cjk(p)]
                if not latin or len(latin) == len(parts):
                    continue  # all Chinese or all pinyin: matched elsewhere
                initials = [p for p in latin if len(p) == 1]
                if initials and not all(p.isupper() for p in initials):
                    continue  # an initial is a capital letter ("J和"), not any letter
                how = "pinyin initials" if initials else "Chinese and pinyin mixed"
                offer(
                    TextHit(
                        mark_id,
                        term,
                        m.group(),
                        "disguised",
                        disguises={how},
                        start=m.start(),
                        end=m.end(),
                    )
                )
                break

    def _homophones(self, simple: str, offer) -> None:
        """Chinese names written with other characters of the same sound (奈克 for 耐克)."""
        if not self.cjk_pinyin:
            return
        for run in _CJK_RUN.findall(simple):
            sounds = [s for s in lazy_pinyin(run, errors="ignore")]
            if len(sounds) != len(run):
                continue
            for mark_id, term, chars, syllables in self.cjk_pinyin:
                n = len(syllables)
                for i in range(len(run) - n + 1):
                    if sounds[i : i + n] == syllables and run[i : i + n] != chars:
                        offer(
                            TextHit(
                                mark_id,
                                term,
                                run[i : i + n],
                                "fuzzy",
                                1,
                                {"same-sounding characters"},
                                is_word=common_chinese_word(run[i : i + n]),
                                short=n <= 2,
                            )
                        )
                        break

    def _fuzzy(self, doc: Analysed, cands: list[_Candidate], offer) -> None:
        if not self.fuzzy_keys:
            return
        # Token n-grams are only compared with terms of as many words (checked below), so
        # with multi-word terms short n-grams are candidates too ("Zen Tke" for Zen-Tek).
        shortest_ngram = 4 if self.multiword else 8
        pool = [
            c
            for c in cands
            if len(c.text) >= 3
            and c.text.isalpha()
            and (c.ngram == 1 or len(c.text) >= shortest_ngram)
        ]
        if not pool:
            return
        texts = sorted({c.text for c in pool})
        # One vectorised call for all candidates against all terms.
        dist = process.cdist(
            texts, self.fuzzy_keys, scorer=OSA.distance, score_cutoff=3, dtype=np.int32, workers=1
        )
        rows, cols = np.nonzero(dist <= 3)
        if not len(rows):
            return
        by_text: dict[str, list[_Candidate]] = {}
        for c in pool:
            by_text.setdefault(c.text, []).append(c)
        for r, col in zip(rows.tolist(), cols.tolist()):
            d = int(dist[r, col])
            term = self.fuzzy_terms[col]
            if d == 0 or d > allowed_edits(len(term.key)):
                continue
            cand_text = texts[r]
            if abs(len(cand_text) - len(term.key)) > d:
                continue
            for c in by_text[cand_text]:
                if c.ngram > term.words or (term.leet and LEET not in c.disguises):
                    continue
                # A word written with a masked or look-alike letter ("Sa*le", "Sаle") is not
                # that ordinary word: nobody disguises a plain word.
                is_word = (
                    c.ngram == 1
                    and cand_text in self.words
                    and c.words[0] == cand_text
                    and not c.disguises & _HIDING
                )
                offer(
                    TextHit(
                        term.mark_id,
                        term.term,
                        doc.quote(c.start, c.end),
                        "fuzzy",
                        d,
                        set(c.disguises),
                        is_word=is_word,
                        start=c.start,
                        end=c.end,
                        short=len(term.key) <= 5,
                    )
                )
