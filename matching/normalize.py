"""Text normalisation that sees through the disguises counterfeiters put on brand names.

`analyse(text)` folds a title to plain lowercase Latin (Unicode NFKC, case folding,
zero-width and combining marks removed, Cyrillic/Greek/fullwidth look-alikes mapped
to Latin through the Unicode confusables data) while remembering, for every folded
character, where it came from and which disguise was removed. It then cuts the
text into tokens, joins letters written apart (`N.I.K.E`, `N I K E`, `D·Y·S·O·N`),
removes masking symbols inside words (`N*ke`) and adds a leetspeak reading of
tokens that mix digits and letters (`N1ke`, `C@n0n`). The matchers work on these
tokens; the evidence quotes the original characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from confusable_homoglyphs import confusables

# Disguise kinds, as named in the evidence text.
ZERO_WIDTH = "zero-width characters"
FULLWIDTH = "fullwidth letters"
HOMOGLYPH = "look-alike letters"
DIACRITIC = "accents"
SPACED = "letters written apart"
MASKED = "masking symbols"
LEET = "leetspeak"
STYLED = "styled letters"

_LEET = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "|": "l",
    "!": "i",
    "6": "g",
}
# Characters that separate the letters of a brand written apart, or mask one letter.
_SEPARATORS = set(" .·•∙⋅・*_-~+/\\|,'’`^:")
# Geometric shapes and crosses stand for a hidden letter as often as the asterisk does
# (Ro●ex, Ro×ex).
MASKS = frozenset("*·•∙⋅・_●○◯■□◆◇×✕✖※")
# Symbols, emoji and their modifiers (❤ ★ 🔥, skin tones, variation selectors) pass for
# separators too: "K★E★L★S★O", "薇❤拉", and so do dashes ("K – E – L"). Sentence
# punctuation (，。, ?) does not.
_GAP_CATEGORIES = {"So", "Sm", "Sk", "Mn", "Cf", "Zs", "Pd"}
# Chinese characters, and Japanese kana, which are words of their own too: a name glued
# between kana (スーパーコピーFyro7スマートバンド) is a word apart.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_BARRED = re.compile(r"[^|](?:\|[^|]){2,}")
_TOKEN = re.compile(
    r"(?:[^\W_\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|[@$|!])+"
    r"|[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]+"
)
_LETTER_NAME = re.compile(
    r"^LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL |DOTLESS |SCRIPT |TURNED )?([A-Z])\b"
)


# Cyrillic letters taken over from Latin (Kurdish qa, we), missing from the confusables data.
_BORROWED = {"Ԛ": "Q", "ԛ": "q", "Ԝ": "W", "ԝ": "w"}


@lru_cache(maxsize=8192)
def _latin_lookalike(ch: str) -> str | None:
    """The Latin letter a non-Latin character imitates, or None."""
    if ch.isascii() or not ch.isalpha():
        return None
    if ch in _BORROWED:
        return _BORROWED[ch]
    try:
        found = confusables.is_confusable(ch, greedy=True, preferred_aliases=["latin"])
    except Exception:  # the data has gaps for some code points; those stay as they are
        return None
    options = [g.get("c", "") for g in found[0].get("homoglyphs", [])] if found else []
    options = [c for c in options if len(c) == 1 and c.isascii() and c.isalnum()]
    if not options:
        # Lower-case Cyrillic letters drawn as small capitals (к, м, н, т, в) imitate
        # the Latin letter their capital does.
        if ch.islower() and unicodedata.name(ch, "").startswith("CYRILLIC"):
            upper = _latin_lookalike(ch.upper()) if len(ch.upper()) == 1 else None
            return upper.lower() if upper and upper.isalpha() else None
        return None
    # Prefer a letter of the same case (Cyrillic І reads as I, not l), then any letter.
    same_case = [c for c in options if c.isalpha() and c.isupper() == ch.isupper()]
    letters = [c for c in options if c.isalpha()]
    return (same_case or letters or options)[0]


def _named_letter(ch: str) -> str | None:
    """A Latin letter with a stroke, hook or bar that Unicode does not decompose (Ɍ, Ƀ, ƙ)."""
    m = _LETTER_NAME.match(unicodedata.name(ch, ""))
    return m.group(1).lower() if m else None


@lru_cache(maxsize=16384)
def _fold_char(ch: str) -> tuple[str, str | None]:
    """Fold one character: (folded text, disguise removed or None)."""
    cat = unicodedata.category(ch)
    if cat == "Cf" or ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad":
        return "", ZERO_WIDTH
    if cat.startswith("M"):
        return "", DIACRITIC
    kind: str | None = None
    text = unicodedata.normalize("NFKC", ch)
    if text != ch and 0xFF01 <= ord(ch) <= 0xFF5E:
        kind = FULLWIDTH
    elif text != ch and cat[0] not in "LN":
        # Symbols: circled or styled letters fold to their letter; others (™, ½) stay
        # symbols, so "Nike™" does not become "niketm".
        if len(text) == 1 and text.isalnum():
            kind = STYLED
        else:
            return ch, None
    elif text != ch and not ch.isascii() and text.isascii() and text.isalnum():
        kind = STYLED  # mathematical bold, superscripts and the like
    out = []
    for c in text:
        if _CJK.match(c):
            out.append(c)
            continue
        decomposed = unicodedata.normalize("NFD", c)
        base = "".join(d for d in decomposed if not unicodedata.category(d).startswith("M"))
        if base != decomposed and base:
            kind = kind or DIACRITIC
        for b in base:
            if not b.isascii() and b.isalpha():
                latin = _latin_lookalike(b) or _named_letter(b)
                if latin is not None:
                    kind = kind or HOMOGLYPH
                    b = latin
            out.append(b.casefold())
    return "".join(out), kind


@dataclass(slots=True)
class Token:
    """One word of the folded text, with the original characters it came from."""

    text: str  # folded form (leetspeak not applied)
    start: int  # span in the original text
    end: int
    disguises: set[str] = field(default_factory=set)
    leet: list[str] = field(default_factory=list)  # leetspeak readings, when any
    # The words a masking symbol joined, kept because the symbol may only separate them
    # (Dyson×Supreme, #Dyson#Airwrap).
    parts: list[Token] = field(default_factory=list)

    @property
    def is_cjk(self) -> bool:
        return bool(_CJK.match(self.text))

    def forms(self) -> list[str]:
        return [self.text, *self.leet]


@dataclass(slots=True)
class Analysed:
    """A text folded and tokenised, with a way back to the original."""

    original: str
    folded: str
    tokens: list[Token]

    def quote(self, start: int, end: int) -> str:
        """The original characters of a span, without invisible ones."""
        raw = self.original[start:end]
        return "".join(c for c in raw if unicodedata.category(c) != "Cf").strip()


def fold(text: str) -> str:
    """Plain folded form of a text (no token work): for terms and keywords."""
    return "".join(_fold_char(c)[0] for c in text)


def compact(text: str) -> str:
    """A term written together: folded, only letters and digits (CJK kept)."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def leet_reading(word: str) -> str:
    """A token read as leetspeak throughout ("73k" -> "tek"), for pieces of a longer name."""
    return "".join(_LEET.get(c, c) for c in word)


