"""Crawl speed: a full monitoring cycle against a bare Scrapy crawl of the same pages.

Serves a few thousand listings with distinct photos from the local marketplace
server, then measures in the same run:

- bare: each marketplace's spider fetching and parsing every result page, no pipelines
  (as many marketplaces at once as the cycle crawls);
- full: `markwatch run`'s cycle (normalise, images with download and hashes, store,
  assess, intake) into a fresh SQLite store.

Prints pages/s and listings/s of both and the ratio full/bare (goal: >= 0.8).

    .venv/bin/python benchmarks/crawl_speed.py [--listings 3000] [--markets aliexpress,amazon,ebay]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.config import load_client
from crawler.marketplace_server import MarketplaceServer
from crawler.monitor import crawls_at_once, run_cycle
from crawler.spider import run_crawl

WORDS = ["wireless", "earbuds", "bluetooth", "sport", "charging", "case", "smart", "watch", "bass", "noise",
         "cancelling", "headset", "fitness", "tracker", "waterproof", "mini", "pro", "max", "2026", "new"]


def make_images(folder: Path, count: int, rng: random.Random) -> list[str]:
    names = []
    for i in range(count):
        img = Image.new("RGB", (240, 240), tuple(rng.randint(120, 255) for _ in range(3)))
        draw = ImageDraw.Draw(img)
        for _ in range(5):
            x, y, s = rng.randint(0, 180), rng.randint(0, 180), rng.randint(20, 90)
            draw.ellipse((x, y, x + s, y + s), fill=tuple(rng.randint(0, 255) for _ in range(3)))
        name = f"p{i:04d}.jpg"
        img.save(folder / name, quality=80)
        names.append(name)
    return names


def make_catalogue(markets: list[str], n: int, images: list[str], rng: random.Random) -> list[dict]:
    items = []
    for i in range(n):
        market = markets[i % len(markets)]
        brand = rng.choice(["Lumora", "Lumora", "Lum0ra", ""])
        title = " ".join([brand, *rng.sample(WORDS, 6)]).strip()
        items.append({
            "marketplace": market, "listing_id": f"{9000000 + i}", "title": title,
            "price": round(rng.uniform(3, 150), 2), "currency": "USD", "seller_id": f"s{rng.randint(1, 400)}",
            "seller_name": f"Store {rng.randint(1, 400)}", "image": images[i % len(images)], "keywords": "lumora",
        })
    return items


def client_file(folder: Path, server: MarketplaceServer, markets: list[str]) -> Path:
    demo = ROOT / "config" / "demo"
    shutil.copytree(demo, folder / "client", ignore=shutil.ignore_patterns("market"))
    path = folder / "client" / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    data["marks"] = [data["marks"][0] | {"terms": ["Lumora"], "keywords": ["earbuds"]}]
    data["products"] = [p for p in data["products"] if p["mark"] == "lumora"]
    data["marketplaces"] = {
        m: {"base_url": server.url(m), "max_pages": 100, "download_delay": 0, "concurrency": 16, "obey_robots": False}
        for m in markets
    }
    data["alerts"] = []
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=3000)
    parser.add_argument("--markets", default="aliexpress,amazon,ebay")
    parser.add_argument("--page-size", type=int, default=50)
    args = parser.parse_args()
    markets = args.markets.split(",")
    rng = random.Random(5)
    with tempfile.TemporaryDirectory(prefix="markwatch-crawl-speed-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "images").mkdir()
        images = make_images(tmp / "images", min(args.listings, 600), rng)
        catalogue = make_catalogue(markets, args.listings, images, rng)
        with MarketplaceServer(catalogue, tmp / "images", page_size=args.page_size) as server:
            config = client_file(tmp, server, markets)
            client = load_client(config)
            common = {"LOG_LEVEL": "ERROR", "AUTOTHROTTLE_ENABLED": False}

            bare_pages = bare_items = 0
            started = time.perf_counter()
            # As many marketplaces at once as the cycle crawls (one per core).
            with ThreadPoolExecutor(crawls_at_once(len(markets))) as pool:
                results = pool.map(
                    lambda market: run_crawl(
                        market, common, client=str(config),
                        config=client.marketplaces[market].model_dump(mode="json"),
                    ),
                    markets,
                )
                for result in results:
                    bare_pages += int(result.stats.get("markwatch/pages", 0))
                    bare_items += len(result.items)
            bare_s = time.perf_counter() - started

            started = time.perf_counter()
            report = run_cycle(
                client, f"sqlite:///{tmp / 'store.db'}", data_dir=tmp / "data", settings=common, evidence=False,
                send_alerts=False,
            )
            full_s = time.perf_counter() - started
            full_pages = sum(mr.pages for mr in report.markets)
            full_items = sum(mr.items for mr in report.markets)

    print("per market:", [(mr.marketplace, round(mr.seconds, 1)) for mr in report.markets])
    print(f"{args.listings} listings on {len(markets)} marketplaces, {args.page_size} per page")
    print(f"{'crawl':<8}{'pages':>7}{'listings':>10}{'seconds':>9}{'pages/s':>9}{'listings/s':>12}")
    for name, pages, items, secs in (("bare", bare_pages, bare_items, bare_s), ("full", full_pages, full_items, full_s)):
        print(f"{name:<8}{pages:>7}{items:>10}{secs:>9.1f}{pages / secs:>9.2f}{items / secs:>12.1f}")
    print(f"ratio full/bare pages/s: {(full_pages / full_s) / (bare_pages / bare_s):.2f} (goal >= 0.8)")


if __name__ == "__main__":
    main()
