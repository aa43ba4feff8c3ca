"""Outages: a locked or unreachable database, alert targets down during a cycle, a
hanging marketplace, a 5xx storm and a redirect loop.

Real components throughout: the SQLite lock is held by another process, the webhook
and the SMTP server are real local servers (down, then up), and the misbehaving
marketplaces are `HostileServer` pages crawled by the generic spider.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import itertools
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crawler import db
from crawler import models as m
from crawler.config import load_client
from crawler.demo import demo_files
from crawler.marketplace_server import MarketplaceServer
from crawler.monitor import run_cycle
from tests.conftest import run_cli
from tests.test_faults_support import Answer, HookReceiver, HostileServer, client_file, demo_items

LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hold_lock(store: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding an exclusive SQLite lock on `store` for `seconds`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(store), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _counts(url: str) -> dict[str, int]:
    with db.session_scope(url) as s:
        return {
            name: s.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (
                ("listings", m.Listing),
                ("sightings", m.Sighting),
                ("assessments", m.AssessmentRow),
            )
        }


@pytest.fixture(scope="module")
def market():
    _, catalogue, images = demo_files()
    with MarketplaceServer(catalogue, images) as server:
        yield server


def test_database_locked_mid_run_waits_and_loses_nothing(tmp_path: Path, market: MarketplaceServer):
    config = client_file(tmp_path, {"aliexpress": {"base_url": market.url("aliexpress")}})
    store = tmp_path / "store.db"
    url = f"sqlite:///{store}"
    db.upgrade(url)
    held: dict[str, Any] = {}

    def lock_when_listings_appear() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _count_raw(store, "listings") >= 1:
                held["proc"] = hold_lock(store, 3.0)
                held["at"] = time.monotonic()
                held["proc"].wait(30)
                return
            time.sleep(0.02)

    locker = threading.Thread(target=lock_when_listings_appear)
    locker.start()
    report = run_cycle(load_client(config), url, evidence=False, send_alerts=False)
    locker.join(60)
    assert "proc" in held, "the lock was never taken"
    assert report.ok and report.markets[0].errors == 0, report.markets
    counts = _counts(url)
    expected = len(demo_items("aliexpress"))
    assert counts == {"listings": expected, "sightings": expected, "assessments": expected}, counts


def _count_raw(store: Path, table: str) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=0.1) as conn:
            return int(conn.execute(f"select count(*) from {table}").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_database_unreachable_is_one_line_and_exit_2(tmp_path: Path, market: MarketplaceServer):
    config = client_file(tmp_path, {"aliexpress": {"base_url": market.url("aliexpress")}})
    dead = f"postgresql://markwatch@127.0.0.1:{free_port()}/markwatch"
    out = run_cli("run", "--config", str(config), "--db", dead, "--no-evidence", cwd=tmp_path)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and "database" in lines[0] and "127.0.0.1" in lines[0], out.stderr


class SMTPReceiver:
    """A local SMTP server (aiosmtpd) that can be started after the cycle that found it down."""

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.messages.append(
                    email.message_from_bytes(envelope.content, policy=email.policy.default)
                )
                return "250 OK"

        self.port = port
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from=markwatch@brand.example&to=legal@brand.example"


def _mail_text(msg: Any) -> str:
    parts = [
        p.get_content() for p in msg.walk() if p.get_content_type() in ("text/plain", "text/html")
    ]
    return "\n".join(str(p) for p in parts)


def outage_alerts_family(folder: Path, market: MarketplaceServer) -> dict[str, Any]:
    """A cycle with the webhook answering 503 and the SMTP server down; then both up."""
    import alerts

    smtp = SMTPReceiver(free_port())
    with HookReceiver() as hook:
        hook.down = True
        config = client_file(
            folder,
            {"aliexpress": {"base_url": market.url("aliexpress")}},
            alerts=[{"url": hook.url()}, {"url": smtp.url}],
        )
        client = load_client(config)
        url = f"sqlite:///{folder / 'store.db'}"
        first = run_cycle(client, url, evidence=False)
        with db.session_scope(url) as s:
            after_first = Counter(r.status for r in s.scalars(select(m.OutboxAlert)))
        refused = len(hook.deliveries)
        hook.down = False
        smtp.controller.start()
        try:
            early = alerts.flush(
                url, client
            )  # what the next cycle's flush does: rows still back off
            sent_early = len(hook.answered()) + len(smtp.messages) + early.sent
            later = alerts.flush(url, client, now=m.utcnow() + dt.timedelta(minutes=5))
            again = alerts.flush(url, client, now=m.utcnow() + dt.timedelta(days=1))
        finally:
            smtp.controller.stop()
        with db.session_scope(url) as s:
            hit_urls = {
                lst.key: lst.url
                for lst, a in db.iter_listings_with_assessment(s)
                if a and a.verdict == "counterfeit"
            }
            final = Counter(r.status for r in s.scalars(select(m.OutboxAlert)))
        hook_hits = Counter(k for d in hook.answered() for k, u in hit_urls.items() if u in d.body)
        mail_hits = Counter(
            k for msg in smtp.messages for k, u in hit_urls.items() if u in _mail_text(msg)
        )
    return {
        "first": first,
        "after_first": after_first,
        "refused": refused,
        "sent_early": sent_early,
        "later": later,
        "again": again,
        "final": final,
        "hits": hit_urls,
        "hook_hits": hook_hits,
        "mail_hits": mail_hits,
    }


def test_alert_targets_down_during_a_cycle_get_each_alert_once_later(
    tmp_path: Path, market: MarketplaceServer
):
    out = outage_alerts_family(tmp_path, market)
    assert out["hits"], "the demo listings gave no hits"
    assert out["first"].alerts_sent == 0 and out["first"].alerts_pending > 0
    assert out["refused"] >= 1  # the webhook was tried and answered 503
    assert set(out["after_first"]) == {"pending"}, out["after_first"]
    assert out["sent_early"] == 0  # the second cycle respects the back-off
    assert out["later"].sent > 0 and out["later"].pending == 0, out["later"]
    assert out["again"].messages == 0
    assert set(out["final"]) == {"sent"}, out["final"]
    assert out["hook_hits"] == Counter({k: 1 for k in out["hits"]}), out["hook_hits"]
    assert out["mail_hits"] == Counter({k: 1 for k in out["hits"]}), out["mail_hits"]


# ---------------------------------------------------------------- misbehaving marketplaces

SHOP_SELECTORS = {"item": "li.item", "id": "a::attr(href)", "title": "a::text"}
RETRIES = 2
BACKOFF = 0.4


def misbehaving_family(folder: Path) -> dict[str, Any]:
    """One cycle over three generic marketplaces (two searches each): hanging, 5xx storm, redirect loop."""
    answers = {
        "/hang": Answer(200, b"<ul><li class=item><a href='/p/1'>x</a></li></ul>", delay=30),
        "/storm": Answer(503, b"<h1>Service Unavailable</h1>"),
        "/loop": Answer(302, b"", None, locations=[f"/loop?hop={i}" for i in range(100000)]),
    }
    with HostileServer(answers) as server:
        markets = {
            name: {
                "search_url": server.url(f"/{path}?q={{term}}"),
                "selectors": SHOP_SELECTORS,
                "max_pages": 1,
                "concurrency": 16,
            }
            for name, path in (("hangshop", "hang"), ("stormshop", "storm"), ("loopshop", "loop"))
        }
        config = client_file(folder, markets, terms=["Lumora", "lumola"])
        url = f"sqlite:///{folder / 'store.db'}"
        settings = {
            "DOWNLOAD_TIMEOUT": 1,
            "RETRY_TIMES": RETRIES,
            "RETRY_BACKOFF_BASE": BACKOFF,
            "REDIRECT_MAX_TIMES": 5,
        }
        started = time.monotonic()
        report = run_cycle(
            load_client(config), url, evidence=False, send_alerts=False, settings=settings
        )
        seconds = time.monotonic() - started
        times = {path: list(ts) for path, ts in server.times.items()}
        hits = dict(server.hits)
    with db.session_scope(url) as s:
        stats = {run.marketplace: dict(run.stats or {}) for run in s.scalars(select(m.CrawlRun))}
    return {"report": report, "seconds": seconds, "times": times, "hits": hits, "stats": stats}


@pytest.fixture(scope="module")
def misbehaving(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return misbehaving_family(tmp_path_factory.mktemp("misbehaving"))


def _per_url(times: dict[str, list[float]], prefix: str) -> dict[str, list[float]]:
    return {path: ts for path, ts in times.items() if path.startswith(prefix + "?")}


def test_hanging_server_times_out(misbehaving: dict[str, Any]):
    results = {mr.marketplace: mr for mr in misbehaving["report"].markets}
    assert results["hangshop"].errors > 0, results["hangshop"]
    errors = {
        k: v
        for k, v in misbehaving["stats"]["hangshop"].items()
        if k.startswith("markwatch/errors/")
    }
    assert any("Timeout" in k for k in errors), errors
    per_url = _per_url(misbehaving["times"], "/hang")
    assert per_url and all(len(ts) == 1 + RETRIES for ts in per_url.values()), per_url
    # A server that would hold each answer 30 s costs about 1 s per attempt.
    assert misbehaving["seconds"] < 60


def test_5xx_storm_is_retried_a_bounded_number_of_times_with_back_off(misbehaving: dict[str, Any]):
    per_url = _per_url(misbehaving["times"], "/storm")
    assert per_url
    for path, ts in per_url.items():
        assert len(ts) == 1 + RETRIES, (path, ts)
        gaps = [b - a for a, b in itertools.pairwise(ts)]
        # Retry n waits BACKOFF * 2**(n-1): 0.4 s, then 0.8 s (timer slack allowed).
        assert gaps[0] >= BACKOFF * 0.9 and gaps[1] >= 2 * BACKOFF * 0.9, (path, gaps)
    stats = misbehaving["stats"]["stormshop"]
    assert stats.get("retry/max_reached") == len(per_url), stats


def test_redirect_loop_is_cut_off(misbehaving: dict[str, Any]):
    stats = misbehaving["stats"]["loopshop"]
    # REDIRECT_MAX_TIMES=5: each of the two searches is followed through 5 hops, then dropped.
    assert misbehaving["hits"]["/loop"] == 2 * 6, misbehaving["hits"]["/loop"]
    results = {mr.marketplace: mr for mr in misbehaving["report"].markets}
    assert results["loopshop"].status in ("ok", "failed"), results["loopshop"]
    assert stats.get("markwatch/listings", 0) == 0
