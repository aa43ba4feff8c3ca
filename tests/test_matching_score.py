"""Score combination: verdicts, mark ids and the evidence text, on a small client file."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import load_client
from matching import ListingInput, Matcher, assess

CLIENT = """
client:
  name: Test Brands Ltd.
marks:
  - id: dyson
    title: Dyson
    terms: [Dyson, 戴森]
    classes: [7, 11]
    keywords: [vacuum, hair dryer, fan]
  - id: acme
    title: ACME
    terms: [ACME]
    classes: [9, 28]
    keywords: [game, console, controller, gamepad]
products:
  - id: dyson-v15
    mark: dyson
    name: Dyson V15 Detect cordless vacuum
    msrp: 700
    currency: USD
  - id: acme-pad
    mark: acme
    name: ACME Pad Pro controller
    msrp: 60
    currency: USD
authorized_sellers:
  - marketplace: shopx
    seller_id: "42"
exchange_rates:
  base: USD
  rates: {CNY: 0.14}
{thresholds}
"""


def make_client(tmp_path: Path, thresholds: str = "", text: str = CLIENT):
    path = tmp_path / "markwatch.yaml"
    path.write_text(text.replace("{thresholds}", thresholds), encoding="utf-8")
    return load_client(path)


def text_matcher(tmp_path: Path, text: str) -> Matcher:
    """A text-only matcher for the client file `text`."""
    return Matcher(make_client(tmp_path, text=text), images=False)


@pytest.fixture()
def matcher(tmp_path: Path) -> Matcher:
    return Matcher(make_client(tmp_path), images=False)


def listing(
    title: str,
    price: float | None = None,
    currency: str = "USD",
    seller: str = "7",
    seller_name: str = "Best Goods Store",
    description: str | None = None,
) -> ListingInput:
    return ListingInput(
        id="x:1",
        title=title,
        marketplace="shopx",
        price=price,
        currency=currency,
        seller_id=seller,
        seller_name=seller_name,
        description=description,
    )


def details(a) -> str:
    return " | ".join(s.detail for s in a.signals)


def test_brand_with_replica_cue_is_counterfeit(matcher: Matcher) -> None:
    a = matcher.assess(listing("Dyson V15 cordless vacuum 1:1 replica", 650))
    assert a.verdict == "counterfeit" and a.mark_id == "dyson"
    text = details(a)
    assert "'Dyson' matches term 'Dyson'" in text
    assert "replica cue" in text and "'1:1'" in text


def test_low_price_is_evidence_with_the_ratio(matcher: Matcher) -> None:
    a = matcher.assess(listing("Dyson V15 Detect cordless vacuum cleaner", 105))
    assert a.verdict != "clear"
    price = [s for s in a.signals if s.kind == "price"][0]
    assert "105.00 USD is 15% of MSRP 700.00 USD" in price.detail
    fair = matcher.assess(listing("Dyson V15 Detect cordless vacuum cleaner", 690))
    assert fair.score < a.score and fair.verdict == "clear"


def test_price_converted_from_other_currency(matcher: Matcher) -> None:
    a = matcher.assess(listing("戴森 V15 吸尘器 无线", 500, "CNY"))
    assert a.verdict != "clear" and a.mark_id == "dyson"
    price = [s for s in a.signals if s.kind == "price"][0]
    assert "500.00 CNY is 10% of MSRP 700.00 USD" in price.detail and "converted" in price.detail


def test_authorised_seller_is_clear(matcher: Matcher) -> None:
    a = matcher.assess(listing("Dyson V15 cordless vacuum", 120, seller="42"))
    assert a.verdict == "clear"
    assert any("authorised seller" in s.detail for s in a.signals)


def test_fair_priced_resale_is_clear(matcher: Matcher) -> None:
    a = matcher.assess(listing("Used Dyson V15 Detect cordless vacuum, good condition", 480))
    assert a.verdict == "clear"
    assert "second-hand ('used')" in details(a)
    b = matcher.assess(listing("二手 戴森 V15 吸尘器", 3200, "CNY"))
    assert b.verdict == "clear"


def test_brand_word_on_unrelated_goods_stays_clear(matcher: Matcher) -> None:
    a = matcher.assess(listing("ACME Looney Tunes vintage art print poster", 9))
    assert a.verdict == "clear"
    assert "outside the mark's keywords and classes" in details(a)


def test_nominative_use_stays_clear(matcher: Matcher) -> None:
    a = matcher.assess(listing("Replacement filter compatible with Dyson V11 V15 vacuum", 12))
    assert a.verdict == "clear"
    assert "nominative use" in details(a)


def test_cues_alone_do_not_flag_unbranded_goods(matcher: Matcher) -> None:
    for title in (
        "1:1 replica vintage gamepad controller",
        "AAA Batteries 8 pack",
        "OEM/ODM available fan",
    ):
        a = matcher.assess(listing(title, 5))
        assert a.verdict == "clear" and a.mark_id is None, title


def test_short_term_near_miss_needs_corroboration(matcher: Matcher) -> None:
    # "Acne" is an ordinary word one edit from ACME: not enough on its own.
    assert matcher.assess(listing("Acne patch pimple gamepad sticker", 30)).verdict == "clear"
    # A non-word typo-squat on the mark's goods with a cue is flagged.
    a = matcher.assess(listing("Acmee Pad Pro wireless gamepad controller AAA", 20))
    assert a.verdict != "clear" and a.mark_id == "acme"
    assert "resembles term 'ACME' (1 edit)" in details(a)


def test_disguised_brand_is_flagged_with_its_disguise(matcher: Matcher) -> None:
    a = matcher.assess(listing("D.Y.S.O.N cordless vacuum cleaner", 300))
    assert a.verdict != "clear" and a.mark_id == "dyson"
    assert "letters written apart" in details(a)


def test_seller_posing_as_the_brand_is_a_signal(matcher: Matcher) -> None:
    a = matcher.assess(
        listing("Dyson V15 cordless vacuum", 600, seller_name="Dyson Official Store")
    )
    seller = [s for s in a.signals if s.kind == "seller"]
    assert seller and "poses as an official shop" in seller[0].detail
    plain = matcher.assess(listing("Dyson V15 cordless vacuum", 600))
    assert a.score > plain.score


def test_thresholds_come_from_the_client_file(tmp_path: Path) -> None:
    strict = make_client(tmp_path, "thresholds: {counterfeit: 0.99, review: 0.98}")
    a = Matcher(strict, images=False).assess(listing("Dyson V15 cordless vacuum 1:1 replica", 650))
    assert a.verdict == "clear" and 0 < a.score < 0.98


def test_assess_convenience_caches_the_matcher(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    a = assess(listing("Dyson hair dryer replica"), client)
    b = assess(listing("Dyson hair dryer replica"), client)
    assert a.verdict == b.verdict != "clear"
    assert all(0.0 <= s.score <= 1.0 and s.detail for s in a.signals)
    assert a.to_json()["signals"][0]["detail"]


FIXTURES = Path(__file__).parent / "fixtures" / "matching"

IMAGE_CLIENT = """
client:
  name: Test Brands Ltd.
