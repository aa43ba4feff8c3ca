"""Detection quality on the labelled dev split: runs `markwatch score`, prints the evaluator's table.

    python benchmarks/detection.py [--dev ../shared/benchmark/dev] [--by-variant] [--out scores.jsonl]

The same build is also measured on a held-out split with other brands and pictures;
figures here are for development, see README "Matching" for the targets.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEV = ROOT.parent / "shared" / "benchmark" / "dev"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--dev",
        type=Path,
        default=DEFAULT_DEV,
        help="folder with markwatch.yaml, listings.jsonl, labels.jsonl",
    )
    ap.add_argument("--out", type=Path, help="keep the scores here (default: a temporary file)")
    ap.add_argument(
        "--by-variant", action="store_true", help="also break categories down by variant"
    )
    a = ap.parse_args(argv)
    dev = a.dev.resolve()
    evaluate = dev.parent / "evaluate.py"
    for need in (dev / "markwatch.yaml", dev / "listings.jsonl", dev / "labels.jsonl", evaluate):
        if not need.is_file():
            print(f"detection: {need} not found (pass --dev FOLDER)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = a.out or Path(tmp) / "scores.jsonl"
        start = time.perf_counter()
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "crawler.cli",
                "score",
                "--config",
                str(dev / "markwatch.yaml"),
                "--listings",
                str(dev / "listings.jsonl"),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - start
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            return res.returncode
        print(f"markwatch score: {took:.1f} s for {dev / 'listings.jsonl'}")
        cmd = [
            sys.executable,
            str(evaluate),
            "--labels",
            str(dev / "labels.jsonl"),
            "--scores",
            str(out),
        ]
        if a.by_variant:
            cmd.append("--by-variant")
        return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
