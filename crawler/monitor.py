"""One monitoring cycle, and the daemon that repeats it.

`run_cycle` crawls each enabled marketplace in its own process, several at once
(the item pipelines store, assess and take in what it finds), then does the steps that
need the whole cycle: stay-down checks, evidence for new counterfeit hits, crawl
health, and the alerts (queued in the outbox, then flushed). A lock file stops two
cycles on the same store from overlapping, so cron can start one every hour.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import func, select

from crawler import db
from crawler import models as m
from crawler.config import Client
from crawler.files import remove_leftovers, write_whole
from crawler.pipelines import MONITOR_PIPELINES, photo_matching_version

log = logging.getLogger(__name__)

# The daemon tries again this soon when another cycle (a `run` by hand) holds the lock:
# those marketplaces were not crawled, so they must not wait a whole interval.
LOCKED_RETRY_SECONDS = 60.0


class CycleLocked(RuntimeError):
    """Another cycle holds the lock of this store."""


@dataclass
class MarketResult:
    marketplace: str
    status: str  # ok | blocked | failed
    reason: str | None = None
    pages: int = 0
    items: int = 0
    errors: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class CycleReport:
    cycle: str
    started_at: dt.datetime
    markets: list[MarketResult] = field(default_factory=list)
    new_hits: list[int] = field(default_factory=list)  # assessment ids
    review_count: int = 0
    new_reviews: list[int] = field(default_factory=list)  # assessment ids, for targets that want them
    # Listings whose evidence is to be captured: this cycle's hits, and hits seen again that
    # still have none (a capture failed, or a page answered with an error, last time).
    evidence_due: list[int] = field(default_factory=list)
    health: list[dict[str, Any]] = field(default_factory=list)
    evidence_captured: int = 0
    evidence_failed: list[str] = field(default_factory=list)
    relists: int = 0
    alerts_sent: int = 0  # alerts (one per hit and target), in alert_messages messages
    alert_messages: int = 0
    alerts_pending: int = 0

    @property
    def ok(self) -> bool:
        return all(mr.status == "ok" for mr in self.markets)


def data_dir_for(url: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where images, evidence and the lock live: beside a SQLite file, else ./markwatch-data."""
    if data_dir:
        return Path(data_dir)
    if os.environ.get("MARKWATCH_DATA_DIR"):
        return Path(os.environ["MARKWATCH_DATA_DIR"])
    path = db.sqlite_file(url)
    return path.with_name(path.stem + "-data") if path else Path("markwatch-data")


def markets_to_crawl(client: Client, marketplaces: list[str] | None = None) -> list[str]:
    """The enabled marketplaces, or those of them named; ValueError names any unknown one."""
    names = list(client.enabled_marketplaces())
    if marketplaces:
        unknown = [n for n in marketplaces if n not in client.marketplaces]
        if unknown:
            raise ValueError(f"--marketplace: {', '.join(unknown)} not in the client file's marketplaces")
        names = [n for n in names if n in marketplaces]
    return names


def cycle_lock(data_dir: Path) -> FileLock:
    data_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(data_dir / "cycle.lock"))


def crawl_settings(client: Client, url: str, data_dir: Path, run_id: int, extra: dict[str, Any] | None) -> dict[str, Any]:
    from crawler.netguard import marketplace_hosts
    from crawler.pipelines import ListingImagesPipeline

    settings = {
        **ListingImagesPipeline.settings_for(data_dir),
        "ITEM_PIPELINES": MONITOR_PIPELINES,
        "MARKWATCH_DB": url,
        "MARKWATCH_CONFIG": str(client.source),
        "MARKWATCH_RUN_ID": run_id,
        "MARKWATCH_DATA_DIR": str(data_dir),
        "MARKWATCH_ALLOW_HOSTS": sorted(marketplace_hosts(client)),
        "LOG_LEVEL": os.environ.get("MARKWATCH_LOG_LEVEL", "WARNING"),
    }
    settings.update(extra or {})
    return settings


def crawls_at_once(marketplaces: int, parallel: int | None = None) -> int:
    """How many of a cycle's marketplaces are crawled at once: `parallel`, else one per core."""
    return max(1, min(marketplaces, parallel or os.cpu_count() or 1))


