"""Keypoint matching with a geometric check: registered logos inside listing photos.

A registered logo shown small (roughly 5-100 % of the photo's width) inside
another photo has too few pixels for a whole-image hash, but its corners and
letter shapes survive as SIFT keypoints. A match needs three things at once:

1. descriptor matches that pass Lowe's ratio test against the logo alone,
2. a similarity transform (RANSAC) that explains enough of them, and
3. a photometric check: the logo warped into the photo by that transform must
   correlate with the pixels it lands on (normalised cross-correlation inside
   the logo's own shape), so that a few accidental keypoint agreements on an
   unrelated logo or texture do not count.

`KeypointIndex` is shared with the near-duplicate matcher in `matching.image`,
which compares whole registered photos with the same machinery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)

# SIFT with a low contrast threshold keeps keypoints on flat, low-contrast art
# (drawn logos, dark photos); the cap bounds the cost per photo.
SIFT_FEATURES = 800
SIFT_CONTRAST = 0.02
RATIO = 0.8  # Lowe's ratio test
RANSAC_PX = 4.0
LOGO_WIDTH = 160  # logos are described at about the size they appear in photos
LOGO_PAD = 8

# Defaults of the decision; a precision/recall trade-off measured on the dev set
# (benchmarks/image_signals.py): fewer inliers or a lower correlation find more
# small logos and let more unrelated marks through.
# (min inliers, min correlation): strong geometry may look less alike (thin
# lettering at 10 % of the width blurs), weak geometry must look alike.
# Very strong geometry (25 keypoints in one placement, as many as a whole copied
# photo needs) only has to look somewhat alike: a logo cut out onto a busy
# ground correlates poorly inside its outline.
# Three keypoints in one placement are the most a logo 10-15 % of the photo's
# width often keeps (its lettering has blurred away), and they check the
# placement very little (two fix a similarity): such a placement must look
# nearly the same. Three keypoints agreeing by chance (another logo, a texture,
# the wrong place) correlated at 0.81 at most, while true placements found only
# this way correlate at 0.9-0.98 (benchmarks/heldout_images.py seeds 21-24,
# 1400 photos).
FEW_INLIERS_CHECK = (3, 0.9)
LOGO_CHECKS = ((25, 0.3), (15, 0.55), (4, 0.75), FEW_INLIERS_CHECK)
LOGO_MIN_INLIERS = FEW_INLIERS_CHECK[0]
LOGO_MIN_NCC = 0.75  # where a hit's score starts (see LogoDetector.detect)
LOGO_RATIO = RATIO
LOGO_MIN_WIDTH = 0.04  # fraction of the photo's width
# Most of the logo must land inside the photo: the part that agrees could be a
# generic emblem (a triangle, a ring) shared with other marks, while the part
# that tells them apart (the name) would fall outside and go unchecked.
LOGO_MIN_INSIDE = 0.8
LOGO_MAX_WIDTH = 1.3
# A logo whose shape covers this much of its box is a filled shape (a badge).
# Cut out onto a busy photo, what surrounds it is the photo, not the logo's
# ground, so it is also correlated inside its outline alone (no rim).
FILLED_SHAPE = 0.4
# (mirrored, inverted) variants of each logo that are described. Artwork drawn
# dark on white is often printed light on a dark product, or cut out onto a
# darker photo: every gradient around its letters then points the other way,
# which gives other SIFT descriptors, so the reversed tones are described too
# (mirrored and reversed at once is rare and would cost another third).
LOGO_VARIANTS = ((False, False), (True, False), (False, True))
# Logos drawn at photo size are described again as photos are (see
# LogoDetector.from_images). Such a view is believed only near its own size,
# and having few keypoints, a few agreeing by chance on another small logo in
# the same style is likelier: its weakest geometry must look more alike.
SMALL_VIEW_SCALES = (0.6, 1.7)
SMALL_VIEW_CHECKS = (*LOGO_CHECKS[:2], (4, 0.8), FEW_INLIERS_CHECK)


def sift(features: int = SIFT_FEATURES) -> cv2.SIFT:
    return cv2.SIFT_create(nfeatures=features, contrastThreshold=SIFT_CONTRAST)


@dataclass(slots=True)
class Features:
    """Keypoint positions (N x 2, float32) and SIFT descriptors (N x 128) of one image."""

    points: np.ndarray
    descriptors: np.ndarray | None

    @classmethod
    def of(cls, gray: np.ndarray, detector: cv2.SIFT | None = None, pad: int = 0) -> Features:
        detector = detector or sift()
        img = gray
        if pad:
            # Keypoints need context around them: a logo cut tight to its edge
            # would lose the ones on its outline.
            border = int(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
            img = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=border)
        kps, des = detector.detectAndCompute(img, None)
        pts = np.float32([k.pt for k in kps]).reshape(-1, 2) - pad
        return cls(pts, des if des is not None and len(kps) else None)

    def __len__(self) -> int:
        return 0 if self.descriptors is None else len(self.descriptors)


@dataclass(slots=True)
class GeometricMatch:
    """A transform taking reference pixels to photo pixels, with its support."""

    matrix: np.ndarray  # 2 x 3 similarity transform
    inliers: int
    matches: int

    @property
    def scale(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @property
    def angle(self) -> float:
        return float(np.degrees(np.arctan2(self.matrix[1, 0], self.matrix[0, 0])))


_matcher = cv2.BFMatcher(cv2.NORM_L2)


def geometric_match(
    ref: Features, photo: Features, min_matches: int = 3, ratio: float = RATIO
) -> GeometricMatch | None:
    """Ratio-test matches of `ref` in `photo`, then a RANSAC similarity transform."""
    if len(ref) < 2 or len(photo) < 2:
        return None
    pairs = _matcher.knnMatch(ref.descriptors, photo.descriptors, k=2)
    # One photo keypoint may answer for one reference keypoint only: repeated
    # letters otherwise pile onto a single point and inflate the support.
    taken: dict[int, tuple[float, int]] = {}
    for m in pairs:
        if len(m) == 2 and m[0].distance < ratio * m[1].distance:
            t = m[0].trainIdx
            if t not in taken or m[0].distance < taken[t][0]:
                taken[t] = (m[0].distance, m[0].queryIdx)
    good = [(q, t) for t, (_, q) in taken.items()]
    return fit_similarity(ref, photo, good, min_matches)


def fit_similarity(
    ref: Features, photo: Features, good: list[tuple[int, int]] | np.ndarray, min_matches: int
) -> GeometricMatch | None:
    """The RANSAC similarity transform that best places `ref` in `photo`, given
    (ref keypoint, photo keypoint) pairs; None with fewer than `min_matches` pairs."""
    if len(good) < min_matches:
        return None
    idx = np.asarray(good).reshape(-1, 2)
    src, dst = ref.points[idx[:, 0]], photo.points[idx[:, 1]]
    matrix, inl = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX, maxIters=2000
    )
    if matrix is None or inl is None:
        return None
    return GeometricMatch(matrix, int(inl.sum()), len(good))


def _two_nearest(
    query: np.ndarray, query_sq: np.ndarray, train: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest train row, its L2 distance and the second-nearest distance, per query row.

    One matrix product for all queries: the same answer as a brute-force
    k=2 matcher, several times cheaper when many small sets are matched.
    """
    # |q - t|^2 = |q|^2 - 2 (q.t - |t|^2 / 2): the nearest train rows are those
    # of the largest q.t - |t|^2 / 2, found with one pass over the product
    # each; |q|^2 is only added to the two distances kept.
    t = np.ascontiguousarray(train, np.float32)
    sim = query @ t.T
    sim -= 0.5 * np.einsum("ij,ij->i", t, t)[None, :]
    rows = np.arange(len(sim))
    first = sim.argmax(axis=1)
    s0 = sim[rows, first].copy()
    sim[rows, first] = -np.inf
    s1 = sim.max(axis=1)
    d0 = np.sqrt(np.maximum(query_sq - 2.0 * s0, 0.0))
    d1 = np.sqrt(np.maximum(query_sq - 2.0 * s1, 0.0))
    return first, d0, d1


