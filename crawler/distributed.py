"""Scale-out: crawl workers that share one Redis request queue, and the cycle that feeds them.

`markwatch worker` runs `run_worker`: one Scrapy process with a crawler per
marketplace, each a `distributed_spider_class` variant of the marketplace's spider
(the same parse code, plus run bookkeeping). Requests come from Redis through
scrapy-redis's scheduler and duplicate filter (`ReliableScheduler` extends
`scrapy_redis.scheduler.Scheduler`); items go through the monitoring pipelines
into the shared database (`StorePipeline` is swapped for `RunAwareStorePipeline`,
which takes the crawl run from each item, because one worker serves many cycles).

`markwatch run --distributed` runs `run_distributed`: it opens a crawl run per
marketplace, seeds the first search page of every term onto the queue, waits until
the workers drained it, then runs the post-crawl steps of `crawler.monitor` once.

Reliable queue. scrapy-redis pops requests destructively, so a worker killed
mid-crawl would lose what it held. Here a pop moves the request, in one Lua script,
from the pending sorted set into a processing hash, tagged with the worker's id.
The worker acknowledges (deletes) it only when Scrapy is completely done with the
request: downloaded, its callback run, its items through every pipeline, and its
follow-up requests (next page, product pages, a retry or a redirect) pushed onto the
pending set. Every worker keeps a heartbeat key with a short lease; when a lease
expires, any worker or the seeder moves that worker's processing entries back to
the pending set (again one Lua script), and another worker crawls them. Delivery is
at least once; the store makes a repeat harmless (one row per listing by the
database's own upsert, one sighting per listing and run).

Drain check. Because a follow-up request is pushed before its parent is
acknowledged, and a pop moves a request atomically, unfinished work is always
either pending or processing. The cycle is drained when, in one atomic read, the
pending set and the processing hash of every marketplace are empty.

Redis keys (prefix ``markwatch:``): ``<market>:requests`` (pending, a sorted set as
scrapy-redis's priority queue), ``<market>:requests:processing`` (hash token ->
worker|request), ``<market>:dupefilter`` (cleared when a cycle is seeded),
``worker:<id>`` (heartbeat), ``workers`` (known worker ids), ``run:<id>`` (per-run
counters: pages, listings, errors, verdicts, pages per worker), ``cycle-lock``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis import picklecompat
from scrapy_redis.queue import Base as RedisQueueBase
from scrapy_redis.scheduler import Scheduler as RedisScheduler
from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError

from crawler import db
from crawler import models as m
from crawler.config import Client, ConfigError
from crawler.items import Listing
from crawler.middlewares import RefusedRequest
from crawler.pipelines import MONITOR_PIPELINES, AssessPipeline, StorePipeline

log = logging.getLogger(__name__)

PREFIX = "markwatch"
RUN_META = "markwatch_run"
DEFAULT_LEASE = 30.0
RUN_STATS_TTL = 14 * 24 * 3600
ASSESS_LOCK_SECONDS = 15
# How long a worker's store and assess steps wait out an unreachable database (a restart,
# a failover) before giving the item up: a failed item's request is acknowledged like any
# other, so without the wait its listing would be missing from the run.
DB_OUTAGE_SECONDS = 120.0


class RedisUnavailable(ConfigError):
    """Redis cannot be reached: a one-line reason for the user."""


def queue_key(market: str) -> str:
    return f"{PREFIX}:{market}:requests"


def processing_key(market: str) -> str:
    return f"{queue_key(market)}:processing"


def dupefilter_key(market: str) -> str:
    return f"{PREFIX}:{market}:dupefilter"


def worker_key(worker_id: str) -> str:
    return f"{PREFIX}:worker:{worker_id}"


def run_key(run_id: int) -> str:
    return f"{PREFIX}:run:{run_id}"


WORKERS_KEY = f"{PREFIX}:workers"
LOCK_KEY = f"{PREFIX}:cycle-lock"
UNFINISHED_KEY = f"{PREFIX}:cycle-unfinished"


def display_redis(url: str) -> str:
    """The Redis URL with any password hidden."""
    shown = re.sub(r"://([^:@/]*):[^@/]*@", r"://\1:***@", url)
    # redis-py also takes the password as a query parameter (?password=...).
    return re.sub(r"([?&]password=)[^&]*", r"\1***", shown, flags=re.IGNORECASE)


def connect_redis(url: str) -> redis.Redis:
    """A client for `url`, checked with PING; RedisUnavailable with the reason otherwise."""
    if not re.match(r"^(redis|rediss|unix)://", url or ""):
        # Masked: a mistyped scheme must not print the password that follows it.
        raise RedisUnavailable(
            f"--redis: expected a URL such as redis://host:6379/0, got {display_redis(url or '')!r}"
        )
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        # Checked once without retries: an unreachable server is reported at once.
        redis.Redis.from_url(url, socket_connect_timeout=5, retry=Retry(NoBackoff(), 0)).ping()
        server = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
    except (redis.RedisError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise RedisUnavailable(f"cannot reach Redis at {display_redis(url)}: {reason}") from None
    return server


def ensure_schema(server: redis.Redis, url: str) -> None:
    """Migrate the store under a Redis lock: workers starting together must not race."""
    with server.lock(f"{PREFIX}:schema-lock", timeout=300, blocking_timeout=300):
        db.ensure_schema(url)


def new_worker_id() -> str:
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


# ------------------------------------------------------------------ the queue

# Pop the first pending request into the processing hash, tagged with the worker.
_POP = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0)
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
redis.call('HSET', KEYS[2], string.sub(r[1], 1, 32), ARGV[1] .. '|' .. r[1])
return r[1]
"""