marks:
  - id: maison
    title: Maison Quilt
    terms: [Maison Quilt]
    classes: [18]
    keywords: [handbag, bag]
products:
  - id: maison-flap
    mark: maison
    name: Maison Quilt flap handbag
    msrp: 900
    currency: USD
    images: [product.jpg]
authorized_sellers:
  - marketplace: shopx
    seller_id: "42"
"""


@pytest.fixture()
def image_matcher(tmp_path: Path) -> Matcher:
    pytest.importorskip("matching.image")
    from PIL import Image, ImageOps

    (tmp_path / "product.jpg").write_bytes((FIXTURES / "product.jpg").read_bytes())
    (tmp_path / "markwatch.yaml").write_text(IMAGE_CLIENT, encoding="utf-8")
    # A reused registered photo, mirrored and recompressed, as counterfeiters do.
    with Image.open(FIXTURES / "product.jpg") as im:
        ImageOps.mirror(im.convert("RGB")).resize((320, 320)).save(
            tmp_path / "reused.jpg", quality=60
        )
    m = Matcher(load_client(tmp_path / "markwatch.yaml"))
    if m.images is None:
        pytest.skip("image matching not available")
    return m


def test_reused_photo_under_generic_title_is_flagged(
    image_matcher: Matcher, tmp_path: Path
) -> None:
    generic = ListingInput(
        id="p",
        title="Women quilted shoulder bag chain",
        price=30,
        currency="USD",
        marketplace="shopx",
        seller_id="7",
        images=[tmp_path / "reused.jpg"],
    )
    a = image_matcher.assess(generic)
    assert a.verdict != "clear" and a.mark_id == "maison"
    assert any(s.kind in ("image", "logo") and s.detail for s in a.signals)
    unrelated = ListingInput(
        id="u",
        title="Women quilted shoulder bag chain",
        price=30,
        currency="USD",
        marketplace="shopx",
        seller_id="7",
        images=[FIXTURES / "unrelated.jpg"],
    )
    assert image_matcher.assess(unrelated).verdict == "clear"
    # The brand's own seller may use the brand's photos.
    own = ListingInput(
        id="o",
        title="Women quilted shoulder bag chain",
        price=900,
        currency="USD",
        marketplace="shopx",
        seller_id="42",
        images=[tmp_path / "reused.jpg"],
    )
    assert image_matcher.assess(own).verdict == "clear"


def test_missing_or_hostile_photo_skips_the_signal_not_the_listing(
    image_matcher: Matcher, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "page.jpg").write_text("<html><body>not an image</body></html>", encoding="utf-8")
    # Text alone does not decide this one, so the photos are opened (and fail).
    a = image_matcher.assess(
        ListingInput(
            id="h",
            title="Maison Quilt flap handbag",
            price=850,
            images=[tmp_path / "page.jpg", tmp_path / "absent.jpg"],
        )
    )
    assert a.mark_id == "maison" and a.verdict == "clear"
    assert any(s.kind == "text" for s in a.signals)
    # One plain line per photo, naming it, without the decoder's internals.
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert (
        f"image photo 1 ({tmp_path / 'page.jpg'}) of h skipped: HTML/markup instead of an image"
        in skipped
    )
    assert not any("BytesIO" in m for m in skipped)


def test_brand_compatible_accessory_is_nominative(matcher: Matcher) -> None:
    a = matcher.assess(listing("ACME compatible wireless gamepad controller", 9))
    assert a.verdict == "clear"
    assert "nominative use" in details(a)
    # The same words with a replica cue are no longer an accessory that merely fits.
    b = matcher.assess(listing("ACME compatible wireless gamepad controller 1:1 replica", 9))
    assert b.verdict != "clear"


def test_named_product_sets_goods_and_price(matcher: Matcher) -> None:
    a = matcher.assess(listing("ACME Pad Pro", 10))
    assert a.verdict != "clear" and a.product_id == "acme-pad"
    price = next(s for s in a.signals if s.kind == "price")
    assert "of ACME Pad Pro controller" in price.detail


def test_registered_photo_under_an_open_brand_title_goes_to_review_not_takedown():
    """Genuine resellers show the brand's photos too: brand + photo at a fair price is for an analyst."""
    from crawler.config import load_client
    from matching import Matcher
    from matching.types import ListingInput
    from tests.conftest import DEMO_CONFIG

    client = load_client(DEMO_CONFIG)
    matcher = Matcher(client)
    photo = DEMO_CONFIG.parent / "market" / "images" / "buds-genuine.jpg"

    def verdict(title: str, price: float) -> str:
        listing = ListingInput(
            id="x",
            title=title,
            price=price,
            currency="USD",
            seller_id="s1",
            seller_name="Best Deals Store",
            marketplace="amazon",
            images=[photo],
        )
        return matcher.assess(listing).verdict

    assert verdict("Lumora Pods Pro Wireless Earbuds", 124.0) == "review"
    assert (
        verdict("Wireless Earbuds Sport Bluetooth", 24.0) == "counterfeit"
    )  # the photo under a generic title
    assert verdict("Lumora Pods Pro Wireless Earbuds", 24.0) == "counterfeit"  # 19% of MSRP


