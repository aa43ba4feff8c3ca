"""Image evidence: reused product photos, logos inside photos, text in photos.

`ImageMatcher.from_client(client)` prepares the registered mark and product
images once; `match(listing)` returns `Signal`s of kind

- ``image``: a listing photo is a (transformed) copy of a registered product
  photo or mark image,
- ``logo``: a registered logo appears inside a listing photo,
- ``ocr``: a mark term is written in a listing photo (only with ``ocr=True``).

Counterfeiters resize, recompress, crop, rotate, mirror, frame, recolour and
stamp banners or watermarks on the photos they reuse, so two independent
detectors look for copies:

1. Perceptual hashes (64-bit DCT hash + 64-bit gradient hash) of the photo with
   uniform borders and white canvas trimmed away, compared in one vectorised
   Hamming-distance pass against precomputed hashes of mirrored, rotated and
   cropped variants of every registered image. Cheap, and catches low-texture
   photos that have few keypoints.
2. SIFT keypoints matched to every registered image (and its mirror image),
   accepted only when a RANSAC similarity transform explains them and, for
   weak support, when the warped registered image correlates with the photo.
   This survives crops, banners, badges and watermarks, which change a hash.

Photos that cannot be read (missing, truncated, zero bytes, HTML instead of an
image, decompression bombs) are skipped with a warning naming them; matching
never raises because of one bad photo.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import urllib.request
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps

from matching.logo import (
    LOGO_PAD,
    RATIO,
    SIFT_CONTRAST,
    Features,
    GeometricMatch,
    LogoDetector,
    fit_similarity,
    foreground_mask,
    sift,
    warped_ncc,
)
from matching.types import ListingInput, Signal

if TYPE_CHECKING:
    from crawler.config import Client

log = logging.getLogger(__name__)

# Hostile input limits. Listing photos are small; anything near these limits is
# not a product photo, and a decompression bomb must be refused before decoding.
MAX_IMAGE_BYTES = 15 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
# The pixel limit is checked on the header before decoding (see _decode) rather
# than through Pillow's process-wide MAX_IMAGE_PIXELS, which other parts set too.
URL_TIMEOUT = 5.0
# Marketplaces put the main photos first; later ones are mostly size charts and
# packaging, and each photo costs about 0.05 s of CPU.
MAX_PHOTOS = 10

# Everything is compared at this size: marketplace photos are rarely larger in
# useful detail, and it bounds the cost per photo.
MAX_SIDE = 320

# Decision defaults: a precision/recall trade-off measured on the dev set with
# benchmarks/image_signals.py. Lower hash distances or more inliers mean fewer
# false alarms on unrelated photos and fewer reused photos found.
# Of 128 bits (pHash + dHash). Plain studio renders (one object centred on a
# light gradient) lie 13-14 bits from unrelated ones of the same kind, while
# nearly all copies that keypoints cannot confirm lie within 12
# (benchmarks/heldout_images.py, several seeds).
HASH_MAX_DISTANCE = 12
HASH_SCORE_SPAN = 14  # distance at which a hash match's score would fall to 0.72
KP_STRONG_INLIERS = 20  # enough keypoints in one geometry on their own
# Fewer need the registered image, warped onto the photo, to correlate with it:
# (min inliers, min correlation), the weaker the geometry the stronger the look.
KP_CHECKS = ((12, 0.45), (5, 0.7))
KP_MIN_MATCHES = KP_CHECKS[-1][0]
KP_MIN_SCALE = 0.25  # a near-duplicate fills a good part of the photo
MARK_MIN_WIDTH = 0.45  # a copied mark image fills at least this much of the photo's width
# Keypoints are detected once per photo, on the photo enlarged 1.5 times: small
# logos (10-20 % of the width) have too few pixels for keypoints at 320 px.
PHOTO_UPSCALE = 1.5
# SIFT itself runs on the photo enlarged less, its first scale made finer to
# match (see ImageMatcher.__init__): nearly the same keypoints, much cheaper.
SIFT_UPSCALE = 1.25
LOGO_SOURCE_SIDE = 1024
# The strongest keypoints only: beyond about 1000 they are background texture
# and cost descriptor time without adding matches (benchmarks/image_signals.py).
PHOTO_FEATURES = 1000
# Logos are also described as they look drawn this many pixels wide in a photo
# of MAX_SIDE, about 10 %, 12.5 % and 15 % of its width (see matching.logo).
# A logo that small keeps a handful of keypoints, and which ones changes with
# its size: a view halfway from 10 to 15 % finds a third of the cut-out badges
# at 10-15 % that the two views missed (heldout_images.py seeds 21-24), for
# about 7 % more time per photo.
SMALL_LOGO_WIDTHS = (32, 40, 48)
# Leaves the approximate nearest-neighbour search visits per photo keypoint.
# A copied photo's keypoints lie very close to the registered ones and are
# found with few: 16, 32 and 64 find the same copies on the dev and held-out
# probes (benchmarks/image_signals.py, heldout_images.py); 32 keeps a margin
# for clients with many registered images, at 10 % less time per photo than 64.
FLANN_CHECKS = 32
# A photo whose hash lies this close to one registered image (a copy under a large
# overlay, a plain render that resembles it) is also matched against that image
# alone, with a looser ratio test. Matches kept that way agree by chance more
# often, so weaker geometry must look nearly the same: copies found this way
# correlate at 0.94-1.0, another studio render of the same kind at 0.87
# (benchmarks/heldout_images.py seeds 11-14, detection.py).
HASH_NEAR_DISTANCE = 24
NEAR_RATIO = 0.85
NEAR_CHECKS = (KP_CHECKS[0], (8, 0.93))
KP_MAX_ANGLE = 15.0  # degrees; copies are at most slightly rotated (mirrors are indexed)

# Variants of each registered image hashed at index time.
_ROTATIONS = (-6.0, -3.0, 0.0, 3.0, 6.0)
_CROPS = (0.0, 0.1)
# Listing-side variants: whole photo, and without a top or bottom strip where
# sellers put banners.
_STRIPS = ((0.0, 0.0), (0.15, 0.0), (0.0, 0.15))

_POPCOUNT = np.array([(i).bit_count() for i in range(256)], np.uint8)


# --------------------------------------------------------------------------- loading


def _decode(data: bytes, name: str, max_side: int = MAX_SIDE) -> np.ndarray | None:
    """Bytes to an RGB array no larger than max_side, or None with a warning."""
    if not data:
        log.warning("image %s skipped: empty (zero bytes)", name)
        return None
    if len(data) > MAX_IMAGE_BYTES:
        log.warning(
            "image %s skipped: %d bytes exceeds the %d-byte limit", name, len(data), MAX_IMAGE_BYTES
        )
        return None
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        log.debug("Pillow is set to load truncated images; %s may be partly grey", name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS or w <= 0 or h <= 0:
                log.warning(
                    "image %s skipped: %dx%d pixels, refused as a decompression bomb", name, w, h
                )
                return None
            # JPEG can decode at a reduced scale directly, which is much cheaper.
            im.draft("RGB", (max_side * 2, max_side * 2))
            # Phone photos may be stored sideways with an EXIF orientation tag.
            im = (ImageOps.exif_transpose(im) or im).convert("RGB")
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            arr = np.asarray(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        log.warning("image %s skipped: refused as a decompression bomb (%s)", name, e)
        return None
    except Exception as e:  # noqa: BLE001 - any decoder failure means "not a usable image"
        # Pillow's "cannot identify image file <_io.BytesIO ...>" says nothing more.
        unknown = isinstance(e, Image.UnidentifiedImageError)
        kind = "not an image" if unknown else "unreadable"
        head = data[:15].lstrip().lower()
        if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
            kind = "HTML/markup instead of an image"
        elif not unknown:
            kind += f" ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})"
        log.warning("image %s skipped: %s", name, kind)
        return None
    if min(arr.shape[:2]) < 8:
        log.warning("image %s skipped: too small (%dx%d)", name, arr.shape[1], arr.shape[0])
        return None
    return arr


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL the network guard lets through."""

    def __init__(self, allow_hosts: frozenset[str]) -> None:
        self.allow_hosts = allow_hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        from crawler.netguard import check_url

        check_url(newurl, self.allow_hosts)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch(url: str, name: str, allow_hosts: frozenset[str]) -> bytes | None:
    # A listing's URL must not reach the machine's own or its network's private services:
    # public hosts, and the marketplaces' own hosts (CONTRACT §1), hop by hop.
    from crawler.netguard import UnsafeURL, check_url

    try:
        check_url(url, allow_hosts)
        opener = urllib.request.build_opener(_CheckedRedirects(allow_hosts))
        req = urllib.request.Request(url, headers={"User-Agent": "markwatch"})
        with opener.open(req, timeout=URL_TIMEOUT) as resp:
            data = resp.read(MAX_IMAGE_BYTES + 1)
    except UnsafeURL as e:
        log.warning("image %s skipped: refused (%s)", name, e)
        return None
    except Exception as e:  # noqa: BLE001 - network failures skip the photo
        log.warning("image %s skipped: download failed (%s)", name, e)
        return None
    if len(data) > MAX_IMAGE_BYTES:
        log.warning("image %s skipped: larger than %d bytes", name, MAX_IMAGE_BYTES)
        return None
    return data


