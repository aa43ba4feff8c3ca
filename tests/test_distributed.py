"""Scale-out on real servers: workers on a shared Redis queue, the store on PostgreSQL.

Uses the services `make test` starts (MARKWATCH_TEST_REDIS, MARKWATCH_TEST_PG); skipped
when they are not set. Run alone with:
`bash .ci/with-services.sh .venv/bin/pytest tests/test_distributed.py -q`.
Workers and the seeding `markwatch run --distributed` are real processes; the
marketplace is `MarketplaceServer` with a catalogue big enough for many pages.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import scrapy
import yaml
from sqlalchemy import func, select

from crawler import db
from crawler import distributed as dist
from crawler import models as m
from crawler.marketplace_server import MarketplaceServer
from tests.conftest import MARKWATCH, run_cli

REDIS = os.environ.get("MARKWATCH_TEST_REDIS")
PG = os.environ.get("MARKWATCH_TEST_PG")

pytestmark = pytest.mark.skipif(
    not (REDIS and PG),
    reason="MARKWATCH_TEST_REDIS / MARKWATCH_TEST_PG not set (make test starts them)",
)

ITEMS = 32  # aliexpress shows 4 per page: 8 pages per search term
TERMS = ["ACME", "akme", "ACME controller", "akme controller"]


class LoggingMarket(MarketplaceServer):
    """The local marketplace, noting when each path was served; search pages can be slow."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.served: list[tuple[float, str]] = []
        self.search_delay = 0.0

    def _handle(self, h: Any) -> None:
        if "/wholesale" in h.path and self.search_delay:
            time.sleep(self.search_delay)
        super()._handle(h)
        self.served.append((time.time(), h.path))

    def search_paths(self, since: float = 0.0) -> list[str]:
        return [p for t, p in self.served if "/wholesale" in p and t >= since]


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggingMarket]:
    from PIL import Image

    images = tmp_path_factory.mktemp("images")
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
        for i in range(ITEMS)
    ]
    with LoggingMarket(catalogue, images) as server:
        yield server


@pytest.fixture
def queue() -> Iterator[redis.Redis]:
    assert REDIS
    server = redis.Redis.from_url(REDIS)
    server.flushdb()
    yield server
    server.flushdb()


@pytest.fixture
def store() -> Iterator[str]:
    from tests.test_storage_postgres import fresh_pg_database

    assert PG
    with fresh_pg_database(PG) as url:
        yield url


@pytest.fixture
def client_file(tmp_path: Path, market: LoggingMarket) -> Path:
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
                "base_url": market.url("aliexpress"),
                "max_pages": 20,
                "download_delay": 0,
                # One request at a time per worker: both workers surely get a share.
                "concurrency": 1,
            }
        },
    }
    path = tmp_path / "markwatch.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _args(client_file: Path, store: str, tmp_path: Path) -> list[str]:
    return [
        "--config",
        str(client_file),
        "--redis",
        str(REDIS),
        "--db",
        store,
        "--data-dir",
        str(tmp_path / "data"),
    ]