def test_wordings_beyond_the_dev_split(matcher: Matcher) -> None:
    # Emoji between the letters still name the brand, as a disguise.
    a = matcher.assess(listing("D ❤️ Y ❤️ S ❤️ O ❤️ N cordless vacuum cleaner", 300))
    assert a.verdict != "clear" and a.mark_id == "dyson"
    assert "letters written apart" in details(a)
    # A replica grade written as "7A" is a replica cue.
    b = matcher.assess(listing("Dyson V15 Detect cordless vacuum 7A Quality", 600))
    assert b.verdict == "counterfeit" and "'7a quality'" in details(b)
    # "fits Dyson" names what an accessory fits.
    c = matcher.assess(listing("Replacement filter fits Dyson", 9))
    assert c.verdict == "clear" and "nominative use" in details(c)
    # "Worn once" is second-hand wording.
    d = matcher.assess(listing("Worn once Dyson V15 Detect cordless vacuum", 480))
    assert d.verdict == "clear" and "second-hand ('worn once')" in details(d)


def test_currency_written_as_shops_write_it(matcher: Matcher) -> None:
    a = matcher.assess(listing("Dyson V15 Detect cordless vacuum cleaner", 500, "RMB"))
    price = next(s for s in a.signals if s.kind == "price")
    assert "is 10% of MSRP 700.00 USD" in price.detail
    assert a.verdict != "clear"


