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


# ---------------------------------------------------------------- variation beyond the dev split
@pytest.fixture(scope="module")
def wide() -> TermIndex:
    return TermIndex(
        [
            ("kelso", ["Kelso Ridge", "凯索岭"]),
            ("zentek", ["Zen-Tek", "禅泰克"]),
            ("moyu", ["墨羽", "moyu"]),  # a brand whose Latin name is its pinyin
            ("sable", ["Sable"]),
            ("dyson", ["Dyson", "戴森", "daisen"]),
        ]
    )


@pytest.mark.parametrize(
    ("title", "mark"),
    [
        ("K🔥e🔥l🔥s🔥o🔥R🔥i🔥d🔥g🔥e hiking jacket", "kelso"),  # emoji between letters
        ("K★E★L★S★O★R★I★D★G★E backpack", "kelso"),
        ("D ❤️ Y ❤️ S ❤️ O ❤️ N fan", "dyson"),  # emoji with variation selector
        ("D – Y – S – O – N fan", "dyson"),  # en dashes
        ("爆款凯❤索❤岭冲锋衣", "kelso"),  # symbol between Chinese characters
    ],
)
def test_symbols_and_dashes_between_letters_are_separators(
    wide: TermIndex, title: str, mark: str
) -> None:
    hit = wide.find(title)[mark]
    assert hit.kind == "disguised", (title, hit)
    assert hit.disguises & {"letters written apart", "characters written apart"}


def test_sentence_punctuation_between_chinese_characters_does_not_join(wide: TermIndex) -> None:
    # "，" ends a phrase: 戴，森 is two words, not the name written apart.
    assert "dyson" not in wide.find("戴，森")
    assert wide.find("戴/森")["dyson"].kind == "disguised"


@pytest.mark.parametrize(
    "title",
    [
        "Zen-ek earbuds",
        "Zen-TTek earbuds",
        "Zan-Tek earbuds",
        "Zen Tke power bank",
        "Zen-Teks earbuds",
    ],
)
def test_typos_in_a_short_multi_word_brand_are_fuzzy_hits(wide: TermIndex, title: str) -> None:
    hit = wide.find(title)["zentek"]
    assert hit.kind == "fuzzy" and hit.distance == 1 and not hit.is_word, (title, hit)


@pytest.mark.parametrize(
    ("title", "mark"),
    [
        ("vyra sable2025new wallet", "sable"),  # letters, year, word
        ("2025sable wallet", "sable"),
        ("zen-tek2025new earbuds", "zentek"),  # a multi-word brand glued to a year
        ("SableShoes", "sable"),  # glued to a plural word
    ],
)
def test_brand_glued_to_numbers_and_words(wide: TermIndex, title: str, mark: str) -> None:
    assert wide.find(title)[mark].kind == "exact", title


def test_an_english_word_is_not_split_around_a_brand(wide: TermIndex) -> None:
    # "passable" ends in "sable" but is a word of its own.
    assert "sable" not in wide.find("Passable quality tote bag")


def test_brand_named_by_its_pinyin_is_matched_like_a_latin_name(wide: TermIndex) -> None:
    assert wide.find("MOYU tower fan")["moyu"].kind == "exact"
    typo = wide.find("MOYYU humidifier")["moyu"]
    assert typo.kind == "fuzzy" and typo.distance == 1
    glued = wide.find("MOYUOfficial fan")["moyu"]
    assert glued.kind == "exact"
    disguised = wide.find("МOYU fan")["moyu"]  # Cyrillic М
    assert disguised.kind == "disguised" and "look-alike letters" in disguised.disguises


def test_disguised_pinyin_is_disguised_but_tone_marks_are_not(wide: TermIndex) -> None:
    spaced = wide.find("d a i s e n hair dryer")["dyson"]
    assert spaced.kind == "disguised" and "letters written apart" in spaced.disguises
    assert "is the pinyin of '戴森' disguised with" in spaced.describe()
    assert wide.find("dài sēn hair dryer")["dyson"].kind == "pinyin"