def crawl_marketplace(
    client: Client, name: str, url: str, data_dir: Path, cycle: str, *,
    settings: dict[str, Any] | None = None, timeout: float = 3600.0,
) -> MarketResult:
    """Crawl one marketplace in a child process and record the run; never raises.

    The run is `failed` when the crawl did not finish, fetched no result page at all
    while requests failed, or yielded no listing while result pages were unusable (the
    site served what the parser cannot read: not a zero); its reason is one line
    (`crawler.spider.failure_reason`).
    """
    from crawler.spider import failure_reason, last_error_line, nothing_fetched, run_crawl

    with db.session_scope(url) as session:
        run_id = db.start_run(session, name, cycle).id
    started = time.monotonic()
    cfg = client.marketplaces[name]
    result = MarketResult(name, "failed")
    stats: dict[str, Any] = {}
    try:
        crawl = run_crawl(
            name, crawl_settings(client, url, data_dir, run_id, settings), timeout=timeout,
            client=str(client.source), config=cfg.model_dump(mode="json"),
        )
        stats = crawl.stats
        result.pages = int(stats.get("markwatch/pages", 0))
        result.items = int(stats.get("markwatch/listings", 0))
        result.errors = sum(int(v) for k, v in stats.items() if k.startswith("markwatch/errors/")) + int(
            stats.get("log_count/ERROR", 0)
        )
        result.verdicts = {
            k.rsplit("/", 1)[1]: int(v) for k, v in stats.items() if k.startswith("markwatch/verdict/")
        }
        if crawl.blocked:
            result.status, result.reason = "blocked", str(crawl.block_reason or "block page")
        elif crawl.close_reason != "finished":
            result.status, result.reason = "failed", f"crawl closed: {crawl.close_reason or 'did not start'}"
            why = last_error_line(crawl.log_tail) if crawl.close_reason is None else ""
            if why:  # a crawl that never started says why in its log
                result.reason += f": {why}"
        elif crawl.unusable:
            result.status, result.reason = "failed", crawl.unusable
        elif unfetched := nothing_fetched(stats):
            # Not one result page came back (the site is down, or answers errors): not a zero.
            result.status, result.reason = "failed", unfetched
        else:
            result.status = "ok"
    except Exception as exc:  # one marketplace failing never stops the others
        result.reason = failure_reason(exc)
        log.error("%s: crawl failed: %s", name, result.reason)
    result.seconds = time.monotonic() - started
    with db.session_scope(url) as session:
        db.finish_run(
            session, run_id, result.status, reason=result.reason, pages=result.pages, items=result.items,
            errors=result.errors, stats=stats,
        )
    return result