def test_description_naming_the_brand_outweighs_a_word_in_the_title(matcher: Matcher) -> None:
    # "Acne" in the title is an ordinary word near ACME; the description names ACME itself.
    a = matcher.assess(
        listing(
            "Acne Free Wireless Gamepad Controller",
            9,
            description="Same as ACME Pad Pro controller, 1:1 replica quality.",
        )
    )
    assert a.verdict != "clear" and a.mark_id == "acme"
    assert "'ACME' matches term 'ACME' in the description" in details(a)


ORDINARY_CLIENT = """
client:
  name: Ordinary Words Ltd.
marks:
  - id: meadow
    title: Meadow
    terms: [Meadow]
    classes: [22]
    keywords: [tent, sleeping bag]
  - id: stonebridge
    title: Stonebridge
    terms: [Stonebridge]
    classes: [21]
    keywords: [teapot, kettle]
  - id: quorrin
    title: Quorrin
    terms: [Quorrin]
    classes: [22]
    keywords: [tent, sleeping bag]
products:
  - {id: meadow-dome, mark: meadow, name: Meadow Dome tent, msrp: 300, currency: USD}
  - {id: meadow-down, mark: meadow, name: Meadow Down sleeping bag, msrp: 200, currency: USD}
  - {id: stonebridge-pot, mark: stonebridge, name: Stonebridge cast iron teapot, msrp: 120, currency: USD}
  - {id: quorrin-dome, mark: quorrin, name: Quorrin Dome tent, msrp: 300, currency: USD}
  - {id: quorrin-bag, mark: quorrin, name: Quorrin Down sleeping bag, msrp: 200, currency: USD}
"""


def test_brand_that_is_an_ordinary_word_needs_its_goods(tmp_path: Path) -> None:
    m = text_matcher(tmp_path, ORDINARY_CLIENT)
    # The word in its own sense, on goods that cannot be told: a low price is no evidence.
    assert m.assess(listing("Meadow Flowers Commemorative Medal", 5)).verdict == "clear"
    # On the brand's goods the same price is.
    assert m.assess(listing("Meadow 2 person tent waterproof", 30)).verdict != "clear"
    # A made-up name on the same unknown goods still counts with the price.
    assert m.assess(listing("Quorrin Commemorative Medal", 5)).verdict != "clear"


def test_long_compound_written_as_its_words(tmp_path: Path) -> None:
    m = text_matcher(tmp_path, ORDINARY_CLIENT)
    a = m.assess(listing("Stone Bridge cast iron teapot 1.2L", 25))
    assert a.verdict != "clear" and a.mark_id == "stonebridge"
    assert "words written apart" in details(a)
    assert m.assess(listing("Stone-Bridge kettle gooseneck", 20)).verdict != "clear"
    # The same words about something else stay clear.
    assert m.assess(listing("Stone Bridge landscape photo frame 10x15", 6)).verdict == "clear"


def test_accessory_titled_after_the_device_is_nominative(matcher: Matcher) -> None:
    # "X model case" is a case for the device, the usual accessory title without "for".
    for title in (
        "ACME Pad Pro silicone case cover",
        "Dyson V15 wall mount bracket",
        "ACME Pad Pro 保护套 防摔",
    ):
        a = matcher.assess(listing(title, 4))
        assert a.verdict == "clear" and "nominative use" in details(a), title
    # The device itself, with the accessory included or its goods named after it, is not.
    for title in (
        "ACME Pad Pro with case",
        "ACME Pad Pro case wireless controller",
        "ACME Pad Pro 送保护套",
    ):
        assert matcher.assess(listing(title, 6)).verdict != "clear", title


def test_fits_word_ending_the_title_is_nominative(matcher: Matcher) -> None:
    for title in ("Dyson V15 foam filter replacement", "Dyson V15 滤芯 适用"):
        a = matcher.assess(listing(title, 5))
        assert a.verdict == "clear" and "nominative use" in details(a), title
    # With a replica cue the brand's own goods are sold, not a part that fits them.
    assert matcher.assess(listing("Dyson V15 Detect vacuum AAA replacement", 50)).verdict != "clear"


