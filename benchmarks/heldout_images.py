"""Probe of the image matchers on pictures the dev split does not have.

    python benchmarks/heldout_images.py [--seed 11] [--n-image 150] [--n-logo 90]
        [--n-distractor 220] [--misses] [--keep DIR]

The dev split (../shared/benchmark/dev) registers ten product photos and six
drawn text logos; the held-out split registers other ones. This probe builds a
synthetic client in a temporary folder whose registered pictures are not the
dev ones:

* product photos: the photos in tests/fixtures and procedural renders drawn with Pillow (objects with shading,
  shadows and printed words on studio backgrounds; textures; landscapes),
* text logos drawn with Pillow in the fonts installed here (DejaVu,
  Liberation, WenQuanYi Micro Hei), in several colours and shapes: a badge,
  a plain wordmark, a wordmark with an emblem.

It then writes listing photos per category, in the spirit of the dev README:

* P-image: a registered photo or logo under 1-3 of crop (up to 15 %),
  rotate (up to 8 degrees), flip, jitter (colour), banner, watermark, badge,
  border, canvas (white), jpeg (low quality),
* P-logo: a registered logo pasted at 8-30 % of the width into an unrelated
  photo, anywhere, as a sticker (its own background) or cut out, sometimes
  slightly rotated,
* N-image-distractor: unrelated photos, renders and other text logos (other
  words, same fonts and shapes) under the same transforms, and other logos
  pasted small into photos.

A listing counts as flagged when `ImageMatcher.match` returns any signal. It
prints recall / false-positive rate per category, source and transform, CPU
time per photo, and with --misses every miss and false positive. Fixed seed;
about a minute on one core.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont
from threadpoolctl import threadpool_limits

from benchmarks.image_signals import print_categories
from crawler.config import load_client
from matching.image import ImageMatcher
from matching.types import ListingInput

FIXTURE_PHOTOS = [
    ROOT / "tests" / "fixtures" / "matching" / "product.jpg",
    ROOT / "tests" / "fixtures" / "matching" / "unrelated.jpg",
    ROOT / "tests" / "fixtures" / "matching_images" / "coins.jpg",
    ROOT / "tests" / "fixtures" / "matching_images" / "flower.jpg",
]
TRANSFORMS = ("crop", "rotate", "flip", "jitter", "banner", "watermark", "badge", "border", "canvas", "jpeg")
BRAND_WORDS = ["Valdor", "KESTRA", "Nuvola", "ORBIK", "Presto", "Zemla", "沐野", "Halcyon"]
OTHER_WORDS = ["Fabro", "LUMEN", "Tasco", "QUBIT", "Brava", "Solen", "星河", "Mira", "NORDA", "Vento", "Kalos", "云途"]
BANNERS = ["HOT SALE", "50% OFF", "IN STOCK", "TOP QUALITY", "FREE SHIPPING", "新品上市", "包邮", "NEW 2025"]
BADGES = ["NEW", "HOT", "-30%", "SALE", "5★", "热卖"]
WATERMARKS = ["best-store", "SAMPLE", "shop 2231", "优品店", "© TopDeal"]
PALETTE = [
    (200, 30, 40), (20, 60, 150), (30, 120, 60), (240, 160, 20), (20, 20, 20),
    (110, 40, 140), (0, 140, 150), (180, 90, 30), (90, 90, 100), (220, 80, 120),
]


# --------------------------------------------------------------------------- fonts


def find_fonts() -> tuple[list[str], list[str]]:
    """(Latin fonts, fonts with Chinese) installed here, by fc-list, with fallbacks."""
    latin: list[str] = []
    cjk: list[str] = []
    try:
        out = subprocess.run(["fc-list", ":", "file"], capture_output=True, text=True, timeout=20, check=False).stdout
        files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    except (OSError, subprocess.SubprocessError):
        files = []
    for f in files:
        low = f.lower()
        if not low.endswith((".ttf", ".ttc", ".otf")) or "math" in low:
            continue
        if "wqy" in low or "cjk" in low or "hei" in low:
            cjk.append(f)
        elif any(k in low for k in ("dejavu", "liberation", "noto", "free")):
            latin.append(f)
    return latin, cjk


class Fonts:
    def __init__(self) -> None:
        self.latin, self.cjk = find_fonts()
        if not self.latin:
            self.latin = [""]  # Pillow's own default font

    def pick(self, rng: random.Random, word: str) -> str:
        if any(ord(c) > 0x2E80 for c in word) and self.cjk:
            return rng.choice(self.cjk)
        return rng.choice(self.latin)

    @staticmethod
    def load(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if not path:
            return ImageFont.load_default(size)
        return ImageFont.truetype(path, size)


def fit_font(path: str, text: str, max_w: int, max_h: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    size = max_h
    while size > 8:
        font = Fonts.load(path, size)
        l, t, r, b = font.getbbox(text)
        if r - l <= max_w and b - t <= max_h:
            return font
        size = int(size * 0.9)
    return Fonts.load(path, 8)


def draw_centered(d: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str, font, fill) -> None:
    l, t, r, b = d.textbbox((0, 0), text, font=font)
    x = (box[0] + box[2] - (r - l)) / 2 - l
    y = (box[1] + box[3] - (b - t)) / 2 - t
    d.text((x, y), text, font=font, fill=fill)


# --------------------------------------------------------------------------- logos


def contrast_on(c: tuple[int, int, int]) -> tuple[int, int, int]:
    return (255, 255, 255) if sum(c) < 420 else (20, 20, 20)


def draw_emblem(d: ImageDraw.ImageDraw, box: tuple[int, int, int, int], kind: str, colour, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, min(x1 - x0, y1 - y0) / 2
    w = max(3, int(r / 5))
    if kind == "rings":
        d.ellipse((cx - r, cy - r * 0.6, cx + r * 0.2, cy + r * 0.6), outline=colour, width=w)
        d.ellipse((cx - r * 0.2, cy - r * 0.6, cx + r, cy + r * 0.6), outline=colour, width=w)
    elif kind == "star":
        pts = []
        for i in range(10):
            a = -math.pi / 2 + i * math.pi / 5
            rr = r if i % 2 == 0 else r * 0.45
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        d.polygon(pts, fill=colour)
    elif kind == "triangle":
        d.polygon([(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)], fill=colour)
        d.polygon([(cx, cy - r * 0.3), (cx + r * 0.45, cy + r * 0.55), (cx - r * 0.45, cy + r * 0.55)], fill=(255, 255, 255))
    elif kind == "crown":
        d.polygon(
            [(cx - r, cy + r * 0.6), (cx - r, cy - r * 0.5), (cx - r * 0.5, cy), (cx, cy - r * 0.8),
             (cx + r * 0.5, cy), (cx + r, cy - r * 0.5), (cx + r, cy + r * 0.6)],
            fill=colour,
        )
    elif kind == "swoosh":
        d.arc((cx - r, cy - r * 1.2, cx + r, cy + r * 0.6), 20, 160, fill=colour, width=w * 2)
    else:  # ring with a dot
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=w)
        d.ellipse((cx - r * 0.3, cy - r * 0.3, cx + r * 0.3, cy + r * 0.3), fill=colour)


def draw_logo(word: str, fonts: Fonts, rng: random.Random) -> tuple[Image.Image, str]:
    """A drawn text logo on white, like a registered mark image; returns (image, style)."""
    style = rng.choice(["badge", "wordmark", "emblem"])
    colour = rng.choice(PALETTE)
    font_path = fonts.pick(rng, word)
    if style == "badge":
        im = Image.new("RGB", (300, 300), "white")
        d = ImageDraw.Draw(im)
        shape = rng.choice(["circle", "ellipse", "rounded", "shield"])
        if shape == "circle":
            d.ellipse((15, 15, 285, 285), fill=colour)
            inner = (55, 110, 245, 190)
        elif shape == "ellipse":
            im = Image.new("RGB", (480, 260), "white")
            d = ImageDraw.Draw(im)
            d.ellipse((15, 20, 465, 240), fill=colour)
            if rng.random() < 0.5:
                d.ellipse((35, 38, 445, 222), outline=contrast_on(colour), width=5)
            inner = (80, 85, 400, 175)
        elif shape == "rounded":
            d.rounded_rectangle((15, 60, 285, 240), radius=30, fill=colour)
            inner = (35, 110, 265, 190)
        else:
            d.polygon([(30, 30), (270, 30), (270, 160), (150, 280), (30, 160)], fill=colour)
            inner = (50, 80, 250, 160)
        fg = contrast_on(colour)
        if rng.random() < 0.5 and shape in ("circle", "shield"):
            draw_emblem(d, (110, 40, 190, 105), rng.choice(["star", "crown", "ring"]), fg, rng)
            inner = (inner[0], inner[1] + 20, inner[2], inner[3] + 30)
        font = fit_font(font_path, word, inner[2] - inner[0], inner[3] - inner[1])
        draw_centered(d, inner, word, font, fg)
        return im, f"badge-{shape}"
    im = Image.new("RGB", (480, 260), "white")
    d = ImageDraw.Draw(im)
    if style == "wordmark":
        font = fit_font(font_path, word, 400, 110)
        draw_centered(d, (40, 60, 440, 180), word, font, colour)
        if rng.random() < 0.5:
            d.rectangle((90, 200, 390, 208), fill=colour)
        return im, "wordmark"
    kind = rng.choice(["rings", "star", "triangle", "crown", "swoosh", "ring"])
    if rng.random() < 0.5:  # emblem left of the word
        draw_emblem(d, (25, 70, 145, 190), kind, colour, rng)
        font = fit_font(font_path, word, 300, 100)
        draw_centered(d, (160, 70, 460, 190), word, font, colour)
    else:  # emblem above the word
        draw_emblem(d, (190, 15, 290, 115), kind, colour, rng)
        font = fit_font(font_path, word, 400, 95)
        draw_centered(d, (40, 130, 440, 240), word, font, colour)
    return im, f"emblem-{kind}"


# --------------------------------------------------------------------------- renders


def value_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 5) -> np.ndarray:
    """Fractal noise in [0, 1]: a cheap stand-in for natural texture."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 2 ** (o + 2)
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    out /= total
    return (out - out.min()) / max(1e-6, float(out.max() - out.min()))