def test_masked_word_is_not_the_ordinary_word(wide: TermIndex) -> None:
    plain = wide.find("Sale wallet")["sable"]
    assert plain.is_word  # "Sale" is an ordinary word
    masked = wide.find("Sa*le wallet")["sable"]
    assert masked.kind == "fuzzy" and not masked.is_word
    assert "masking symbols" in masked.disguises


def test_leetspeak_pieces_of_a_hyphenated_name(wide: TermIndex) -> None:
    hit = wide.find("Z3N-73K wireless earbuds")["zentek"]
    assert hit.kind == "disguised" and "leetspeak" in hit.disguises


def test_same_sounding_common_chinese_word_is_that_word() -> None:
    index = TermIndex([("moyu", ["墨羽"]), ("dyson", ["戴森"])])
    squid = index.find("墨鱼 海鲜零食")["moyu"]  # 墨鱼, cuttlefish: a word of its own
    assert squid.is_word and squid.strength < 0.5
    assert "ordinary word" in squid.describe()
    made_up = index.find("代森吹风机")["dyson"]
    assert not made_up.is_word


@pytest.mark.parametrize(
    "text",
    [
        "7A Quality",
        "10A Top Quality",
        "AAAAA Quality",
        "複刻 手錶",
        "1 to 1 copy",
        "Réplique",
        "仿款",
    ],
)
def test_replica_grades_and_traditional_cues(text: str) -> None:
    cues = CueFinder().find(text)
    assert cues and cues[0].strong, (text, cues)


@pytest.mark.parametrize(
    "text",
    [
        "AAAA Batteries 8 pack",
        "5A fast charging cable",
        "USB 2A charger",
        "Imitation leather tote bag",
        "AAA级景区 门票",
    ],
)
def test_battery_sizes_and_amperes_are_not_grades(text: str) -> None:
    assert CueFinder().find(text) == []


def test_weak_cues_next_to_chinese_text() -> None:
    assert [c.phrase for c in CueFinder().find("AAA级 手表")] == ["aaa"]
    assert [c.phrase for c in CueFinder().find("仿品 imitation watch")][-1] == "imitation"


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("Worn Once Tessaro chronograph", "worn once"),
        ("Barely worn hiking boots", "barely worn"),
        ("B-Stock humidifier", "b-stock"),
        ("转让 凯索岭 登山包", "转让"),
    ],
)
def test_more_resale_wordings(text: str, marker: str) -> None:
    from matching.context import resale_marker

    assert resale_marker(text) == marker


@pytest.mark.parametrize(
    ("text", "brand", "nominal"),
    [
        ("Replacement Strap fits Sable", "Sable", True),
        ("凯索岭专用 保护套", "凯索岭", True),
        ("Slim Fit Sable jacket", "Sable", False),
        ("Sable fitness bag", "Sable", False),
    ],
)
def test_nominative_fits_and_dedicated(text: str, brand: str, nominal: bool) -> None:
    from matching.context import nominative

    i = text.index(brand)
    assert bool(nominative(text, i, i + len(brand))) is nominal


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Brown Hair Dye Cream", "cosmetics"),
        ("Street Sign Metal Wall Decor", "household"),
        ("Vitamin D3 Drops", "supplements"),
        ("2 Person Camping Tent", "camping"),
        ("无叶风扇 落地扇", "appliances"),
        ("加湿器 大容量", "appliances"),
        ("Acoustic Lap Harp", "instruments"),
        ("Custom Name Vinyl Decal for Laptop", "printed"),
        ("Birthday Greeting Card with Envelope", "printed"),
        ("新年贺卡 手写 祝福", "printed"),
        ("户外冲锋衣 男款 防水", "clothing"),
        ("保湿乳液 补水", "cosmetics"),
        ("家用电水壶 1.8L", "appliances"),
        ("客厅地毯 北欧", "textiles"),
        ("Memory Foam Mattress Queen", "household"),
        ("Portable Mini Projector 1080P", "electronics"),
    ],
)
def test_goods_lexicon_knows_common_goods(text: str, concept: str) -> None:
    from matching.context import default_lexicon

    assert concept in default_lexicon().goods(text).concepts


