"""The monitoring loop end to end: crawl the local marketplace, store, assess, take in.

Each test runs real crawls (child processes) against `MarketplaceServer` serving the
demo catalogue, into a real SQLite file.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml
from filelock import FileLock
from sqlalchemy import func, select

from alerts.targets import load_targets
from crawler import db
from crawler import models as m
from crawler.config import load_client
from crawler.demo import demo_files
from crawler.marketplace_server import MarketplaceServer
from crawler.monitor import CycleLocked, data_dir_for, run_cycle
from tests.conftest import run_cli

MARKETS = ("aliexpress", "taobao")


@pytest.fixture(scope="module")
def market():
    _, catalogue, images = demo_files()
    with MarketplaceServer(catalogue, images) as server:
        yield server


@pytest.fixture
def client_file(tmp_path: Path, market: MarketplaceServer) -> Path:
    """The demo client pointed at the local marketplace, two marketplaces, no delay."""
    config, _, _ = demo_files()
    folder = tmp_path / "client"
    shutil.copytree(config.parent, folder, ignore=shutil.ignore_patterns("market"))
    data = yaml.safe_load((folder / "markwatch.yaml").read_text())
    data["marketplaces"] = {
        name: {"base_url": market.url(name), "max_pages": 3, "download_delay": 0, "concurrency": 8}
        for name in MARKETS
    }
    path = folder / "markwatch.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def _counts(url: str) -> dict[str, int]:
    with db.session_scope(url) as s:
        return {
            name: s.scalar(select(func.count()).select_from(model))
            for name, model in (
                ("listings", m.Listing), ("sightings", m.Sighting), ("assessments", m.AssessmentRow),
                ("cases", m.Case), ("outbox", m.OutboxAlert), ("runs", m.CrawlRun),
            )
        }


def test_cycle_stores_assesses_and_takes_in(client_file: Path, tmp_path: Path):
    client = load_client(client_file)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    report = run_cycle(client, url, evidence=False, parallel=2)
    assert [mr.status for mr in report.markets] == ["ok", "ok"], report.markets
    assert [mr.marketplace for mr in report.markets] == list(MARKETS)  # in the client file's order
    with db.session_scope(url) as s:
        first, second = s.scalars(select(m.CrawlRun).order_by(m.CrawlRun.started_at)).all()
        assert second.started_at < first.finished_at  # the two marketplaces were crawled at once
    counts = _counts(url)
    expected = sum(1 for line in (demo_files()[1]).read_text().splitlines() if json.loads(line)["marketplace"] in MARKETS)
    assert counts["listings"] == expected
    assert counts["assessments"] == counts["listings"]
    with db.session_scope(url) as s:
        verdicts = {lst.key: a.verdict for lst, a in db.iter_listings_with_assessment(s)}
        images = s.scalars(select(m.ListingImage)).all()
        assert images and all(img.sha256 and img.phash for img in images)
        case_keys = {c.listing.key for c in s.scalars(select(m.Case))}
        case_states = {c.state for c in s.scalars(select(m.Case))}
        # Photos compared are remembered by their bytes' SHA-256 for later listings and runs.
        photos = s.scalars(select(m.PhotoSignals)).all()
        assert photos and {p.sha256 for p in photos} <= {img.sha256 for img in images}
        assert any(p.signals for p in photos)
    assert verdicts["aliexpress:1005006120001"] == "counterfeit"  # "1:1 Replica" at 12% of MSRP
    assert verdicts["aliexpress:1005006120003"] == "clear"  # the authorised store
    assert verdicts["taobao:680011223303"] == "clear"  # authorised by seller name
    assert case_keys == {k for k, v in verdicts.items() if v == "counterfeit"}
    assert case_states == {"candidate"}
    assert report.new_hits and len(report.new_hits) == len(case_keys)

    # Second cycle over unchanged listings: a sighting each, nothing assessed or queued again.
    second = run_cycle(client, url, evidence=False)
    again = _counts(url)
    assert again["listings"] == counts["listings"]
    assert again["sightings"] == 2 * counts["listings"]
    assert again["assessments"] == counts["assessments"]
    assert again["cases"] == counts["cases"]
    assert again["outbox"] == counts["outbox"]
    assert second.new_hits == []


def test_blocked_marketplace_is_reported_and_others_go_on(client_file: Path, tmp_path: Path, market):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    market.block("taobao", "punish")
    try:
        out = run_cli("run", "--config", str(client_file), "--db", url, "--no-evidence")
    finally:
        market.unblock("taobao")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "taobao blocked" in out.stderr
    with db.session_scope(url) as s:
        runs = {r.marketplace: r for r in s.scalars(select(m.CrawlRun))}
        assert runs["taobao"].status == "blocked" and runs["taobao"].reason
        assert runs["aliexpress"].status == "ok" and runs["aliexpress"].items > 0
        assert s.scalar(select(func.count()).select_from(m.Listing).where(m.Listing.marketplace == "aliexpress")) > 0


def test_lock_stops_overlapping_cycles(client_file: Path, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    lock = FileLock(str(data_dir_for(url) / "cycle.lock"))
    data_dir_for(url).mkdir(parents=True, exist_ok=True)
    with lock:
        with pytest.raises(CycleLocked):
            run_cycle(load_client(client_file), url, evidence=False)
        out = run_cli("run", "--config", str(client_file), "--db", url)
        assert out.returncode == 1 and "another markwatch cycle is running" in out.stderr


def test_daemon_retries_soon_when_another_cycle_holds_the_lock(
    client_file: Path, tmp_path: Path, monkeypatch
):
    # A `run` by hand holding the lock when the daemon wakes must not push the daemon's
    # marketplaces back a whole interval_hours: they were not crawled.
    import threading

    from crawler import monitor

    monkeypatch.setattr(monitor, "LOCKED_RETRY_SECONDS", 0.5)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    data_dir_for(url).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir_for(url) / "cycle.lock"), thread_local=False)  # released by the timer
    lock.acquire()
    threading.Timer(1.5, lock.release).start()
    said: list[str] = []
    cycles = monitor.run_daemon(
        load_client(client_file), url, max_cycles=1, tick_seconds=0.1, progress=said.append,
        settings={"AUTOTHROTTLE_ENABLED": False},
    )
    assert cycles == 1
    assert any("trying again" in line for line in said), said
    with db.session_scope(url) as s:
        crawled = set(s.scalars(select(m.CrawlRun.marketplace)).all())
    assert crawled == set(MARKETS)


def test_an_unknown_marketplace_is_refused_before_anything_is_created(client_file: Path, tmp_path: Path):
    store = tmp_path / "new.db"
    out = run_cli("run", "--config", str(client_file), "--db", str(store), "--marketplace", "nosuchmarket")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "markwatch: --marketplace: nosuchmarket not in the client file's marketplaces"
    ]
    assert not store.exists() and not (tmp_path / "new-data").exists()


def test_reading_a_store_that_is_not_there_says_so_and_creates_nothing(tmp_path: Path):
    missing = tmp_path / "typo.db"
    out_file = tmp_path / "export.jsonl"
    out = run_cli("export", "--db", str(missing), "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    assert out_file.read_text() == ""  # nothing stored: an empty export
    assert f"{missing}: no store there" in out.stderr and len(out.stderr.strip().splitlines()) == 2
    for command in (["sellers"], ["cases"], ["report"]):
        out = run_cli(*command, "--db", str(missing))
        assert out.returncode == 0, out.stderr
        assert out.stderr.strip().splitlines() == [
            f"markwatch: {missing}: no store there (`markwatch run` creates it; check --db or MARKWATCH_DB)"
        ]
    # Commands that act on what is stored cannot go on without a store.
    for command in (["case", "1", "confirm"], ["evidence", "capture", "aliexpress:1"], ["evidence", "verify"]):
        out = run_cli(*command, "--db", str(missing))
        assert out.returncode == 2 and "no store there" in out.stderr
    assert not missing.exists()


def test_export_contract_and_rescore(client_file: Path, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    # Temporary files a killed crawl left beside its photos are cleared by the next cycle;
    # one still being written (fresh) is not.
    photos = data_dir_for(url) / "images" / "full"
    photos.mkdir(parents=True)
    stale, fresh = photos / ".a.jpg.x1.partial", photos / ".b.jpg.x2.partial"
    for leftover in (stale, fresh):
        leftover.write_bytes(b"half a photo")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    run_cycle(load_client(client_file), url, marketplaces=["aliexpress"], evidence=False)
    assert not stale.exists() and fresh.exists()
    out_file = tmp_path / "export.jsonl"
    out = run_cli("export", "--db", url, "--out", str(out_file))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert rows
    for row in rows:
        assert list(row)[:10] == ["id", "marketplace", "url", "title", "description", "price", "currency",
                                  "seller_id", "seller_name", "images"]
        assert {"score", "verdict", "mark_id", "signals", "first_seen", "last_seen"} <= set(row)
        assert row["first_seen"].endswith("Z") and row["images"][0].startswith("http")
        assert 0 <= row["score"] <= 1 and row["verdict"] in ("counterfeit", "review", "clear")
    # Rescore after the client authorises a seller: that listing turns clear, without crawling.
    data = yaml.safe_load(client_file.read_text())
    data["authorized_sellers"].append({"marketplace": "aliexpress", "seller_id": "2231"})
    client_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    out = run_cli("rescore", "--config", str(client_file), "--db", url)
    assert out.returncode == 0, out.stderr
    with db.session_scope(url) as s:
        verdicts = {lst.key: a.verdict for lst, a in db.iter_listings_with_assessment(s)}
    assert verdicts["aliexpress:1005006120001"] == "clear"
    assert "changed verdict" in out.stdout
    # Its untouched candidate case is withdrawn: nobody files against an authorised seller.
    assert "1 candidate case(s) withdrawn (no longer counterfeit)" in " ".join(out.stdout.split())
    with db.session_scope(url) as s:
        case = s.scalars(select(m.Case).join(m.Listing).where(m.Listing.listing_id == "1005006120001")).one()
        assert case.state == "withdrawn"
        assert case.events[-1].actor == "markwatch" and case.events[-1].note.startswith("verdict now clear")
        assert s.get(m.Listing, case.listing_pk).triage_state == "new"  # not an analyst's dismissal


def test_a_candidate_follows_its_listing_in_and_out_of_counterfeit(client_file: Path, tmp_path: Path, market):
    # The shop moves the listing to the brand's authorised seller: the next crawl assesses
    # it clear and withdraws the candidate; moved back, the same case is a candidate again.
    url = f"sqlite:///{tmp_path / 'store.db'}"
    client = load_client(client_file)
    run_cycle(client, url, marketplaces=["aliexpress"], evidence=False)
    saved = market.catalogue
    i = next(n for n, it in enumerate(saved) if it["listing_id"] == "1005006120001")
    market.catalogue = [*saved[:i], saved[i] | {"seller_id": "1100200300"}, *saved[i + 1 :]]
    try:
        run_cycle(client, url, marketplaces=["aliexpress"], evidence=False)
    finally:
        market.catalogue = saved
    with db.session_scope(url) as s:
        case = s.scalars(select(m.Case).join(m.Listing).where(m.Listing.listing_id == "1005006120001")).one()
        assert case.state == "withdrawn", [(e.to_state, e.note) for e in case.events]
        case_id = case.id
    run_cycle(client, url, marketplaces=["aliexpress"], evidence=False)
    with db.session_scope(url) as s:
        case = s.scalars(select(m.Case).join(m.Listing).where(m.Listing.listing_id == "1005006120001")).one()
        assert (case.id, case.state) == (case_id, "candidate")
        assert [e.to_state for e in case.events] == ["candidate", "withdrawn", "candidate"]
        assert case.events[-1].note.startswith("counterfeit again, score")


def test_the_next_cycle_closes_the_runs_a_stopped_cycle_left_running(client_file: Path, tmp_path: Path):
    # A cycle killed mid-crawl leaves its run `running` and its mark; the next cycle on the
    # store closes that run as failed, counting the listings it had stored.
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.upgrade(url)
    started = m.utcnow()
    with db.session_scope(url) as s:
        run = db.start_run(s, "aliexpress", cycle="20260101T000000-dead01")
        for n in ("1", "2"):
            db.upsert_listing(s, {"marketplace": "aliexpress", "listing_id": n, "url": f"https://a.example/{n}",
                                  "title": "x"}, run_id=run.id)
        killed = run.id
    ddir = data_dir_for(url)
    ddir.mkdir(parents=True, exist_ok=True)
    (ddir / "cycle.unfinished").write_text(f"{started.isoformat()} 20260101T000000-dead01")
    lines: list[str] = []
    run_cycle(load_client(client_file), url, marketplaces=["aliexpress"], evidence=False, progress=lines.append)
    with db.session_scope(url) as s:
        run = s.get(m.CrawlRun, killed)
        assert (run.status, run.reason, run.items) == ("failed", db.INTERRUPTED, 2)
        assert run.finished_at is not None
        assert s.scalar(select(func.count()).select_from(m.CrawlRun).where(m.CrawlRun.status == "running")) == 0
    assert "1 crawl run(s) of an interrupted cycle closed as failed" in lines
    assert not (ddir / "cycle.unfinished").exists()


def test_bad_config_writes_nothing(tmp_path: Path):
    bad = tmp_path / "markwatch.yaml"
    bad.write_text("client: {name: X}\nmarks: []\n")
    store = tmp_path / "store.db"
    out = run_cli("run", "--config", str(bad), "--db", f"sqlite:///{store}")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert not store.exists()


def test_daemon_runs_cycles_and_stops_cleanly_on_sigterm(client_file: Path, tmp_path: Path):
    import os
    import signal
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 'store.db'}"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("markwatch")), "daemon", "--config", str(client_file), "--db", url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + 120
        finished = 0
        while time.monotonic() < deadline and finished < 1:
            time.sleep(1)
            if Path(tmp_path / "store.db").exists():
                try:
                    with db.session_scope(url) as s:
                        finished = s.scalar(
                            select(func.count()).select_from(m.CrawlRun).where(m.CrawlRun.finished_at.is_not(None))
                        )
                except Exception:
                    finished = 0
        assert finished >= 1, "the daemon ran no crawl"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "finishing the current work" in output and "daemon stopped" in output
    with db.session_scope(url) as s:
        # SIGTERM let the cycle finish: no run is left half-done.
        assert s.scalar(select(func.count()).select_from(m.CrawlRun).where(m.CrawlRun.status == "running")) == 0


def test_readme_daemon_unit_signals_the_daemon_alone():
    # systemd sends KillSignal to every process of the unit unless KillMode=mixed: the
    # crawl children would die mid-crawl instead of finishing as the daemon promises.
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    unit = text.split("markwatch-daemon.service", 1)[1].split("[Install]", 1)[0]
    assert "KillSignal=SIGTERM" in unit
    assert "KillMode=mixed" in unit


def test_zero_results_after_results_is_a_health_warning(client_file: Path, tmp_path: Path, market):
    client = load_client(client_file)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first = run_cycle(client, url, marketplaces=["aliexpress"], evidence=False)
    assert first.health == [] and first.markets[0].items > 0
    saved = market.catalogue
    market.catalogue = [item for item in saved if item["marketplace"] != "aliexpress"]
    try:
        second = run_cycle(client, url, marketplaces=["aliexpress"], evidence=False)
    finally:
        market.catalogue = saved
    assert second.markets[0].status == "ok" and second.markets[0].items == 0
    assert [(e["marketplace"], e["kind"]) for e in second.health] == [("aliexpress", "zero_results")]
    assert "selectors may be broken" in second.health[0]["detail"]


def test_demo_finds_hits_and_its_evidence_verifies_from_the_store_alone(tmp_path: Path):
    out = tmp_path / "demo-output"
    done = run_cli("demo", "--out", str(out), env={"MARKWATCH_DATA_DIR": ""})
    assert done.returncode == 0, done.stderr
    assert "listings flagged" in done.stdout + done.stderr and (out / "report.html").is_file()
    store = out / "markwatch.db"
    verified = run_cli("evidence", "verify", "--db", str(store), env={"MARKWATCH_DATA_DIR": ""})
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK: ") and " 0 entries" not in verified.stdout


def test_review_hits_reach_the_targets_that_asked_for_them(client_file: Path, tmp_path: Path, market):
    # Two targets on a closed port: the rows stay queued, and say who gets what.
    data = yaml.safe_load(client_file.read_text())
    # The demo's Amazon listing without a cue or a low price is one to review.
    data["marketplaces"] = {"amazon": data["marketplaces"]["aliexpress"] | {"base_url": market.url("amazon")}}
    data["alerts"] = [
        {"url": "json://127.0.0.1:9/brand", "min_verdict": "counterfeit"},
        {"url": "json://127.0.0.1:9/analysts", "min_verdict": "review"},
    ]
    client_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    client = load_client(client_file)
    report = run_cycle(client, url, evidence=False)
    assert report.review_count > 0 and report.new_hits
    brand, analysts = (t.fingerprint for t in load_targets(client))
    with db.session_scope(url) as s:
        rows = s.scalars(select(m.OutboxAlert).where(m.OutboxAlert.kind == "hits")).all()
        verdicts = {target: {r.payload["data"]["verdict"] for r in rows if r.payload["target"] == target}
                    for target in (brand, analysts)}
    assert verdicts == {brand: {"counterfeit"}, analysts: {"counterfeit", "review"}}


def test_a_failed_crawl_says_why_on_one_line(client_file: Path, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    # A child that cannot start: Scrapy refuses the log level and the process exits 1.
    report = run_cycle(
        load_client(client_file), url, marketplaces=["aliexpress"], evidence=False, send_alerts=False,
        settings={"LOG_LEVEL": "BOGUS"},
    )
    (mr,) = report.markets
    assert mr.status == "failed"
    assert mr.reason == "crawl with aliexpress failed (exit 1): ValueError: Unknown level: 'BOGUS'"
    assert [(e["kind"], e["detail"]) for e in report.health] == [("failed", mr.reason)]
    with db.session_scope(url) as s:
        assert s.scalars(select(m.CrawlRun.reason)).one() == mr.reason
    # A child that exits cleanly without crawling says why too (from its log).
    report = run_cycle(
        load_client(client_file), url, marketplaces=["aliexpress"], evidence=False, send_alerts=False,
        settings={"ITEM_PIPELINES": {"no_such_module.Pipeline": 100}},
    )
    assert report.markets[0].reason == (
        "crawl closed: did not start: ModuleNotFoundError: No module named 'no_such_module'"
    )


def test_a_crawl_of_unusable_pages_fails_and_says_why(client_file: Path, tmp_path: Path, market):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    market.js_only("aliexpress")  # every result page is a script shell without listings
    try:
        out = run_cli("run", "--config", str(client_file), "--db", url, "--no-evidence", "-m", "aliexpress")
    finally:
        market.js_only("aliexpress", on=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "aliexpress failed" in out.stderr
    with db.session_scope(url) as s:
        run = s.scalars(select(m.CrawlRun)).one()
        assert run.status == "failed" and run.items == 0 and run.pages > 0
        assert run.reason == f"{run.pages} of {run.pages} result pages unusable: no_listing_json"
        assert run.stats["markwatch/pages_dropped/no_listing_json"] == run.pages
    assert f"health aliexpress: failed {run.reason}" in " ".join((out.stdout + out.stderr).split())


def test_a_marketplace_that_answers_nothing_fails_the_run(client_file: Path, tmp_path: Path):
    # Down (nothing listens) or answering 5xx to everything: no page came back, so the run
    # failed; a cron job must see exit 1, not a quiet zero.
    data = yaml.safe_load(client_file.read_text())
    data["marketplaces"]["aliexpress"]["base_url"] = "http://127.0.0.1:9"
    client_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    out = run_cli("run", "--config", str(client_file), "--db", str(tmp_path / "store.db"), "-m", "aliexpress",
                  "--no-evidence")
    assert out.returncode == 1, out.stdout + out.stderr
    with db.session_scope(f"sqlite:///{tmp_path / 'store.db'}") as s:
        run = s.scalars(select(m.CrawlRun)).one()
    assert run.status == "failed" and run.reason.startswith("no result page could be fetched"), run.reason
    assert "ConnectionRefusedError" in run.reason


def test_a_whitelisted_seller_gets_no_case_alert_or_evidence(client_file: Path, tmp_path: Path):
    # The analysts whitelisted this seller in the triage UI: its hits are decided.
    data = yaml.safe_load(client_file.read_text())
    data["alerts"] = [{"url": "json://127.0.0.1:9/brand"}]
    client_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.ensure_schema(url)
    with db.session_scope(url) as s:
        s.add(m.Seller(marketplace="aliexpress", seller_id="2231", name="TWS Factory Store", whitelisted=True))
    report = run_cycle(load_client(client_file), url, marketplaces=["aliexpress"], evidence=False)
    with db.session_scope(url) as s:
        listing = s.scalars(select(m.Listing).where(m.Listing.listing_id == "1005006120001")).one()
        assert db.latest_assessment(s, listing.id).verdict == "counterfeit"  # matching does not know
        assert not s.scalars(select(m.Case).where(m.Case.listing_pk == listing.id)).all()
        alerted = {r.payload["data"].get("listing") for r in s.scalars(select(m.OutboxAlert))}
    assert report.new_hits and "aliexpress:1005006120001" not in alerted
    assert listing.id not in report.evidence_due


def test_the_cycle_counts_the_relists_it_opened(client_file: Path, tmp_path: Path):
    import datetime as dt

    url = f"sqlite:///{tmp_path / 'store.db'}"
    client = load_client(client_file)
    assert run_cycle(client, url, marketplaces=["aliexpress"], evidence=False).relists == 0
    with db.session_scope(url) as s:
        case = s.scalars(select(m.Case).join(m.Listing).where(m.Listing.listing_id == "1005006120001")).one()
        case.state, case.state_since = "removed", m.utcnow() - dt.timedelta(days=1)
    again = run_cycle(client, url, marketplaces=["aliexpress"], evidence=False)
    assert again.relists == 1
    with db.session_scope(url) as s:
        assert s.scalars(select(m.Case).where(m.Case.relist_of == case.id)).one().listing_pk == case.listing_pk


def test_rescore_queues_alerts_for_listings_it_promotes(client_file: Path, tmp_path: Path, market):
    from tests.test_alerts_delivery import HTTPReceiver

    receiver = HTTPReceiver()
    try:
        data = yaml.safe_load(client_file.read_text())
        # The demo's Amazon catalogue has a listing to review.
        data["marketplaces"] = {"amazon": data["marketplaces"]["aliexpress"] | {"base_url": market.url("amazon")}}
        data["alerts"] = [
            {"url": f"json://127.0.0.1:{receiver.port}/brand", "min_verdict": "counterfeit"},
            {"url": f"json://127.0.0.1:{receiver.port}/analysts", "min_verdict": "review"},
        ]
        client_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        url = f"sqlite:///{tmp_path / 'store.db'}"
        run_cycle(load_client(client_file), url, evidence=False)
        with db.session_scope(url) as s:
            before = {lst.key: (a.verdict, a.score, lst.title) for lst, a in db.iter_listings_with_assessment(s)}
        reviews = sorted((score, key) for key, (verdict, score, _) in before.items() if verdict == "review")
        assert reviews, before
        top_score, promoted_key = reviews[-1]
        receiver.requests.clear()

        # Thresholds lowered just under the best review: that listing becomes counterfeit.
        data["thresholds"] = {"counterfeit": round(top_score - 0.005, 4), "review": 0.05}
        client_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        out = run_cli("rescore", "--config", str(client_file), "--db", url)
        assert out.returncode == 0, out.stderr
        assert f"{promoted_key}: review → counterfeit, score {top_score:.2f}" in out.stdout
        with db.session_scope(url) as s:
            after = {lst.key: a.verdict for lst, a in db.iter_listings_with_assessment(s)}
        promoted = sorted(k for k, v in after.items() if v != "clear" and before[k][0] != v
                          and before[k][0] != "counterfeit")
        assert promoted_key in promoted
        assert f"; {len(promoted)} new hit(s) queued for alerts" in out.stdout, out.stdout
        assert receiver.requests == []  # queued, not sent: the next flush sends them

        flushed = run_cli("alerts", "flush", "--config", str(client_file), "--db", url, timeout=60)
        assert flushed.returncode == 0, flushed.stderr
        by_path = {r["path"]: r["json"] for r in receiver.requests}
        assert set(by_path) == {"/brand", "/analysts"}
        # One digest per target, whatever the number of hits in it.
        assert f"in {len(receiver.requests)} message(s), failed 0, pending 0" in flushed.stdout, flushed.stdout
        assert before[promoted_key][2][:40] in by_path["/brand"]["message"]
        assert "after `markwatch rescore`" in by_path["/brand"]["message"]
        with db.session_scope(url) as s:
            rows = s.scalars(select(m.OutboxAlert).where(m.OutboxAlert.kind == "hits", m.OutboxAlert.status == "sent")).all()
            assert f"hit:{promoted_key}:counterfeit" in {r.payload["alert_key"] for r in rows}

        # Rescoring everything again promotes nothing new and queues nothing twice.
        again = run_cli("rescore", "--all", "--config", str(client_file), "--db", url)
        assert again.returncode == 0, again.stderr
        assert "; 0 new hit(s) queued for alerts" in again.stdout
    finally:
        receiver.close()


def test_the_cycle_table_prints_a_site_s_error_text_as_it_is(capsys):
    # Error text from a site or a socket is not markup: "[Errno 111]" stays, "[/x]" does not crash.
    from crawler import cli
    from crawler.monitor import CycleReport, MarketResult

    report = CycleReport("c1", m.utcnow())
    report.markets.append(MarketResult("shop", "failed", reason="crawl failed: [Errno 111] refused [/x]"))
    report.health.append({"marketplace": "shop", "kind": "failed", "detail": "crawl failed: [/x] again"})
    report.evidence_failed.append("shop:1: page answered [/x]")
    cli._print_cycle(report)
    out = capsys.readouterr().out
    assert "[Errno 111] refused [/x]" in out and "crawl failed: [/x] again" in out and "answered [/x]" in out
