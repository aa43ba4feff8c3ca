"""Speed of `markwatch score` against the bound of the work it cannot avoid.

    python benchmarks/score_speed.py [--dev ../shared/benchmark/dev] [--big 20000]

Prints listings/s of `markwatch score` on the dev set and on a set of --big
listings made by repeating it (ids made unique), and, measured in the same run,
the bound: decoding and hashing the same images (PIL + imagehash pHash, on all
cores) plus one `rapidfuzz.process.cdist` of the same titles against the same
terms. The ratio score/bound is the figure to watch (goal >= 0.5). Peak memory
is the largest resident set of the command's processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV = ROOT.parent / "shared" / "benchmark" / "dev"


def _hash_images(paths: list[str]) -> int:
    import imagehash
    from PIL import Image

    done = 0
    for p in paths:
        try:
            with Image.open(p) as im:
                im.load()
                imagehash.phash(im)
                done += 1
        except OSError:
            pass
    return done


def bound(listings: list[dict], base: Path, terms: list[str], images: bool = True) -> float:
    """Seconds for the unavoidable work: image decode + hash, titles x terms."""
    from rapidfuzz import fuzz, process

    images = [] if not images else [
        str(base / p)
        for row in listings
        for p in row.get("images") or []
        if not p.startswith("http")
    ]
    cores = os.cpu_count() or 1
    chunks = [images[i::cores] for i in range(cores)]
    start = time.perf_counter()
    with Pool(cores) as pool:
        pool.map(_hash_images, chunks)
    titles = [row["title"] for row in listings]
    process.cdist(titles, terms, scorer=fuzz.partial_ratio, workers=-1)
    return time.perf_counter() - start


def run_score(config: Path, listings: Path, out: Path, extra: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "score",
            "--config",
            str(config),
            "--listings",
            str(listings),
            "--out",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return took, rss_mb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    ap.add_argument("--big", type=int, default=20000, help="size of the repeated set (0 to skip)")
    ap.add_argument("--no-images", action="store_true", help="text signals only (and a text-only bound)")
    a = ap.parse_args(argv)
    dev = a.dev.resolve()
    sys.path.insert(0, str(ROOT))
    from crawler.config import load_client
    from matching.text import mark_terms

    client = load_client(dev / "markwatch.yaml")
    terms = [t for m in client.marks for t in mark_terms(m)]
    rows = [
        json.loads(x)
        for x in (dev / "listings.jsonl").read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]
    print(
        f"{'set':<12}{'listings':>10}{'score s':>10}{'listings/s':>12}{'bound s':>10}{'bound/s':>10}"
        f"{'ratio':>8}{'peak MB':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        sets = [("dev", dev / "listings.jsonl", rows)]
        if a.big:
            big = Path(tmp) / "big.jsonl"
            big_rows = []
            with big.open("w", encoding="utf-8") as f:
                for i in range(a.big):
                    row = dict(rows[i % len(rows)])
                    row["id"] = f"{row['id']}#{i // len(rows)}"
                    row["images"] = [
                        p if p.startswith("http") else str(dev / p) for p in row.get("images") or []
                    ]
                    big_rows.append(row)
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
            sets.append((f"repeat {a.big // 1000}k", big, big_rows))
        for name, path, data in sets:
            extra = ["--no-images"] if a.no_images else []
            took, rss = run_score(dev / "markwatch.yaml", path, Path(tmp) / "out.jsonl", extra)
            b = bound(data, dev, terms, images=not a.no_images)
            n = len(data)
            print(
                f"{name:<12}{n:>10}{took:>10.1f}{n / took:>12.0f}{b:>10.1f}{n / b:>10.0f}{b / took:>8.2f}"
                f"{rss:>9.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