# A name with digits: letters for its digits, digits for its letters, typo-squats.
DIGIT_MARKS = [("velo", ["Velo7"]), ("trekka", ["Trekka88"])]


@pytest.mark.parametrize(
    ("title", "mark", "kind"),
    [
        ("Vel07 road helmet", "velo", "disguised"),  # 0 for o
        ("VeIo7 road helmet", "velo", "fuzzy"),  # capital I for l
        ("Trekka8B trekking poles", "trekka", "disguised"),  # B for 8
        ("Tr3kka88 trekking poles", "trekka", "disguised"),
        ("Trekkaa88 trekking poles", "trekka", "fuzzy"),
    ],
)
def test_names_with_digits_disguised(title: str, mark: str, kind: str | None) -> None:
    hit = TermIndex(DIGIT_MARKS).find(title).get(mark)
    assert (hit.kind if hit else None) == kind, (title, hit)


def test_name_with_digits_written_as_registered_is_not_leetspeak() -> None:
    hit = TermIndex(DIGIT_MARKS).find("Trekka88 trekking poles carbon")["trekka"]
    assert hit.kind == "exact" and not hit.disguises
    # Plain letters are not a digit in disguise: "Velo T" is no leetspeak of Velo7.
    assert TermIndex(DIGIT_MARKS).find("Velo T road helmet")["velo"].kind != "disguised"


@pytest.mark.parametrize(
    ("title", "mark"),
    [
        ("quiboearbuds noise cancelling", "quibo"),  # glued to a goods word the dictionary lacks
        ("smartwatchquibo amoled", "quibo"),
        ("trekka88smartwatch amoled", "trekka"),  # a name with digits glued to its goods
        ("trekka88 smartwatch", "trekka"),
    ],
)
def test_brand_glued_to_goods_word(title: str, mark: str) -> None:
    index = TermIndex([("quibo", ["Quibo"]), ("trekka", ["Trekka88"])])
    assert mark in index.find(title), title


def test_glued_rest_must_be_a_word() -> None:
    index = TermIndex([("quibo", ["Quibo"]), ("trekka", ["Trekka88"])])
    assert "quibo" not in index.find("quibozxqv gadget")


def test_chinese_name_with_a_bracketed_character(index: TermIndex) -> None:
    hit = index.find("【戴】森 吹风机 负离子")["dyson"]
    assert hit.kind == "disguised" and "characters written apart" in hit.disguises
    # A comma still ends a phrase: "戴，森林" does not name the brand.
    assert "dyson" not in index.find("头上戴，森林系 发饰")


@pytest.mark.parametrize(
    ("text", "strong"),
    [
        ("Наушники реплика люкс", True),  # Russian, read through the folding of look-alike letters
        ("Кроссовки копия люкс", True),
        ("Kurtka zimowa podróbka", True),  # Polish
        ("Montre contrefaçon", True),  # French
        ("Tênis primeira linha", True),  # Portuguese (Brazil)
        ("イヤホン スーパーコピー", True),  # Japanese
        ("Кроссовки копия", False),  # "copy" alone is a weak cue
        ("Zapatillas imitación", False),
    ],
)
def test_cues_in_other_languages(text: str, strong: bool) -> None:
    cues = CueFinder().find(text)
    assert cues and any(c.strong for c in cues) == strong, (text, cues)


def test_other_language_words_without_cues() -> None:
    assert CueFinder().find("Зеркало настенное круглое") == []
    assert CueFinder().find("Copieuse salade bowl ceramic") == []


@pytest.mark.parametrize(
    "title",
    [
        "Kel●o Ridge hiking jacket",  # a black circle for a letter
        "Kels× Ridge hiking jacket",
        "Kel○o Ridge backpack",
        "Kelso Rid■e backpack",
    ],
)
def test_shapes_and_crosses_mask_a_letter(wide: TermIndex, title: str) -> None:
    hit = wide.find(title)["kelso"]
    assert hit.kind == "fuzzy" and "masking symbols" in hit.disguises, (title, hit)


