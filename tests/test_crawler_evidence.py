"""Evidence capture with the real Chromium against a local HTTP server, and the hash chain."""

from __future__ import annotations

import http.server
import itertools
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import delete, select, update

from crawler import db
from crawler import models as m
from crawler.evidence import (
    MANIFEST,
    Artifact,
    EvidenceBrowser,
    Snapshot,
    blob_path,
    capture,
    entry_hash,
    record,
    verify,
)
from crawler.netguard import UnsafeURL

PAGE = """<!doctype html><html><head><title>ACME pad</title></head>
<body style="margin:0"><h1 id="t">ACME Pad Pro copy</h1>
<div style="height:2400px;background:linear-gradient(#fff,#c00)">tall page</div>
<img src="http://10.255.255.1/pixel.png" alt="a private address the page must not reach">
<script>document.getElementById('t').dataset.rendered = 'yes';</script>
</body></html>"""


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.path.startswith("/item/"):
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/to-loopback-ip":
            # The same server by an address that is not allowed: must never be requested.
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/secret")
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    _Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    db.upgrade(url)
    return url


def _listing(session, listing_id: str, url: str) -> m.Listing:
    return db.upsert_listing(
        session,
        {
            "marketplace": "aliexpress",
            "listing_id": listing_id,
            "url": url,
            "title": "ACME Pad Pro copy",
        },
    ).listing


def _fake_snapshot(url: str, n: int) -> Snapshot:
    return Snapshot(
        requested_url=url,
        final_url=url,
        status=200,
        captured_at=m.utcnow(),
        artifacts=[
            Artifact("html", f"<p>{n}</p>".encode()),
            Artifact("meta", f'{{"n": {n}}}'.encode()),
        ],
    )


@pytest.mark.browser
def test_capture_real_page_then_detect_tampering(server: str, store: str, tmp_path: Path) -> None:
    evidence_dir = tmp_path / "evidence"
    with EvidenceBrowser(allow_hosts={"127.0.0.1"}) as browser, db.session_scope(store) as s:
        one = _listing(s, "1005001", f"{server}/item/1005001.html")
        two = _listing(s, "1005002", f"{server}/item/1005002.html")
        rows = capture(s, one, evidence_dir, browser=browser)
        rows += capture(s, two, evidence_dir, browser=browser)

    kinds = [r.kind for r in rows]
    assert kinds == ["screenshot", "html", "dom", "meta"] * 2
    by_kind = {r.kind: r for r in rows[:4]}
    png = (evidence_dir / by_kind["screenshot"].path).read_bytes()
    assert png.startswith(b"\x89PNG")
    # Full page: the screenshot is taller than the 900px viewport.
    height = int.from_bytes(png[20:24], "big")
    assert height >= 2400
    assert (evidence_dir / by_kind["html"].path).read_bytes() == PAGE.encode()
    assert b'data-rendered="yes"' in (evidence_dir / by_kind["dom"].path).read_bytes()
    meta = json.loads((evidence_dir / by_kind["meta"].path).read_bytes())
    assert meta["status"] == 200 and meta["final_url"].endswith("/item/1005001.html")
    # The page's request to a private address was refused by the guard, and recorded.
    assert any("10.255.255.1" in b for b in meta["blocked_requests"])
    assert not any("google" in b for b in meta["blocked_requests"])
    assert by_kind["html"].path == blob_path(by_kind["html"].sha256)
    # The chain links each row to the one before.
    assert rows[0].prev_hash is None
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(rows))
    assert len((evidence_dir / MANIFEST).read_text().splitlines()) == 8

    with db.session_scope(store) as s:
        clean = verify(s, evidence_dir)
    assert clean.ok, clean.problems
    assert clean.checked == 8 and clean.head == rows[-1].entry_hash and not clean.warnings

    # An altered file.
    shot = evidence_dir / by_kind["screenshot"].path
    os.chmod(shot, stat.S_IWUSR | stat.S_IRUSR)
    shot.write_bytes(png + b"x")
    with db.session_scope(store) as s:
        report = verify(s, evidence_dir)
    assert [p.kind for p in report.problems] == ["file-altered"]
    assert report.problems[0].evidence_id == by_kind["screenshot"].id
    shot.write_bytes(png)

    # A removed file.
    (evidence_dir / by_kind["dom"].path).unlink()
    with db.session_scope(store) as s:
        report = verify(s, evidence_dir)
    assert [(p.kind, p.evidence_id) for p in report.problems] == [
        ("file-missing", by_kind["dom"].id)
    ]