def _unique_matches(first: np.ndarray, d0: np.ndarray, d1: np.ndarray, ratio: float) -> np.ndarray:
    """(query, train) pairs passing the ratio test, one query per train point.

    Same choice and order as `geometric_match`: the closest query wins a train
    point, pairs ordered by the first query that reached it.
    """
    q = np.nonzero(d0 < ratio * d1)[0]
    if not len(q):
        return np.zeros((0, 2), np.int64)
    t = first[q]
    # closest query per train point (lowest query index on ties)
    order = np.lexsort((q, d0[q], t))
    t_sorted = t[order]
    head = np.ones(len(order), bool)
    head[1:] = t_sorted[1:] != t_sorted[:-1]
    best_q = q[order][head]
    uniq_t = t_sorted[head]
    # order of first appearance of each train point in query order
    first_seen = np.full(int(t.max()) + 1, len(q), np.int64)
    np.minimum.at(first_seen, t, np.arange(len(q)))
    rank = np.argsort(first_seen[uniq_t], kind="stable")
    return np.stack([best_q[rank], uniq_t[rank]], axis=1)


def warped_ncc(
    ref_gray: np.ndarray, ref_mask: np.ndarray | None, photo_gray: np.ndarray, m: np.ndarray
) -> float:
    """Correlation of the reference warped by `m` with the photo, inside its shape.

    Both sides are slightly blurred so that half-pixel misalignment of thin
    strokes does not count against a true match. Brightness and contrast
    changes (colour jitter) do not change a normalised correlation.
    """
    # Only the window the reference lands in is warped and compared (with a
    # margin for the blur): the values over the whole photo (to 1e-3), at a
    # fraction of the cost when the reference is small in the photo.
    h, w = photo_gray.shape[:2]
    rh, rw = ref_gray.shape[:2]
    corners = np.float64([[0, 0], [rw, 0], [0, rh], [rw, rh]]) @ m[:, :2].T + m[:, 2]
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 2, 0)
    x1 = min(w, int(np.ceil(corners[:, 0].max())) + 3)
    y1 = min(h, int(np.ceil(corners[:, 1].max())) + 3)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return -1.0
    m = np.float64(m).copy()
    m[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    photo_gray = photo_gray[y0:y1, x0:x1]
    warped = cv2.warpAffine(ref_gray, m, size, flags=cv2.INTER_AREA)
    if ref_mask is None:
        ref_mask = np.full(ref_gray.shape[:2], 255, np.uint8)
    mask = cv2.warpAffine(ref_mask, m, size, flags=cv2.INTER_NEAREST) > 0
    # Erode so that the warp's interpolated rim does not enter the comparison,
    # unless that would leave little of a thin shape (small lettering).
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if eroded.sum() >= 0.5 * mask.sum():
        mask = eroded
    if mask.sum() < 50:
        return -1.0
    x = cv2.GaussianBlur(warped, (3, 3), 0)[mask].astype(np.float32)
    y = cv2.GaussianBlur(photo_gray, (3, 3), 0)[mask].astype(np.float32)
    x -= x.mean()
    y -= y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else -1.0


def _inside_fraction(mask: np.ndarray, m: np.ndarray, shape: tuple[int, int]) -> float:
    """Share of the mask's area that the transform `m` puts inside an image of `shape`."""
    h, w = shape
    inside = cv2.countNonZero(cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST))
    scale2 = abs(float(np.linalg.det(m[:, :2])))
    total = cv2.countNonZero(mask) * scale2
    return inside / total if total > 0 else 0.0