def test_masking_symbol_at_a_word_edge_does_not_widen_the_gap(wide: TermIndex) -> None:
    hit = wide.find("Kels* & Ridge hiking jacket")["kelso"]
    assert hit.kind == "fuzzy" and "masking symbols" in hit.disguises


def test_long_chinese_name_as_pinyin_syllables_apart() -> None:
    index = TermIndex([("salvatore", ["萨尔瓦托雷", "Salvatore"])])
    for title in ("Sa Er Wa Tuo Lei leather belt", "皮带 sa er wa tuo lei 同款"):
        hit = index.find(title)["salvatore"]
        assert hit.kind == "pinyin", (title, hit)
    # Five syllables that are not the name stay unmatched.
    assert "salvatore" not in index.find("Sa Er Wa Tuo Mao leather belt")


@pytest.mark.parametrize(
    "title", ["#Dyson#Airwrap hair styler", "Dyson×Supreme hair dryer", "Supreme●Dyson fan"]
)
def test_a_symbol_between_two_words_still_leaves_the_words(wide: TermIndex, title: str) -> None:
    # A hashtag or a collaboration cross only separates words: the brand is named plainly.
    hit = wide.find(title)["dyson"]
    assert hit.kind == "exact" and not hit.disguises, (title, hit)


@pytest.mark.parametrize(
    "title", ["D|Y|S|O|N cordless vacuum", "A|C|M|E无线手柄", "无线 D|Y|S|O|N 吹风机"]
)
def test_letters_between_bars_are_written_apart(index: TermIndex, title: str) -> None:
    hit = index.find(title).get("dyson") or index.find(title).get("acme")
    assert hit is not None and "letters written apart" in hit.disguises, (title, hit)


def test_a_bar_inside_a_word_still_stands_for_an_l(index: TermIndex) -> None:
    assert "salomon" in index.find("Sa|omon trail shoes")
    assert index.find("shoe rack | 3 tier | metal") == {}


def test_registered_accents_are_no_disguise() -> None:
    index = TermIndex([("bruvo", ["Brüvo"])])
    hit = index.find("Brüvo Duo espresso machine")["bruvo"]
    assert hit.kind == "exact" and not hit.disguises
    assert index.find("BRÜVO grinder")["bruvo"].kind == "exact"
    # Other accents on the same name, or a stroke through it, still disguise it.
    assert "accents" in index.find("Brúvo Duo espresso machine")["bruvo"].disguises
    assert index.find("B̶r̶ü̶v̶o̶ grinder")["bruvo"].kind == "disguised"


def test_cyrillic_small_capitals_read_as_latin() -> None:
    # к, м, н, т, в are drawn like small capitals K, M, H, T, B.
    index = TermIndex([("tikku", ["Tikku"]), ("kombi", ["Kombi"])])
    assert "tikku" in index.find("7іккu blind box figure")  # 7 for T, Cyrillic і and к
    assert index.find("комвi camper van model")["kombi"].kind == "disguised"


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("б/у Margot Rouge помада", "б/у"),
        ("Tikku Moonkin бу", "бу"),
        ("de segunda mano Tikku Moonkin", "de segunda mano"),
        ("Parka d'occasion Norrvik", "d'occasion"),
        ("usado Zentoria Lune cartera", "usado"),
        ("Kaffeemühle gebraucht", "gebraucht"),
        ("Kora360 腕時計 美品", "美品"),
    ],
)
def test_resale_wordings_in_other_languages(text: str, marker: str) -> None:
    from matching.context import resale_marker
    from matching.normalize import fold

    assert resale_marker(text) == fold(marker)


@pytest.mark.parametrize(
    "text", ["Special occasion dress", "Kids sneakers 6Y", "Бумажник кожаный", "used for hiking"]
)
def test_words_that_look_second_hand_but_are_not(text: str) -> None:
    from matching.context import resale_marker

    assert resale_marker(text) is None


