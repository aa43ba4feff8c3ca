"""Evidence of a page that answered with an HTTP error status is refused, never filed.

A "not found" or "server error" page shows nothing of the listing: capture fails with
the status as the reason, nothing is stored and the hash chain stays as it was, so
the listing still has no evidence and the next capture tries again.
"""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from crawler import db
from crawler import models as m
from crawler.config import load_client
from crawler.demo import demo_files
from crawler.evidence import (
    MANIFEST,
    Artifact,
    EvidenceBrowser,
    EvidenceError,
    Snapshot,
    capture,
    record,
    verify,
)
from crawler.marketplace_server import MarketplaceServer
from crawler.monitor import capture_evidence, data_dir_for, run_cycle
from tests.conftest import run_cli
from tests.test_crawler_evidence import _listing

GOOD = b"<!doctype html><html><body><h1>ACME Pad Pro copy</h1></body></html>"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/item/ok.html": 200, "/item/gone.html": 404, "/item/broken.html": 503}.get(self.path, 404)
        body = GOOD if status == 200 else b"<h1>Not found</h1>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def _snapshot(url: str, status: int, body: bytes) -> Snapshot:
    return Snapshot(
        requested_url=url, final_url=url, status=status, captured_at=m.utcnow(),
        artifacts=[Artifact("html", body), Artifact("meta", json.dumps({"status": status}).encode())],
    )


def _blobs(evidence_dir: Path) -> set[Path]:
    return {p for p in (evidence_dir / "sha256").rglob("*") if p.is_file()} if (evidence_dir / "sha256").exists() else set()


def test_record_refuses_an_error_status_and_keeps_the_chain(db_url: str, tmp_path: Path) -> None:
    evidence_dir = tmp_path / "evidence"
    with db.session_scope(db_url) as s:
        first = _listing(s, "1", "https://www.aliexpress.com/item/1.html")
        record(s, first, _snapshot(first.url, 200, GOOD), evidence_dir)
    blobs = _blobs(evidence_dir)
    manifest = (evidence_dir / MANIFEST).read_text()

    with db.session_scope(db_url) as s:
        gone = _listing(s, "2", "https://www.aliexpress.com/item/2.html")
        with pytest.raises(EvidenceError, match="HTTP 404 Not Found"):
            record(s, gone, _snapshot(gone.url, 404, b"<h1>Not found</h1>"), evidence_dir)
        with pytest.raises(EvidenceError, match="HTTP 500"):
            record(s, gone, _snapshot(gone.url, 500, b"<h1>Server error</h1>"), evidence_dir)
    # Nothing of the error pages was stored: no file, no row, no manifest line.
    assert _blobs(evidence_dir) == blobs
    assert (evidence_dir / MANIFEST).read_text() == manifest
    with db.session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(m.Evidence)) == 2
        # The chain goes on from where it was.
        record(s, s.get(m.Listing, gone.id), _snapshot(gone.url, 200, GOOD + b" "), evidence_dir)
    with db.session_scope(db_url) as s:
        report = verify(s, evidence_dir)
    assert report.ok and report.checked == 4 and not report.warnings, report.problems


@pytest.mark.browser
def test_capture_of_an_error_page_fails_with_its_status(server: str, db_url: str, tmp_path: Path) -> None:
    evidence_dir = tmp_path / "evidence"
    with EvidenceBrowser(allow_hosts={"127.0.0.1"}) as browser, db.session_scope(db_url) as s:
        gone = _listing(s, "404", f"{server}/item/gone.html")
        broken = _listing(s, "503", f"{server}/item/broken.html")
        ok = _listing(s, "200", f"{server}/item/ok.html")
        with pytest.raises(EvidenceError, match="HTTP 404"):
            capture(s, gone, evidence_dir, browser=browser)
        with pytest.raises(EvidenceError, match="HTTP 503"):
            capture(s, broken, evidence_dir, browser=browser)
        rows = capture(s, ok, evidence_dir, browser=browser)
    assert [r.kind for r in rows] == ["screenshot", "html", "dom", "meta"]
    with db.session_scope(db_url) as s:
        assert {r.listing_pk for r in s.scalars(select(m.Evidence))} == {ok.id}
        assert verify(s, evidence_dir).ok

    # On demand: one line naming the status, exit 2, nothing stored.
    done = run_cli(
        "evidence", "capture", "aliexpress:404", "--db", db_url, "--dir", str(evidence_dir),
        "--allow-host", "127.0.0.1",
    )
    assert done.returncode == 2 and "HTTP 404" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    with db.session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(m.Evidence)) == 4