def _variant(
    gray: np.ndarray, mask: np.ndarray, mirrored: bool, inverted: bool
) -> tuple[np.ndarray, np.ndarray]:
    if mirrored:
        gray, mask = gray[:, ::-1].copy(), mask[:, ::-1].copy()
    return (255 - gray if inverted else gray), mask


def _with_rim(mask: np.ndarray, size: int) -> np.ndarray:
    """The logo's own strokes and a thin rim of what surrounds them.

    Correlation is checked there only: a logo cut out onto another photo
    keeps its strokes and their edges, while what lay between its letters
    now comes from the photo.
    """
    return cv2.dilate(mask, np.ones((size, size), np.uint8))


def _filled(mask: np.ndarray) -> np.ndarray | None:
    """The logo's outline when it is a filled shape (most of its box), else None."""
    return mask if np.count_nonzero(mask) >= FILLED_SHAPE * mask.size else None


def foreground_mask(rgb: np.ndarray, tol: int = 12) -> np.ndarray:
    """The logo's own shape: everything not connected to the corners' background."""
    h, w = rgb.shape[:2]
    background = np.zeros((h, w), bool)
    img = np.ascontiguousarray(rgb)
    for y, x in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)):
        if background[y, x]:
            continue
        flood = np.zeros((h + 2, w + 2), np.uint8)
        flags = cv2.FLOODFILL_MASK_ONLY | (255 << 8) | 8
        cv2.floodFill(img.copy(), flood, (x, y), (0, 0, 0), (tol,) * 3, (tol,) * 3, flags)
        background |= flood[1:-1, 1:-1] > 0
    fg = ~background
    if fg.mean() < 0.02:  # nothing stands out: use the whole picture
        fg[:] = True
    return fg