@pytest.mark.browser
def test_redirect_to_a_refused_host_is_blocked_before_any_request(
    server: str, store: str, tmp_path: Path
) -> None:
    # Only the name "localhost" is trusted; the redirect goes to 127.0.0.1 by address.
    start = server.replace("127.0.0.1", "localhost") + "/to-loopback-ip"
    with db.session_scope(store) as s:
        listing = _listing(s, "9", start)
        with pytest.raises(UnsafeURL, match="loopback"):
            capture(s, listing, tmp_path / "ev", allow_hosts={"localhost"})
        assert s.scalars(select(m.Evidence)).all() == []
    assert "/to-loopback-ip" in _Handler.hits and "/secret" not in _Handler.hits


def test_private_listing_url_is_refused_without_a_browser(store: str, tmp_path: Path) -> None:
    with db.session_scope(store) as s:
        listing = _listing(s, "10", "http://169.254.169.254/latest/meta-data/")
        with pytest.raises(UnsafeURL, match="link-local"):
            capture(s, listing, tmp_path / "ev")


def test_removed_or_altered_rows_break_the_chain(store: str, tmp_path: Path) -> None:
    evidence_dir = tmp_path / "evidence"
    with db.session_scope(store) as s:
        listing = _listing(s, "1", "https://www.aliexpress.com/item/1.html")
        for n in range(3):
            record(s, listing, _fake_snapshot(listing.url, n), evidence_dir)
    with db.session_scope(store) as s:
        assert verify(s, evidence_dir).ok
        ids = s.scalars(select(m.Evidence.id).order_by(m.Evidence.id)).all()
    assert len(ids) == 6

    # A row removed from the middle: the next row's prev_hash no longer matches.
    with db.session_scope(store) as s:
        s.execute(delete(m.Evidence).where(m.Evidence.id == ids[2]))
    with db.session_scope(store) as s:
        report = verify(s, evidence_dir)
    kinds = {(p.kind, p.evidence_id) for p in report.problems}
    assert ("chain-break", ids[3]) in kinds and ("row-removed", ids[2]) in kinds

    # A row edited in place (the URL) no longer matches its entry hash.
    with db.session_scope(store) as s:
        s.execute(
            update(m.Evidence)
            .where(m.Evidence.id == ids[4])
            .values(url="https://elsewhere.example/")
        )
    with db.session_scope(store) as s:
        report = verify(s, evidence_dir)
    assert ("row-altered", ids[4]) in {(p.kind, p.evidence_id) for p in report.problems}


def test_a_relisted_listing_needs_evidence_taken_after_it_came_back(store: str, tmp_path: Path) -> None:
    # A relist complaint must show the listing online after the removal, not before it.
    from crawler.evidence import has_current_evidence
    from crawler.takedown.cases import open_relist
    from crawler.takedown.states import create_case, transition

    evidence_dir = tmp_path / "evidence"
    with db.session_scope(store) as s:
        listing = _listing(s, "1", "https://www.aliexpress.com/item/1.html")
        record(s, listing, _fake_snapshot(listing.url, 1), evidence_dir)
        assert has_current_evidence(s, listing)
        case = create_case(s, listing, actor="t")
        transition(s, case, "confirmed", "t")
        transition(s, case, "submitted", "t", complaint_id="IPP-1")
        transition(s, case, "removed", "t")
        open_relist(s, listing, case)
        assert not has_current_evidence(s, listing)
        record(s, listing, _fake_snapshot(listing.url, 2), evidence_dir)
        assert has_current_evidence(s, listing)


