"""The fault and hostile-input suite as a table: family, cases tried, cases survived.

Runs the same families as `tests/test_faults_*.py` (smaller or larger with --size):

- crash-resume: `markwatch run` killed with SIGKILL at seeded points (timed, mid-pipeline,
  before the alerts, mid-flush; with --evidence also mid-evidence), then run again; the
  store, the alerts and the evidence must equal a clean run's;
- mutated pages: mutations of every saved page through every spider's parser;
- hostile images: bombs, truncated, empty, HTML/SVG, 50 MB, wrong type, through matching
  and through a crawl cycle;
- bad client files: broken files, each one distinct line, exit 2, nothing written;
- SSRF: unsafe URLs through the guard, the downloader middleware and a crawl with redirects;
- outages: SQLite locked mid-run, database unreachable, webhook and SMTP down, a hanging
  server, a 5xx storm, a redirect loop;
- web UI: XSS payloads on every page, requests without session or CSRF token, oversized
  and malformed input.

    python benchmarks/faults.py                # about three minutes on two cores
    python benchmarks/faults.py --size large --seed 7

Exit status 1 when a case did not survive; the failures are listed under the table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    family: str
    tried: int = 0
    survived: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def case(self, name: str, ok: bool, why: str = "") -> None:
        self.tried += 1
        self.survived += ok
        if not ok:
            self.failures.append(f"{name}: {why}"[:400])


def _call(row: Row, name: str, fn: Callable[[], Any]) -> None:
    """One case that is a test function: survived when it returns without an error."""
    try:
        fn()
        row.case(name, True)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        row.case(
            name, False, f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )


def crash_resume(tmp: Path, size: str, seed: int, evidence: bool) -> Row:
    from tests.test_faults_crash_resume import POINTS, run_family

    row = Row("crash-resume (SIGKILL, resume)")
    points = POINTS + (("mid-evidence",) if evidence else ())
    rounds = {"small": 1, "medium": 1, "large": 2}[size]
    for n in range(rounds):
        for outcome in run_family(tmp / f"crash{n}", points, seed=seed + n, evidence=evidence):
            row.case(
                f"{outcome.point} (killed={outcome.killed})",
                not outcome.problems,
                "; ".join(outcome.problems),
            )
    return row


def mutated_pages(size: str, seed: int) -> Row:
    from tests.test_faults_mutated_pages import run_mutations

    row = Row("mutated pages (all spiders)")
    report = run_mutations({"small": 12, "medium": 36, "large": 120}[size], seed=seed)
    row.tried, row.survived, row.failures = report.tried, report.survived, report.failures
    drops = sum(report.page_errors.values()) + sum(report.dropped.values())
    row.family += f" [{drops} drops counted]"
    return row


def hostile_images(tmp: Path) -> Row:
    from tests.test_faults_images import matching_family, pipeline_family

    row = Row("hostile images (matching + crawl)")
    results, growth = matching_family(tmp / "img-matching")
    for name, ok, reason in results:
        row.case(f"matching {name}", ok, reason)
    row.case("matching peak RSS growth < 64 MB", growth < 64, f"{growth:.0f} MB")
    out = pipeline_family(tmp / "img-pipeline")
    for n, name in enumerate(out["files"]):
        stored = out["rows"].get(f"77000{n}")
        ok = bool(
            stored
            and stored["verdict"]
            and stored["images"]
            and all(err and not sha for _, sha, err in stored["images"])
        )
        row.case(f"crawl {name}", ok, repr(stored))
    return row


def bad_client_files(tmp: Path) -> Row:
    import yaml

    from crawler.cli import main
    from crawler.config import ConfigError, load_client
    from crawler.demo import demo_files
    from tests import test_crawler_config as older
    from tests import test_faults_config as newer

    row = Row("bad client files (exit 2, nothing written)")
    pristine = yaml.safe_load(demo_files()[0].read_text())
    seen: set[str] = set()
    folder = tmp / "client"
    shutil.copytree(demo_files()[0].parent, folder, ignore=shutil.ignore_patterns("market"))
    # Each table with its own editor (their DELETE markers differ).
    cases = [(c, e, k, older._set) for c, e, k, _ in older.BROKEN]
    cases += [(c, e, k, newer._set) for c, e, k, _ in newer.BROKEN]
    texts = {c: t for c, t, _ in newer.UNPARSEABLE}
    for case, edits, key, setter in cases + [(c, None, "", None) for c in texts]:
        path = folder / "markwatch.yaml"
        if edits is None:
            path.write_text(texts[case])
        else:
            data = yaml.safe_load(yaml.safe_dump(pristine))
            for where, value in edits:
                setter(data, where, value)
            path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        try:
            load_client(path)
            row.case(case, False, "accepted")
            continue
        except ConfigError as exc:
            message = str(exc)
        store = tmp / f"{case}.db"
        err = io.StringIO()
        code = 0
        old = sys.argv
        sys.argv = ["markwatch", "run", "--config", str(path), "--db", f"sqlite:///{store}"]
        try:
            with contextlib.redirect_stderr(err):
                main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            sys.argv = old
        lines = err.getvalue().strip().splitlines()
        distinct = message not in seen
        seen.add(message)
        ok = code == 2 and len(lines) == 1 and key in lines[0] and not store.exists() and distinct
        row.case(case, ok, f"exit {code}, {lines}, distinct={distinct}")
    return row


def ssrf(tmp: Path) -> Row:
    from scrapy.exceptions import IgnoreRequest
    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    from crawler.middlewares import NetGuardMiddleware
    from crawler.netguard import UnsafeURL, check_url
    from spiders.aliexpress import AliexpressSpider
    from tests.test_faults_ssrf import REDIRECTS, REFUSED, ssrf_family

    row = Row("SSRF (guard, middleware, crawl)")
    crawler = get_crawler(AliexpressSpider, {"MARKWATCH_ALLOW_HOSTS": ["127.0.0.1"]})
    crawler.spider = AliexpressSpider.from_crawler(
        crawler, terms=["x"], base_url="http://127.0.0.1:9/x"
    )
    guard = NetGuardMiddleware.from_crawler(crawler)
    for name, url in REFUSED.items():
        try:
            check_url(url, {"127.0.0.1"})
            row.case(f"guard {name}", False, "allowed")
        except UnsafeURL:
            row.case(f"guard {name}", True)
        if url.startswith("http"):
            try:
                guard.process_request(Request(url))
                row.case(f"middleware {name}", False, "passed")
            except IgnoreRequest:
                row.case(f"middleware {name}", True)
    out = ssrf_family(tmp / "ssrf")
    row.case("crawl: nothing got past the guard", not out["leaked"], repr(out["leaked"]))
    for item in out["catalogue"]:
        stored = out["stored"].get(item["listing_id"])
        ok = bool(stored and stored[0] and not any(sha for _, sha, _ in stored[1]))
        row.case(f"crawl listing {item['image'][:50]}", ok, repr(stored))
    shop = out["stats"].get("shop", {})
    row.case(
        "crawl: page redirects to refused hosts stopped",
        shop.get("markwatch/refused_unsafe", 0) == len(set(REDIRECTS.values())),
        repr(shop),
    )
    return row


def outages(tmp: Path) -> Row:
    from crawler.demo import demo_files
    from crawler.marketplace_server import MarketplaceServer
    from tests import test_faults_outages as t

    row = Row("outages (db, alert targets, servers)")
    _, catalogue, images = demo_files()
    with MarketplaceServer(catalogue, images) as market:
        for name, fn in (
            (
                "sqlite locked by another process mid-run",
                t.test_database_locked_mid_run_waits_and_loses_nothing,
            ),
            (
                "database unreachable: one line, exit 2",
                t.test_database_unreachable_is_one_line_and_exit_2,
            ),
            (
                "webhook 503 and SMTP down: each alert once later",
                t.test_alert_targets_down_during_a_cycle_get_each_alert_once_later,
            ),
        ):
            folder = tmp / f"outage-{len(row.failures)}-{row.tried}"
            folder.mkdir()
            _call(row, name, lambda fn=fn, folder=folder: fn(folder, market))
    misbehaving = t.misbehaving_family(tmp / "misbehaving")
    for name, fn in (
        ("hanging server times out", t.test_hanging_server_times_out),
        (
            "5xx storm: bounded retries with back-off",
            t.test_5xx_storm_is_retried_a_bounded_number_of_times_with_back_off,
        ),
        ("redirect loop cut off", t.test_redirect_loop_is_cut_off),
    ):
        _call(row, name, lambda fn=fn: fn(misbehaving))
    return row


def web(tmp: Path) -> Row:
    from fastapi.testclient import TestClient

    from crawler.config import load_client
    from crawler.web import create_app
    from tests.test_faults_web import refusal_family, seed, xss_family

    row = Row("web UI (session, CSRF, XSS, limits)")
    url, config, pks = seed(tmp / "web")
    client = TestClient(create_app(load_client(config), url), follow_redirects=False)
    for page, problems in xss_family(client, pks):
        row.case(f"xss {page}", not problems, "; ".join(problems))
    for name, status, ok in refusal_family(client, client.app, pks):
        row.case(name, ok, f"status {status}")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("small", "medium", "large"), default="medium")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument(
        "--evidence", action="store_true", help="crash-resume also with evidence capture (Chromium)"
    )
    parser.add_argument(
        "--only", help="comma-separated families: crash,pages,images,config,ssrf,outages,web"
    )
    args = parser.parse_args()
    random.seed(args.seed)
    import logging

    # Refusals are logged by design; the table says what matters.
    logging.basicConfig(level=logging.ERROR, handlers=[logging.NullHandler()])
    families: dict[str, Callable[[Path], Row]] = {
        "crash": lambda tmp: crash_resume(tmp, args.size, args.seed, args.evidence),
        "pages": lambda tmp: mutated_pages(args.size, args.seed),
        "images": hostile_images,
        "config": bad_client_files,
        "ssrf": ssrf,
        "outages": outages,
        "web": web,
    }
    wanted = args.only.split(",") if args.only else list(families)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="markwatch-faults-") as tmp_dir:
        for key in wanted:
            started = time.monotonic()
            folder = Path(tmp_dir) / key
            folder.mkdir()
            try:
                row = families[key](folder)
            except Exception as exc:  # noqa: BLE001 - a family that cannot run is a failed row
                row = Row(
                    key,
                    1,
                    0,
                    failures=[
                        f"{key}: {exc.__class__.__name__}: {exc}",
                        traceback.format_exc(limit=3),
                    ],
                )
            row.seconds = time.monotonic() - started
            rows.append(row)
            print(
                f"  {row.family}: {row.survived}/{row.tried} in {row.seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    width = max(len(r.family) for r in rows)
    print(f"{'family':<{width}}  {'tried':>6}  {'survived':>8}  {'seconds':>7}")
    for r in rows:
        print(f"{r.family:<{width}}  {r.tried:>6}  {r.survived:>8}  {r.seconds:>7.1f}")
    total_tried, total_ok = sum(r.tried for r in rows), sum(r.survived for r in rows)
    print(
        f"{'total':<{width}}  {total_tried:>6}  {total_ok:>8}  {sum(r.seconds for r in rows):>7.1f}"
    )
    failures = [f for r in rows for f in r.failures]
    if failures:
        print("\nnot survived:")
        for f in failures:
            print(f"  {f}")
    return 0 if total_ok == total_tried else 1


if __name__ == "__main__":
    sys.exit(main())