def run_cycle(
    client: Client,
    url: str,
    *,
    marketplaces: list[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    settings: dict[str, Any] | None = None,
    evidence: bool = True,
    send_alerts: bool = True,
    progress: Callable[[str], None] | None = None,
    parallel: int | None = None,
) -> CycleReport:
    """One full cycle; raises CycleLocked when another cycle is running on this store.

    `parallel` marketplaces are crawled at once (default: one per core): each is
    another site with its own politeness delays, so a cycle takes about as long
    as its slowest marketplace rather than all of them in a row.
    """
    say = progress or (lambda _msg: None)
    names = markets_to_crawl(client, marketplaces)  # before anything is created
    ddir = data_dir_for(url, data_dir)
    lock = cycle_lock(ddir)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise CycleLocked(f"another markwatch cycle is running on this store (lock {lock.lock_file})") from None
    try:
        db.ensure_schema(url)
        with db.session_scope(url) as session:
            db.sync_marks(session, client)
        db.StoredPhotoSignals(url, photo_matching_version(client)).prune()
        # Photos and evidence half-written by a killed crawl are never read; clear them away.
        remove_leftovers(ddir)
        cycle = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        report = CycleReport(cycle, m.utcnow())
        # A cycle killed before its alerts were queued leaves this marker; the next one
        # takes in the hits assessed since then (queueing and intake are idempotent).
        marker = ddir / "cycle.unfinished"
        try:
            mark = marker.read_text()
        except OSError:
            mark = ""
        since, killed = read_unfinished(mark, report.started_at)
        close_interrupted_runs(url, killed, say)
        write_whole(marker, unfinished_mark(since, [*killed, cycle]).encode())
        with ThreadPoolExecutor(crawls_at_once(len(names), parallel), thread_name_prefix="markwatch-crawl") as pool:
            crawls = []
            for name in names:
                say(f"crawling {name}")
                crawls.append(pool.submit(crawl_marketplace, client, name, url, ddir, cycle, settings=settings))
            for name, crawl in zip(names, crawls):
                mr = crawl.result()  # never raises: a failed marketplace is reported as such
                report.markets.append(mr)
                say(f"{name}: {mr.status}, {mr.pages} pages, {mr.items} listings" + (f" ({mr.reason})" if mr.reason else ""))
        after_crawl(client, url, ddir, report, evidence=evidence, send_alerts=send_alerts, say=say, since=since)
        marker.unlink(missing_ok=True)
        return report
    finally:
        lock.release()


def read_unfinished(mark: str, started_at: dt.datetime) -> tuple[dt.datetime, list[str]]:
    """From the mark a cycle leaves until it completes ("<since> <cycle> ..."): the time
    from which hits are to be taken in, and the cycles that were stopped."""
    try:
        first, *cycles = mark.split()
        return min(started_at, dt.datetime.fromisoformat(first)), cycles
    except ValueError:  # no mark, or not one of ours
        return started_at, []


def unfinished_mark(since: dt.datetime, cycles: list[str]) -> str:
    return " ".join([since.isoformat(), *cycles])


def close_interrupted_runs(url: str, cycles: list[str], say: Callable[[str], None]) -> None:
    """Close the crawl runs that stopped cycles left `running` (see `db.close_interrupted_runs`)."""
    if not cycles:
        return
    with db.session_scope(url) as session:
        closed = db.close_interrupted_runs(session, cycles)
    if closed:
        say(f"{closed} crawl run(s) of an interrupted cycle closed as failed")


def after_crawl(
    client: Client, url: str, ddir: Path, report: CycleReport, *, evidence: bool, send_alerts: bool,
    say: Callable[[str], None], since: dt.datetime | None = None,
) -> None:
    """The steps that need the whole cycle: stay-down, evidence, health, alerts.

    `since`: hits assessed from then on are this cycle's (earlier than its start when
    the previous cycle was killed before finishing these steps).
    """
    from crawler.intake import is_quiet, take_in
    from crawler.takedown.cases import stay_down_check

    with db.session_scope(url) as session:
        for mr in report.markets:
            keys = session.scalars(
                select(m.Listing.marketplace + ":" + m.Listing.listing_id)
                .join(m.Sighting, m.Sighting.listing_pk == m.Listing.id)
                .join(m.CrawlRun, m.CrawlRun.id == m.Sighting.run_id)
                .where(m.CrawlRun.cycle == report.cycle, m.CrawlRun.marketplace == mr.marketplace)
            ).all()
            stay_down_check(session, keys, mr.marketplace)
        rows = session.execute(
            select(m.AssessmentRow, m.Listing)
            .join(m.Listing, m.Listing.id == m.AssessmentRow.listing_pk)
            .where(m.AssessmentRow.created_at >= (since or report.started_at))
            .order_by(m.AssessmentRow.id)
        ).all()
        hit_listings: list[int] = []
        for assessment, listing in rows:
            if assessment.verdict not in ("counterfeit", "review") or is_quiet(listing):
                continue
            if assessment.verdict == "counterfeit":
                take_in(session, listing.id, assessment.id)  # a no-op unless a killed crawl skipped intake
                report.new_hits.append(assessment.id)
                hit_listings.append(listing.id)
            else:
                report.review_count += 1
                report.new_reviews.append(assessment.id)
        # Relists found by the crawl's intake (a new listing matching a removed case) and
        # by the stay-down check above (the removed listing itself back).
        report.relists = session.scalar(
            select(func.count()).select_from(m.Case).where(
                m.Case.relist_of.is_not(None), m.Case.created_at >= (since or report.started_at)
            )
        ) or 0
        report.health = health_events(session, report)
        report.evidence_due = hits_without_evidence(session, report, hit_listings)
    if evidence and report.evidence_due:
        say(f"capturing evidence for {len(report.evidence_due)} hits")
        capture_evidence(client, url, ddir, report)
    if send_alerts:
        deliver_alerts(client, url, report, say)


def health_events(session: Any, report: CycleReport) -> list[dict[str, Any]]:
    """Blocked or failed crawls, zero results where there used to be some, error spikes."""
    events: list[dict[str, Any]] = []
    for mr in report.markets:
        run = session.scalars(
            select(m.CrawlRun).where(m.CrawlRun.cycle == report.cycle, m.CrawlRun.marketplace == mr.marketplace)
        ).first()
        before = db.previous_runs(session, mr.marketplace, run.id) if run else []
        if mr.status in ("blocked", "failed"):
            events.append({"marketplace": mr.marketplace, "kind": mr.status, "detail": mr.reason or ""})
        elif mr.items == 0 and any(r.items > 0 for r in before if r.status == "ok"):
            last = next(r for r in before if r.items > 0)
            events.append({
                "marketplace": mr.marketplace, "kind": "zero_results",
                "detail": f"0 listings now, {last.items} on {last.started_at:%Y-%m-%d}: selectors may be broken",
            })
        usual = [r.errors for r in before if r.status == "ok"]
        if mr.errors >= 5 and usual and mr.errors > 3 * max(1, max(usual)):
            events.append({
                "marketplace": mr.marketplace, "kind": "errors",
                "detail": f"{mr.errors} errors, usually at most {max(usual)}",
            })
    return events


def hits_without_evidence(session: Any, report: CycleReport, new_hits: list[int]) -> list[int]:
    """Listing pks to capture: `new_hits`, then listings seen this cycle whose newest verdict
    is counterfeit and whose evidence is missing or older than their current content (not
    those an analyst dismissed or whose seller is whitelisted)."""
    from crawler.evidence import evidence_times, is_current
    from crawler.intake import is_quiet

    seen = (
        select(m.Sighting.listing_pk)
        .join(m.CrawlRun, m.CrawlRun.id == m.Sighting.run_id)
        .where(m.CrawlRun.cycle == report.cycle)
    )
    newest = db.newest_assessment_ids(seen)
    times = evidence_times().subquery()
    hits = session.execute(
        select(m.Listing, times.c.taken, times.c.current_since, times.c.relisted)
        .join(newest, newest.c.listing_pk == m.Listing.id)
        .join(m.AssessmentRow, m.AssessmentRow.id == newest.c.aid)
        .outerjoin(times, times.c.listing_pk == m.Listing.id)
        .where(m.AssessmentRow.verdict == "counterfeit")
        .order_by(m.Listing.id)
    ).all()
    due = [lst.id for lst, *times_of in hits if not is_current(*times_of) and not is_quiet(lst)]
    return list(dict.fromkeys([*new_hits, *due]))


def capture_evidence(client: Client, url: str, ddir: Path, report: CycleReport) -> None:
    """Screenshot and raw HTML of each hit due (`report.evidence_due`), into the hash-chained store."""
    from crawler.evidence import EvidenceBrowser, capture, has_current_evidence
    from crawler.netguard import marketplace_hosts

    allow = marketplace_hosts(client)
    evidence_dir = ddir / "evidence"
    try:
        browser_cm = EvidenceBrowser(allow_hosts=allow)
        with browser_cm as browser:
            for listing_pk in report.evidence_due:
                with db.session_scope(url) as session:
                    listing = session.get(m.Listing, listing_pk)
                    if listing is None or has_current_evidence(session, listing):
                        continue
                    try:
                        capture(session, listing, evidence_dir, browser=browser)
                        report.evidence_captured += 1
                    except Exception as exc:
                        report.evidence_failed.append(f"{listing.key}: {str(exc).splitlines()[0][:200]}")
    except Exception as exc:  # no browser: the hits stand, evidence can be taken later
        report.evidence_failed.append(f"browser: {str(exc).splitlines()[0][:200]}")


def deliver_alerts(client: Client, url: str, report: CycleReport, say: Callable[[str], None]) -> None:
    import alerts

    with db.session_scope(url) as session:
        # review_count=None: the summary counts the whole open review queue, not just this cycle's.
        # Review hits reach only targets with `min_verdict: review`.
        hits = report.new_hits + report.new_reviews
        alerts.enqueue_cycle_alerts(session, client, report.cycle, hits, None, report.health)
    result = alerts.flush(url, client)
    report.alerts_sent, report.alerts_pending = result.sent, result.pending
    report.alert_messages = result.delivered
    if result.sent or result.pending:
        say(f"alerts: {result.sent} sent in {result.delivered} message(s), {result.pending} pending")


# ------------------------------------------------------------------ daemon


def run_daemon(
    client: Client, url: str, *, data_dir: str | None = None, default_interval_hours: float | None = None,
    settings: dict[str, Any] | None = None, max_cycles: int | None = None,
    progress: Callable[[str], None] | None = None, tick_seconds: float = 5.0, parallel: int | None = None,
) -> int:
    """Crawl each marketplace on its own interval until SIGTERM or SIGINT; returns cycles run.

    The signal lets the current crawl and its post-crawl steps finish, then exits.
    """
    say = progress or (lambda _msg: None)
    stop = {"now": False}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["now"] = True
        say(f"signal {signum}: finishing the current work, then exiting")

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    next_due: dict[str, float] = {name: 0.0 for name in client.enabled_marketplaces()}
    cycles = 0
    try:
        while not stop["now"] and (max_cycles is None or cycles < max_cycles):
            now = time.monotonic()
            due = [n for n, t in next_due.items() if t <= now]
            if not due:
                time.sleep(min(tick_seconds, max(0.1, min(next_due.values()) - now)))
                continue
            try:
                run_cycle(
                    client, url, marketplaces=due, data_dir=data_dir, settings=settings, progress=say,
                    parallel=parallel,
                )
            except CycleLocked as exc:
                say(f"{exc}; trying again in {LOCKED_RETRY_SECONDS:g} s")
                for name in due:
                    next_due[name] = time.monotonic() + LOCKED_RETRY_SECONDS
                continue
            cycles += 1
            for name in due:
                hours = default_interval_hours or client.marketplaces[name].interval_hours
                next_due[name] = time.monotonic() + hours * 3600
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    return cycles


# ------------------------------------------------------------------ rescore


def rescore_store(client: Client, url: str, *, everything: bool = False, batch: int = 200) -> dict[str, Any]:
    """Assess stored listings again with the current matcher and client file.

    Works in batches, each its own transaction, so an interrupted rescore keeps what
    it did and the next one continues where it stopped. A listing promoted to a hit
    (to review or counterfeit, from a lower verdict or none) is queued as a hit alert
    in the outbox, with the keys a cycle's hits use (`hit:<listing>:<verdict>`), so it
    goes out at the next flush and is never announced twice.

    A candidate case whose listing is no longer counterfeit is withdrawn
    (`intake.withdraw_candidate`).

    Returns the counts (`listings`, `assessed`, one per verdict, `changed`,
    `alerts_queued`, `withdrawn`) and `changes` (listing key, old and new verdict, score).
    """
    import alerts
    from alerts.kinds import hit_alert
    from alerts.targets import VERDICT_RANK
    from crawler.intake import is_quiet, take_in, withdraw_candidate
    from crawler.pipelines import listing_input, matching_version
    from matching import Matcher

    matcher = Matcher(client)
    version = matching_version(client)
    targets = alerts.load_targets(client)  # a bad target URL stops the rescore before it writes
    # One digest per target for everything this rescore promotes.
    group = "rescore-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    counts: dict[str, Any] = {
        "listings": 0, "assessed": 0, "counterfeit": 0, "review": 0, "clear": 0, "changed": 0, "alerts_queued": 0,
        "withdrawn": 0,
    }
    changes: list[tuple[str, str, str, float]] = []
    last_id = 0
    while True:
        with db.session_scope(url) as session:
            listings = session.scalars(
                select(m.Listing).where(m.Listing.id > last_id).order_by(m.Listing.id).limit(batch)
            ).all()
            if not listings:
                break
            for listing in listings:
                last_id = listing.id
                counts["listings"] += 1
                if not everything and not db.needs_assessment(session, listing, version):
                    continue
                before = db.latest_assessment(session, listing.id)
                row = db.add_assessment(session, listing, matcher.assess(listing_input(listing)), version)
                counts["assessed"] += 1
                counts[row.verdict] = counts.get(row.verdict, 0) + 1
                if before is not None and before.verdict != row.verdict:
                    counts["changed"] += 1
                    changes.append((listing.key, before.verdict, row.verdict, float(row.score)))
                if row.verdict == "counterfeit":
                    take_in(session, listing.id, row.id)
                elif withdraw_candidate(session, listing, row) is not None:
                    counts["withdrawn"] += 1
                promoted = VERDICT_RANK.get(row.verdict, 0) > (VERDICT_RANK.get(before.verdict, 0) if before else 0)
                if promoted and targets and not is_quiet(listing):
                    # Counted per hit (one row per target that wants it).
                    alert = hit_alert(client, listing, row, group)
                    counts["alerts_queued"] += bool(alerts.enqueue(session, alert, targets))
    counts["changes"] = changes
    return counts
