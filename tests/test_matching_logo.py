"""Logos inside photos: a registered logo pasted small is found, an unrelated one is not."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crawler.config import load_client
from matching.image import ImageMatcher
from matching.logo import foreground_mask
from matching.types import ListingInput

FIXTURES = Path(__file__).parent / "fixtures" / "matching_images"
FLOWER = Image.open(FIXTURES / "flower.jpg").convert("RGB")
LOGO = Image.open(FIXTURES / "round-logo.png").convert("RGB")
OTHER_LOGO = Image.open(FIXTURES / "other-logo.png").convert("RGB")


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> ImageMatcher:
    folder = tmp_path_factory.mktemp("client")
    (folder / "round-logo.png").write_bytes((FIXTURES / "round-logo.png").read_bytes())
    path = folder / "markwatch.yaml"
    path.write_text(
        "client: {name: Test Brands Ltd.}\n"
        "marks:\n"
        "  - id: roundco\n"
        "    title: ROUNDCO\n"
        "    terms: [Roundco]\n"
        "    images: [round-logo.png]\n",
        encoding="utf-8",
    )
    return ImageMatcher.from_client(load_client(path))


def _paste(
    photo: Image.Image, logo: Image.Image, width_fraction: float, where=(0.6, 0.55)
) -> Image.Image:
    """Paste the logo's shape (not its white background) at a fraction of the photo's width."""
    out = photo.copy()
    w = int(out.width * width_fraction)
    h = int(logo.height * w / logo.width)
    small = logo.resize((w, h), Image.Resampling.LANCZOS)
    mask = Image.fromarray(foreground_mask(np.asarray(small)).astype(np.uint8) * 255)
    out.paste(small, (int(out.width * where[0]), int(out.height * where[1])), mask)
    return out


def _listing(im: Image.Image) -> ListingInput:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return ListingInput(
        id="t:logo", title="generic goods", images=["p.jpg"], image_bytes=[buf.getvalue()]
    )


@pytest.mark.parametrize("fraction", [0.15, 0.25])
def test_logo_pasted_small_into_unrelated_photo_is_found(
    matcher: ImageMatcher, fraction: float
) -> None:
    signals = matcher.match(_listing(_paste(FLOWER, LOGO, fraction)))
    logos = [s for s in signals if s.kind == "logo"]
    assert logos, [s.detail for s in signals]
    assert logos[0].mark_id == "roundco" and 0.5 <= logos[0].score <= 1
    assert "round-logo.png" in logos[0].detail and "width" in logos[0].detail


def test_photo_without_logo_has_no_logo_signal(matcher: ImageMatcher) -> None:
    assert matcher.match(_listing(FLOWER)) == []


def test_unrelated_logo_is_not_matched(matcher: ImageMatcher) -> None:
    signals = matcher.match(_listing(_paste(FLOWER, OTHER_LOGO, 0.25)))
    assert [s for s in signals if s.kind == "logo"] == []


def test_look_alike_badge_is_not_matched(matcher: ImageMatcher) -> None:
    # A green round "SALE" badge: same shape and colour as the logo, other letters.
    badge = Image.new("RGB", LOGO.size, "white")
    from PIL import ImageDraw, ImageFont

    d = ImageDraw.Draw(badge)
    d.ellipse((10, 10, LOGO.width - 10, LOGO.height - 10), fill=(60, 140, 60))
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", 60)
    except OSError:
        font = ImageFont.load_default()
    d.text((LOGO.width // 2, LOGO.height // 2), "SALE", fill="white", font=font, anchor="mm")
    signals = matcher.match(_listing(_paste(FLOWER, badge, 0.25)))
    assert [s for s in signals if s.kind == "logo"] == []


def _wordmark() -> Image.Image:
    """A dark wordmark with an emblem, drawn on white like registered artwork."""
    from PIL import ImageDraw, ImageFont

    im = Image.new("RGB", (480, 260), "white")
    d = ImageDraw.Draw(im)
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", 90)
    except OSError:
        pytest.skip("DejaVu Sans Bold is not installed")
    d.ellipse((20, 80, 120, 180), outline=(40, 40, 60), width=14)
    d.ellipse((55, 115, 85, 145), fill=(40, 40, 60))
    d.text((300, 130), "VALDO", fill=(40, 40, 60), font=font, anchor="mm")
    return im


def test_logo_in_reversed_tones_on_a_dark_ground_is_found(tmp_path: Path) -> None:
    # Dark-on-white artwork printed light on a dark product: every gradient
    # around the letters points the other way.
    _wordmark().save(tmp_path / "valdo.png")
    (tmp_path / "markwatch.yaml").write_text(
        "client: {name: Test Brands Ltd.}\n"
        "marks:\n"
        "  - {id: valdo, title: VALDO, images: [valdo.png]}\n",
        encoding="utf-8",
    )
    matcher = ImageMatcher.from_client(load_client(tmp_path / "markwatch.yaml"))
    ground = Image.new("RGB", (480, 360), (25, 35, 45))
    light = Image.fromarray(255 - np.asarray(_wordmark()))  # light lettering, black around it
    # Cut out: only the lettering and emblem land on the dark ground.
    shape = np.asarray(light.convert("L")) > 60
    out = ground.copy()
    w = int(ground.width * 0.3)
    h = int(light.height * w / light.width)
    small = light.resize((w, h), Image.Resampling.LANCZOS)
    mask = Image.fromarray(shape.astype(np.uint8) * 255).resize((w, h), Image.Resampling.LANCZOS)
    out.paste(small, (150, 200), mask)
    signals = [s for s in matcher.match(_listing(out)) if s.kind == "logo"]
    assert signals and signals[0].mark_id == "valdo", [s.detail for s in signals]
    assert "reversed tones" in signals[0].detail


def _matcher_for(tmp_path: Path, logo: str) -> ImageMatcher:
    (tmp_path / logo).write_bytes((FIXTURES / logo).read_bytes())
    (tmp_path / "markwatch.yaml").write_text(
        f"client: {{name: Test Brands Ltd.}}\nmarks:\n  - {{id: brand, title: BRAND, images: [{logo}]}}\n",
        encoding="utf-8",
    )
    return ImageMatcher.from_client(load_client(tmp_path / "markwatch.yaml"))


def _photo_listing(name: str) -> ListingInput:
    return ListingInput(
        id="t:logo",
        title="generic goods",
        images=[name],
        image_bytes=[(FIXTURES / name).read_bytes()],
    )


@pytest.mark.parametrize(
    ("logo", "photo"),
    [
        ("halcyon-badge.png", "halcyon-badge-small-on-texture.jpg"),  # about 10 % wide, cut out
        ("halcyon-wordmark.png", "halcyon-wordmark-small-on-checks.jpg"),  # about 15 % wide
    ],
)
def test_logo_a_few_dozen_pixels_wide_is_found(tmp_path: Path, logo: str, photo: str) -> None:
    # Its lettering is a blur at that size: only the logo described as it looks
    # drawn that small finds it.
    signals = [
        s for s in _matcher_for(tmp_path, logo).match(_photo_listing(photo)) if s.kind == "logo"
    ]
    assert signals and signals[0].mark_id == "brand", signals
    assert "% of its width" in signals[0].detail


def test_badge_cut_out_onto_a_busy_texture_is_found(tmp_path: Path) -> None:
    # Around a cut-out badge lies the texture, not the badge's white ground: the
    # correlation is checked inside the badge's outline too.
    matcher = _matcher_for(tmp_path, "orbik-shield.png")
    signals = [
        s
        for s in matcher.match(_photo_listing("orbik-shield-cut-out-on-texture.jpg"))
        if s.kind == "logo"
    ]
    assert signals and signals[0].mark_id == "brand", signals


def test_small_logo_in_the_same_style_with_another_word_is_not_matched(tmp_path: Path) -> None:
    # Same emblem, same font and colour, another word: a few keypoints agree.
    matcher = _matcher_for(tmp_path, "kestra-emblem.png")
    assert matcher.match(_photo_listing("same-style-other-word-small.jpg")) == []


@pytest.mark.parametrize(
    ("logo", "photo", "fraction", "where"),
    [
        ("orbik-shield.png", "coins.jpg", 0.12, (0.2, 0.3)),
        ("orbik-shield.png", "flower.jpg", 0.13, (0.6, 0.55)),
        ("halcyon-badge.png", "flower.jpg", 0.12, (0.2, 0.3)),
    ],
)
def test_badge_cut_out_at_an_eighth_of_the_width_is_found(
    tmp_path: Path, logo: str, photo: str, fraction: float, where: tuple[float, float]
) -> None:
    # Three or four keypoints are all such a badge keeps: its placement is
    # believed because the badge, warped there, looks nearly the same.
    matcher = _matcher_for(tmp_path, logo)
    picture = Image.open(FIXTURES / photo).convert("RGB")
    badge = Image.open(FIXTURES / logo).convert("RGB")
    listing = _listing(_paste(picture, badge, fraction, where))
    signals = [s for s in matcher.match(listing) if s.kind == "logo"]
    assert signals and signals[0].mark_id == "brand", signals
