"""Near-duplicate photos: transformed copies of registered images are found, others are not."""

from __future__ import annotations

import io
import logging
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from crawler.config import load_client
from matching.image import ImageMatcher, hamming, image_hash, load_image, trim_borders
from matching.types import ListingInput

FIXTURES = Path(__file__).parent / "fixtures" / "matching_images"


def _client_file(folder: Path) -> Path:
    """A client with one product photo (coins) and one logo (a round badge)."""
    for name in ("coins.jpg", "round-logo.png"):
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    path = folder / "markwatch.yaml"
    path.write_text(
        """
client: {name: Test Brands Ltd.}
marks:
  - id: roundco
    title: ROUNDCO
    terms: [Roundco, crocs]
    images: [round-logo.png]
products:
  - id: coin-set
    mark: roundco
    name: Roundco coin set
    msrp: 100
    images: [coins.jpg]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> ImageMatcher:
    folder = tmp_path_factory.mktemp("client")
    return ImageMatcher.from_client(load_client(_client_file(folder)))


def _jpeg(im: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _signals(matcher: ImageMatcher, im: Image.Image, quality: int = 85):
    listing = ListingInput(
        id="t:1", title="generic goods", images=["photo.jpg"], image_bytes=[_jpeg(im, quality)]
    )
    return matcher.match(listing)


def _product_hit(signals) -> bool:
    return any(s.kind == "image" and s.product_id == "coin-set" for s in signals)


COINS = Image.open(FIXTURES / "coins.jpg").convert("RGB")
FLOWER = Image.open(FIXTURES / "flower.jpg").convert("RGB")


def _crop(im: Image.Image, frac: float) -> Image.Image:
    w, h = im.size
    return im.crop((int(w * frac), int(h * frac * 0.5), w - int(w * frac * 0.5), h - int(h * frac)))


def _banner(im: Image.Image) -> Image.Image:
    out = im.copy()
    w, h = out.size
    d = ImageDraw.Draw(out)
    d.rectangle((0, int(h * 0.86), w, h), fill=(230, 20, 20))
    d.text((w // 3, int(h * 0.9)), "HOT SALE", fill="white")
    d.text((w // 4, h // 2), "SAMPLE  SAMPLE", fill=(255, 255, 255))
    d.ellipse((w - 70, 8, w - 10, 68), fill=(30, 160, 60))
    return out


def _canvas(im: Image.Image) -> Image.Image:
    small = im.resize((int(im.width * 0.7), int(im.height * 0.7)))
    out = Image.new("RGB", (im.width, im.width), "white")
    out.paste(small, ((out.width - small.width) // 2, (out.height - small.height) // 2))
    return ImageOps.expand(out, border=12, fill=(200, 30, 30))


def _jitter(im: Image.Image) -> Image.Image:
    im = ImageEnhance.Color(im).enhance(0.4)
    im = ImageEnhance.Brightness(im).enhance(1.15)
    r, g, b = im.split()
    return Image.merge("RGB", (r.point(lambda v: min(255, v + 25)), g, b))


TRANSFORMS = {
    "mirrored": lambda im: ImageOps.mirror(im),
    "crop 15%": lambda im: _crop(im, 0.15),
    "rotation 5 degrees": lambda im: im.rotate(
        5, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white"
    ),
    "border and white canvas": _canvas,
    "banner, badge and watermark": _banner,
    "colour jitter": _jitter,
    "resized smaller": lambda im: im.resize((im.width // 2, im.height // 2)),
    "mirrored, cropped, jittered": lambda im: _jitter(_crop(ImageOps.mirror(im), 0.1)),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transformed_copy_of_registered_photo_is_found(matcher: ImageMatcher, name: str) -> None:
    signals = _signals(matcher, TRANSFORMS[name](COINS))
    assert _product_hit(signals), f"{name}: {[s.detail for s in signals]}"
    hit = next(s for s in signals if s.product_id == "coin-set")
    assert hit.mark_id == "roundco" and 0 < hit.score <= 1
    assert "coins.jpg" in hit.detail and "photo 1" in hit.detail


def test_low_jpeg_quality_copy_is_found(matcher: ImageMatcher) -> None:
    assert _product_hit(_signals(matcher, COINS, quality=20))


@pytest.mark.parametrize(
    "name",
    ["as is", "mirrored", "crop 15%", "banner, badge and watermark", "border and white canvas"],
)
def test_unrelated_photo_is_not_matched(matcher: ImageMatcher, name: str) -> None:
    im = FLOWER if name == "as is" else TRANSFORMS[name](FLOWER)
    assert _signals(matcher, im) == []


def test_mirrored_stays_close_unrelated_stays_far() -> None:
    def h(im: Image.Image) -> np.ndarray:
        return image_hash(np.asarray(im.convert("L")))

    base = h(COINS)
    # A mirror image is far from the original as such; the index therefore
    # stores the mirrored variant of each registered image, which is close.
    assert hamming(h(ImageOps.mirror(ImageOps.mirror(COINS))), base) == 0
    assert hamming(h(_jitter(COINS)), base) <= 14
    assert hamming(h(FLOWER), base) > 30


def test_trim_borders_removes_frame_and_canvas() -> None:
    framed = np.asarray(_canvas(COINS))
    trimmed = trim_borders(framed)
    h, w = trimmed.shape[:2]
    # Back to about the pasted photo's size (70 % of the original).
    assert abs(w - int(COINS.width * 0.7)) <= 6 and abs(h - int(COINS.height * 0.7)) <= 6


def test_local_path_images_are_read(matcher: ImageMatcher, tmp_path: Path) -> None:
    path = tmp_path / "copy.jpg"
    ImageOps.mirror(COINS).save(path, quality=60)
    listing = ListingInput(id="t:2", title="x", images=[path])
    assert _product_hit(matcher.match(listing))


# --------------------------------------------------------------------------- hostile input


def _bomb_png() -> bytes:
    """A small PNG whose header claims 100 000 x 100 000 pixels."""
    small = io.BytesIO()
    Image.new("L", (64, 64)).save(small, "PNG")
    data = bytearray(small.getvalue())
    # IHDR: length(4) type(4) width(4) height(4) ... crc(4), starting at byte 8.
    data[16:24] = (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


HOSTILE = {
    "zero bytes": b"",
    "HTML instead of JPEG": b"<!DOCTYPE html><html><body>Access denied</body></html>",
    "truncated JPEG": _jpeg(COINS)[:1500],
    "decompression bomb": _bomb_png(),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_image_is_skipped_with_warning(
    matcher: ImageMatcher, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    listing = ListingInput(
        id="t:bad",
        title="x",
        images=["bad.jpg", "good.jpg"],
        image_bytes=[HOSTILE[name], _jpeg(ImageOps.mirror(COINS))],
    )
    with caplog.at_level(logging.WARNING, logger="matching.image"):
        signals = matcher.match(listing)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("photo 1" in m and "bad.jpg" in m and "skipped" in m for m in warned), warned
    # The other photo of the same listing is still matched.
    assert _product_hit(signals)


def test_a_photo_seen_before_is_matched_once_and_named_per_listing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = load_client(_client_file(tmp_path))
    matcher = ImageMatcher.from_client(client)
    photo = _jpeg(ImageOps.mirror(COINS))
    first = matcher.match(ListingInput(id="t:a", title="x", images=["a.jpg"], image_bytes=[photo]))
    second = matcher.match(
        ListingInput(id="t:b", title="x", images=["b.jpg", "a.jpg"], image_bytes=[_jpeg(FLOWER), photo])
    )
    assert (matcher.cache.misses, matcher.cache.hits) == (2, 1)
    hit1 = next(s for s in first if s.product_id == "coin-set")
    hit2 = next(s for s in second if s.product_id == "coin-set")
    # The same evidence, naming the photo where this listing shows it.
    assert hit1.detail.startswith("photo 1 ") and hit2.detail.startswith("photo 2 ")
    assert hit1.detail[len("photo 1"):] == hit2.detail[len("photo 2"):]
    assert hit1.score == hit2.score
    # Matchers of the same client can share one cache (the crawl's one per core).
    other = ImageMatcher.from_client(client, cache=matcher.cache)
    assert _product_hit(other.match(ListingInput(id="t:c", title="x", images=["c.jpg"], image_bytes=[photo])))
    assert matcher.cache.hits == 2
    # An unreadable photo is not cached: every listing showing it is warned about.
    with caplog.at_level(logging.WARNING, logger="matching.image"):
        for lid in ("t:d", "t:e"):
            assert matcher.match(ListingInput(id=lid, title="x", images=["d.jpg"], image_bytes=[b"<html>"])) == []
    assert "of t:d" in caplog.text and "of t:e" in caplog.text


def test_missing_file_and_url_without_fetching_are_skipped(
    matcher: ImageMatcher, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    listing = ListingInput(
        id="t:3", title="x", images=[tmp_path / "nope.jpg", "https://example.invalid/a.jpg"]
    )
    with caplog.at_level(logging.WARNING, logger="matching.image"):
        assert matcher.match(listing) == []
    text = caplog.text
    assert "nope.jpg" in text and "example.invalid" in text


def test_load_image_refuses_bomb_before_decoding(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="matching.image"):
        assert load_image(_bomb_png(), name="bomb.png") is None
    assert "decompression bomb" in caplog.text and "bomb.png" in caplog.text


# --------------------------------------------------------------------------- text in photos


def _text_photo(text: str) -> Image.Image:
    from PIL import ImageFont

    im = FLOWER.copy()
    d = ImageDraw.Draw(im)
    try:
        font = ImageFont.truetype("DejaVuSans-Bold.ttf", 44)
    except OSError:
        pytest.skip("no TrueType font to draw test text")
    d.rectangle((20, 20, 330, 90), fill="white")
    d.text((30, 30), text, fill="black", font=font)
    return im


def test_ocr_reads_a_mark_term_only_when_enabled(tmp_path: Path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    from matching.ocr import find_terms, read_text

    photo = _text_photo("Roundco")
    assert "roundco" in read_text(np.asarray(photo)).casefold()
    assert find_terms("Best ROUNDCO bag", {"roundco": ["Roundco"]})[0][:2] == ("roundco", "Roundco")
    assert find_terms("Roundcorner table", {"roundco": ["Roundco"]}) == []

    path = _client_file(tmp_path)
    listing = ListingInput(id="t:ocr", title="x", images=["p.jpg"], image_bytes=[_jpeg(photo)])
    plain = ImageMatcher.from_client(load_client(path))
    assert [s for s in plain.match(listing) if s.kind == "ocr"] == []
    reading = ImageMatcher.from_client(load_client(path), ocr=True)
    ocr = [s for s in reading.match(listing) if s.kind == "ocr"]
    assert ocr and ocr[0].mark_id == "roundco" and "Roundco" in ocr[0].detail


# --------------------------------------------------------------------------- downloads


@pytest.fixture
def photo_server():
    """A local HTTP server: /copy.jpg is a mirrored registered photo, /page.jpg is HTML."""
    import http.server
    import threading

    bodies = {
        "/copy.jpg": ("image/jpeg", _jpeg(ImageOps.mirror(COINS))),
        "/page.jpg": ("text/html", b"<html><body>captcha</body></html>"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kind, body = bodies.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in bodies else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_are_downloaded_only_when_allowed(
    tmp_path: Path, photo_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = _client_file(tmp_path)
    listing = ListingInput(
        id="t:url", title="x", images=[f"{photo_server}/page.jpg", f"{photo_server}/copy.jpg"]
    )
    offline = ImageMatcher.from_client(load_client(path))
    assert offline.match(listing) == []
    # A private host (here loopback) is fetched only when it is one of the client's marketplaces.
    with caplog.at_level(logging.WARNING, logger="matching.image"):
        assert ImageMatcher.from_client(load_client(path), fetch_urls=True).match(listing) == []
    assert "refused loopback address" in caplog.text
    caplog.clear()
    path.write_text(path.read_text() + f"marketplaces:\n  aliexpress: {{base_url: '{photo_server}'}}\n")
    online = ImageMatcher.from_client(load_client(path), fetch_urls=True)
    with caplog.at_level(logging.WARNING, logger="matching.image"):
        signals = online.match(listing)
    assert _product_hit(signals)
    assert "photo 2" in next(s.detail for s in signals if s.kind == "image")
    assert "page.jpg" in caplog.text and "HTML" in caplog.text


def _one_image_client(folder: Path, fixture: str, kind: str) -> ImageMatcher:
    (folder / fixture).write_bytes((FIXTURES / fixture).read_bytes())
    section = (
        f"marks:\n  - {{id: acme, title: ACME, images: [{fixture}]}}\n"
        if kind == "mark"
        else "marks:\n  - {id: acme, title: ACME, terms: [ACME]}\n"
        f"products:\n  - {{id: p1, mark: acme, name: Acme thing, images: [{fixture}]}}\n"
    )
    path = folder / "markwatch.yaml"
    path.write_text("client: {name: Test Brands Ltd.}\n" + section, encoding="utf-8")
    return ImageMatcher.from_client(load_client(path))


def _photo_listing(fixture: str) -> ListingInput:
    data = (FIXTURES / fixture).read_bytes()
    return ListingInput(id="t:other", title="generic goods", images=["p.jpg"], image_bytes=[data])


def test_other_studio_render_of_the_same_kind_is_not_a_copy(tmp_path: Path) -> None:
    # Two different objects centred on a light gradient: their hashes lie 13
    # bits apart, as close as a reused photo under heavy edits; nothing else agrees.
    matcher = _one_image_client(tmp_path, "studio-render.jpg", "product")
    assert matcher.match(_photo_listing("other-studio-render.jpg")) == []
    # The registered render itself, mirrored and recompressed, is still found.
    buf = io.BytesIO()
    ImageOps.mirror(Image.open(FIXTURES / "studio-render.jpg")).save(buf, "JPEG", quality=60)
    copy = ListingInput(id="t:copy", title="generic", images=["c.jpg"], image_bytes=[buf.getvalue()])
    assert [s.product_id for s in matcher.match(copy)] == ["p1"]


def test_shared_emblem_with_another_name_is_not_the_logo(tmp_path: Path) -> None:
    # Another brand's logo with the same triangle emblem and another name: the
    # emblem agrees, and the registered name would fall outside the photo.
    matcher = _one_image_client(tmp_path, "emblem-wordmark.png", "mark")
    assert matcher.match(_photo_listing("same-emblem-other-name.jpg")) == []


def test_copy_whose_pattern_repeats_is_found_under_a_banner(tmp_path: Path) -> None:
    # A checkerboard's keypoints all look alike, so the ratio test drops most of
    # them; its hash, close but past the limit, has it compared on its own.
    matcher = _one_image_client(tmp_path, "checkerboard.jpg", "product")
    signals = matcher.match(_photo_listing("checkerboard-banner-border.jpg"))
    assert [s.product_id for s in signals] == ["p1"], signals
    assert "keypoints agree" in signals[0].detail


def test_other_render_near_in_hash_needs_more_than_a_few_keypoints(tmp_path: Path) -> None:
    # Another object rendered the same way, under a watermark: its hash is near and
    # six keypoints agree, correlating at 0.87; a copy found that way looks nearly the same.
    matcher = _one_image_client(tmp_path, "pink-render.jpg", "product")
    assert matcher.match(_photo_listing("other-render-watermarked.jpg")) == []