def test_removing_the_newest_row_is_caught_by_the_manifest(store: str, tmp_path: Path) -> None:
    evidence_dir = tmp_path / "evidence"
    with db.session_scope(store) as s:
        listing = _listing(s, "1", "https://www.aliexpress.com/item/1.html")
        rows = record(s, listing, _fake_snapshot(listing.url, 1), evidence_dir)
    with db.session_scope(store) as s:
        s.execute(delete(m.Evidence).where(m.Evidence.id == rows[-1].id))
    with db.session_scope(store) as s:
        report = verify(s, evidence_dir)
    assert [(p.kind, p.evidence_id) for p in report.problems] == [("row-removed", rows[-1].id)]


def test_rolled_back_capture_leaves_no_manifest_entry(store: str, tmp_path: Path) -> None:
    evidence_dir = tmp_path / "evidence"
    with pytest.raises(RuntimeError), db.session_scope(store) as s:
        listing = _listing(s, "1", "https://www.aliexpress.com/item/1.html")
        record(s, listing, _fake_snapshot(listing.url, 1), evidence_dir)
        raise RuntimeError("crash before commit")
    assert not (evidence_dir / MANIFEST).exists()
    with db.session_scope(store) as s:
        listing = _listing(s, "1", "https://www.aliexpress.com/item/1.html")
        rows = record(s, listing, _fake_snapshot(listing.url, 2), evidence_dir)
    with db.session_scope(store) as s:
        report = verify(s, evidence_dir)
    assert report.ok and not report.warnings and report.checked == 2
    assert rows[0].prev_hash is None


def test_entry_hash_commits_to_every_field() -> None:
    import datetime as dt

    at = dt.datetime(2026, 1, 2, 3, 4, 5, 6)
    base = entry_hash("p" * 64, "ali:1", "html", "https://x/1", at, "a" * 64)
    assert base != entry_hash(None, "ali:1", "html", "https://x/1", at, "a" * 64)
    assert base != entry_hash("p" * 64, "ali:2", "html", "https://x/1", at, "a" * 64)
    assert base != entry_hash("p" * 64, "ali:1", "dom", "https://x/1", at, "a" * 64)
    assert base != entry_hash("p" * 64, "ali:1", "html", "https://x/2", at, "a" * 64)
    assert base != entry_hash(
        "p" * 64, "ali:1", "html", "https://x/1", at.replace(microsecond=7), "a" * 64
    )
    assert base != entry_hash("p" * 64, "ali:1", "html", "https://x/1", at, "b" * 64)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )


def test_cli_verify_exit_status_and_one_line_per_problem(store: str, tmp_path: Path) -> None:
    evidence_dir = tmp_path / "evidence"
    with db.session_scope(store) as s:
        listing = _listing(s, "1", "https://www.aliexpress.com/item/1.html")
        rows = record(s, listing, _fake_snapshot(listing.url, 1), evidence_dir)
    ok = _cli("evidence", "verify", "--db", store, "--dir", str(evidence_dir))
    assert ok.returncode == 0, ok.stderr
    assert "OK: 2 entries" in ok.stdout

    for row in rows:
        path = evidence_dir / row.path
        os.chmod(path, 0o644)
        path.write_bytes(b"forged")
    bad = _cli("evidence", "verify", "--db", store, "--dir", str(evidence_dir))
    assert bad.returncode == 1
    lines = bad.stdout.strip().splitlines()
    assert len(lines) == 2 and all("file altered" in line for line in lines)