# Done with a request: forget it, if it is still this worker's.
_ACK = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. '|' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# Give a request back to the pending set (a worker closing before it finished).
_RETURN = """
local v = redis.call('HGET', KEYS[2], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. '|' then
  redis.call('ZADD', KEYS[1], 0, string.sub(v, string.len(ARGV[2]) + 2))
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

# Requests held by workers whose heartbeat expired go back to the pending set.
_REAP = """
local all = redis.call('HGETALL', KEYS[2])
local n = 0
for i = 1, #all, 2 do
  local v = all[i + 1]
  local sep = string.find(v, '|', 1, true)
  if sep then
    local wid = string.sub(v, 1, sep - 1)
    if redis.call('EXISTS', ARGV[1] .. wid) == 0 then
      redis.call('ZADD', KEYS[1], -1, string.sub(v, sep + 1))
      redis.call('HDEL', KEYS[2], all[i])
      n = n + 1
    end
  end
end
return n
"""


def reap(server: redis.Redis, market: str) -> int:
    """Return the requests of dead workers (expired heartbeat) to the queue; how many."""
    return int(
        server.eval(_REAP, 2, queue_key(market), processing_key(market), f"{PREFIX}:worker:")
    )


class ReliableQueue(RedisQueueBase):
    """scrapy-redis's priority queue with a processing hash: nothing popped is lost.

    Members of the pending sorted set are a 32-character token followed by the
    serialized request; the token names the request in the processing hash.
    """

    worker_id: str = ""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.processing = f"{self.key}:processing"

    def __len__(self) -> int:
        return int(self.server.zcard(self.key))

    def push(self, request: scrapy.Request) -> None:
        member = uuid.uuid4().hex.encode() + self._encode_request(request)
        self.server.execute_command("ZADD", self.key, -request.priority, member)

    def pop_tracked(self) -> tuple[str, scrapy.Request] | None:
        """The next request and its token, now held by this worker; None when empty."""
        if not self.worker_id:
            raise RuntimeError("ReliableQueue.worker_id is not set")
        member = self.server.eval(_POP, 2, self.key, self.processing, self.worker_id)
        if not member:
            return None
        return member[:32].decode(), self._decode_request(member[32:])

    def pop(self, timeout: int = 0) -> scrapy.Request | None:
        popped = self.pop_tracked()
        return popped[1] if popped else None

    def ack(self, token: str) -> bool:
        return bool(self.server.eval(_ACK, 1, self.processing, token, self.worker_id))

    def give_back(self, token: str) -> bool:
        return bool(self.server.eval(_RETURN, 2, self.key, self.processing, token, self.worker_id))

    def clear(self) -> None:
        self.server.delete(self.key)


def decode_pending(member: bytes) -> dict[str, Any]:
    """A pending request as a dict (url, meta, callback...)."""
    return picklecompat.loads(member[32:])


def decode_processing(value: bytes) -> tuple[str, dict[str, Any]]:
    """(worker id, request dict) of an entry of a processing hash."""
    wid, _, member = value.partition(b"|")
    return wid.decode(), decode_pending(member)


_LIVE_SCHEDULERS: list[ReliableScheduler] = []


class ReliableScheduler(RedisScheduler):
    """scrapy-redis's scheduler on a `ReliableQueue`: acknowledges a request only when
    Scrapy is done with it (it has left the engine's in-progress set, which happens
    after its callback output and items were fully processed)."""

    crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ReliableScheduler:
        instance = super().from_crawler(crawler)
        instance.crawler = crawler
        instance.worker_id = crawler.settings.get("MARKWATCH_WORKER_ID") or new_worker_id()
        instance._held = {}
        return instance

    def open(self, spider: Any) -> Any:
        result = super().open(spider)
        if not isinstance(self.queue, ReliableQueue):
            raise TypeError("SCHEDULER_QUEUE_CLASS must be crawler.distributed.ReliableQueue")
        self.queue.worker_id = self.worker_id
        _LIVE_SCHEDULERS.append(self)
        return result

    def _in_progress(self) -> set[Any] | None:
        # The engine keeps each request in its slot until the downloader output has
        # been handled completely (callback, items through the pipelines, new requests
        # scheduled); there is no signal for that moment.
        engine = getattr(self.crawler, "engine", None)
        slot = getattr(engine, "_slot", None)
        return getattr(slot, "inprogress", None)

    def ack_finished(self) -> int:
        """Acknowledge the held requests Scrapy has finished with; how many."""
        if not self._held:
            return 0
        busy = self._in_progress()
        if busy is None:
            return 0  # the engine is not running: nothing is known finished; close() gives back
        done = [t for t, req in self._held.items() if req not in busy]
        for token in done:
            self.queue.ack(token)
            del self._held[token]
        return len(done)

    def enqueue_request(self, request: scrapy.Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> scrapy.Request | None:
        self.ack_finished()
        popped = self.queue.pop_tracked()
        if popped is None:
            return None
        token, request = popped
        self._held[token] = request
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        busy = getattr(self.spider, "markwatch_busy", None)
        if busy:
            busy(request)
        return request

    def close(self, reason: str) -> Any:
        self.ack_finished()
        # Requests cut short by the shutdown go back to the queue for another worker.
        for token in list(self._held):
            self.queue.give_back(token)
        self._held.clear()
        if self in _LIVE_SCHEDULERS:
            _LIVE_SCHEDULERS.remove(self)
        return super().close(reason)


# ------------------------------------------------------------------ spiders


class DistributedSpiderMixin:
    """Turns a marketplace spider into a worker's spider: requests come from Redis.

    Start requests are seeded by `run --distributed`; this spider yields none. Each
    request carries its crawl run in ``meta["markwatch_run"]``, passed on to the
    follow-up requests and to the items, and counted in the run's Redis hash.
    """

    crawler: Any
    logger: Any

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)  # type: ignore[misc]
        settings = crawler.settings
        spider.redis = redis.Redis.from_url(settings["REDIS_URL"], socket_timeout=30)
        spider.worker_id = settings.get("MARKWATCH_WORKER_ID", "")
        spider.max_idle = settings.getfloat("MAX_IDLE_TIME_BEFORE_CLOSE", 0)
        spider.idle_since = None
        spider.last_run = None
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    async def start(self) -> Any:
        if False:  # an async generator that yields nothing
            yield None

    # -- bookkeeping -------------------------------------------------------

    def markwatch_busy(self, request: scrapy.Request) -> None:
        """Called by the scheduler for each request taken: not idle, and which run it is."""
        self.idle_since = None
        self.last_run = request.meta.get(RUN_META) or self.last_run

    def on_idle(self) -> None:
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        if self.max_idle and now - self.idle_since >= self.max_idle:
            return  # idle long enough: let the spider close
        raise DontCloseSpider

    def on_closed(self, spider: Any, reason: str) -> None:
        if reason == "blocked" and self.last_run:
            why = self.crawler.stats.get_value("markwatch/blocked") or "block page"
            self.redis.hset(run_key(self.last_run), "blocked", str(why))

    def crawl_run(self, response: Any) -> Any:
        # Duplicates are dropped per run: this spider serves cycle after cycle.
        return response.meta.get(RUN_META)

    def run_count(self, run_id: Any, key: str, n: int = 1) -> None:
        if run_id:
            self.redis.hincrby(run_key(int(run_id)), key, n)

    def _tag(self, outputs: Iterator[Any], meta: dict[str, Any]) -> Iterator[Any]:
        run = meta.get(RUN_META)
        if run:
            self.last_run = run
        for out in outputs:
            if isinstance(out, scrapy.Request):
                out.meta.setdefault(RUN_META, run)
            elif isinstance(out, Listing):
                out.markwatch_run_id = run  # type: ignore[attr-defined]
            yield out

    # -- callbacks (same names as the base: queued requests refer to them by name)

    def parse_search(self, response: Any) -> Iterator[Any]:
        run = response.meta.get(RUN_META)
        self.run_count(run, "markwatch/pages")
        self.run_count(run, f"workers/{self.worker_id}/pages")
        yield from self._tag(super().parse_search(response), response.meta)  # type: ignore[misc]

    def parse_product(self, response: Any, listing: Listing) -> Iterator[Any]:
        yield from self._tag(super().parse_product(response, listing), response.meta)  # type: ignore[misc]

    def on_product_error(self, failure: Any) -> Iterator[Any]:
        meta = failure.request.meta if hasattr(failure, "request") else {}
        yield from self._tag(super().on_product_error(failure), meta)  # type: ignore[misc]

    def drop_page(self, response: Any, reason: str, detail: str = "") -> None:
        super().drop_page(response, reason, detail)  # type: ignore[misc]
        self.run_count(response.meta.get(RUN_META), f"markwatch/pages_dropped/{reason}")

    def on_error(self, failure: Any) -> None:
        super().on_error(failure)  # type: ignore[misc]
        kind = self.failure_kind(failure)  # type: ignore[attr-defined]
        if kind is not None and hasattr(failure, "request"):
            # Per kind as in one process, so that `nothing_fetched` can tell a run
            # that got no page back from one that found nothing.
            run = failure.request.meta.get(RUN_META)
            self.run_count(run, "markwatch/errors")
            self.run_count(run, f"markwatch/errors/{kind}")
            if failure.check(RefusedRequest):
                self.run_count(run, "markwatch/refused_unsafe")


_CLASSES: dict[type, type] = {}


def distributed_spider_class(name: str, spider_kwargs: dict[str, Any]) -> type[scrapy.Spider]:
    """The worker variant of marketplace `name`'s spider (generic spiders included)."""
    from crawler.spider import _spider_or_generic

    base = _spider_or_generic(name, spider_kwargs)
    if base not in _CLASSES:
        _CLASSES[base] = type(
            f"Distributed{base.__name__}", (DistributedSpiderMixin, base), {"__module__": __name__}
        )
    return _CLASSES[base]


