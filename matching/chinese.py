"""Chinese forms of the mark terms: simplified and traditional script, and pinyin.

A Chinese brand name is matched in either script (OpenCC converts both sides to
simplified), and its pinyin is matched in Latin text with or without tone marks,
tone numbers, spaces or hyphens (`naike`, `nài kè`, `nai4-ke4`).
"""

from __future__ import annotations

from functools import lru_cache

import opencc
from pypinyin import Style, lazy_pinyin

from matching.normalize import compact, fold


@lru_cache(maxsize=2)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


@lru_cache(maxsize=65536)
def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text)


def to_traditional(text: str) -> str:
    return _converter("s2t").convert(text)


def segment(text: str, hmm: bool = True) -> list[str]:
    """The words of a Chinese text in order (jieba); `hmm=False` keeps to the words of
    its dictionary, without guessing new ones."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.lcut(text, HMM=hmm)


def script_forms(term: str) -> set[str]:
    """The term in simplified and traditional script (folded, without spaces)."""
    base = compact(term)
    return {f for f in {base, to_simplified(base), compact(to_traditional(base))} if f}


def pinyin_forms(term: str) -> set[str]:
    """Latin writings of a Chinese term: plain and with tone numbers, written together."""
    simplified = to_simplified(term)
    syllables = [s for s in lazy_pinyin(simplified, errors="ignore") if s.strip()]
    if not syllables:
        return set()
    plain = compact("".join(syllables))
    toned = [s for s in lazy_pinyin(simplified, style=Style.TONE3, errors="ignore") if s.strip()]
    forms = {plain, fold("".join(toned))}
    if "v" in plain:  # ü is typed as v by pinyin keyboards and written as u in shop titles
        forms.add(plain.replace("v", "u"))
    # Neutral-tone syllables may be written with a 5 by some keyboards.
    forms.add(fold("".join(s if s[-1:].isdigit() else s + "5" for s in toned)))
    return {f for f in forms if len(f) >= 4}