@dataclass(slots=True)
class Logo:
    """A registered logo prepared for detection."""

    mark_id: str
    label: str  # how the evidence names it, e.g. marks/acme-logo.png
    gray: np.ndarray
    mask: np.ndarray  # uint8 0/255, the logo's shape
    features: Features
    mirrored: bool = False
    inverted: bool = False  # tones reversed: light artwork on a darker ground
    small_view: bool = False  # drawn at photo size (see LogoDetector.from_images)
    shape: np.ndarray | None = None  # its outline, when it is a filled shape (FILLED_SHAPE)


@dataclass(slots=True)
class LogoHit:
    logo: Logo
    score: float
    inliers: int
    ncc: float
    width_fraction: float
    angle: float


class LogoDetector:
    """Finds registered logos inside photos; build once, call `detect` per photo."""

    def __init__(self, logos: list[Logo]) -> None:
        self.logos = logos
        # All logos' descriptors in one table, matched to a photo in one product.
        des = [lg.features.descriptors for lg in logos if len(lg.features)]
        self._des = (
            np.ascontiguousarray(np.vstack(des), np.float32)
            if des
            else np.zeros((0, 128), np.float32)
        )
        self._sq = np.einsum("ij,ij->i", self._des, self._des)
        ends = np.cumsum([len(lg.features) for lg in logos])
        self._spans = [(int(e - len(lg.features)), int(e)) for lg, e in zip(logos, ends)]

    @classmethod
    def from_images(
        cls,
        items: list[tuple[str, str, np.ndarray]],
        small_view: Callable[[np.ndarray], tuple[np.ndarray, Features]] | None = None,
        small_widths: tuple[int, ...] = (),
    ) -> LogoDetector:
        """Build from (mark_id, label, RGB array) of the registered logo images.

        Each logo is described at LOGO_WIDTH and, when `small_view` is given,
        also drawn `small_widths` pixels wide and described by `small_view`
        the way photos are: it returns the gray image and its features in the
        coordinates photos are matched in.
        """
        detector = sift()

        def describe(gray: np.ndarray) -> tuple[np.ndarray, Features]:
            return gray, Features.of(gray, detector, pad=LOGO_PAD)

        logos: list[Logo] = []
        for mark_id, label, rgb in items:
            fg = foreground_mask(rgb)
            ys, xs = np.nonzero(fg)
            rgb = rgb[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            fg = fg[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]

            def drawn(
                width: int, rgb: np.ndarray = rgb, fg: np.ndarray = fg
            ) -> tuple[np.ndarray, np.ndarray]:
                scale = width / rgb.shape[1]
                size = (width, max(4, round(rgb.shape[0] * scale)))
                interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
                gray = cv2.cvtColor(cv2.resize(rgb, size, interpolation=interp), cv2.COLOR_RGB2GRAY)
                mask = cv2.resize(fg.astype(np.uint8) * 255, size, interpolation=cv2.INTER_NEAREST)
                return gray, mask

            # (gray, mask, how it is described, rim in pixels, small view) per size
            views = [(*drawn(LOGO_WIDTH), describe, 5, False)]
            if small_view is not None:
                # A logo a few dozen pixels wide has lost its fine lettering; its
                # keypoints are those of its blurred, blocky self, so that self is
                # described too, and believed only near the size it was drawn at.
                views += [(*drawn(width), small_view, 3, True) for width in small_widths]
            for gray, mask, describe_view, rim, small in views:
                for mirrored, inverted in LOGO_VARIANTS:
                    g, mk = _variant(gray, mask, mirrored, inverted)
                    view, feats = describe_view(g)
                    if len(feats) < 4:
                        if not small:
                            log.warning(
                                "logo %s has too few keypoints to be found inside photos", label
                            )
                        break
                    mk = cv2.resize(mk, view.shape[::-1], interpolation=cv2.INTER_NEAREST)
                    logos.append(
                        Logo(
                            mark_id,
                            label,
                            view,
                            _with_rim(mk, rim),
                            feats,
                            mirrored,
                            inverted,
                            small,
                            _filled(mk),
                        )
                    )
        return cls(logos)

    def detect(self, photo_gray: np.ndarray, photo: Features) -> list[LogoHit]:
        """Every registered logo found in the photo (best placement per logo)."""
        best: dict[tuple[str, str], LogoHit] = {}
        width = photo_gray.shape[1]
        if len(photo) < 2 or not len(self._des):
            return []
        first, d0, d1 = _two_nearest(self._des, self._sq, photo.descriptors)
        # A placement needs LOGO_MIN_INLIERS matches passing the ratio test: most
        # logos have fewer in a given photo and are not looked at further.
        passing = np.concatenate([[0], np.cumsum(d0 < LOGO_RATIO * d1)])
        for logo, (a, b) in zip(self.logos, self._spans):
            if b - a < 2 or passing[b] - passing[a] < LOGO_MIN_INLIERS:
                continue
            pairs = _unique_matches(first[a:b], d0[a:b], d1[a:b], LOGO_RATIO)
            gm = fit_similarity(logo.features, photo, pairs, 3)
            if gm is None or gm.inliers < LOGO_MIN_INLIERS:
                continue
            lo, hi = SMALL_VIEW_SCALES if logo.small_view else (0.0, np.inf)
            if not lo <= gm.scale <= hi:
                continue
            frac = gm.scale * logo.gray.shape[1] / width
            if not LOGO_MIN_WIDTH <= frac <= LOGO_MAX_WIDTH:
                continue
            if _inside_fraction(logo.mask, gm.matrix, photo_gray.shape[:2]) < LOGO_MIN_INSIDE:
                continue
            ncc = warped_ncc(logo.gray, logo.mask, photo_gray, gm.matrix)
            if logo.shape is not None:
                ncc = max(ncc, warped_ncc(logo.gray, logo.shape, photo_gray, gm.matrix))
            checks = SMALL_VIEW_CHECKS if logo.small_view else LOGO_CHECKS
            if not any(gm.inliers >= n and ncc >= c for n, c in checks):
                continue
            # Correlation carries most of the weight; inliers add confidence.
            score = float(
                np.clip(
                    0.55 + 0.35 * (ncc - LOGO_MIN_NCC) / (1 - LOGO_MIN_NCC) + 0.01 * gm.inliers,
                    0.5,
                    1.0,
                )
            )
            hit = LogoHit(logo, score, gm.inliers, ncc, frac, gm.angle)
            key = (logo.mark_id, logo.label)
            if key not in best or hit.score > best[key].score:
                best[key] = hit
        return sorted(best.values(), key=lambda h: -h.score)