@pytest.mark.parametrize(
    ("text", "brand", "nominal"),
    [
        ("Schutzhülle für Sable Drift Ladecase", "Sable", True),
        ("Regenhülle passend für Sable Tind 40", "Sable", True),
        ("Taschenorganizer passend für Sable Mira", "Sable", True),
        ("Ремешок для Sable Band S силиконовый", "Sable", True),
        ("Étui pour Sable Buds", "Sable", True),
        ("Funda para Sable X2", "Sable", True),
        ("Sable One 対応 交換用イヤーパッド", "Sable", True),
        ("Sable Band S Smartwatch für Herren", "Sable", False),
        ("Uhr für Sable", "Sable", False),
    ],
)
def test_nominative_use_in_other_languages(text: str, brand: str, nominal: bool) -> None:
    from matching.context import nominative

    i = text.index(brand)
    assert bool(nominative(text, i, i + len(brand))) is nominal, text


def test_mirror_as_a_feature_is_no_cue() -> None:
    assert CueFinder().find("Lipstick Case Holder with Mirror for Margot") == []
    assert CueFinder().find("Travel makeup bag with LED mirror") == []
    assert any(c.strong for c in CueFinder().find("qualité miroir montre connectée"))
    assert any(c.strong for c in CueFinder().find("Margot lipstick mirror quality"))


def test_style_wordings_before_the_brand_in_other_languages() -> None:
    finder = CueFinder()
    for title in ("Promo façon Tikku boîte mystère", "Zapatillas estilo Tikku"):
        i = title.index("Tikku")
        assert finder.styled(title, i, i + 5), title
    title = "Casual style Tikku sneakers"
    assert finder.styled(title, 13, 18) is None


def test_figurines_are_ornaments_and_toys() -> None:
    from matching.context import default_lexicon

    goods = default_lexicon().goods("Boîte mystère figurine à collectionner")
    assert {20, 28} <= goods.classes


def test_registered_accents_written_decomposed_are_a_disguise() -> None:
    index = TermIndex([("bruvo", ["Brüvo"])])
    assert "accents" in index.find("Bru\u0308vo Duo espresso machine")["bruvo"].disguises


def test_styled_name_glued_to_a_plain_word(index: TermIndex) -> None:
    # The bold letters set the name apart from the plain word glued to it.
    hit = index.find("厂家直销𝐃𝐲𝐬𝐨𝐧Zorvex吹风机")["dyson"]
    assert hit.kind == "disguised" and "styled letters" in hit.disguises
    assert "dyson" in index.find("𝐃yson hair dryer")  # one styled letter stays part of the word


@pytest.mark.parametrize(
    ("title", "mark"),
    [
        ("原单专柜ZebaoliBarista Z9意式咖啡机", "zebaoli"),  # pinyin glued in camel case
        ("速发 QixinNano 65W 充电器", "qixin"),
        ("家用JIAMEILERice Master电饭煲", "jiameile"),  # capitals, then a capitalised word
        ("爆款 NUOWALAIL3 卧室灯具", "nuowalai"),  # a model code after the name
    ],
)
def test_names_glued_in_camel_case_or_to_a_model_code(title: str, mark: str) -> None:
    index = TermIndex(
        [
            ("zebaoli", ["泽宝利", "Zebaoli"]),
            ("qixin", ["奇芯", "Qixin"]),
            ("jiameile", ["家美乐"]),
            ("nuowalai", ["诺瓦莱"]),
        ]
    )
    assert mark in index.find(title), title


def test_camel_case_pieces_only_count_as_whole_names(index: TermIndex) -> None:
    assert index.find("PlayStation controller skin") == {}
    assert "dyson" in index.find("DysonSupersonic hair dryer")


def test_ampersand_written_as_and_is_a_weaker_reading() -> None:
    index = TermIndex([("zeppalunix", ["Zeppa & Lunix"])])
    hit = index.find("Zeppa and Lunix reed diffuser set")["zeppalunix"]
    assert hit.kind == "exact" and hit.ordinary  # counts on the mark's own goods only
    assert not index.find("Zeppa & Lunix candle")["zeppalunix"].ordinary