def read_image_bytes(
    source: str | Path, name: str | None = None, fetch_urls: bool = False, allow_hosts: Iterable[str] = ()
) -> bytes | None:
    """The bytes of a photo (path or http(s) URL), or None with a logged warning.

    URLs are downloaded only with `fetch_urls`, from public hosts or `allow_hosts`.
    """
    ref = str(source)
    name = name or ref
    if ref.startswith(("http://", "https://")):
        if not fetch_urls:
            log.warning("image %s skipped: downloading is not enabled", name)
            return None
        return _fetch(ref, name, frozenset(allow_hosts))
    path = Path(ref)
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            log.warning(
                "image %s skipped: %d bytes exceeds the %d-byte limit", name, size, MAX_IMAGE_BYTES
            )
            return None
        return path.read_bytes()
    except OSError as e:
        log.warning("image %s skipped: cannot read (%s)", name, e.strerror or e)
        return None


def load_image(
    source: str | Path | bytes,
    name: str | None = None,
    fetch_urls: bool = False,
    max_side: int = MAX_SIDE,
) -> np.ndarray | None:
    """Read a photo (path, http(s) URL or bytes) as RGB, or None with a logged warning."""
    if isinstance(source, (bytes, bytearray)):
        return _decode(bytes(source), name or "(bytes)", max_side)
    name = name or str(source)
    data = read_image_bytes(source, name, fetch_urls)
    return None if data is None else _decode(data, name, max_side)