def test_cli_capture_rejects_a_malformed_key(store: str, tmp_path: Path) -> None:
    result = _cli("evidence", "capture", "no-colon", "--db", store, "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "marketplace:listing_id" in result.stderr


def test_cli_capture_into_a_missing_folder_of_a_store_with_evidence_is_refused(store: str, tmp_path: Path) -> None:
    # A store with evidence whose folder is elsewhere (run --data-dir): capturing into a new
    # folder would split the chain's files and manifest.
    evidence_dir = tmp_path / "evidence"
    with db.session_scope(store) as s:
        listing = _listing(s, "1", "https://www.aliexpress.com/item/1.html")
        record(s, listing, _fake_snapshot(listing.url, 1), evidence_dir)
    wrong = tmp_path / "elsewhere"
    result = _cli("evidence", "capture", "aliexpress:1", "--db", store, "--dir", str(wrong))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr
    assert f"{wrong}: no evidence folder there for the store's 2 entries; give --dir" in result.stderr
    assert not wrong.exists()


@pytest.mark.browser
def test_cli_capture_on_demand(server: str, store: str, tmp_path: Path) -> None:
    with db.session_scope(store) as s:
        _listing(s, "1005001", f"{server}/item/1005001.html")
    evidence_dir = tmp_path / "evidence"
    refused = _cli(
        "evidence", "capture", "aliexpress:1005001", "--db", store, "--dir", str(evidence_dir)
    )
    assert refused.returncode == 2 and "loopback" in refused.stderr
    done = _cli(
        "evidence",
        "capture",
        "aliexpress:1005001",
        "--db",
        store,
        "--dir",
        str(evidence_dir),
        "--allow-host",
        "127.0.0.1",
    )
    assert done.returncode == 0, done.stderr
    with db.session_scope(store) as s:
        assert sorted(r.kind for r in s.scalars(select(m.Evidence))) == [
            "dom",
            "html",
            "meta",
            "screenshot",
        ]
        assert verify(s, evidence_dir).ok


def test_concurrent_writers_never_fork_the_chain(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.evidence as evidence_module

    # Widen the gap between reading the chain's head and appending to it.
    slow = evidence_module.entry_hash

    def slow_entry_hash(*args: object) -> str:
        time.sleep(0.01)
        return slow(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(evidence_module, "entry_hash", slow_entry_hash)
    evidence_dir = tmp_path / "evidence"
    with db.session_scope(store) as s:
        _listing(s, "1", "https://www.aliexpress.com/item/1.html")
    errors: list[Exception] = []

    def writer(offset: int) -> None:
        try:
            for n in range(5):
                with db.session_scope(store) as s:
                    listing = s.scalars(select(m.Listing)).one()
                    record(s, listing, _fake_snapshot(listing.url, offset + n), evidence_dir)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 100,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.session_scope(store) as s:
        report = verify(s, evidence_dir)
    assert report.ok, report.problems
    assert report.checked == 30 and not report.warnings


def _through_proxy(proxy_url: str, request: bytes) -> bytes:
    import socket

    host, port = proxy_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_guard_proxy_forwards_allowed_and_refuses_the_rest(server: str) -> None:
    from crawler.netguard import GuardProxy

    port = server.rsplit(":", 1)[1]
    get = f"GET {server}/item/1.html HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with GuardProxy(allow_hosts={"127.0.0.1"}) as proxy:
        ok = _through_proxy(proxy.url, get)
        assert ok.startswith(b"HTTP/1.0 200") and ok.endswith(PAGE.encode())
        proxy.allow_hosts = frozenset()
        refused = _through_proxy(proxy.url, get)
        assert refused.startswith(b"HTTP/1.1 403") and b"loopback" in refused
        tunnel = _through_proxy(proxy.url, b"CONNECT 169.254.169.254:443 HTTP/1.1\r\n\r\n")
        assert tunnel.startswith(b"HTTP/1.1 403") and b"link-local" in tunnel
        assert [r.host for r in proxy.blocked] == ["127.0.0.1", "169.254.169.254"]
    assert _Handler.hits == ["/item/1.html"]
