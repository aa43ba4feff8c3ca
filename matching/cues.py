"""Replica and copy cues ("1:1", "AAA", "replica", "高仿", "Nike-style"), read from data.

The cue words live in `matching/data/cues.yaml` so analysts can extend them. Innocent
uses ("AAA batteries", "OEM/ODM available", "mirror finish") are removed before the
cues are looked for, and weak cues only count when a brand is named: on unbranded
goods a cue alone never flags a listing. Chinese text is read in simplified script, so
the simplified cue list also finds traditional writings (複刻, 原單).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from matching.normalize import fold, has_cjk

DATA = Path(__file__).with_name("data") / "cues.yaml"


@dataclass(frozen=True, slots=True)
class Cue:
    phrase: str  # as found in the listing (folded)
    strong: bool


class CueFinder:
    """Compiled cue patterns; build once, use for many listings."""

    def __init__(self, path: Path = DATA) -> None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: cannot read the cue list ({exc})") from None

        def compile_all(key: str) -> list[re.Pattern[str]]:
            items = data.get(key) or []
            if not isinstance(items, list):
                raise ValueError(f"{path}: {key}: expected a list of regular expressions")
            out = []
            for i, pattern in enumerate(items):
                # Listings are folded (Cyrillic р, е, а read as Latin p, e, a): patterns
                # written in other scripts are folded alike; ASCII is regex syntax, kept.
                text = "".join(c if c.isascii() else fold(c) for c in str(pattern))
                try:
                    out.append(re.compile(text, re.IGNORECASE))
                except re.error as exc:
                    raise ValueError(
                        f"{path}: {key}[{i}]: invalid regular expression ({exc})"
                    ) from None
            return out

        self.strong = compile_all("strong")
        self.weak = compile_all("weak")
        self.innocent = compile_all("innocent")
        self.style_after = compile_all("style_after")
        self.style_before = compile_all("style_before")

    def clean(self, folded: str) -> str:
        """The folded text with innocent uses of cue words blanked out."""
        for pattern in self.innocent:
            folded = pattern.sub(lambda m: " " * len(m.group()), folded)
        return folded

    def find(self, text: str) -> list[Cue]:
        """Cues in a text (title and description); innocent uses left out."""
        folded = fold(text)
        if has_cjk(folded):
            # Chinese cues are listed in simplified script; 複刻 is 复刻 written traditionally.
            from matching.chinese import to_simplified

            folded = to_simplified(folded)
        folded = self.clean(folded)
        found: list[Cue] = []
        seen: set[str] = set()
        for strong, patterns in ((True, self.strong), (False, self.weak)):
            for pattern in patterns:
                for m in pattern.finditer(folded):
                    phrase = m.group().strip()
                    if phrase and not any(phrase in s or s in phrase for s in seen):
                        seen.add(phrase)
                        found.append(Cue(phrase, strong))
        return found

    def styled(self, original: str, start: int, end: int) -> str | None:
        """The "-style"/"inspired"/"like" wording around a brand mention, if any."""
        after = fold(original[end : end + 24])
        for pattern in self.style_after:
            m = pattern.search(after)
            if m:
                return m.group().strip(" -_")
        before = fold(original[max(0, start - 24) : start])
        for pattern in self.style_before:
            m = pattern.search(before)
            if m:
                return m.group().strip()
        return None


@lru_cache(maxsize=1)
def default_finder() -> CueFinder:
    return CueFinder()