def gradient(h: int, w: int, c0, c1, vertical: bool = True) -> np.ndarray:
    t = np.linspace(0, 1, h if vertical else w, dtype=np.float32)
    t = t[:, None, None] if vertical else t[None, :, None]
    img = (1 - t) * np.float32(c0) + t * np.float32(c1)
    return np.broadcast_to(img, (h, w, 3)).astype(np.uint8).copy()


def render_object(rng: random.Random, nrng: np.random.Generator, fonts: Fonts, word: str | None) -> Image.Image:
    """A product on a studio background: shaded body, details, shadow, printed word."""
    w, h = rng.choice([(512, 512), (512, 384), (480, 360)])
    bg0 = tuple(rng.randint(215, 250) for _ in range(3))
    bg = gradient(h, w, bg0, tuple(max(0, c - rng.randint(10, 40)) for c in bg0))
    im = Image.fromarray(bg)
    shadow = Image.new("L", (w, h), 0)
    sd = ImageDraw.Draw(shadow)
    cx, cy = w / 2 + rng.uniform(-30, 30), h / 2 + rng.uniform(-20, 20)
    bw, bh = w * rng.uniform(0.35, 0.6), h * rng.uniform(0.3, 0.55)
    sd.ellipse((cx - bw * 0.6, cy + bh * 0.45, cx + bw * 0.6, cy + bh * 0.75), fill=110)
    shadow = shadow.filter(ImageFilter.GaussianBlur(12))
    im.paste(Image.new("RGB", (w, h), (60, 60, 60)), (0, 0), shadow)
    base = rng.choice(PALETTE)
    body = Image.fromarray(gradient(h, w, tuple(min(255, c + 70) for c in base), tuple(max(0, c - 40) for c in base), rng.random() < 0.5))
    # texture on the body so that it is not flat
    tex = (value_noise(nrng, h, w, 4) - 0.5) * rng.uniform(20, 60)
    body = Image.fromarray(np.clip(np.asarray(body, np.float32) + tex[..., None], 0, 255).astype(np.uint8))
    mask = Image.new("L", (w, h), 0)
    md = ImageDraw.Draw(mask)
    kind = rng.choice(["box", "bottle", "puck", "bag", "device", "shoe"])
    box = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
    if kind == "box":
        md.rectangle(box, fill=255)
        md.polygon([(box[0], box[1]), (box[0] + 30, box[1] - 25), (box[2] + 30, box[1] - 25), (box[2], box[1])], fill=255)
    elif kind == "bottle":
        nb = (cx - bw * 0.25, cy - bh / 2, cx + bw * 0.25, cy + bh / 2)
        md.rounded_rectangle(nb, radius=int(bw * 0.1), fill=255)
        md.rectangle((cx - bw * 0.08, nb[1] - bh * 0.25, cx + bw * 0.08, nb[1] + 5), fill=255)
    elif kind == "puck":
        md.ellipse(box, fill=255)
    elif kind == "bag":
        md.rounded_rectangle(box, radius=int(bw * 0.12), fill=255)
        md.arc((cx - bw * 0.3, box[1] - bh * 0.35, cx + bw * 0.3, box[1] + bh * 0.3), 180, 360, fill=255, width=10)
    elif kind == "device":
        md.rounded_rectangle(box, radius=int(min(bw, bh) * 0.15), fill=255)
    else:
        md.polygon(
            [(box[0], box[3]), (box[0], cy), (cx - bw * 0.1, cy - bh * 0.1), (cx + bw * 0.15, box[1]),
             (cx + bw * 0.3, box[1]), (box[2], cy + bh * 0.1), (box[2], box[3])],
            fill=255,
        )
    im.paste(body, (0, 0), mask)
    d = ImageDraw.Draw(im)
    acc = rng.choice(PALETTE)
    for _ in range(rng.randint(1, 4)):  # details: lenses, buttons, stripes, highlights
        t = rng.choice(["circle", "stripe", "dot", "highlight"])
        x, y = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
        r = rng.uniform(8, min(bw, bh) * 0.25)
        if t == "circle":
            d.ellipse((x - r, y - r, x + r, y + r), fill=(30, 30, 35), outline=acc, width=4)
            d.ellipse((x - r * 0.4, y - r * 0.6, x, y - r * 0.2), fill=(200, 200, 210))
        elif t == "stripe":
            d.rectangle((box[0], y, box[2], y + rng.uniform(6, 18)), fill=acc)
        elif t == "dot":
            d.ellipse((x - 6, y - 6, x + 6, y + 6), fill=acc)
        else:
            d.line((box[0] + 10, box[1] + 15, box[0] + 10 + bw * 0.3, box[1] + 15), fill=(255, 255, 255), width=5)
    if word:
        font = fit_font(fonts.pick(rng, word), word, int(bw * 0.7), int(bh * 0.22))
        draw_centered(d, (int(cx - bw * 0.4), int(cy - bh * 0.15), int(cx + bw * 0.4), int(cy + bh * 0.15)), word, font, contrast_on(base))
    return im.filter(ImageFilter.GaussianBlur(0.6))