# ------------------------------------------------------------------ pipelines


_ITEM_RUN: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "markwatch_item_run", default=None
)


def _through_db_outage(step: Callable[[], Any], what: str) -> Any:
    """Run `step` (one store transaction), again with back-off while the database is
    unreachable, for up to DB_OUTAGE_SECONDS; then the error goes on as before."""
    deadline = time.monotonic() + DB_OUTAGE_SECONDS
    pause = 0.5
    while True:
        try:
            return step()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + pause > deadline:
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            log.warning("database unavailable (%s); %s again in %.1f s", reason, what, pause)
            time.sleep(pause)
            pause = min(pause * 2, 10.0)


class RunAwareStorePipeline(StorePipeline):
    """`StorePipeline` with the crawl run taken from each item (a worker serves many runs).

    `store` may run in a thread beside other items' stores, so the run is kept in a
    context variable (each thread's call runs in its own copy), not on the instance.
    """

    @property  # type: ignore[override]
    def run_id(self) -> int | None:
        return _ITEM_RUN.get()

    @run_id.setter
    def run_id(self, _value: int | None) -> None:
        pass  # set by the base class from MARKWATCH_RUN_ID; each item says its own run

    def store(self, item: Listing) -> Listing:
        _ITEM_RUN.set(getattr(item, "markwatch_run_id", None) or None)
        return _through_db_outage(lambda: super(RunAwareStorePipeline, self).store(item), "storing")


