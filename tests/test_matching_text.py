"""Text matching: obfuscation families, Chinese forms, near-misses, cues."""

from __future__ import annotations

import pytest

from matching.cues import CueFinder
from matching.normalize import analyse
from matching.text import TermIndex

MARKS = [
    ("dyson", ["Dyson", "戴森"]),
    ("acme", ["ACME", "艾克米"]),
    ("underarmour", ["Under Armour"]),
    ("salomon", ["Salomon", "萨洛蒙"]),
]


@pytest.fixture(scope="module")
def index() -> TermIndex:
    return TermIndex(MARKS)


@pytest.mark.parametrize(
    ("title", "mark", "kind", "disguise"),
    [
        ("D1son hair dryer", "dyson", "fuzzy", None),  # leetspeak + typo
        ("Dys0n V15 vacuum", "dyson", "disguised", "leetspeak"),
        ("Dуsоn vacuum cleaner", "dyson", "disguised", "look-alike letters"),  # Cyrillic у, о
        ("ΑCΜΕ gamepad", "acme", "disguised", "look-alike letters"),  # Greek capitals
        ("Ｄｙｓｏｎ hair dryer", "dyson", "disguised", "fullwidth letters"),
        ("Dy\u200bson hair dryer", "dyson", "disguised", "zero-width characters"),
        ("D.Y.S.O.N cordless", "dyson", "disguised", "letters written apart"),
        ("D Y S O N cordless", "dyson", "disguised", "letters written apart"),
        ("D·Y·S·O·N cordless", "dyson", "disguised", "letters written apart"),
        ("Dýśon cordless", "dyson", "disguised", "accents"),
        ("Salomn trail shoes", "salomon", "fuzzy", None),  # omission
        ("Saloomon trail shoes", "salomon", "fuzzy", None),  # repetition
        ("Slaomon trail shoes", "salomon", "fuzzy", None),  # transposition
        ("UnderArmour hoodie", "underarmour", "exact", None),  # multi-word written together
        ("Under-Armour hoodie", "underarmour", "exact", None),
        ("Dyson hair dryer", "dyson", "exact", None),
        ("𝐃𝐲𝐬𝐨𝐧 hair dryer", "dyson", "disguised", "styled letters"),  # mathematical bold
        ("Ⓓⓨⓢⓞⓝ hair dryer", "dyson", "disguised", "styled letters"),  # circled letters
        ("Dy-son hair dryer", "dyson", "disguised", "letters written apart"),
        ("Dy*son hair dryer", "dyson", "disguised", "masking symbols"),
        ("DYS0N™ fan", "dyson", "disguised", "leetspeak"),
        ("Dуson2024 fan", "dyson", "disguised", "look-alike letters"),  # glued to a number
        ("Sa1omon trail shoes", "salomon", "disguised", "leetspeak"),  # 1 read as l
        ("Salornon trail shoes", "salomon", "disguised", "look-alike letters"),  # rn for m
    ],
)
def test_obfuscation_families_are_seen_through(
    index: TermIndex, title: str, mark: str, kind: str, disguise: str | None
) -> None:
    hits = index.find(title)
    assert mark in hits, title
    hit = hits[mark]
    assert hit.kind == kind, (title, hit)
    if disguise:
        assert disguise in hit.disguises, (title, hit.disguises)


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("戴森吹风机 正品", "chinese"),  # simplified
        ("戴森 吸塵器", "chinese"),
        ("薩洛蒙 越野跑鞋", "chinese"),  # traditional form of 萨洛蒙
        ("daisen hair dryer", "pinyin"),
        ("dài sēn hair dryer", "pinyin"),  # tone marks, spaced
        ("dai4-sen1 vacuum", "pinyin"),  # tone numbers, hyphen
        ("Sa Luo Meng trail shoes", "pinyin"),
        ("戴 森 吹风机", "disguised"),  # characters written apart
        ("代森吹风机", "fuzzy"),  # same-sounding characters
    ],
)
def test_chinese_forms_and_pinyin(index: TermIndex, title: str, kind: str) -> None:
    hits = index.find(title)
    found = [h for h in hits.values() if h.kind == kind]
    assert found, (title, hits)


@pytest.mark.parametrize(
    "title",
    [
        "Acne face wash",
        "Salmon fillet frozen",
        "Dylan poster",
        "Alison doll",
        "Under the sea armor toy",
    ],
)
def test_near_misses_are_words_or_too_far(index: TermIndex, title: str) -> None:
    hits = index.find(title)
    for hit in hits.values():
        # Either no hit or a fuzzy hit marked as an ordinary word: never a clean match.
        assert hit.kind == "fuzzy" and (hit.is_word or hit.strength < 0.8), (title, hit)


def test_short_term_needs_more_than_one_edit_budget(index: TermIndex) -> None:
    # ACME is four letters: two edits away is no hit at all.
    assert "acme" not in index.find("Achy arch relief insoles")
    hit = index.find("Acne cream")["acme"]
    assert hit.is_word and hit.strength < 0.5


def test_evidence_quotes_the_listing_characters(index: TermIndex) -> None:
    hit = index.find("New D.Y.S.O.N V15 vacuum")["dyson"]
    assert "'D.Y.S.O.N'" in hit.describe()
    assert "Dyson" in hit.describe()
    fuzzy = index.find("Salomn shoes")["salomon"]
    assert "resembles term 'Salomon' (1 edit)" in fuzzy.describe()


def test_analyse_keeps_spans_of_the_original() -> None:
    doc = analyse("Hot Ｎｉｋｅ shoes")
    tok = doc.tokens[1]
    assert tok.text == "nike"
    assert doc.quote(tok.start, tok.end) == "Ｎｉｋｅ"


@pytest.mark.parametrize(
    "text",
    [
        "1.5V AAA Batteries 8 Pack",
        "OEM/ODM available ceramic pot",
        "Custom Logo OEM watch",
        "Mirror finish makeup organizer",
        "Korean Style hair clip",
        "Copy Paper Compatible phone mount",
        "Mirrorless camera strap",
        "网红同款 发夹",
    ],
)
def test_innocent_cue_words_are_not_cues(text: str) -> None:
    assert CueFinder().find(text) == []


@pytest.mark.parametrize(
    ("text", "strong"),
    [
        ("Top Replica watch", True),
        ("1:1 quality", True),
        ("高仿 包包", True),
        ("复刻版", True),
        ("AAA+ Quality", True),
        ("OEM quality", True),
        ("AAA shoes", False),
        ("dupe", True),
    ],
)
def test_replica_cues_found(text: str, strong: bool) -> None:
    cues = CueFinder().find(text)
    assert cues and any(c.strong == strong for c in cues), (text, cues)


def test_style_suffix_next_to_brand() -> None:
    finder = CueFinder()
    title = "Dyson-style hair dryer"
    assert finder.styled(title, 0, 5) == "style"
    assert finder.styled("Dyson hair dryer", 0, 5) is None


def test_trademark_sign_and_apostrophes_do_not_break_words(index: TermIndex) -> None:
    assert index.find("Dyson™ V15")["dyson"].kind == "exact"
    levis = TermIndex([("levis", ["Levi's"])])
    assert levis.find("Levi's 501 jeans")["levis"].kind == "exact"


def test_homophone_names_say_so(index: TermIndex) -> None:
    hit = index.find("代森吹风机")["dyson"]
    assert "sounds like the Chinese name '戴森'" in hit.describe()