def render_texture(rng: random.Random, nrng: np.random.Generator) -> Image.Image:
    """A full-frame surface: bricks, tiles, gravel, wood, fabric."""
    w, h = rng.choice([(512, 512), (512, 384)])
    kind = rng.choice(["bricks", "tiles", "gravel", "wood", "fabric"])
    c = np.float32(rng.choice(PALETTE))
    if kind == "gravel":
        n = value_noise(nrng, h, w, 7)
        grain = nrng.random((h, w)).astype(np.float32)
        g = 0.6 * n + 0.4 * cv2.GaussianBlur(grain, (0, 0), 1.5)
        img = g[..., None] * (c * 0.5 + 120)
    elif kind == "wood":
        n = value_noise(nrng, h, w, 4)
        y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
        rings = 0.5 + 0.5 * np.sin((y * rng.uniform(20, 50) + 6 * n) * math.pi)
        img = (0.55 + 0.45 * rings)[..., None] * np.float32([150, 95, 50])
    elif kind == "fabric":
        x = np.arange(w, dtype=np.float32)[None, :]
        y = np.arange(h, dtype=np.float32)[:, None]
        p = rng.uniform(6, 14)
        weave = 0.5 + 0.25 * np.sin(x / p * math.pi) * np.sign(np.sin(y / p * math.pi))
        img = (weave + 0.2 * value_noise(nrng, h, w, 3))[..., None] * (c * 0.6 + 90)
    else:
        base = np.full((h, w, 3), 200 if kind == "tiles" else 210, np.float32)
        img = base.copy()
        bw, bh = (rng.randint(50, 90), rng.randint(20, 35)) if kind == "bricks" else (rng.randint(40, 80),) * 2
        for row in range(0, h, bh):
            off = (row // bh % 2) * bw // 2 if kind == "bricks" else 0
            for col in range(-bw, w, bw):
                shade = rng.uniform(0.7, 1.1)
                x0, y0 = col + off + 3, row + 3
                img[max(0, y0) : row + bh - 2, max(0, x0) : min(w, col + off + bw - 2)] = c * shade + 40
        img += (value_noise(nrng, h, w, 6)[..., None] - 0.5) * 40
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).convert("RGB")