class SerialAssessPipeline(AssessPipeline):
    """`AssessPipeline`, one worker at a time per listing (a Redis lock).

    Two workers can store the same listing at the same moment (it shows up under two
    search terms); serialised, the second finds it assessed, so it is assessed, and
    taken in as a case, once.
    """

    @classmethod
    def from_crawler(cls, crawler: Any) -> SerialAssessPipeline:
        pipe = super().from_crawler(crawler)
        pipe.redis = redis.Redis.from_url(crawler.settings["REDIS_URL"], socket_timeout=30)
        return pipe

    def assess(self, item: Listing) -> None:
        # Runs in a worker thread (see AssessPipeline.process_item): waiting here for
        # another worker's lock does not hold up this worker's downloads.
        # The lock expires on its own (ASSESS_LOCK_SECONDS) when its holder dies; matching
        # one listing takes far less, and an overlong one costs a repeat, never a loss.
        # A database outage is waited out between lock turns, not holding the lock past
        # its expiry (another worker could then assess the listing at the same time).
        _through_db_outage(lambda: self._assess_locked(item), "assessing")

    def _assess_locked(self, item: Listing) -> None:
        with self.redis.lock(
            f"{PREFIX}:assess:{item.stored_id}",
            timeout=ASSESS_LOCK_SECONDS,
            blocking_timeout=4 * ASSESS_LOCK_SECONDS,
            raise_on_release_error=False,
        ):
            super().assess(item)


