"""`markwatch demo`: one full cycle for the demo brand against a local marketplace.

The local marketplace (`crawler.marketplace_server`) serves pages in the real formats
of several marketplaces, filled from `config/demo/market/catalogue.jsonl`:
counterfeit listings of the demo brand (replica cues, disguised names, Chinese
names, reused and altered product photos, the logo pasted into another photo,
prices far below MSRP) beside genuine ones (the authorised shops, second-hand
resale, accessories that only name the brand). Nothing leaves this machine.

The output folder may be any folder, the current one included: a run writes its
store, data folder and report there under fixed names (OWN_FILES) and a rerun
replaces those, never anything else.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler import db
from crawler.config import Client, load_client

DEMO_DIR = Path(__file__).resolve().parent.parent / "config" / "demo"

# What a demo run writes into its folder, by name; a rerun removes these and nothing else.
STORE = "markwatch.db"
DATA = "markwatch-data"  # beside the store: where `monitor.data_dir_for` puts images and evidence
REPORT = "report.html"
MARKER = ".markwatch-demo"
OWN_FILES = (STORE, STORE + "-wal", STORE + "-shm", STORE + "-journal", DATA, REPORT)


class DemoError(Exception):
    """The demo cannot run with what it was given (e.g. --out names a file); one line."""


def demo_files() -> tuple[Path, Path, Path]:
    config = DEMO_DIR / "markwatch.yaml"
    catalogue = DEMO_DIR / "market" / "catalogue.jsonl"
    images = DEMO_DIR / "market" / "images"
    for path in (config, catalogue, images):
        if not path.exists():
            raise FileNotFoundError(f"demo data missing: {path} (run from a checkout of markwatch)")
    return config, catalogue, images


def run_demo(
    out: Path,
    *,
    progress: Callable[[str], None] = print,
    show: Callable[[Any], None] | None = None,
    evidence: bool = True,
) -> dict[str, Any]:
    """Run the demo into the folder `out`; returns paths, counts and the failed crawls.

    A previous demo run's store, data folder and report in `out` are replaced; anything
    else there is left alone. Raises DemoError when `out` is not a folder or holds a
    store or report that a demo did not write.
    """
    from crawler.marketplace_server import MarketplaceServer
    from crawler.monitor import run_cycle

    config, catalogue, images = demo_files()
    client = load_client(config)
    out = prepare_out(out, client)
    url = f"sqlite:///{out / STORE}"
    with MarketplaceServer(catalogue, images) as server:
        progress(f"local marketplace at {server.root}")
        for name in list(client.marketplaces):
            cfg = client.marketplaces[name]
            if name not in server.specs:
                cfg.enabled = False
                continue
            cfg.base_url = server.url(name)
            cfg.download_delay = 0.0
            cfg.concurrency = 8
        db.upgrade(url)
        # Images and evidence go where every command looks for them given --db alone
        # (markwatch-data/ beside the store), so `evidence verify` and `serve` find them.
        report = run_cycle(
            client, url, evidence=evidence, progress=progress,
            settings={"AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 1},
        )
    if show:
        show(report)
    report_path = out / "report.html"
    from crawler.reports import write_report

    write_report(url, report_path, client=client, fmt="html")
    hits = _hit_lines(url)
    progress(f"{len(hits)} listings flagged:")
    for line in hits:
        progress("  " + line)
    progress(f"report: {report_path}")
    progress(f"store: {url}  (try: markwatch serve --config {config} --db {url})")
    failed = failed_crawls(report)
    return {"report": report_path, "db": url, "hits": len(hits), "cycle": report, "failed": failed}


def failed_crawls(report: Any) -> list[str]:
    """`marketplace: reason` for each crawl of the cycle that did not finish ok."""
    return [
        f"{mr.marketplace}: {mr.status} ({mr.reason or 'no reason given'})"
        for mr in report.markets
        if mr.status != "ok"
    ]


def prepare_out(out: Path, client: Client) -> Path:
    """Make `out` ready for a demo run: create it, or clear a previous demo run's files there.

    Only the names a demo writes (OWN_FILES, the marker) are removed, and only when a
    demo wrote them: the folder carries the demo's marker, or (a run from before the
    marker existed) its store holds exactly the demo client's marks.
    """
    out = out.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise DemoError(f"--out {out}: expected a folder, found a file")
    present = [name for name in OWN_FILES if (out / name).exists() or (out / name).is_symlink()]
    if present and not ((out / MARKER).is_file() or _is_demo_store(out / STORE, client)):
        raise DemoError(
            f"--out {out}: {', '.join(present)} there {'was' if len(present) == 1 else 'were'} "
            "not written by markwatch demo; "
            "choose another folder or move them away"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        # The marker goes first: a run killed halfway is still recognised as the demo's.
        (out / MARKER).write_text(json.dumps({"written_by": "markwatch demo", "files": list(OWN_FILES)}) + "\n")
        for name in present:
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    except OSError as exc:
        raise DemoError(f"--out {out}: cannot prepare the folder: {exc.strerror or exc}") from None
    return out


def _is_demo_store(path: Path, client: Client) -> bool:
    """True for a SQLite store holding exactly the demo client's marks (a previous demo's)."""
    if not path.is_file():
        return False
    try:
        # immutable: read the file as it is, creating no -wal/-shm beside someone else's store.
        conn = sqlite3.connect(path.as_uri() + "?immutable=1", uri=True)
        try:
            rows = conn.execute("SELECT id, owner FROM marks").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    wanted = {(mark.id, mark.owner or client.client.name) for mark in client.marks}
    return bool(rows) and set(rows) == wanted


def _hit_lines(url: str) -> list[str]:
    lines = []
    with db.session_scope(url) as session:
        rows = [(listing, a) for listing, a in db.iter_listings_with_assessment(session) if a and a.verdict != "clear"]
        rows.sort(key=lambda r: -r[1].score)
        for listing, a in rows:
            top = (a.strongest_signal or {}).get("detail", "")
            lines.append(f"{a.verdict:<11} {a.score:.2f}  {listing.key:<28} {listing.title[:60]}  [{top[:70]}]")
    return lines