def test_accessory_word_among_the_marks_own_goods_is_not_nominative(tmp_path: Path) -> None:
    m = text_matcher(tmp_path, ORDINARY_CLIENT)
    # A brand of sleeping bags sells bags: "dust bag" is its goods, not an accessory.
    assert m.assess(listing("Quorrin Dome dust bag", 8)).verdict != "clear"
    assert m.assess(listing("Quorrin Dome rain cover", 8)).verdict == "clear"
    # Its goods as the modifier of the accessory do not make it the goods: a tent footprint.
    assert m.assess(listing("Quorrin Dome tent footprint", 8)).verdict == "clear"


def test_a_title_of_megabytes_is_read_up_to_its_limit(
    matcher: Matcher, caplog: pytest.LogCaptureFixture
) -> None:
    # A pathological line (megabytes of title or description) is cut, said once, and
    # the listing still scored on what a marketplace title can hold.
    listing = ListingInput(
        id="huge",
        title="ACME replica gamepad " + "x" * 3_000_000,
        description="y " * 2_000_000,
        price=5.0,
    )
    with caplog.at_level("WARNING", logger="matching.score"):
        a = matcher.assess(listing)
    assert a.verdict == "counterfeit", a.explanation
    assert "listing huge: title of 3000021 characters read up to 1000" in caplog.text
    assert "listing huge: description of 4000000 characters read up to 20000" in caplog.text
    assert len(listing.title) == 3_000_021  # the caller's listing is left whole


def test_part_used_goods_at_a_fair_price_are_resale(matcher: Matcher) -> None:
    a = matcher.assess(listing("Dyson V15 Detect cordless vacuum, tried once", 480))
    assert a.verdict == "clear"
    assert "second-hand ('tried once')" in details(a)


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("Eau de parfum 100ml, 70% left", "70% left"),
        ("lip tint swatched, comes with box", "swatched"),
        ("night serum half used", "half used"),
        ("香水 已拆封 余量九成", "已拆封"),
        ("Eau de parfum 100ml 30% off", None),  # a discount, not a fill level
        ("未拆封 全新 香水", None),  # unopened
    ],
)
def test_part_used_consumables_wording(text: str, marker: str | None) -> None:
    from matching.context import resale_marker

    assert resale_marker(text) == marker


def test_a_brand_named_in_the_description_is_judged_by_the_description(matcher: Matcher) -> None:
    # The hit's place is in the description: the title's words at that place ("wall
    # bracket" here) say nothing about whether the brand is named only to fit.
    a = matcher.assess(
        listing(
            "Cordless stick vacuum V15 Detect slim, 2 spare filters, wall bracket",
            79,
            description="Dyson V15 Detect cordless vacuum cleaner, laser dust detection",
        )
    )
    assert a.verdict != "clear", a.explanation
    assert not any("nominative" in s.detail or "accessory" in s.detail for s in a.signals)


MODEL_CLIENT = """
client:
  name: Model Words Ltd.
marks:
  - id: zentoria
    title: Zentoria
    terms: [Zentoria]
    classes: [18]
    keywords: [wallet, handbag, tote]
  - id: harbor
    title: Quiet Harbor
    terms: [Quiet Harbor]
    classes: [9]
    keywords: [headphones, earbuds]
products:
  - id: zentoria-lune
    mark: zentoria
    name: Zentoria Lune zip-around wallet
    msrp: 600
    currency: USD
  - id: zentoria-mira
    mark: zentoria
    name: Zentoria Mira tote
    msrp: 3000
    currency: USD
  - id: harbor-one
    mark: harbor
    name: Quiet Harbor One over-ear headphones
    msrp: 350
    currency: USD
  - id: harbor-drift
    mark: harbor
    name: Quiet Harbor Drift earbuds
    msrp: 200
    currency: USD
exchange_rates:
  base: USD
  rates: {CNY: 0.14}
"""


def test_model_word_after_the_brand_names_the_product(tmp_path: Path) -> None:
    m = text_matcher(tmp_path, MODEL_CLIENT)
    # Used, at 54 % of the Lune's MSRP: fair resale. Against the mark's median MSRP
    # (1,800 USD) it would look like a fake at 18 %.
    a = m.assess(listing("二手 Zentoria Lune 拉链长款钱包 多卡位", 2300, "CNY"))
    assert a.verdict == "clear" and a.product_id == "zentoria-lune", details(a)
    assert "second-hand" in details(a)
    a = m.assess(listing("Zentoria Lune wallet", 30))
    assert a.verdict == "counterfeit" and a.product_id == "zentoria-lune"
    # An ordinary model word on goods that are not the mark's names no product.
    a = m.assess(listing("Quiet Harbor one size hat", 20))
    assert a.verdict == "clear" and a.product_id is None, details(a)