class RunStatsPipeline:
    """Counts stored listings and new verdicts in the run's Redis hash, for the run report."""

    def __init__(self, server: redis.Redis) -> None:
        self.server = server

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunStatsPipeline:
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL not set")
        return cls(redis.Redis.from_url(crawler.settings["REDIS_URL"], socket_timeout=30))

    def process_item(self, item: Listing, spider: Any = None) -> Listing:
        run = getattr(item, "markwatch_run_id", None)
        if run:
            key = run_key(int(run))
            self.server.hincrby(key, "markwatch/listings", 1)
            if item.assessment_id is not None and item.verdict:
                self.server.hincrby(key, f"markwatch/verdict/{item.verdict}", 1)
        return item


def worker_pipelines() -> dict[str, int]:
    """The monitoring pipelines: the store step reads the run from each item, the assess
    step is serialised per listing across workers, and the run's counters are kept."""
    swap = {
        "crawler.pipelines.StorePipeline": "crawler.distributed.RunAwareStorePipeline",
        "crawler.pipelines.AssessPipeline": "crawler.distributed.SerialAssessPipeline",
    }
    pipes = {swap.get(k, k): v for k, v in MONITOR_PIPELINES.items()}
    pipes["crawler.distributed.RunStatsPipeline"] = max(MONITOR_PIPELINES.values()) + 100
    return pipes


def worker_settings(
    client: Client,
    market: str,
    url: str,
    data_dir: Path,
    redis_url: str,
    worker_id: str,
    *,
    idle_timeout: float = 0.0,
) -> dict[str, Any]:
    """Scrapy settings of one marketplace's crawler in a worker."""
    from crawler.monitor import crawl_settings

    settings = crawl_settings(client, url, data_dir, 0, None)
    settings.update(
        {
            "ITEM_PIPELINES": worker_pipelines(),
            "SCHEDULER": "crawler.distributed.ReliableScheduler",
            "SCHEDULER_QUEUE_CLASS": "crawler.distributed.ReliableQueue",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_PERSIST": True,  # the queue and the seen-set outlive any one worker
            "SCHEDULER_QUEUE_KEY": queue_key(market),
            "SCHEDULER_DUPEFILTER_KEY": dupefilter_key(market),
            "REDIS_URL": redis_url,
            "MAX_IDLE_TIME_BEFORE_CLOSE": idle_timeout,
            "MARKWATCH_WORKER_ID": worker_id,
            # A worker takes from the shared queue only what it can download now, so the
            # other workers get their share.
            "CONCURRENT_REQUESTS": max(1, int(client.marketplaces[market].concurrency)),
        }
    )
    return settings