def _taobao_client(tmp_path: Path, market: MarketplaceServer) -> tuple:
    """The demo client crawling the local marketplace's Taobao only, and a store URL."""
    config, _, _ = demo_files()
    folder = tmp_path / "client"
    shutil.copytree(config.parent, folder, ignore=shutil.ignore_patterns("market"))
    data = yaml.safe_load((folder / "markwatch.yaml").read_text())
    data["marketplaces"] = {
        "taobao": {"base_url": market.url("taobao"), "max_pages": 3, "download_delay": 0, "concurrency": 8}
    }
    (folder / "markwatch.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return load_client(folder / "markwatch.yaml"), f"sqlite:///{tmp_path / 'store.db'}"


@pytest.mark.browser
def test_cycle_counts_a_404_capture_as_failed_and_taobao_items_have_pages(tmp_path: Path) -> None:
    _, catalogue, images = demo_files()
    with MarketplaceServer(catalogue, images) as market:
        client, url = _taobao_client(tmp_path, market)
        report = run_cycle(client, url, evidence=False, send_alerts=False)
        assert [mr.status for mr in report.markets] == ["ok"] and len(report.new_hits) == 2
        ddir = data_dir_for(url)

        # The listings were taken down between crawl and capture: their pages answer 404.
        saved = market.catalogue
        market.catalogue = [i for i in saved if i["marketplace"] != "taobao"]
        capture_evidence(client, url, ddir, report)
        assert report.evidence_captured == 0
        assert len(report.evidence_failed) == 2 and all("HTTP 404" in f for f in report.evidence_failed)
        with db.session_scope(url) as s:
            assert s.scalar(select(func.count()).select_from(m.Evidence)) == 0

        # Back up: the next cycle captures the same hits, unchanged and not assessed again,
        # from the Taobao item pages.
        market.catalogue = saved
        report = run_cycle(client, url, send_alerts=False)
    assert report.new_hits == [] and len(report.evidence_due) == 2
    assert report.evidence_captured == 2 and not report.evidence_failed, report.evidence_failed
    with db.session_scope(url) as s:
        assert verify(s, ddir / "evidence").ok
        for listing in s.scalars(select(m.Listing).join(m.Evidence, m.Evidence.listing_pk == m.Listing.id)).unique():
            by_kind = {e.kind: e for e in s.scalars(select(m.Evidence).where(m.Evidence.listing_pk == listing.id))}
            meta = json.loads((ddir / "evidence" / by_kind["meta"].path).read_bytes())
            html = (ddir / "evidence" / by_kind["html"].path).read_bytes().decode("utf-8")
            assert meta["status"] == 200
            assert 'class="tb-main-title"' in html and listing.title in html and "g_config" in html


@pytest.mark.browser
def test_a_hit_that_changed_gets_new_evidence_and_an_unchanged_one_does_not(tmp_path: Path) -> None:
    # A complaint must show what is on sale now: a new price or title needs a new capture.
    _, catalogue, images = demo_files()
    with MarketplaceServer(catalogue, images) as market:
        client, url = _taobao_client(tmp_path, market)
        first = run_cycle(client, url, send_alerts=False)
        assert first.evidence_captured == 2, first.evidence_failed
        assert run_cycle(client, url, send_alerts=False).evidence_due == []  # nothing changed
        changed = next(i for i in market.catalogue if i["marketplace"] == "taobao" and i["listing_id"].endswith("01"))
        market.catalogue = [dict(i, price=66.6) if i is changed else i for i in market.catalogue]
        third = run_cycle(client, url, send_alerts=False)
    assert third.evidence_captured == 1, third.evidence_failed
    with db.session_scope(url) as s:
        listing = s.scalars(select(m.Listing).where(m.Listing.listing_id == changed["listing_id"])).one()
        assert third.evidence_due == [listing.id]
        html = [e for e in s.scalars(select(m.Evidence).where(m.Evidence.listing_pk == listing.id)) if e.kind == "html"]
        assert len(html) == 2 and "66.6" in (data_dir_for(url) / "evidence" / html[-1].path).read_text()
        assert verify(s, data_dir_for(url) / "evidence").ok
