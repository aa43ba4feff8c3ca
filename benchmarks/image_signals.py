"""Recall and false-positive rate of the image signals alone, per category and variant.

    python benchmarks/image_signals.py [--dev DIR] [--ocr] [--limit N] [--categories A,B]

A listing counts as flagged when `ImageMatcher.match` returns any signal (of
kind image, logo, or ocr with --ocr). Text, price and seller evidence are not
used, so only the image categories (P-image, P-logo, N-image-distractor) and
the negatives are meaningful here. Also prints photos per second of `match`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
from threadpoolctl import threadpool_limits

from crawler.config import load_client
from matching.image import ImageMatcher
from matching.types import ListingInput

DEFAULT_DEV = Path(__file__).resolve().parents[2] / "shared" / "benchmark" / "dev"


def print_categories(cats: dict[str, list[int]]) -> None:
    """The per-category table; each row is [listings, flagged, flagged with the right mark, label]."""
    print(f"{'category':<22}{'n':>5}{'flagged':>9}{'recall':>8}{'FPR':>7}{'mark_ok':>9}")
    print("-" * 60)
    for name, (n, f, ok, lab) in sorted(cats.items(), key=lambda kv: (-kv[1][3], kv[0])):
        rate = f / n if n else 0.0
        rec, fpr = (f"{rate:.3f}", "  -") if lab else ("  -", f"{rate:.3f}")
        print(f"{name:<22}{n:>5}{f:>9}{rec:>8}{fpr:>7}{(ok / f if f and lab else 0):>9.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--dev",
        type=Path,
        default=DEFAULT_DEV,
        help="benchmark folder (markwatch.yaml, listings, labels)",
    )
    ap.add_argument("--ocr", action="store_true", help="also read text in photos")
    ap.add_argument("--limit", type=int, default=0, help="score only the first N listings")
    ap.add_argument(
        "--categories",
        default="P-image,P-logo,N-image-distractor,N-random,N-nearmiss,N-authorized,N-resale",
        help="comma-separated categories to score",
    )
    ap.add_argument(
        "--misses", action="store_true", help="list missed positives and false positives"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    # One core, as in each worker of `markwatch score`: the figures are per core.
    cv2.setNumThreads(1)
    threadpool_limits(1)  # the BLAS behind matrix products too

    labels = {}
    for line in (args.dev / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            labels[r["id"]] = r
    wanted = set(args.categories.split(","))
    listings = []
    for line in (args.dev / "listings.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            if labels.get(d["id"], {}).get("category") in wanted:
                listings.append(ListingInput.from_dict(d, base_dir=args.dev))
    if args.limit:
        listings = listings[: args.limit]

    t0 = time.perf_counter()
    matcher = ImageMatcher.from_client(load_client(args.dev / "markwatch.yaml"), ocr=args.ocr)
    t_index = time.perf_counter() - t0

    cats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # n, flagged, mark right, label
    variants: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    kinds: dict[str, int] = defaultdict(int)
    transforms: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    n_photos = 0
    t0 = time.perf_counter()
    c0 = time.process_time()  # CPU time: steadier than wall time on a busy machine
    for lst in listings:
        y = labels[lst.id]
        n_photos += len(lst.images)
        sigs = matcher.match(lst)
        flagged = bool(sigs)
        c = cats[y["category"]]
        c[0] += 1
        c[1] += flagged
        c[2] += bool(sigs) and sigs[0].mark_id == y.get("mark_id")
        c[3] = y["label"]
        v = variants[f"{y['category']}/{str(y.get('variant', '')).split(':')[0]}"]
        v[0] += 1
        v[1] += flagged
        v[2] = y["label"]
        detail = str(y.get("variant", "")).split(":")
        if len(detail) == 2 and y["category"] in ("P-image", "N-image-distractor"):
            for part in detail[1].split("+"):
                t = transforms[f"{y['category']}/{part}"]
                t[0] += 1
                t[1] += flagged
        for s in sigs[:1]:
            kinds[s.kind] += 1
        if args.misses and flagged != bool(y["label"]):
            print(
                f"{'MISS' if y['label'] else 'FP  '} {y['category']:<20} {y.get('variant')} {lst.id}",
                end=" ",
            )
            print(sigs[0].detail if sigs else "")
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0

    print_categories(cats)
    print(f"\n{'category/variant':<30}{'n':>5}{'flag_rate':>10}")
    for name, (n, f, _) in sorted(variants.items()):
        print(f"{name:<30}{n:>5}{f / n:>10.3f}")
    print(f"\n{'category/transform (photos having it)':<40}{'n':>5}{'flag_rate':>10}")
    for name, (n, f) in sorted(transforms.items()):
        print(f"{name:<40}{n:>5}{f / n:>10.3f}")
    print(f"\nstrongest signal kinds: {dict(kinds)}")
    print(
        f"index built in {t_index:.2f}s; {n_photos} photos in {elapsed:.1f}s = {n_photos / elapsed:.1f} photos/s "
        f"({len(listings) / elapsed:.1f} listings/s, one core); "
        f"{1000 * cpu / max(n_photos, 1):.0f} ms CPU per photo"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