class PhotoStore(Protocol):
    """Where a `PhotoCache` keeps its findings beyond the process (the crawl's store)."""

    def load(self, sha256: str) -> list[dict[str, Any]] | None: ...

    def save(self, sha256: str, signals: list[dict[str, Any]]) -> None: ...


class PhotoCache:
    """Signals already computed for a photo, by the SHA-256 of its bytes (thread-safe LRU).

    Counterfeit listings reuse the same photos across listings, sellers and
    marketplaces; a photo seen before costs a digest instead of decoding and
    keypoint matching. With a `store`, findings outlive the process. Share one
    cache (and store) only between matchers of the same client and matching version.
    """

    # Stands for the photo's name in cached evidence, replaced on the way out.
    NAME = "\x00photo\x00"

    def __init__(self, size: int = 20_000, store: PhotoStore | None = None) -> None:
        self.size = size
        self.store = store
        self._entries: OrderedDict[str, tuple[Signal, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str) -> tuple[Signal, ...] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
        stored = self._load(key)
        with self._lock:
            if stored is None:
                self.misses += 1
                return None
            self.hits += 1
            self._remember(key, stored)
            return stored

    def put(self, key: str, signals: Iterable[Signal]) -> None:
        found = tuple(signals)
        with self._lock:
            self._remember(key, found)
        if self.store is not None:
            try:
                self.store.save(key, [asdict(s) for s in found])
            except Exception as exc:  # noqa: BLE001 - the findings are still in memory
                log.warning("photo findings not stored: %s", str(exc).splitlines()[0][:200])

    def _load(self, key: str) -> tuple[Signal, ...] | None:
        if self.store is None:
            return None
        try:
            rows = self.store.load(key)
            return None if rows is None else tuple(Signal(**row) for row in rows)
        except Exception as exc:  # noqa: BLE001 - unreadable findings are matched again
            log.warning(
                "stored photo findings unreadable, matching again: %s",
                str(exc).splitlines()[0][:200],
            )
            return None

    def _remember(self, key: str, signals: tuple[Signal, ...]) -> None:
        self._entries[key] = signals
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


# --------------------------------------------------------------------------- hashing


def trim_borders(rgb: np.ndarray, tol: int = 24, passes: int = 3) -> np.ndarray:
    """Cut uniform margins (frames, then the white canvas inside them)."""
    a = rgb
    for _ in range(passes):
        h, w = a.shape[:2]
        if h < 24 or w < 24:
            break
        corners = np.stack([a[0, 0], a[0, -1], a[-1, 0], a[-1, -1]]).astype(np.float64)
        ref = np.median(corners, axis=0)
        # |pixel - ref| <= tol in every channel, as one integer range test
        lo = np.ceil(ref - tol).clip(0, 255)
        hi = np.floor(ref + tol).clip(0, 255)
        near = cv2.inRange(np.ascontiguousarray(a), lo, hi)  # 0/255
        rows = cv2.reduce(near, 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel() / 255.0
        cols = cv2.reduce(near, 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel() / 255.0
        t, b, left, r = 0, h, 0, w
        while t < h // 2 and rows[t] > 0.97:
            t += 1
        while b > h // 2 and rows[b - 1] > 0.97:
            b -= 1
        while left < w // 2 and cols[left] > 0.97:
            left += 1
        while r > w // 2 and cols[r - 1] > 0.97:
            r -= 1
        if (t, b, left, r) == (0, h, 0, w) or b - t < 16 or r - left < 16:
            break
        a = a[t:b, left:r]
    return a


def _phash(gray: np.ndarray) -> np.ndarray:
    small = cv2.resize(gray.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].ravel()
    return np.packbits(low > np.median(low))


def _dhash(gray: np.ndarray) -> np.ndarray:
    small = cv2.resize(gray.astype(np.float32), (9, 8), interpolation=cv2.INTER_AREA)
    return np.packbits((small[:, 1:] > small[:, :-1]).ravel())


def image_hash(gray: np.ndarray) -> np.ndarray:
    """128 bits as 16 bytes: DCT hash (layout) then gradient hash (edges)."""
    return np.concatenate([_phash(gray), _dhash(gray)])


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between packed hashes, broadcast over leading axes."""
    return _POPCOUNT[np.bitwise_xor(a, b)].sum(axis=-1, dtype=np.int32)


def _rotate(gray: np.ndarray, deg: float) -> np.ndarray:
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(gray, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _to_gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


# --------------------------------------------------------------------------- index


@dataclass(slots=True)
class Reference:
    """One registered image: a product photo or a mark image."""

    mark_id: str
    product_id: str | None
    label: str  # e.g. products/acme-pad.jpg
    kind: str  # "product" or "mark"
    gray: np.ndarray
    mask: np.ndarray  # uint8 0/255: the object, without a plain background
    features: list[Features] = field(default_factory=list)  # [as registered, mirrored]

    @property
    def gray_mirrored(self) -> np.ndarray:
        return np.ascontiguousarray(self.gray[:, ::-1])

    @property
    def mask_mirrored(self) -> np.ndarray:
        return np.ascontiguousarray(self.mask[:, ::-1])

    @property
    def what(self) -> str:
        return f"registered {'product' if self.kind == 'product' else 'mark'} image {self.label}"


def _photo_sift() -> cv2.SIFT:
    # Keypoints are found on the photo enlarged SIFT_UPSCALE times, with the
    # scale space started finer so that it reaches the small scales of the
    # photo enlarged PHOTO_UPSCALE times, at about two thirds of the cost.
    return cv2.SIFT_create(
        nfeatures=PHOTO_FEATURES,
        contrastThreshold=SIFT_CONTRAST,
        sigma=1.6 * SIFT_UPSCALE / PHOTO_UPSCALE,
    )


def _photo_features(gray: np.ndarray, detector: cv2.SIFT, pad: int = 0) -> Features:
    """A photo's keypoints, in its own coordinates."""
    mid = cv2.resize(gray, None, fx=SIFT_UPSCALE, fy=SIFT_UPSCALE, interpolation=cv2.INTER_CUBIC)
    f = Features.of(mid, detector, pad=pad)
    return Features(f.points / SIFT_UPSCALE, f.descriptors)


def _enlarged(gray: np.ndarray, feats: Features) -> tuple[np.ndarray, Features]:
    """The photo enlarged PHOTO_UPSCALE times and its keypoints there."""
    up = cv2.resize(gray, None, fx=PHOTO_UPSCALE, fy=PHOTO_UPSCALE, interpolation=cv2.INTER_CUBIC)
    return up, Features(feats.points * PHOTO_UPSCALE, feats.descriptors)


def _label(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


class ImageMatcher:
    """Compares listing photos with a client's registered images; build once, reuse."""

    def __init__(
        self,
        references: list[Reference],
        logos: LogoDetector,
        *,
        ocr: bool = False,
        fetch_urls: bool = False,
        allow_hosts: Iterable[str] = (),
        terms: dict[str, list[str]] | None = None,
        max_photos: int = MAX_PHOTOS,
        cache: PhotoCache | None = None,
    ) -> None:
        self.references = references
        self.allow_hosts = frozenset(allow_hosts)
        self.cache = cache if cache is not None else PhotoCache()
        self.max_photos = max_photos
        self.logos = logos
        self.ocr = ocr
        self.fetch_urls = fetch_urls
        self.terms = terms or {}
        self._sift = _photo_sift()
        # One row per (reference, mirrored, rotation, crop) variant.
        rows: list[np.ndarray] = []
        meta: list[tuple[int, bool, float, tuple[float, float, float, float]]] = []
        for ri, ref in enumerate(references):
            base = trim_borders(np.dstack([ref.gray] * 3))[..., 0]
            for mirrored in (False, True):
                g0 = np.ascontiguousarray(base[:, ::-1]) if mirrored else base
                for deg in _ROTATIONS:
                    g = _rotate(g0, deg) if deg else g0
                    h, w = g.shape
                    for ct in _CROPS:
                        for cb in _CROPS:
                            for cl in _CROPS:
                                for cr in _CROPS:
                                    sub = g[
                                        int(h * ct) : h - int(h * cb), int(w * cl) : w - int(w * cr)
                                    ]
                                    rows.append(image_hash(sub))
                                    meta.append((ri, mirrored, deg, (ct, cb, cl, cr)))
        self._hashes = np.array(rows, np.uint8).reshape(-1, 16)
        self._hash_meta = meta
        self._hash_ref = np.array([m[0] for m in meta], np.int32)
        # All keypoints of all registered variants in one table; owner = 2 * ref + mirrored.
        des, pts, owner = [], [], []
        for ri, ref in enumerate(references):
            for mirrored, f in enumerate(ref.features):
                if len(f):
                    des.append(f.descriptors)
                    pts.append(f.points)
                    owner.append(np.full(len(f), 2 * ri + mirrored, np.int32))
        self._kp_des = np.vstack(des).astype(np.float32) if des else None
        self._kp = Features(np.vstack(pts) if pts else np.zeros((0, 2), np.float32), self._kp_des)
        self._kp_owner = np.concatenate(owner) if owner else np.zeros(0, np.int32)
        # Approximate nearest neighbours (kd-trees) keep the cost per photo low as
        # the number of registered images grows.
        self._flann = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": FLANN_CHECKS})
        self._bf = cv2.BFMatcher(cv2.NORM_L2)  # one registered image against one photo
        if self._kp_des is not None:
            self._flann.add([self._kp_des])
            self._flann.train()

    @classmethod
    def from_client(
        cls,
        client: Client,
        *,
        ocr: bool = False,
        fetch_urls: bool = False,
        max_photos: int = MAX_PHOTOS,
        cache: PhotoCache | None = None,
    ) -> ImageMatcher:
        """Load and index every mark and product image of the client file.

        `fetch_urls`: download listing photos given as http(s) URLs (public hosts and
        the client's marketplace hosts only)."""
        refs: list[Reference] = []
        logo_items: list[tuple[str, str, np.ndarray]] = []
        detector = sift()
        photo_detector = _photo_sift()

        def small_logo_view(gray: np.ndarray) -> tuple[np.ndarray, Features]:
            # padded: a small logo's outline needs the context a photo gives it
            return _enlarged(gray, _photo_features(gray, photo_detector, pad=LOGO_PAD))

        def add(path: Path, mark_id: str, product_id: str | None, kind: str) -> None:
            rgb = load_image(path, name=str(path))
            if rgb is None:
                return  # already warned; the mark is still matched by its other evidence
            label = _label(Path(path))
            gray = _to_gray(rgb)
            # Correlate only the object: plain backgrounds agree with any other render.
            mask = foreground_mask(rgb, tol=16).astype(np.uint8) * 255
            ref = Reference(mark_id, product_id, label, kind, gray, mask)
            ref.features = [
                Features.of(gray, detector),
                Features.of(np.ascontiguousarray(gray[:, ::-1]), detector),
            ]
            refs.append(ref)
            if kind == "mark":
                # Logos are described from the full-size artwork, not the thumbnail.
                full = load_image(path, name=str(path), max_side=LOGO_SOURCE_SIDE)
                logo_items.append((mark_id, label, full if full is not None else rgb))

        for mark in client.marks:
            for path in mark.images:
                add(path, mark.id, None, "mark")
        for product in client.products:
            for path in product.images:
                add(path, product.mark, product.id, "product")
        terms = {m.id: list(dict.fromkeys([m.title, *m.terms])) for m in client.marks}
        allow_hosts: set[str] = set()
        if fetch_urls:
            from crawler.netguard import marketplace_hosts

            allow_hosts = marketplace_hosts(client)
        return cls(
            refs,
            LogoDetector.from_images(logo_items, small_logo_view, SMALL_LOGO_WIDTHS),
            ocr=ocr,
            fetch_urls=fetch_urls,
            allow_hosts=allow_hosts,
            terms=terms,
            max_photos=max_photos,
            cache=cache,
        )

    # ----------------------------------------------------------------- matching

    def _photos(self, listing: ListingInput) -> list[tuple[str, str, bytes]]:
        """(short name, full name for warnings, bytes) of each readable photo."""
        out: list[tuple[str, str, bytes]] = []
        if listing.image_bytes:
            for i, data in enumerate(listing.image_bytes[: self.max_photos]):
                ref = listing.images[i] if i < len(listing.images) else None
                name = f"photo {i + 1}" + (f" ({ref})" if ref else "") + f" of {listing.id}"
                out.append((f"photo {i + 1}", name, data or b""))
            return out
        for i, ref in enumerate(listing.images[: self.max_photos]):
            name = f"photo {i + 1} ({ref}) of {listing.id}"
            data = read_image_bytes(ref, name, fetch_urls=self.fetch_urls, allow_hosts=self.allow_hosts)
            if data is not None:
                out.append((f"photo {i + 1}", name, data))
        return out

    def _photo_signals(self, data: bytes, short: str, name: str) -> list[Signal]:
        """Signals for one photo's bytes, from the cache when the same bytes were seen."""
        key = PhotoCache.key(data)
        cached = self.cache.get(key)
        if cached is None:
            rgb = _decode(data, name)
            if rgb is None:
                return []  # not cached: the warning names each listing that shows it
            cached = tuple(self.match_photo(rgb, PhotoCache.NAME))
            self.cache.put(key, cached)
        return [replace(s, detail=s.detail.replace(PhotoCache.NAME, short)) for s in cached]

    def match(self, listing: ListingInput) -> list[Signal]:
        """All image evidence for one listing, strongest first (never raises on bad photos)."""
        best: dict[tuple[str, str | None, str], Signal] = {}

        def keep(sig: Signal) -> None:
            key = (sig.kind, sig.mark_id, sig.product_id)
            if key not in best or sig.score > best[key].score:
                best[key] = sig

        for short, name, data in self._photos(listing):
            try:
                for sig in self._photo_signals(data, short, name):
                    keep(sig)
            except Exception:
                log.warning(
                    "image %s of %s skipped: matching failed", short, listing.id, exc_info=True
                )
        # A logo hit for a mark already proven by a copied image adds nothing.
        proven = {s.mark_id for s in best.values() if s.kind == "image"}
        signals = [s for s in best.values() if not (s.kind == "logo" and s.mark_id in proven)]
        return sorted(signals, key=lambda s: -s.score)

    def _keypoint_matches(self, feats: Features) -> list[tuple[int, bool, GeometricMatch]]:
        """(reference index, mirrored, transform) for each registered variant with support."""
        if len(feats) < 4 or self._kp_des is None:
            return []
        pairs = self._flann.knnMatch(feats.descriptors, k=2)
        good = np.array(
            [
                (m[0].queryIdx, m[0].trainIdx)
                for m in pairs
                if len(m) == 2 and m[0].distance < RATIO * m[1].distance
            ],
            np.int64,
        ).reshape(-1, 2)
        out = []
        owners = self._kp_owner[good[:, 1]]
        for owner in np.unique(owners):
            # (registered keypoint, photo keypoint) pairs of this variant
            gm = fit_similarity(self._kp, feats, good[owners == owner][:, ::-1], KP_MIN_MATCHES)
            if gm is not None:
                out.append((int(owner) // 2, bool(owner % 2), gm))
        return out

    def _match_one(self, ref: Features, feats: Features) -> GeometricMatch | None:
        """One registered variant placed in the photo, each photo keypoint asking for
        its nearest registered keypoint (a looser ratio test, see NEAR_RATIO)."""
        if len(feats) < 4 or len(ref) < 2:
            return None
        pairs = self._bf.knnMatch(feats.descriptors, ref.descriptors, k=2)
        good = [
            (m[0].trainIdx, m[0].queryIdx)
            for m in pairs
            if len(m) == 2 and m[0].distance < NEAR_RATIO * m[1].distance
        ]
        return fit_similarity(ref, feats, good, KP_MIN_MATCHES)

    def _keypoint_signal(
        self,
        ri: int,
        mirrored: bool,
        gm: GeometricMatch,
        gray: np.ndarray,
        name: str,
        checks: tuple[tuple[int, float], ...] = KP_CHECKS,
    ) -> Signal | None:
        """The evidence that the photo shows registered image `ri`, or None when it fails a check."""
        ref = self.references[ri]
        if gm.inliers < checks[-1][0] or gm.scale < KP_MIN_SCALE or abs(gm.angle) > KP_MAX_ANGLE:
            return None
        if ref.kind == "mark" and gm.scale * ref.gray.shape[1] < MARK_MIN_WIDTH * gray.shape[1]:
            return None  # a small mark inside the photo is the logo detector's finding
        ncc = None
        if gm.inliers < KP_STRONG_INLIERS:
            g, mk = (ref.gray_mirrored, ref.mask_mirrored) if mirrored else (ref.gray, ref.mask)
            ncc = warped_ncc(g, mk, gray, gm.matrix)
            if not any(gm.inliers >= n and ncc >= c for n, c in checks):
                return None
        score = (
            min(0.99, 0.75 + 0.005 * gm.inliers)
            if ncc is None
            else min(0.95, 0.5 + 0.4 * ncc + 0.01 * gm.inliers)
        )
        how = ["mirrored"] if mirrored else []
        if abs(gm.angle) >= 1.5:
            how.append(f"rotated {gm.angle:+.0f}°")
        extra = f", correlation {ncc:.2f}" if ncc is not None else ""
        return Signal(
            "image",
            score,
            f"{name} shows {ref.what}{' (' + ', '.join(how) + ')' if how else ''}: "
            f"{gm.inliers} keypoints agree on one placement{extra}",
            ref.mark_id,
            ref.product_id,
        )

    def match_photo(self, rgb: np.ndarray, name: str = "photo") -> list[Signal]:
        """Signals for one decoded RGB photo."""
        signals: list[Signal] = []
        gray = _to_gray(rgb)
        found: dict[int, Signal] = {}

        # 1. hashes of the trimmed photo against every registered variant at once
        trimmed = _to_gray(trim_borders(rgb))
        h = trimmed.shape[0]
        queries = np.stack(
            [image_hash(trimmed[int(h * top) : h - int(h * bottom)]) for top, bottom in _STRIPS]
        )
        dist = hamming(self._hashes[None, :, :], queries[:, None, :]).min(axis=0)
        near: dict[int, bool] = {}  # reference -> mirrored, hash close but not enough
        for j in np.argsort(dist):
            if dist[j] > HASH_NEAR_DISTANCE:
                break
            ri = int(self._hash_ref[j])
            if dist[j] > HASH_MAX_DISTANCE and ri not in near:
                near[ri] = self._hash_meta[j][1]
        for ri in np.unique(self._hash_ref[dist <= HASH_MAX_DISTANCE]):
            rows = np.nonzero(self._hash_ref == ri)[0]
            j = rows[int(dist[rows].argmin())]
            d = int(dist[j])
            _, mirrored, deg, crop = self._hash_meta[j]
            ref = self.references[ri]
            how = [
                w
                for w, on in (("mirrored", mirrored), ("rotated", deg != 0), ("cropped", any(crop)))
                if on
            ]
            desc = (", ".join(how) + " ") if how else ""
            score = 0.97 - 0.25 * d / HASH_SCORE_SPAN
            found[ri] = Signal(
                "image",
                score,
                f"{name} is a {desc}copy of {ref.what} (hash distance {d}/128)",
                ref.mark_id,
                ref.product_id,
            )

        # 2. keypoints with a geometric and photometric check; one nearest-neighbour
        # pass over the descriptors of all registered images (and mirror images)
        # at once, so the ratio test also rejects features common to several.
        feats = _photo_features(gray, self._sift)
        # The same keypoints in the enlarged photo's coordinates, where the logo
        # check correlates (thin lettering survives enlarging better than
        # shrinking the logo).
        up, up_feats = _enlarged(gray, feats)
        for ri, mirrored, gm in self._keypoint_matches(feats):
            sig = self._keypoint_signal(ri, mirrored, gm, gray, name)
            if sig is not None and (ri not in found or sig.score > found[ri].score):
                found[ri] = sig
        # A photo whose hash comes near one registered image without reaching it (a
        # large overlay across a plain render, a repeating pattern) is compared with
        # that image alone and a looser ratio test, which no longer drops the matches
        # that the other images or the pattern's own repeats make ambiguous.
        for ri, mirrored in near.items():
            if ri in found:
                continue
            gm = self._match_one(self.references[ri].features[int(mirrored)], feats)
            sig = self._keypoint_signal(ri, mirrored, gm, gray, name, NEAR_CHECKS) if gm else None
            if sig is not None:
                found[ri] = sig
        signals.extend(found.values())

        # 3. registered logos inside the photo
        copied = {self.references[ri].mark_id for ri in found}
        for hit in self.logos.detect(up, up_feats) if len(up_feats) >= 4 else []:
            if hit.logo.mark_id in copied:
                continue
            mirrored = ", mirrored" if hit.logo.mirrored else ""
            if hit.logo.inverted:
                mirrored += ", in reversed tones"
            signals.append(
                Signal(
                    "logo",
                    hit.score,
                    f"{name} contains registered logo {hit.logo.label} at {hit.width_fraction:.0%} of its width"
                    f"{mirrored} ({hit.inliers} keypoints agree, correlation {hit.ncc:.2f})",
                    hit.logo.mark_id,
                    None,
                )
            )

        # 4. text written in the photo
        if self.ocr and self.terms:
            from matching.ocr import find_terms, read_text

            text = read_text(rgb)
            for mark_id, term, seen, score in find_terms(text, self.terms):
                signals.append(
                    Signal(
                        "ocr",
                        score,
                        f"{name} shows the text '{seen}', which matches term '{term}'",
                        mark_id,
                        None,
                    )
                )
        return signals