def test_cyrillic_letters_borrowed_from_latin() -> None:
    index = TermIndex([("qx", ["QX"])])
    assert index.find("Upgraded ԚX Foldable Wall Charger")["qx"].kind == "disguised"


def test_one_character_inside_an_unknown_word_does_not_rule_goods_out() -> None:
    from matching.context import default_lexicon

    # 锥刀 (a grinder's burr) ends in 刀 (knife): a hint, not proof the goods are knives.
    goods = default_lexicon().goods("电动锥刀 40档")
    assert goods.concepts and goods.concepts == goods.weak
    goods = default_lexicon().goods("菜刀 家用")  # a knife, said in full
    assert goods.concepts and not goods.weak
    # Two such hints of one kind are still hints: 运动袜 (sports socks), 底裤 (briefs).
    goods = default_lexicon().goods("运动袜 打底裤")
    assert goods.concepts == goods.weak == {"clothing"}


@pytest.mark.parametrize(
    ("text", "brand", "nominal"),
    [
        ("Sable Heritage Wok Pan Induction Compatible", "Sable", False),
        ("Sable Pulse X3 Compatible Case", "Sable", True),
        ("Sable电水壶专用 滤网 替换", "Sable", True),
    ],
)
def test_compatible_after_the_brands_own_goods(text: str, brand: str, nominal: bool) -> None:
    from matching.context import nominative

    i = text.index(brand)
    assert bool(nominative(text, i, i + len(brand))) is nominal, text


def test_compare_to_and_same_factory_are_cues() -> None:
    finder = CueFinder()
    text = "Compare to Sable PowerCore X5, same factory."
    i = text.index("Sable")
    assert finder.styled(text, i, i + 5) == "compare to"
    assert finder.find(text)
    assert finder.find("Wavy Wall Mirror Irregular Decorative Mirror for Living Room") == []


def test_name_written_in_digits_but_for_one_letter() -> None:
    index = TermIndex([("tessaro", ["Tessaro"]), ("go", ["GOQO"])])
    assert index.find("73554R0 Chronograph Wristwatch")["tessaro"].kind == "disguised"
    assert index.find("5000mAh power bank 1080p") == {}


@pytest.mark.parametrize(
    ("title", "how"),
    [
        ("艾ke mi 游戏手柄", None),  # not the name: 艾 + ke + a gap
        ("艾kemi无线游戏手柄 高仿", "Chinese and pinyin mixed"),
        ("ai克米 游戏手柄", "Chinese and pinyin mixed"),
        ("艾K米 游戏手柄", "pinyin initials"),
    ],
)
def test_chinese_name_written_partly_in_pinyin(index: TermIndex, title: str, how) -> None:
    hit = index.find(title).get("acme")
    if how is None:
        assert hit is None or hit.kind != "disguised", hit
    else:
        assert hit is not None and hit.kind == "disguised" and how in hit.disguises, (title, hit)


def test_pinyin_initial_is_a_capital_standing_apart(index: TermIndex) -> None:
    assert "acme" not in index.find("艾k米 游戏手柄")  # a lower-case letter is any letter
    assert "acme" not in index.find("NBAK米 游戏手柄")  # part of a longer word


def test_short_chinese_name_across_other_words_is_an_ordinary_reading() -> None:
    index = TermIndex([("jiahe", ["家和"])])
    # 国家/和/地区: "countries and regions" holds 家和 only across two words.
    hit = index.find("世界国家和地区地图 挂图")["jiahe"]
    assert hit.kind == "chinese" and hit.ordinary
    hit = index.find("家和 电饭煲 4L 智能")["jiahe"]
    assert hit.kind == "chinese" and not hit.ordinary