def test_ordinary_word_typo_with_a_replica_cue_goes_to_review(tmp_path: Path) -> None:
    m = text_matcher(
        tmp_path,
        MODEL_CLIENT.replace(
            "title: Zentoria\n    terms: [Zentoria]", "title: Sable\n    terms: [Sable]"
        ),
    )
    # "Sale" is one edit from Sable and an ordinary word: alone it says nothing,
    # on the mark's own goods with a replica cue it is worth a look.
    assert m.assess(listing("Sale zip around wallet leather", 100)).verdict == "clear"
    a = m.assess(listing("Sale zip around wallet leather 1:1 replica", 100))
    assert a.verdict != "clear" and a.mark_id == "zentoria", details(a)
    assert m.assess(listing("Sale hiking boots 1:1 replica", 100)).verdict == "clear"


def test_model_glued_to_the_brand_in_camel_case_names_the_product(tmp_path: Path) -> None:
    m = text_matcher(tmp_path, MODEL_CLIENT)
    a = m.assess(listing("95新ZentoriaLune 钱包 同城可面交", 2500, "CNY"))
    assert a.verdict == "clear" and a.product_id == "zentoria-lune", details(a)


def test_unknown_goods_under_a_near_brand_word_are_not_priced(tmp_path: Path) -> None:
    m = text_matcher(tmp_path, MODEL_CLIENT)
    # One letter from Zentoria, goods the lexicon cannot tell: the price says nothing.
    a = m.assess(listing("Zentorie Italian pasta maker machine", 20))
    assert a.verdict == "clear" and "price" not in [s.kind for s in a.signals], details(a)
    # The same word on the mark's goods still counts.
    assert m.assess(listing("Zentorie zip wallet leather", 20)).verdict != "clear"


def test_model_word_after_the_brands_chinese_name(tmp_path: Path) -> None:
    m = text_matcher(
        tmp_path, MODEL_CLIENT.replace("terms: [Zentoria]", "terms: [Zentoria, 赞托利]")
    )
    a = m.assess(listing("闲置 Zentoria赞托利 Lune 钱包 同城可面交", 2500, "CNY"))
    assert a.product_id == "zentoria-lune" and a.verdict == "clear", details(a)


def test_the_mark_offered_not_the_one_its_goods_fit(tmp_path: Path) -> None:
    m = Matcher(make_client(tmp_path), images=False)
    # Brand A's goods "for" brand B's named product, with a replica cue: B's product and
    # price make B's case score higher, yet A is what is offered.
    a = m.assess(listing("ACME gamepad for Dyson V15 Detect 1:1 replica", 50))
    assert a.verdict == "counterfeit" and a.mark_id == "acme", details(a)
    # When the goods are not the other mark's either, the fitted mark's case stands.
    a = m.assess(listing("ACME wall mount for Dyson V15 Detect vacuum AAA mirror quality", 50))
    assert a.verdict == "counterfeit" and a.mark_id == "dyson", details(a)


def test_markup_and_entities_are_read_as_shown(tmp_path: Path) -> None:
    m = Matcher(make_client(tmp_path), images=False)
    for title in ("Dy&#115;on V15 vacuum 1:1", "Dy<b>son</b> V15 vacuum 1:1"):
        a = m.assess(listing(title, 50))
        assert a.mark_id == "dyson" and a.verdict == "counterfeit", (title, details(a))


def test_seller_posing_as_the_brand_invokes_it_without_the_name_in_the_title(
    tmp_path: Path,
) -> None:
    m = Matcher(make_client(tmp_path), images=False)
    cheap = listing("Cordless stick vacuum cleaner 150AW", 35, seller_name="Dyson Outlet Store")
    a = m.assess(cheap)
    assert a.verdict == "review" and a.mark_id == "dyson", details(a)
    # At a fair price, or from a shop with an ordinary name, it stays clear.
    fair = listing("Cordless stick vacuum cleaner 150AW", 650, seller_name="Dyson Outlet Store")
    assert m.assess(fair).verdict == "clear"
    assert m.assess(listing("Cordless stick vacuum cleaner 150AW", 35)).verdict == "clear"