def _leet_forms(word: str) -> list[str]:
    """Leetspeak readings of a token that mixes letters with digits or symbols."""
    letters = sum(c.isalpha() for c in word)
    others = len(word) - letters
    if others == 0 or letters < 2 or len(word) < 3 or others > letters + 1:
        return []
    forms = {"".join(_LEET.get(c, c) for c in word)}
    if "1" in word:  # 1 stands for i as often as for l
        forms.add("".join("l" if c == "1" else _LEET.get(c, c) for c in word))
    forms.discard(word)
    return sorted(f for f in forms if f.isalpha())


def analyse(text: str) -> Analysed:
    """Fold and tokenise a text; see the module docstring."""
    chars: list[str] = []
    origin: list[int] = []
    kinds: list[str | None] = []
    pending: str | None = None  # a removed invisible character marks the next letter
    for i, ch in enumerate(text):
        folded, kind = _fold_char(ch)
        if not folded:
            if kind:
                pending = kind
                if chars and chars[-1].isalnum():  # mark the letter before as well
                    kinds[-1] = kinds[-1] or kind
            continue
        for c in folded:
            chars.append(c)
            origin.append(i)
            kinds.append(kind or pending)
        pending = None
    folded_text = "".join(chars)
    origin.append(len(text))

    raw_tokens: list[Token] = []
    for m in _TOKEN.finditer(folded_text):
        s, e = m.start(), m.end()
        word = m.group()
        # Exclamation marks and bars at the edges are punctuation, not letters.
        while word and word[0] in "!|":
            word, s = word[1:], s + 1
        while word and word[-1] in "!|":
            word, e = word[:-1], e - 1
        if not word:
            continue
        if _BARRED.fullmatch(word):
            # Bars between single letters separate them (K|V|X); a bar inside a
            # word stands for an l.
            for k in range(s, e, 2):
                disguises = {kinds[k]} if kinds[k] else set()
                raw_tokens.append(Token(folded_text[k], origin[k], origin[k] + 1, disguises))
            continue
        for a, b in _style_runs(kinds, s, e):
            disguises = {k for k in kinds[a:b] if k}
            raw_tokens.append(Token(folded_text[a:b], origin[a], origin[b - 1] + 1, disguises))

    tokens = _join_spelled(raw_tokens, text)
    tokens = _join_masked(tokens, text)
    for tok in tokens:
        if not tok.is_cjk:
            tok.leet = _leet_forms(tok.text)
            if tok.leet:
                tok.disguises.add(LEET)
    return Analysed(text, folded_text, tokens)