def test_name_glued_in_camel_case_is_quoted_alone() -> None:
    index = TermIndex([("zormandi", ["Zormandi"]), ("hooge", ["胡格"])])
    assert index.find("95新ZormandiLumen Q 石英表")["zormandi"].quote == "Zormandi"
    # Mixed pinyin glued to a capitalised word
    assert index.find("胡gePowerCore 20000 充电宝")["hooge"].quote == "胡ge"
    assert "hooge" not in index.find("胡gepower 充电宝")


def test_part_named_after_the_device_it_belongs_to_is_no_accessory() -> None:
    from matching.context import MarkGoods, accessory, default_lexicon

    mark = type("Mark", (), {"id": "m", "keywords": ["watch"], "classes": [14]})()
    goods = MarkGoods.build(mark, [], default_lexicon())
    for title, fits in [
        ("Sable Solstice Dress Watch Automatic Leather Strap", False),  # a watch with its strap
        ("Sable Solstice Watch Strap 20mm", True),  # a strap for the watch
        ("Sable watch magnetic screen protector", True),
    ]:
        assert bool(accessory(title, 0, 5, goods)) is fits, title


@pytest.mark.parametrize(
    "text", ["Excellent condition Sable K87 keyboard", "Sable Mira wallet Used With Receipt"]
)
def test_condition_and_receipt_wordings_are_resale(text: str) -> None:
    from matching.context import resale_marker

    assert resale_marker(text)


@pytest.mark.parametrize(
    ("title", "mark"),
    [("$ U M M 1 7 double layer tent", "summit"), ("M.3.R.I.D.E.X diver watch", "meridex")],
)
def test_leetspeak_letters_written_apart(title: str, mark: str) -> None:
    index = TermIndex([("summit", ["Summit"]), ("meridex", ["Meridex"])])
    hit = index.find(title)[mark]
    assert {"leetspeak", "letters written apart"} <= hit.disguises, hit


def test_numbers_written_apart_are_no_name() -> None:
    assert [t.text for t in analyse("1 2 3 4 5 stickers").tokens][:2] == ["1", "2"]
    index = TermIndex([("summit", ["Summit"])])
    assert index.find("Size 3 x 4 m tarp 1 2 3") == {}


def test_a_luggage_case_is_no_accessory() -> None:
    from matching.context import MarkGoods, accessory, default_lexicon

    mark = type("Mark", (), {"id": "m", "keywords": ["suitcase"], "classes": [18]})()
    goods = MarkGoods.build(mark, [], default_lexicon())
    title = "Tarvo Roller 28 Silent Wheels Trolley Case"
    assert accessory(title, 0, 5, goods) is None
    assert accessory("Tarvo Roller 28 protective cover case", 0, 5, goods)


def test_brand_of_ordinary_words_is_an_ordinary_reading() -> None:
    index = TermIndex([("heron", ["Blue Heron"]), ("zyvo", ["Zyvo"])])
    assert index.find("Great Blue Heron metal garden stake")["heron"].ordinary
    assert not index.find("Zyvo Boom 2 speaker")["zyvo"].ordinary


def test_more_pinyin_and_spacing_writings() -> None:
    index = TermIndex([("jiahe", ["家和"]), ("hooge", ["胡格"])])
    assert index.find("炒锅 JIAHEMF32 送礼")["jiahe"].kind == "pinyin"  # name + letters and digits
    # Written apart on purpose, whatever the words around it.
    assert index.find("入耳式限时特价 胡 格 网红同款 蓝牙耳机")["hooge"].kind == "disguised"


def test_name_glued_between_japanese_kana(index: TermIndex) -> None:
    hit = index.find("送料無料スーパーコピーDysonスティック掃除機")["dyson"]
    assert hit.kind == "exact" and not hit.disguises


def test_compatible_before_goods_before_the_brand_is_not_nominative() -> None:
    from matching.context import nominative

    text = "Best Seller Induction Compatible Chinese Wok Sable Flat Bottom"
    i = text.index("Sable")
    assert nominative(text, i, i + 5) is None
    text = "Case compatible with Sable X2"
    i = text.index("Sable")
    assert nominative(text, i, i + 5)
