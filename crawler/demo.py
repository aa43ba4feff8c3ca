"""`markwatch demo`: one full cycle for the demo brand against a local marketplace.

The local marketplace (`crawler.marketplace_server`) serves pages in the real formats
of several marketplaces, filled from `config/demo/market/catalogue.jsonl`:
counterfeit listings of the demo brand (replica cues, disguised names, Chinese
names, reused and altered product photos, the logo pasted into another photo,
prices far below MSRP) beside genuine ones (the authorised shops, second-hand
resale, accessories that only name the brand). Nothing leaves this machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler import db
from crawler.config import load_client

DEMO_DIR = Path(__file__).resolve().parent.parent / "config" / "demo"


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
    """Run the demo into `out` (emptied first); returns paths and counts."""
    from crawler.marketplace_server import MarketplaceServer
    from crawler.monitor import run_cycle

    config, catalogue, images = demo_files()
    out = out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    url = f"sqlite:///{out / 'markwatch.db'}"
    client = load_client(config)
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
    return {"report": report_path, "db": url, "hits": len(hits), "cycle": report}


def _hit_lines(url: str) -> list[str]:
    lines = []
    with db.session_scope(url) as session:
        rows = [(listing, a) for listing, a in db.iter_listings_with_assessment(session) if a and a.verdict != "clear"]
        rows.sort(key=lambda r: -r[1].score)
        for listing, a in rows:
            # The strongest piece of evidence; the goods' fit (context) only explains it.
            ranked = sorted(a.signals, key=lambda sig: (sig.get("kind") != "context", sig.get("score", 0)))
            top = ranked[-1]["detail"] if ranked else ""
            lines.append(f"{a.verdict:<11} {a.score:.2f}  {listing.key:<28} {listing.title[:60]}  [{top[:70]}]")
    return lines
