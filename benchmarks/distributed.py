"""Scale-out figures: crawl pages/s with one worker and with two, upserts/s PostgreSQL vs SQLite.

    python benchmarks/distributed.py [--items 96] [--latency 0.1] [--upserts 1500]

Needs Redis and PostgreSQL: MARKWATCH_TEST_REDIS and MARKWATCH_TEST_PG (as `make test`
sets them); when they are unset, the script runs itself again under
`.ci/with-services.sh`, which starts throwaway ones.

Crawl: the local marketplace server (`--latency` seconds per search page, the
network round trip a real marketplace costs) serves `--items` listings, four per
page, for four search terms. `markwatch worker` processes crawl into a fresh
PostgreSQL database; pages/s is measured from seeding the queue to the drain (worker
start-up excluded), through the full monitoring pipelines (images, store, assess).

Store: `--upserts` listing upserts, one transaction each as the store pipeline does
them, on a SQLite file and on PostgreSQL (one writer), then on PostgreSQL with four
writer threads.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TERMS = 4  # the client below yields four search terms


def _client_file(folder: Path, base_url: str) -> Path:
    import yaml

    data = {
        "client": {"name": "Acme Games Ltd."},
        "marks": [
            {
                "id": "acme",
                "type": "trademark",
                "title": "ACME",
                "terms": ["ACME", "akme"],
                "keywords": ["controller"],
                "registrations": [
                    {
                        "number": "1",
                        "country": "CN",
                        "valid_from": "2020-01-01",
                        "valid_until": "2030-01-01",
                    }
                ],
            }
        ],
        "marketplaces": {
            "aliexpress": {
                "base_url": base_url,
                "max_pages": 100,
                "download_delay": 0,
                "concurrency": 2,
            }
        },
    }
    path = folder / "markwatch.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def crawl_rate(
    workers: int, items: int, latency: float, redis_url: str, pg: str, folder: Path
) -> tuple[int, float]:
    """(pages, seconds) of one distributed cycle crawled by `workers` workers."""
    import redis
    from PIL import Image

    from crawler import db
    from crawler import distributed as dist
    from crawler.config import load_client
    from crawler.marketplace_server import MarketplaceServer
    from tests.test_storage_postgres import fresh_pg_database

    class SlowMarket(MarketplaceServer):
        def _handle(self, h):  # type: ignore[no-untyped-def]
            if "/wholesale" in h.path:
                time.sleep(latency)
            super()._handle(h)

    images = folder / "images"
    images.mkdir(exist_ok=True)
    for i in range(3):
        Image.new("RGB", (64, 64), (60 * i, 90, 150)).save(images / f"p{i}.png")
    catalogue = [
        {
            "marketplace": "aliexpress",
            "listing_id": str(1005000000 + i),
            "title": f"ACME akme wireless controller {i}",
            "price": 9.5 + i,
            "currency": "USD",
            "seller_id": f"s{i % 5}",
            "seller_name": f"Shop {i % 5}",
            "image": f"p{i % 3}.png",
            "description": "game controller",
        }
        for i in range(items)
    ]
    server = redis.Redis.from_url(redis_url)
    server.flushdb()
    with SlowMarket(catalogue, images) as market, fresh_pg_database(pg) as url:
        client_path = _client_file(folder, market.url("aliexpress"))
        client = load_client(client_path)
        db.upgrade(url)
        args = [
            "--config",
            str(client_path),
            "--redis",
            redis_url,
            "--db",
            url,
            "--data-dir",
            str(folder / "data"),
            "--idle-timeout",
            "0",
        ]
        with open(folder / "workers.log", "a") as log:
            procs = [
                subprocess.Popen(
                    [str(Path(sys.executable).with_name("markwatch")), "worker", *args],
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
                for _ in range(workers)
            ]
        try:
            deadline = time.monotonic() + 60
            while len(dist.live_workers(server)) < workers:
                if time.monotonic() > deadline:
                    raise RuntimeError("workers did not start")
                time.sleep(0.2)
            time.sleep(1.0)  # let them finish starting their crawlers
            with db.session_scope(url) as session:
                run_id = db.start_run(session, "aliexpress", "bench").id
            started = time.perf_counter()
            dist.seed(server, client, "aliexpress", run_id)
            ended = dist.wait_for_drain(
                server,
                ["aliexpress"],
                {"aliexpress": run_id},
                timeout=600,
                say=lambda _m: None,
                poll=0.05,
            )
            seconds = time.perf_counter() - started
            if ended:
                raise RuntimeError(f"crawl did not finish: {ended}")
            pages = int(dist.run_stats(server, run_id).get("markwatch/pages", 0))
            if not pages:
                raise RuntimeError(
                    "no pages crawled: " + (folder / "workers.log").read_text()[-3000:]
                )
        finally:
            for p in procs:
                p.terminate()  # SIGTERM: a graceful stop
            for p in procs:
                p.wait(30)
        server.flushdb()
    return pages, seconds


def upsert_rate(url: str, n: int, threads: int = 1) -> float:
    from crawler import db

    db.upgrade(url)
    with db.session_scope(url) as s:
        run_id = db.start_run(s, "aliexpress").id

    def writer(part: list[int]) -> None:
        for i in part:
            with db.session_scope(url) as s:
                db.upsert_listing(
                    s,
                    {
                        "marketplace": "aliexpress",
                        "listing_id": str(1005000000 + i),
                        "url": f"https://x.example/{i}",
                        "title": f"ACME controller {i}",
                        "price": 9.5,
                        "currency": "USD",
                        "seller_id": "s1",
                        "image_urls": [f"https://img.example/{i}.jpg"],
                    },
                    run_id=run_id,
                )

    keys = list(range(n))
    parts = [keys[k::threads] for k in range(threads)]
    started = time.perf_counter()
    pool = [threading.Thread(target=writer, args=(p,)) for p in parts]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--items", type=int, default=96, help="listings in the marketplace (4 per page)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds the marketplace takes per search page"
    )
    parser.add_argument("--upserts", type=int, default=1500)
    opts = parser.parse_args()
    redis_url, pg = os.environ.get("MARKWATCH_TEST_REDIS"), os.environ.get("MARKWATCH_TEST_PG")
    if not (redis_url and pg):
        if os.environ.get("MARKWATCH_BENCH_SERVICES"):
            sys.exit(
                "benchmarks/distributed.py: Redis or PostgreSQL could not be started (see .ci/with-services.sh)"
            )
        os.environ["MARKWATCH_BENCH_SERVICES"] = "1"
        os.execvp(
            "bash", ["bash", str(ROOT / ".ci" / "with-services.sh"), sys.executable, *sys.argv]
        )
    from tests.test_storage_postgres import fresh_pg_database

    print(
        f"crawl: {opts.items} listings x {TERMS} terms, 4 per page, {opts.latency:g} s per page, concurrency 2 per worker"
    )
    rates = {}
    with tempfile.TemporaryDirectory(prefix="markwatch-bench-") as tmp:
        for n in (1, 2):
            folder = Path(tmp) / f"w{n}"
            folder.mkdir()
            pages, seconds = crawl_rate(n, opts.items, opts.latency, redis_url, pg, folder)
            rates[n] = pages / seconds
            print(
                f"  {n} worker{'s' if n > 1 else ' '}: {pages} pages in {seconds:.2f} s = {rates[n]:.1f} pages/s"
            )
        print(f"  speed-up with two workers: {rates[2] / rates[1]:.2f}x")
        print(f"store: {opts.upserts} listing upserts, one transaction each")
        sqlite = upsert_rate(f"sqlite:///{tmp}/bench.db", opts.upserts)
        print(f"  SQLite file           : {sqlite:7.0f} upserts/s")
        with fresh_pg_database(pg) as url:
            pg_one = upsert_rate(url, opts.upserts)
        print(f"  PostgreSQL, 1 writer  : {pg_one:7.0f} upserts/s ({pg_one / sqlite:.2f}x SQLite)")
        with fresh_pg_database(pg) as url:
            pg_four = upsert_rate(url, opts.upserts, threads=4)
        print(
            f"  PostgreSQL, 4 writers : {pg_four:7.0f} upserts/s ({pg_four / sqlite:.2f}x SQLite)"
        )


if __name__ == "__main__":
    main()