def _worker(
    args: list[str], tmp_path: Path, name: str, *, lease: float, idle: float
) -> subprocess.Popen:
    # A file, not a pipe: a chatty worker never blocks on a full pipe.
    with open(tmp_path / f"{name}.log", "w") as log:
        return subprocess.Popen(
            [str(MARKWATCH), "worker", *args, "--idle-timeout", str(idle), "--lease", str(lease)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MARKWATCH_LOG_LEVEL": "ERROR"},
        )


def _wait_workers(
    queue: redis.Redis, n: int, procs: list[subprocess.Popen], tmp_path: Path
) -> list[str]:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        alive = dist.live_workers(queue)
        if len(alive) >= n:
            return alive
        for p in procs:
            if p.poll() is not None:
                logs = "\n".join(f.read_text()[-2000:] for f in tmp_path.glob("*.log"))
                pytest.fail(f"a worker exited early ({p.returncode}):\n{logs}")
        time.sleep(0.2)
    pytest.fail("workers did not start")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def _run_rows(store: str) -> tuple[m.CrawlRun, int, int, dict[str, int]]:
    with db.session_scope(store) as s:
        run = s.scalars(select(m.CrawlRun)).one()
        listings = s.scalar(select(func.count()).select_from(m.Listing))
        distinct = s.scalar(select(func.count(func.distinct(m.Listing.listing_id))))
        assert listings == distinct
        per_listing = dict(
            s.execute(
                select(m.Sighting.listing_pk, func.count())
                .where(m.Sighting.run_id == run.id)
                .group_by(m.Sighting.listing_pk)
            ).all()
        )
        return run, listings, len(per_listing), {str(k): v for k, v in per_listing.items()}


def _held_by(queue: redis.Redis, worker_id: str) -> list[str]:
    """URLs of the requests `worker_id` holds in flight."""
    held = []
    for value in queue.hvals(dist.processing_key("aliexpress")):
        wid, request = dist.decode_processing(value)
        if wid == worker_id:
            held.append(request["url"])
    return held


def _worker_pages(run: m.CrawlRun) -> dict[str, int]:
    return {
        k.split("/")[1]: v
        for k, v in run.stats.items()
        if k.startswith("workers/") and k.endswith("/pages")
    }


def test_two_workers_split_the_pages_and_store_each_listing_once(
    queue: redis.Redis, store: str, client_file: Path, tmp_path: Path, market: LoggingMarket
):
    args = _args(client_file, store, tmp_path)
    start = time.time()
    market.search_delay = 0.1
    # Seed first, then start the workers: they find work at once, and leave on their
    # own once idle for --idle-timeout seconds.
    seeder = subprocess.Popen(
        [str(MARKWATCH), "run", "--distributed", *args, "--no-evidence", "--drain-timeout", "90"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workers: list[subprocess.Popen] = []
    try:
        deadline = time.monotonic() + 30
        while (
            not queue.zcard(dist.queue_key("aliexpress"))
            and seeder.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        workers = [_worker(args, tmp_path, f"w{i}", lease=10, idle=2) for i in range(2)]
        output, _ = seeder.communicate(timeout=120)
        assert seeder.returncode == 0, output[-3000:]
        assert [w.wait(30) for w in workers] == [0, 0]
        ids = [
            re.search(r"worker (\S+): serving", (tmp_path / f"w{i}.log").read_text()).group(1)
            for i in range(2)
        ]
    finally:
        _stop([seeder, *workers])
    run, listings, sighted, per_listing = _run_rows(store)
    assert listings == ITEMS and sighted == ITEMS
    assert set(per_listing.values()) == {1}  # one sighting per listing and run
    assert run.status == "ok" and run.items == ITEMS
    pages = _worker_pages(run)
    assert set(pages) == set(ids), pages  # both workers crawled...
    assert all(n > 0 for n in pages.values()), pages
    # ...and the shared duplicate filter let no page be fetched twice.
    assert run.pages == sum(pages.values()) == len(TERMS) * ITEMS // 4
    searches = market.search_paths(since=start)
    assert len(searches) == len(set(searches)) == run.pages
    with db.session_scope(store) as s:
        assessed = s.scalar(select(func.count(func.distinct(m.AssessmentRow.listing_pk))))
        assessments = s.scalar(select(func.count()).select_from(m.AssessmentRow))
    # The monitoring pipelines ran in the workers, each listing assessed once although
    # both workers stored most listings (each shows up under several search terms).
    assert assessed == assessments == ITEMS
    assert not queue.exists(dist.queue_key("aliexpress"), dist.processing_key("aliexpress"))


def test_killed_worker_requests_are_crawled_by_the_other(
    queue: redis.Redis, store: str, client_file: Path, tmp_path: Path, market: LoggingMarket
):
    args = _args(client_file, store, tmp_path)
    market.search_delay = 0.1  # pages stay in flight long enough to kill a worker holding some
    victim = _worker(args, tmp_path, "victim", lease=2, idle=0)
    survivor = _worker(args, tmp_path, "survivor", lease=2, idle=0)
    seeder: subprocess.Popen | None = None
    try:
        _wait_workers(queue, 2, [victim, survivor], tmp_path)
        victim_id = re.search(
            r"worker (\S+): serving", (tmp_path / "victim.log").read_text()
        ).group(1)
        seeder = subprocess.Popen(
            [
                str(MARKWATCH),
                "run",
                "--distributed",
                *args,
                "--no-evidence",
                "--drain-timeout",
                "90",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _held_by(queue, victim_id):
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        killed_at = time.time()
        victim.wait(10)
        # What it held when it died (its lease has not run out yet, so nothing is reaped).
        held = _held_by(queue, victim_id)
        assert held, "the victim held no request when it was killed"
        output, _ = seeder.communicate(timeout=120)
        assert seeder.returncode == 0, output[-3000:]
        survivor.send_signal(signal.SIGTERM)  # a graceful stop
        assert survivor.wait(30) == 0
    finally:
        _stop([p for p in (seeder, victim, survivor) if p is not None])
    run, listings, sighted, per_listing = _run_rows(store)
    assert listings == ITEMS and sighted == ITEMS and set(per_listing.values()) == {1}
    assert run.status == "ok"
    # What the victim held when it died was fetched again afterwards, by the survivor.
    again = set(market.search_paths(since=killed_at))
    assert {u.split("/aliexpress", 1)[1] for u in held} <= {
        p.split("/aliexpress", 1)[1] for p in again
    }
    pages = _worker_pages(run)
    assert any(n > 0 for w, n in pages.items() if w != victim_id), pages


def _cycle_with_aliexpress_blocked(
    client_file: Path, store: str, tmp_path: Path, market: LoggingMarket
) -> tuple[str, str]:
    """A distributed cycle while aliexpress blocks, with one worker; its output. The cycle
    exits 1 and the worker, whose crawler stopped at the block, exits 0 (a service
    manager starts it again)."""
    args = _args(client_file, store, tmp_path)
    market.search_delay = 0.0
    market.block("aliexpress", "akamai")
    worker: subprocess.Popen | None = None
    seeder: subprocess.Popen | None = None
    try:
        seeder = subprocess.Popen(
            [str(MARKWATCH), "run", "--distributed", *args, "--no-evidence", "--drain-timeout", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        worker = _worker(args, tmp_path, "w", lease=10, idle=0)
        out, err = seeder.communicate(timeout=90)
        assert worker.wait(30) == 0
    finally:
        market.unblock("aliexpress")
        _stop([p for p in (seeder, worker) if p is not None])
    assert seeder.returncode == 1, out[-2000:] + err[-2000:]
    return out, err


def test_blocked_marketplace_ends_the_run_as_blocked(
    queue: redis.Redis, store: str, client_file: Path, tmp_path: Path, market: LoggingMarket
):
    _, err = _cycle_with_aliexpress_blocked(client_file, store, tmp_path, market)
    assert "aliexpress blocked" in err
    with db.session_scope(store) as s:
        run = s.scalars(select(m.CrawlRun)).one()
        assert run.status == "blocked" and run.reason
    assert not queue.exists(dist.queue_key("aliexpress"), dist.processing_key("aliexpress"))


def test_reliable_queue_returns_a_dead_workers_requests(queue: redis.Redis):
    class Probe(scrapy.Spider):
        name = "probe"

        def parse(self, response: Any) -> None:
            pass

    spider = Probe()
    q = dist.ReliableQueue(queue, spider, dist.queue_key("probe"))
    for i in range(3):
        q.push(
            scrapy.Request(
                f"http://example.test/{i}", callback=spider.parse, meta={dist.RUN_META: 7}
            )
        )
    q.worker_id = "alpha"
    queue.set(dist.worker_key("alpha"), "1")
    (t1, r1), _ = q.pop_tracked(), q.pop_tracked()
    assert r1.meta[dist.RUN_META] == 7 and r1.callback == spider.parse
    assert dist.queue_state(queue, ["probe"]) == {"probe": (1, 2)}
    other = dist.ReliableQueue(queue, spider, dist.queue_key("probe"))
    other.worker_id = "beta"
    assert not other.ack(t1)  # only the holder acknowledges
    assert q.ack(t1)
    assert dist.reap(queue, "probe") == 0  # alpha is alive: nothing taken from it
    queue.delete(dist.worker_key("alpha"))  # alpha's lease ran out
    assert dist.reap(queue, "probe") == 1
    assert dist.queue_state(queue, ["probe"]) == {"probe": (2, 0)}
    urls = {other.pop_tracked()[1].url for _ in range(2)}
    assert urls == {f"http://example.test/{i}" for i in range(3)} - {r1.url}
    assert q.pop_tracked() is None


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _one_line_failure(out: subprocess.CompletedProcess, needle: str) -> None:
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr


def test_unreachable_redis_is_one_line(client_file: Path, store: str):
    bad = f"redis://127.0.0.1:{_closed_port()}/0"
    _one_line_failure(
        run_cli("worker", "--config", str(client_file), "--redis", bad, "--db", store),
        "cannot reach Redis",
    )
    _one_line_failure(
        run_cli(
            "run", "--distributed", "--config", str(client_file), "--redis", bad, "--db", store
        ),
        "cannot reach Redis",
    )


def test_unreachable_postgresql_is_one_line(client_file: Path, queue: redis.Redis):
    bad = f"postgresql://markwatch@127.0.0.1:{_closed_port()}/markwatch"
    _one_line_failure(
        run_cli("worker", "--config", str(client_file), "--redis", str(REDIS), "--db", bad),
        "database error",
    )
    _one_line_failure(
        run_cli(
            "run", "--distributed", "--config", str(client_file), "--redis", str(REDIS), "--db", bad
        ),
        "database error",
    )
    assert not queue.exists(dist.LOCK_KEY)  # a failed start leaves no lock behind


def test_overlapping_distributed_cycles_are_refused(
    queue: redis.Redis, store: str, client_file: Path, tmp_path: Path
):
    queue.set(dist.LOCK_KEY, "another-cycle")
    out = run_cli("run", "--distributed", *_args(client_file, store, tmp_path))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "another markwatch cycle is running" in out.stderr
    assert queue.get(dist.LOCK_KEY) == b"another-cycle"  # not taken over, not released
    assert not queue.exists(dist.queue_key("aliexpress"))  # nothing seeded


def test_a_long_running_worker_stores_every_cycle(
    queue: redis.Redis, store: str, client_file: Path, tmp_path: Path, market: LoggingMarket
):
    args = _args(client_file, store, tmp_path)
    market.search_delay = 0.0
    worker = _worker(args, tmp_path, "w", lease=10, idle=0)  # one process for both cycles
    try:
        _wait_workers(queue, 1, [worker], tmp_path)
        outputs = []
        for _ in range(2):
            out = run_cli(
                "run", "--distributed", *args, "--no-evidence", "--drain-timeout", "60"
            )
            assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
            outputs.append(out.stdout + out.stderr)
        assert worker.poll() is None  # the same worker served both cycles
    finally:
        _stop([worker])
    assert "zero_results" not in outputs[1], outputs[1][-2000:]
    with db.session_scope(store) as s:
        runs = s.scalars(select(m.CrawlRun).order_by(m.CrawlRun.id)).all()
        assert [r.status for r in runs] == ["ok", "ok"]
        # The second cycle sees the same listings again: stored, sighted, counted.
        assert [r.items for r in runs] == [ITEMS, ITEMS], [(r.items, r.stats) for r in runs]
        sighted = dict(
            s.execute(
                select(m.Sighting.run_id, func.count(func.distinct(m.Sighting.listing_pk)))
                .group_by(m.Sighting.run_id)
            ).all()
        )
        assert sighted == {runs[0].id: ITEMS, runs[1].id: ITEMS}
        seen_last = s.scalars(select(m.Listing.last_seen)).all()
        assert len(seen_last) == ITEMS and min(seen_last) >= runs[1].started_at


def test_unusable_result_pages_fail_the_distributed_run(
    queue: redis.Redis, store: str, client_file: Path, tmp_path: Path, market: LoggingMarket
):
    args = _args(client_file, store, tmp_path)
    market.search_delay = 0.0
    market.js_only("aliexpress")  # script shells: the parser finds no listing data
    worker = _worker(args, tmp_path, "w", lease=10, idle=0)
    try:
        _wait_workers(queue, 1, [worker], tmp_path)
        out = run_cli("run", "--distributed", *args, "--no-evidence", "--drain-timeout", "60")
    finally:
        market.js_only("aliexpress", on=False)
        _stop([worker])
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert "aliexpress failed" in out.stderr
    with db.session_scope(store) as s:
        run = s.scalars(select(m.CrawlRun)).one()
    assert run.status == "failed" and run.items == 0
    assert run.pages == len(TERMS)  # each search's first page, unusable: no next page
    assert run.reason == f"{len(TERMS)} of {len(TERMS)} result pages unusable: no_listing_json"


def test_a_marketplace_that_answers_nothing_fails_the_distributed_run(
    queue: redis.Redis, store: str, client_file: Path, tmp_path: Path
):
    # As in one process: no result page came back (nothing listens), so the run
    # failed and cron sees exit 1, not a quiet zero.
    data = yaml.safe_load(client_file.read_text())
    data["marketplaces"]["aliexpress"]["base_url"] = "http://127.0.0.1:9"
    client_file.write_text(yaml.safe_dump(data))
    args = _args(client_file, store, tmp_path)
    worker = _worker(args, tmp_path, "w", lease=10, idle=0)
    try:
        _wait_workers(queue, 1, [worker], tmp_path)
        out = run_cli("run", "--distributed", *args, "--no-evidence", "--drain-timeout", "90")
    finally:
        _stop([worker])
    with db.session_scope(store) as s:
        run = s.scalars(select(m.CrawlRun)).one()
    assert run.status == "failed" and run.pages == 0 and run.items == 0, (run.status, run.stats)
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert run.reason.startswith(
        f"no result page could be fetched: {len(TERMS)} requests failed ("
    ), run.reason
    assert f"ConnectionRefusedError {len(TERMS)})" in run.reason


def test_a_mistyped_redis_url_does_not_print_its_password(client_file: Path, store: str):
    out = run_cli(
        "run", "--distributed", "--config", str(client_file),
        "--redis", "reids://:hunter2secret@127.0.0.1:6379/0", "--db", store,
    )
    _one_line_failure(out, "--redis: expected a URL")
    assert "hunter2secret" not in out.stdout + out.stderr


def test_redis_lost_mid_cycle_is_one_line_and_closes_the_runs(
    store: str, client_file: Path, tmp_path: Path
):
    import shutil

    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server not installed")
    port = _closed_port()
    own = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(50):
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.RedisError:
                time.sleep(0.1)
        args = ["--config", str(client_file), "--redis", url, "--db", store,
                "--data-dir", str(tmp_path / "data")]
        # No worker: the cycle waits for the drain until its Redis goes away.
        cycle = subprocess.Popen(
            [str(MARKWATCH), "run", "--distributed", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if redis.Redis.from_url(url).exists(dist.queue_key("aliexpress")):
                break
            time.sleep(0.2)
        own.kill()
        own.wait(10)
        out, err = cycle.communicate(timeout=90)
    finally:
        if own.poll() is None:
            own.kill()
    assert cycle.returncode == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "lost Redis" in lines[0], err
    with db.session_scope(store) as s:
        statuses = [r.status for r in s.scalars(select(m.CrawlRun))]
    assert statuses == ["failed"]  # not left `running` for ever


def test_a_worker_waits_out_a_brief_database_outage(monkeypatch: pytest.MonkeyPatch):
    # A failed item's request is acknowledged like any other: a store given up at the
    # first refused connection would leave the listing out of the run for good.
    from sqlalchemy.exc import OperationalError

    from crawler.pipelines import StorePipeline

    calls: list[int] = []

    def flaky_store(self: Any, item: Any) -> Any:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        return item

    monkeypatch.setattr(StorePipeline, "store", flaky_store)
    monkeypatch.setattr(dist.time, "sleep", lambda _s: None)
    pipe = object.__new__(dist.RunAwareStorePipeline)
    item = object()
    assert pipe.store(item) is item  # type: ignore[arg-type]
    assert len(calls) == 3

    # A database that stays away is still an error, after DB_OUTAGE_SECONDS.
    calls.clear()
    monkeypatch.setattr(dist, "DB_OUTAGE_SECONDS", 0.0)
    with pytest.raises(OperationalError):
        pipe.store(item)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_a_block_stops_a_worker_that_serves_other_marketplaces_too(
    queue: redis.Redis, store: str, client_file: Path, tmp_path: Path, market: LoggingMarket
):
    # Its crawler for the blocked marketplace is gone while the process lives: left
    # running, the worker would never crawl that marketplace again and every later
    # cycle would wait out its drain timeout for it.
    data = yaml.safe_load(client_file.read_text())
    data["marketplaces"]["ebay"] = {
        "base_url": market.url("ebay"), "max_pages": 1, "download_delay": 0,
    }
    client_file.write_text(yaml.safe_dump(data))
    _, err = _cycle_with_aliexpress_blocked(client_file, store, tmp_path, market)
    assert "aliexpress blocked" in err
    assert "blocked the crawl; stopped for a restart" in (tmp_path / "w.log").read_text()


def test_display_redis_hides_every_form_of_password():
    for url in (
        "redis://:s3cr3t@queue:6379/0",
        "redis://default:s3cr3t@queue:6379/0",
        "redis://queue:6379/0?password=s3cr3t",
        "rediss://queue:6379/0?db=1&Password=s3cr3t",
    ):
        assert "s3cr3t" not in dist.display_redis(url), url