def run_worker(
    client: Client,
    url: str,
    redis_url: str,
    *,
    marketplaces: list[str] | None = None,
    idle_timeout: float = 0.0,
    lease: float = DEFAULT_LEASE,
    data_dir: str | os.PathLike[str] | None = None,
    worker_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Crawl requests from the shared queue until idle for `idle_timeout` s (0: forever).

    Returns pages crawled per marketplace. Raises RedisUnavailable, or the database's
    OperationalError, when a service cannot be reached at start.
    """
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import Crawler, CrawlerProcess
    from scrapy.utils.reactor import install_reactor
    from twisted.internet import task

    from crawler.monitor import data_dir_for, markets_to_crawl
    from crawler.spider import project_settings

    say = progress or (lambda _msg: None)
    names = markets_to_crawl(client, marketplaces)
    server = connect_redis(redis_url)
    ensure_schema(server, url)
    if not names:
        raise ValueError(
            f"{client.source}: marketplaces: no enabled marketplace for this worker to crawl"
        )
    wid = worker_id or new_worker_id()
    ddir = data_dir_for(url, data_dir)
    lease = max(1.0, float(lease))

    def heartbeat() -> None:
        try:
            server.set(worker_key(wid), str(time.time()), px=int(lease * 1000))
            server.sadd(WORKERS_KEY, wid)
            for scheduler in _LIVE_SCHEDULERS:
                scheduler.ack_finished()
            for name in names:
                reap(server, name)
        except redis.RedisError as exc:  # a blip: the next beat tries again
            log.warning("heartbeat failed: %s", exc)

    say(f"worker {wid}: serving {', '.join(names)} from {display_redis(redis_url)}")
    heartbeat()  # before the first pop: a request is never held without a lease
    # An idle worker looks at the queue on the engine's heartbeat: every second, not five.
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 1.0
    base_settings = project_settings(
        {"LOG_LEVEL": os.environ.get("MARKWATCH_LOG_LEVEL", "WARNING")}
    )
    # One reactor for all the crawlers of this worker, installed before any of them.
    install_reactor(base_settings["TWISTED_REACTOR"], base_settings["ASYNCIO_EVENT_LOOP"])
    process = CrawlerProcess(base_settings)
    crawlers = {}
    blocked: list[str] = []

    def on_crawler_closed(name: str, reason: str) -> None:
        # A blocked marketplace's crawler is gone for good while the process lives, so
        # later cycles would wait out their drain timeout for it: the whole worker stops
        # (its other crawlers give their requests back) for the service manager to restart.
        if reason == "blocked" and process.crawlers:
            blocked.append(name)
            from twisted.internet import reactor

            reactor.callLater(0, process.stop)

    for name in names:
        cfg = client.marketplaces[name]
        kwargs: dict[str, Any] = {
            "client": str(client.source),
            "config": cfg.model_dump(mode="json"),
        }
        cls = distributed_spider_class(name, kwargs)
        settings = project_settings(
            worker_settings(client, name, url, ddir, redis_url, wid, idle_timeout=idle_timeout)
        )
        crawler = Crawler(cls, settings)
        crawlers[name] = crawler
        crawler.signals.connect(
            lambda spider, reason, name=name: on_crawler_closed(name, reason),
            signal=signals.spider_closed,
            weak=False,
        )
        process.crawl(crawler, **kwargs)
    beat = task.LoopingCall(heartbeat)
    beat.start(max(0.2, lease / 3), now=True)
    try:
        process.start()
    finally:
        if beat.running:
            beat.stop()
        # Anything still held goes back now rather than when the lease runs out.
        for scheduler in tuple(_LIVE_SCHEDULERS):  # close() removes it from the list
            scheduler.close("shutdown")
        server.delete(worker_key(wid))
        server.srem(WORKERS_KEY, wid)
    pages = {
        name: int((c.stats.get_value("markwatch/pages") if c.stats else 0) or 0)
        for name, c in crawlers.items()
    }
    say(f"worker {wid}: stopped after {sum(pages.values())} pages")
    if blocked:
        say(f"worker {wid}: {', '.join(blocked)} blocked the crawl; stopped for a restart")
    return pages


# ------------------------------------------------------------------ the cycle


def seed(server: redis.Redis, client: Client, market: str, run_id: int) -> int:
    """Queue the first result page of every search term of `market` for run `run_id`.

    Leftovers of an aborted cycle and the seen-set of the last one are cleared first.
    """
    cfg = client.marketplaces[market]
    kwargs: dict[str, Any] = {"client": client, "config": cfg.model_dump(mode="json")}
    cls = distributed_spider_class(market, kwargs)
    spider = cls(**kwargs)
    server.delete(queue_key(market), dupefilter_key(market), run_key(run_id))
    server.hset(run_key(run_id), "seeded_at", dt.datetime.now(dt.UTC).isoformat())
    server.expire(run_key(run_id), RUN_STATS_TTL)
    queue = ReliableQueue(server, spider, queue_key(market))
    for term in spider.terms:
        request = spider.search_request(term, 1)
        request.meta[RUN_META] = run_id
        queue.push(request)
    return len(spider.terms)


def queue_state(server: redis.Redis, markets: list[str]) -> dict[str, tuple[int, int]]:
    """(pending, in flight) per marketplace, read in one atomic step."""
    pipe = server.pipeline(transaction=True)
    for name in markets:
        pipe.zcard(queue_key(name))
        pipe.hlen(processing_key(name))
    values = pipe.execute()
    return {name: (int(values[2 * i]), int(values[2 * i + 1])) for i, name in enumerate(markets)}


def live_workers(server: redis.Redis) -> list[str]:
    out = []
    for wid in sorted(x.decode() for x in server.smembers(WORKERS_KEY)):
        if server.exists(worker_key(wid)):
            out.append(wid)
        else:
            server.srem(WORKERS_KEY, wid)
    return out


def run_stats(server: redis.Redis, run_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in server.hgetall(run_key(run_id)).items():
        key, value = k.decode(), v.decode()
        out[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
    return out


def wait_for_drain(
    server: redis.Redis,
    markets: list[str],
    runs: dict[str, int],
    *,
    timeout: float,
    say: Callable[[str], None],
    poll: float = 0.5,
    on_tick: Callable[[], None] | None = None,
) -> dict[str, str]:
    """Wait until no marketplace has pending or in-flight requests.

    Returns marketplaces that ended otherwise: {name: "blocked: reason" | "timeout"}.
    Requests of dead workers are put back on the way; a blocked marketplace's queue
    is emptied (every worker stopped crawling it).
    """
    ended: dict[str, str] = {}
    active = list(markets)
    deadline = time.monotonic() + timeout
    last_say = 0.0
    while active:
        for name in active:
            reap(server, name)
        for name in list(active):
            blocked = server.hget(run_key(runs[name]), "blocked")
            if blocked:
                server.delete(queue_key(name), processing_key(name))
                ended[name] = f"blocked: {blocked.decode()}"
                active.remove(name)
        state = queue_state(server, active)
        for name, (pending, flying) in state.items():
            if pending == 0 and flying == 0:
                active.remove(name)
        if not active:
            break
        now = time.monotonic()
        if now >= deadline:
            for name in active:
                ended[name] = "timeout"
            break
        if now - last_say >= 10:
            last_say = now
            queued = sum(p for p, _ in state.values())
            flying = sum(f for _, f in state.values())
            workers = live_workers(server)
            say(
                f"waiting for workers: {queued} queued, {flying} in flight, {len(workers)} worker(s) alive"
            )
        if on_tick:
            on_tick()
        time.sleep(poll)
    return ended


def run_distributed(
    client: Client,
    url: str,
    redis_url: str,
    *,
    marketplaces: list[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    evidence: bool = True,
    send_alerts: bool = True,
    timeout: float = 3600.0,
    progress: Callable[[str], None] | None = None,
) -> Any:
    """One cycle crawled by the workers: seed, wait for the drain, then the post-crawl steps.

    Raises RedisUnavailable or the database's OperationalError when a service cannot
    be reached, CycleLocked when another distributed cycle is running.
    """
    from crawler.monitor import (
        CycleLocked,
        CycleReport,
        MarketResult,
        after_crawl,
        close_interrupted_runs,
        data_dir_for,
        markets_to_crawl,
        read_unfinished,
        unfinished_mark,
    )
    from crawler.spider import nothing_fetched, unusable_pages

    say = progress or (lambda _msg: None)
    names = markets_to_crawl(client, marketplaces)
    server = connect_redis(redis_url)
    ensure_schema(server, url)
    token = uuid.uuid4().hex
    lock_ttl = 120
    if not server.set(LOCK_KEY, token, nx=True, ex=lock_ttl):
        raise CycleLocked(
            f"another markwatch cycle is running on this queue (Redis key {LOCK_KEY})"
        )

    # The lock lives while this process does: renewed in the background (post-crawl
    # steps such as evidence capture can take long), gone within lock_ttl after a crash.
    stop = threading.Event()

    def keep_lock() -> None:
        renew = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0"
        while not stop.wait(lock_ttl / 4):
            try:
                server.eval(renew, 1, LOCK_KEY, token, lock_ttl)
            except redis.RedisError as exc:  # a blip: the next renewal tries again
                log.warning("cycle lock renewal failed: %s", exc)

    threading.Thread(target=keep_lock, name="markwatch-cycle-lock", daemon=True).start()
    cycle = ""
    try:
        ddir = data_dir_for(url, data_dir)
        with db.session_scope(url) as session:
            db.sync_marks(session, client)
        cycle = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        report = CycleReport(cycle, m.utcnow())
        # As in `run`: a cycle killed before its post-crawl steps leaves this mark, and
        # the next one takes in the hits assessed since then.
        marked = server.get(UNFINISHED_KEY)
        since, killed = read_unfinished(marked.decode() if marked else "", report.started_at)
        close_interrupted_runs(url, killed, say)
        server.set(UNFINISHED_KEY, unfinished_mark(since, [*killed, cycle]))
        runs: dict[str, int] = {}
        started = time.monotonic()
        for name in names:
            with db.session_scope(url) as session:
                runs[name] = db.start_run(session, name, cycle).id
            n = seed(server, client, name, runs[name])
            say(f"{name}: {n} searches queued (run {runs[name]})")
        workers = live_workers(server)
        say(f"{len(workers)} worker(s) alive" + ("" if workers else "; waiting for one to start"))
        ended = wait_for_drain(server, names, runs, timeout=timeout, say=say)
        seconds = time.monotonic() - started
        for name in names:
            stats = run_stats(server, runs[name])
            mr = MarketResult(name, "ok", seconds=seconds)
            mr.pages = int(stats.get("markwatch/pages", 0))
            with db.session_scope(url) as session:
                # Listings seen in this run, each once, whichever worker stored it.
                mr.items = int(
                    session.scalar(
                        select(func.count())
                        .select_from(m.Sighting)
                        .where(m.Sighting.run_id == runs[name])
                    )
                    or 0
                )
            mr.errors = int(stats.get("markwatch/errors", 0))
            mr.verdicts = {
                k.rsplit("/", 1)[1]: int(v)
                for k, v in stats.items()
                if k.startswith("markwatch/verdict/")
            }
            why = ended.get(name)
            if why and why.startswith("blocked: "):
                mr.status, mr.reason = "blocked", why[len("blocked: ") :]
            elif why:
                mr.status, mr.reason = (
                    "failed",
                    f"workers did not drain the queue within {timeout:g} s",
                )
            elif failed := unusable_pages(stats) or nothing_fetched(stats):
                # As in `run`: pages the parser could not read, or no page at all,
                # are not "no results".
                mr.status, mr.reason = "failed", failed
            with db.session_scope(url) as session:
                db.finish_run(
                    session,
                    runs[name],
                    mr.status,
                    reason=mr.reason,
                    pages=mr.pages,
                    items=mr.items,
                    errors=mr.errors,
                    stats=stats,
                )
            report.markets.append(mr)
            say(
                f"{name}: {mr.status}, {mr.pages} pages, {mr.items} listings"
                + (f" ({mr.reason})" if mr.reason else "")
            )
        after_crawl(
            client,
            url,
            ddir,
            report,
            evidence=evidence,
            send_alerts=send_alerts,
            say=say,
            since=since,
        )
        server.delete(UNFINISHED_KEY)
        return report
    except redis.RedisError as exc:
        # Redis lost mid-cycle (restarted, network gone): the runs this cycle opened are
        # closed as failed rather than left `running`, and the user gets one line, not a
        # traceback. The cycle's unfinished mark stays in Redis for the next cycle.
        if cycle:
            close_interrupted_runs(url, [cycle], say)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise RedisUnavailable(
            f"lost Redis at {display_redis(redis_url)} during the cycle: {reason}"
        ) from None
    finally:
        stop.set()
        try:
            server.eval(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                1,
                LOCK_KEY,
                token,
            )
        except redis.RedisError:  # Redis gone: the lock expires by itself within lock_ttl
            pass