def render_scene(rng: random.Random, nrng: np.random.Generator) -> Image.Image:
    """A landscape-like photo: sky, hills with noise, a few blurred blobs."""
    w, h = rng.choice([(512, 384), (512, 342), (480, 480)])
    sky = gradient(h, w, (rng.randint(60, 140), rng.randint(120, 180), 230), (220, 225, 235)).astype(np.float32)
    img = sky
    for layer in range(rng.randint(2, 4)):
        n = value_noise(nrng, 1, w, 5)[0]
        horizon = h * (0.35 + 0.15 * layer) + (n - 0.5) * h * 0.3
        yy = np.arange(h)[:, None]
        m = (yy > horizon[None, :]).astype(np.float32)
        col = np.float32(rng.choice([(40, 90, 40), (70, 110, 50), (90, 80, 60), (60, 60, 80), (120, 130, 90)]))
        tex = value_noise(nrng, h, w, 6)[..., None] * 60 - 30
        img = img * (1 - m[..., None]) + (col + tex) * m[..., None]
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(2, 6)):
        x, y, r = rng.uniform(0, w), rng.uniform(h * 0.3, h), rng.uniform(8, 40)
        d.ellipse((x - r, y - r * 1.4, x + r, y + r), fill=tuple(rng.randint(20, 200) for _ in range(3)))
    return im.filter(ImageFilter.GaussianBlur(1.0))