def _style_runs(kinds: list[str | None], s: int, e: int) -> list[tuple[int, int]]:
    """A word's spans, cut where styled letters meet plain ones: a name set in bold
    letters glued to a plain word (𝗧𝗶𝗸𝗸𝘂Moonkin) is two words."""
    cuts = [k for k in range(s + 2, e - 1) if (kinds[k] == STYLED) != (kinds[k - 1] == STYLED)]
    bounds = [s, *cuts, e]
    spans = list(pairwise(bounds))
    if any(b - a < 2 for a, b in spans):
        return [(s, e)]  # one styled letter is a flourish, not a word of its own
    return spans


def _gap(text: str, a: Token, b: Token) -> str:
    return text[a.end : b.start]


def is_letter_gap(
    gap: str, longest: int = 4, separators: frozenset[str] | set[str] = _SEPARATORS
) -> bool:
    """Whether the characters between two letters only keep them apart (N.I.K.E, K★E★L)."""
    return 0 < len(gap) <= longest and all(
        c in separators or unicodedata.category(c) in _GAP_CATEGORIES for c in gap
    )


def _spelled_char(tok: Token) -> bool:
    """A letter written apart, or a digit or symbol standing for one (M.3.R.I.D.E.X)."""
    return len(tok.text) == 1 and (tok.text.isalpha() or tok.text in _LEET)


def _join_spelled(tokens: list[Token], text: str) -> list[Token]:
    """Join runs of three or more single letters written apart: N.I.K.E, C A N O N, and
    with leetspeak, $ U M M 1 7 (read later through _leet_forms)."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        j = i
        while (
            j + 1 < len(tokens)
            and _spelled_char(tokens[j])
            and _spelled_char(tokens[j + 1])
            and is_letter_gap(_gap(text, tokens[j], tokens[j + 1]))
        ):
            j += 1
        # at least two letters: "1 2 3" or "3 x 4" are numbers
        while j - i >= 2 and sum(t.text.isalpha() for t in tokens[i : j + 1]) < 2:
            j -= 1
        if j - i >= 2:
            run = tokens[i : j + 1]
            joined = Token("".join(t.text for t in run), run[0].start, run[-1].end, {SPACED})
            for t in run:
                joined.disguises |= t.disguises
            out.append(joined)
            i = j + 1
        else:
            out.append(tokens[i])
            i += 1
    return out


def _join_masked(tokens: list[Token], text: str) -> list[Token]:
    """Join a word cut by one masking symbol: N*ke, Ro·lex."""
    out: list[Token] = []
    for tok in tokens:
        if (
            out
            and not tok.is_cjk
            and not out[-1].is_cjk
            and out[-1].text.isalpha()
            and tok.text.isalpha()
            and len(_gap(text, out[-1], tok)) == 1
            and _gap(text, out[-1], tok) in MASKS
            and len(out[-1].text) + len(tok.text) <= 12
        ):
            prev = out[-1]
            out[-1] = Token(
                prev.text + tok.text,
                prev.start,
                tok.end,
                prev.disguises | tok.disguises | {MASKED},
                parts=(prev.parts or [prev]) + [tok],
            )
        else:
            out.append(tok)
    return out


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))