# --------------------------------------------------------------------------- transforms


def _font(fonts: Fonts, rng: random.Random, text: str, size: int):
    return Fonts.load(fonts.pick(rng, text), size)


def apply(im: Image.Image, names: list[str], rng: random.Random, fonts: Fonts) -> tuple[Image.Image, int]:
    """Apply the named transforms in a seller-like order; returns (image, JPEG quality)."""
    im = im.convert("RGB")
    quality = rng.randint(75, 92)
    if "crop" in names:
        w, h = im.size
        f = rng.uniform(0.05, 0.15)
        l = rng.uniform(0, f)
        t = rng.uniform(0, f)
        im = im.crop((int(w * l), int(h * t), int(w * (1 - (f - l))), int(h * (1 - (f - t)))))
    if "flip" in names:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if "rotate" in names:
        deg = rng.choice([-1, 1]) * rng.uniform(2, 8)
        im = im.rotate(deg, resample=Image.Resampling.BICUBIC, expand=rng.random() < 0.5, fillcolor=(255, 255, 255))
    if "jitter" in names:
        im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.75, 1.25))
        im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.75, 1.3))
        im = ImageEnhance.Color(im).enhance(rng.uniform(0.5, 1.5))
        if rng.random() < 0.4:  # hue shift
            hsv = np.asarray(im.convert("HSV")).copy()
            hsv[..., 0] = (hsv[..., 0].astype(int) + rng.randint(10, 40)) % 256
            im = Image.fromarray(hsv, "HSV").convert("RGB")
    if "canvas" in names:
        w, h = im.size
        s = rng.uniform(0.6, 0.85)
        small = im.resize((int(w * s), int(h * s)), Image.Resampling.LANCZOS)
        side = max(w, h)
        canvas = Image.new("RGB", (side, side), (255, 255, 255))
        canvas.paste(small, (rng.randint(0, side - small.width), rng.randint(0, side - small.height)))
        im = canvas
    if "badge" in names:
        d = ImageDraw.Draw(im)
        w, h = im.size
        r = int(w * rng.uniform(0.09, 0.14))
        x = rng.choice([r + 6, w - r - 6])
        y = rng.choice([r + 6, h - r - 6])
        col = rng.choice([(220, 30, 30), (250, 180, 0), (30, 30, 30), (20, 120, 220)])
        d.ellipse((x - r, y - r, x + r, y + r), fill=col, outline=(255, 255, 255), width=3)
        text = rng.choice(BADGES)
        draw_centered(d, (x - r, y - r, x + r, y + r), text, fit_font(fonts.pick(rng, text), text, int(r * 1.5), int(r * 0.8)), contrast_on(col))
    if "watermark" in names:
        w, h = im.size
        layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        text = rng.choice(WATERMARKS)
        alpha = rng.randint(70, 130)
        col = rng.choice([(255, 255, 255), (0, 0, 0), (200, 200, 200)])
        font = fit_font(fonts.pick(rng, text), text, int(w * 0.6), int(h * 0.12))
        if rng.random() < 0.5:  # one large diagonal mark
            draw_centered(d, (0, 0, w, h), text, font, col + (alpha,))
            layer = layer.rotate(rng.uniform(-35, 35), resample=Image.Resampling.BICUBIC)
        else:  # tiled small marks
            small = Fonts.load(fonts.pick(rng, text), max(10, h // 18))
            for yy in range(0, h, h // 4):
                for xx in range(-w // 4, w, w // 3):
                    d.text((xx + (yy // (h // 4)) % 2 * w // 6, yy), text, font=small, fill=col + (alpha,))
        im = Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")
    if "banner" in names:
        w, h = im.size
        bh = int(h * rng.uniform(0.1, 0.17))
        text = rng.choice(BANNERS)
        col = rng.choice([(20, 20, 20), (200, 20, 30), (255, 255, 255), (250, 200, 0)])
        top = rng.random() < 0.5
        if rng.random() < 0.5:  # a strip added above or below
            out = Image.new("RGB", (w, h + bh), col)
            out.paste(im, (0, bh if top else 0))
            im = out
            box = (0, 0, w, bh) if top else (0, h, w, h + bh)
        else:  # drawn over the photo
            box = (0, 0, w, bh) if top else (0, h - bh, w, h)
            ImageDraw.Draw(im).rectangle(box, fill=col)
        d = ImageDraw.Draw(im)
        draw_centered(d, box, text, fit_font(fonts.pick(rng, text), text, int(w * 0.9), int(bh * 0.75)), contrast_on(col))
    if "border" in names:
        b = rng.randint(4, 16)
        col = rng.choice([(255, 255, 255), (20, 20, 20), (30, 90, 220), (220, 40, 40), (240, 200, 0)])
        w, h = im.size
        out = Image.new("RGB", (w + 2 * b, h + 2 * b), col)
        out.paste(im, (b, b))
        im = out
    if "jpeg" in names:
        quality = rng.randint(12, 30)
    return im, quality


def to_jpeg(im: Image.Image, quality: int) -> bytes:
    im = im.copy()
    im.thumbnail((320, 320), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def pick_transforms(rng: random.Random) -> list[str]:
    k = rng.choices([1, 2, 3], weights=[3, 4, 3])[0]
    names = rng.sample(TRANSFORMS, k)
    return sorted(names, key=TRANSFORMS.index)


def paste_logo(photo: Image.Image, logo: Image.Image, rng: random.Random) -> tuple[Image.Image, dict[str, str]]:
    """Paste a logo at 8-30 % of the photo's width, anywhere, sticker or cut out."""
    from matching.logo import foreground_mask

    photo = photo.convert("RGB").copy()
    photo.thumbnail((512, 512), Image.Resampling.LANCZOS)
    arr = np.asarray(logo.convert("RGB"))
    fg = foreground_mask(arr)
    ys, xs = np.nonzero(fg)
    pad = 6
    box = (max(0, xs.min() - pad), max(0, ys.min() - pad), min(arr.shape[1], xs.max() + pad + 1), min(arr.shape[0], ys.max() + pad + 1))
    cut = logo.convert("RGB").crop(box)
    mask = Image.fromarray(fg[box[1] : box[3], box[0] : box[2]].astype(np.uint8) * 255)
    sticker = rng.random() < 0.4
    if sticker:
        mask = Image.new("L", cut.size, 255)
    frac = rng.uniform(0.08, 0.30)
    w = max(8, int(photo.width * frac))
    h = max(8, int(cut.height * w / cut.width))
    cut = cut.resize((w, h), Image.Resampling.LANCZOS)
    mask = mask.resize((w, h), Image.Resampling.LANCZOS)
    rotated = rng.random() < 0.4
    if rotated:
        deg = rng.choice([-1, 1]) * rng.uniform(3, 12)
        cut = cut.rotate(deg, resample=Image.Resampling.BICUBIC, expand=True)
        mask = mask.rotate(deg, resample=Image.Resampling.BICUBIC, expand=True)
    x = rng.randint(0, max(0, photo.width - cut.width))
    y = rng.randint(0, max(0, photo.height - cut.height))
    photo.paste(cut, (x, y), mask)
    if rng.random() < 0.3:
        photo = ImageEnhance.Color(photo).enhance(rng.uniform(0.7, 1.3))
    bucket = "w08-12" if frac < 0.12 else "w12-18" if frac < 0.18 else "w18-30"
    return photo, {"width": bucket, "paste": "sticker" if sticker else "cutout", "angle": "rotated" if rotated else "upright"}


# --------------------------------------------------------------------------- probe


@dataclass
class Case:
    id: str
    category: str
    label: int
    source: str  # what the picture is (product photo, logo style, render kind)
    tags: dict[str, str] = field(default_factory=dict)
    transforms: list[str] = field(default_factory=list)
    mark_id: str | None = None
    data: bytes = b""


def build(folder: Path, seed: int, n_image: int, n_logo: int, n_distractor: int) -> list[Case]:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    fonts = Fonts()
    (folder / "marks").mkdir()
    (folder / "products").mkdir()
    brands = [w for w in BRAND_WORDS]
    marks: list[tuple[str, str, Image.Image, str]] = []  # id, word, image, style
    for i, word in enumerate(brands):
        mid = f"brand{i}"
        logo, style = draw_logo(word, fonts, rng)
        logo.save(folder / "marks" / f"{mid}.png")
        marks.append((mid, word, logo, style))

    real = [p for p in FIXTURE_PHOTOS if p.exists()]
    rng.shuffle(real)
    registered_real = real[: max(1, len(real) // 2)]
    unrelated_real = real[len(registered_real) :]
    products: list[tuple[str, str, Image.Image, str]] = []  # id, mark id, image, source
    for p in registered_real:
        products.append(("", "", Image.open(p).convert("RGB"), "photo"))
    for k in range(10):
        kind = ["object", "object", "object", "texture", "scene"][k % 5]
        if kind == "object":
            # the product's own brand word, as products print it (mark = index % marks)
            word = brands[len(products) % len(marks)] if rng.random() < 0.6 else None
            im = render_object(rng, nrng, fonts, word)
        elif kind == "texture":
            im = render_texture(rng, nrng)
        else:
            im = render_scene(rng, nrng)
        products.append(("", "", im, f"render-{kind}"))
    prod_rows = []
    for j, (_, _, im, src) in enumerate(products):
        pid = f"prod{j}"
        mid = marks[j % len(marks)][0]
        im.save(folder / "products" / f"{pid}.jpg", quality=92)
        products[j] = (pid, mid, im, src)
        prod_rows.append(f"  - {{id: {pid}, mark: {mid}, name: Product {j}, msrp: 99.0, images: [products/{pid}.jpg]}}")
    yaml = ["client: {name: Heldout Probe Ltd.}", "marks:"]
    for mid, word, _, _ in marks:
        yaml.append(f"  - {{id: {mid}, title: '{word}', terms: ['{word}'], images: [marks/{mid}.png]}}")
    yaml.append("products:")
    yaml += prod_rows
    (folder / "markwatch.yaml").write_text("\n".join(yaml) + "\n", encoding="utf-8")

    # unrelated pool: other real photos, other renders, other logos
    def unrelated(r: random.Random) -> tuple[Image.Image, str]:
        kind = r.choice(["photo", "object", "object", "texture", "scene", "logo", "logo"] if unrelated_real else ["object", "object", "texture", "scene", "logo", "logo"])
        if kind == "photo":
            return Image.open(r.choice(unrelated_real)).convert("RGB"), "photo"
        if kind == "object":
            word = r.choice(OTHER_WORDS) if r.random() < 0.6 else None
            return render_object(r, nrng, fonts, word), "render-object"
        if kind == "texture":
            return render_texture(r, nrng), "render-texture"
        if kind == "scene":
            return render_scene(r, nrng), "render-scene"
        logo, style = draw_logo(r.choice(OTHER_WORDS), fonts, r)
        return logo, f"other-logo-{style.split('-')[0]}"

    def background(r: random.Random) -> tuple[Image.Image, str]:
        kind = r.choice(["photo", "object", "texture", "scene"] if unrelated_real else ["object", "texture", "scene"])
        if kind == "photo":
            return Image.open(r.choice(unrelated_real)).convert("RGB"), "photo"
        if kind == "object":
            return render_object(r, nrng, fonts, r.choice(OTHER_WORDS) if r.random() < 0.5 else None), "render-object"
        return (render_texture(r, nrng), "render-texture") if kind == "texture" else (render_scene(r, nrng), "render-scene")

    cases: list[Case] = []
    for i in range(n_image):
        if rng.random() < 0.3:
            mid, _, im, style = rng.choice(marks)
            src = f"logo-{style.split('-')[0]}"
        else:
            _, mid, im, src = rng.choice(products)
            src = f"product-{src.split('-')[-1]}"
        names = pick_transforms(rng)
        out, q = apply(im, names, rng, fonts)
        cases.append(Case(f"img{i}", "P-image", 1, src, {}, names, mid, to_jpeg(out, q)))
    for i in range(n_logo):
        mid, _, logo, style = rng.choice(marks)
        bg, bsrc = background(rng)
        out, tags = paste_logo(bg, logo, rng)
        tags["style"] = style.split("-")[0]
        tags["background"] = bsrc
        cases.append(Case(f"logo{i}", "P-logo", 1, f"on-{bsrc}", tags, [], mid, to_jpeg(out, rng.randint(70, 92))))
    for i in range(n_distractor):
        if rng.random() < 0.2:  # another brand's logo small inside a photo
            bg, bsrc = background(rng)
            logo, style = draw_logo(rng.choice(OTHER_WORDS), fonts, rng)
            out, tags = paste_logo(bg, logo, rng)
            tags["style"] = style.split("-")[0]
            cases.append(Case(f"neg{i}", "N-image-distractor", 0, "other-logo-in-photo", tags, [], None, to_jpeg(out, rng.randint(70, 92))))
            continue
        im, src = unrelated(rng)
        names = pick_transforms(rng)
        out, q = apply(im, names, rng, fonts)
        cases.append(Case(f"neg{i}", "N-image-distractor", 0, src, {}, names, None, to_jpeg(out, q)))
    return cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=11, help="random seed (default 11)")
    ap.add_argument("--n-image", type=int, default=150, help="P-image listings")
    ap.add_argument("--n-logo", type=int, default=90, help="P-logo listings")
    ap.add_argument("--n-distractor", type=int, default=220, help="N-image-distractor listings")
    ap.add_argument("--misses", action="store_true", help="list missed positives and false positives")
    ap.add_argument("--keep", type=Path, help="also write the client and photos to this folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    cv2.setNumThreads(1)
    threadpool_limits(1)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = build(folder, args.seed, args.n_image, args.n_logo, args.n_distractor)
        if args.keep:
            import shutil

            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
            (args.keep / "photos").mkdir(exist_ok=True)
            rows = []
            for c in cases:
                (args.keep / "photos" / f"{c.id}.jpg").write_bytes(c.data)
                rows.append(json.dumps({"id": c.id, "category": c.category, "label": c.label, "mark_id": c.mark_id,
                                        "source": c.source, "tags": c.tags, "transforms": c.transforms}))
            (args.keep / "labels.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        matcher = ImageMatcher.from_client(load_client(folder / "markwatch.yaml"))
        t_index = time.perf_counter() - t0

    cats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    c0 = time.process_time()
    misses = []
    for c in cases:
        lst = ListingInput(id=c.id, title="generic goods", images=[f"{c.id}.jpg"], image_bytes=[c.data])
        sigs = matcher.match(lst)
        flagged = bool(sigs)
        row = cats[c.category]
        row[0] += 1
        row[1] += flagged
        row[2] += flagged and sigs[0].mark_id == c.mark_id
        row[3] = c.label
        keys = [f"{c.category}/source={c.source}"]
        keys += [f"{c.category}/{k}={v}" for k, v in c.tags.items()]
        keys += [f"{c.category}/transform={t}" for t in c.transforms]
        if c.transforms:
            keys.append(f"{c.category}/n_transforms={len(c.transforms)}")
        for k in keys:
            groups[k][0] += 1
            groups[k][1] += flagged
        if flagged and c.label and sigs[0].mark_id != c.mark_id:
            misses.append(f"WRONG {c.category:<18} {c.id:<8} {c.source:<22} {'+'.join(c.transforms)}  expected {c.mark_id}: {sigs[0].detail}")
        if flagged != bool(c.label):
            desc = "+".join(c.transforms) or ",".join(f"{k}={v}" for k, v in c.tags.items())
            misses.append(f"{'MISS' if c.label else 'FP  '} {c.category:<19} {c.id:<8} {c.source:<22} {desc}  {sigs[0].detail if sigs else ''}")
    cpu = time.process_time() - c0

    print_categories(cats)
    print(f"\n{'category/group':<48}{'n':>5}{'flag_rate':>10}")
    for name, (n, f) in sorted(groups.items()):
        print(f"{name:<48}{n:>5}{f / n:>10.3f}")
    if args.misses:
        print()
        print("\n".join(misses))
    print(f"\nindex built in {t_index:.2f}s; {len(cases)} photos; {1000 * cpu / max(len(cases), 1):.0f} ms CPU per photo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
