"""The `markwatch` command line.

Every command's docstring is its help and carries an example; a test fails when a
command lacks one. Errors the user can fix (a bad client file, an unknown case)
end as one line on stderr and exit status 2.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import DatabaseError

from crawler.config import Client, ConfigError, country_name, load_client, redact

app = typer.Typer(
    name="markwatch",
    help="markwatch: monitor marketplaces for counterfeits of your marks, keep evidence, file takedowns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema: create or upgrade the store.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# Piped, logged or mailed by cron, output would be cut to 80 columns and tables
# wrapped beyond reading: there a row keeps to one line (COLUMNS still decides).
PIPED_WIDTH = 200


def _console(stream, **kwargs) -> Console:
    wide = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(width=PIPED_WIDTH if wide else None, **kwargs)


console = _console(sys.stdout)
err_console = _console(sys.stderr, stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The client file (markwatch.yaml).")]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", envvar="MARKWATCH_DB", help="SQLAlchemy URL or SQLite path; default ./markwatch.db."),
]
ParallelOpt = Annotated[
    int | None,
    typer.Option(
        "--parallel", min=1, help="Marketplaces crawled at once; default one per core (1: one after another)."
    ),
]


class UsageError(Exception):
    """A mistake the user can fix; reported as one line with exit status 2."""


def fail(message: str) -> None:
    raise UsageError(message)


def writable_output(out: Path) -> None:
    """End the command with one line when `out` cannot be written as a file."""
    if out.is_dir():
        fail(f"{out}: is a folder; expected a file name")
    if not out.parent.is_dir():
        fail(f"{out}: the folder {out.parent} does not exist")


def partial_output(out: Path) -> Path:
    """The temporary file an output is written to before it replaces `out` whole."""
    writable_output(out)
    return out.with_name(out.name + ".partial")


def existing_store(db: str | None) -> str | None:
    """The store's URL, schema brought up to date, for commands that need one already.

    None, after one line on standard error, when it names a SQLite file that is not
    there: a mistyped --db must not leave an empty store behind and report nothing.
    A database of another program is refused rather than given markwatch's tables.
    """
    from crawler import db as storage

    url = storage.database_url(db)
    path = storage.sqlite_file(url)
    if path is not None and not path.exists():
        err_console.print(
            f"markwatch: {path}: no store there (`markwatch run` creates it; check --db or MARKWATCH_DB)",
            highlight=False,
            soft_wrap=True,
        )
        return None
    if storage.foreign_tables(url):
        fail(f"{storage.display_url(url)}: not a markwatch store (it holds other tables); check --db or MARKWATCH_DB")
    storage.ensure_schema(url)
    return url


def load(config: Path, alerts: bool = False) -> Client:
    """Load the client file or stop with the one-line reason. `alerts=True` for the commands
    that send or queue alerts: a `${NAME}` of an alert URL that is not set stops them here;
    the others (serve, report, score ...) do not need those secrets."""
    try:
        return load_client(config, resolve_alerts=alerts)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


@app.command()
def check(config: ConfigOpt) -> None:
    """Validate a client file and print what it asks markwatch to watch.

    Example: markwatch check --config config/demo/markwatch.yaml
    """
    from alerts.targets import check_targets, load_targets

    client = load(config, alerts=True)
    # A mistyped scheme (mailot://) would queue alerts that can never be sent.
    apprise_log = logging.getLogger("apprise")
    quiet, apprise_log.disabled = apprise_log.disabled, True  # the one line below says it
    try:
        bad = check_targets(load_targets(client, env={}))
    finally:
        apprise_log.disabled = quiet
    if bad:
        target, why = bad[0]
        fail(f"{config}: {target.source}.url: {why}, got {redact(target.url)}")
    today = dt.date.today()
    console.print(f"[bold]{escape(client.client.name)}[/bold]  ({escape(str(client.source))})")
    marks = Table(title="Marks", show_lines=False)
    for col in ("id", "type", "title", "owner", "terms", "images", "classes"):
        marks.add_column(col)
    for m in client.marks:
        marks.add_row(
            m.id, m.type.value, escape(m.title), escape(m.owner or ""), escape(", ".join(m.terms)), str(len(m.images)),
            ", ".join(map(str, m.classes)),
        )
    console.print(marks)
    regs = Table(title="Registrations")
    for col in ("mark", "number", "country", "valid", "valid today", "covers protect_until"):
        regs.add_column(col)
    for m in client.marks:
        if not m.registrations:
            regs.add_row(m.id, "-", "-", "-", "[red]unregistered[/red]", "-")
        for r in m.registrations:
            valid = r.is_valid_on(today)
            covers = "-" if m.protect_until is None else ("yes" if r.valid_until >= m.protect_until else "no")
            regs.add_row(
                m.id, r.number, f"{r.country} ({country_name(r.country)})", f"{r.valid_from} .. {r.valid_until}",
                "[green]yes[/green]" if valid else "[red]no[/red]", covers,
            )
    console.print(regs)
    if client.products:
        products = Table(title="Products")
        for col in ("id", "mark", "name", "msrp", "images"):
            products.add_column(col)
        for p in client.products:
            msrp = f"{p.msrp:.2f} {p.currency}" if p.msrp else "-"
            products.add_row(p.id, p.mark, escape(p.name), msrp, str(len(p.images)))
        console.print(products)
    enabled = client.enabled_marketplaces()
    console.print(f"Authorised sellers: {len(client.authorized_sellers)}")
    console.print("Marketplaces enabled: " + (", ".join(enabled) if enabled else "none"))
    if client.alerts:
        console.print("Alert targets:")
        for a, url in zip(client.alerts, client.alert_urls(), strict=True):
            console.print(f"  {redact(url)}  (min verdict {a.min_verdict})", markup=False, highlight=False)
    else:
        console.print("Alert targets: none")
    console.print(
        f"Thresholds: counterfeit >= {client.thresholds.counterfeit}, review >= {client.thresholds.review}"
    )


@app.command()
def score(
    config: ConfigOpt,
    listings: Annotated[Path, typer.Option("--listings", "-l", help="Listings to score, one JSON object a line.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the scores (JSON Lines).")],
    workers: Annotated[int, typer.Option(min=0, help="Worker processes; 0 uses every core.")] = 0,
    images: Annotated[bool, typer.Option("--images/--no-images", help="Compare listing photos too.")] = True,
) -> None:
    """Score listings from a JSON Lines file against the client's marks, without crawling.

    Writes one line per listing, in input order: id, score in [0, 1], verdict
    (counterfeit, review, clear), mark_id and the signals with their evidence. A bad
    input line is reported with its line number on stderr and skipped.

    Example: markwatch score --config markwatch.yaml --listings listings.jsonl --out scores.jsonl
    """
    from matching.batch import InputError, check_input, score_file

    load(config)  # a bad client file stops here with its one-line reason
    try:
        check_input(listings)
    except InputError as exc:
        fail(str(exc))
    tmp = partial_output(out)
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            stats = score_file(
                config, listings, fh, workers=workers, images=images,
                warn=lambda m: err_console.print(f"markwatch: {m}", markup=False, highlight=False, soft_wrap=True),
            )
    except InputError as exc:
        tmp.unlink(missing_ok=True)
        fail(str(exc))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"{out}: cannot write ({exc.strerror or exc})")
    tmp.replace(out)
    bad = f", {stats.bad} bad lines skipped" if stats.bad else ""
    err_console.print(f"{stats.scored} listings scored to {out}{bad}", markup=False, highlight=False)


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Create the store or bring its schema up to date (Alembic migrations).

    Example: markwatch db upgrade --db sqlite:///markwatch.db
    """
    from crawler import db as storage

    url = storage.database_url(db)
    storage.upgrade(url)
    console.print(f"Schema up to date at {storage.display_url(url)}", markup=False, highlight=False)


def _say(message: str) -> None:
    """Progress: rich on a terminal, plain log lines otherwise (cron, files)."""
    if console.is_terminal:
        console.print(f"[dim]{dt.datetime.now():%H:%M:%S}[/dim] {escape(message)}", highlight=False)
    else:
        print(f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} {message}", flush=True)


def _print_cycle(report: object) -> None:
    table = Table(title=f"Cycle {report.cycle}")
    # Verdicts of the listings assessed in this cycle (new or changed), not of all live ones.
    for col in ("marketplace", "status", "pages", "listings", "new counterfeit", "new review", "errors", "reason"):
        table.add_column(col)
    for mr in report.markets:
        colour = {"ok": "green", "blocked": "yellow"}.get(mr.status, "red")
        table.add_row(
            mr.marketplace, f"[{colour}]{mr.status}[/{colour}]", str(mr.pages), str(mr.items),
            str(mr.verdicts.get("counterfeit", 0)), str(mr.verdicts.get("review", 0)), str(mr.errors),
            Text(mr.reason or ""),  # a site's error text is not markup
        )
    console.print(table)
    console.print(
        f"New counterfeit hits: {len(report.new_hits)}; to review: {report.review_count}; "
        f"relists: {report.relists}; evidence captured: {report.evidence_captured}; "
        f"alerts sent: {report.alerts_sent} in {report.alert_messages} message(s), pending: {report.alerts_pending}",
        highlight=False,
    )
    for event in report.health:
        console.print(
            f"[yellow]health[/yellow] {escape(event['marketplace'])}: {event['kind']} {escape(event['detail'])}"
        )
    for problem in report.evidence_failed:
        console.print(f"[yellow]evidence not captured[/yellow] {escape(problem)}", highlight=False)


@app.command()
def run(
    config: ConfigOpt,
    db: DbOpt = None,
    marketplace: Annotated[
        list[str] | None, typer.Option("--marketplace", "-m", help="Only this marketplace (repeatable).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Images and evidence; default beside the SQLite file.")] = None,
    evidence: Annotated[bool, typer.Option(help="Capture screenshots of new counterfeit hits.")] = True,
    alerts: Annotated[bool, typer.Option(help="Queue and send alerts at the end.")] = True,
    distributed: Annotated[
        bool, typer.Option("--distributed", help="Queue the crawl for `markwatch worker` processes and wait for them.")
    ] = False,
    redis_url: Annotated[
        str | None, typer.Option("--redis", envvar="MARKWATCH_REDIS", help="Redis URL of the shared queue (--distributed).")
    ] = None,
    drain_timeout: Annotated[
        float, typer.Option(help="With --distributed: seconds to wait for the workers to drain the queue.")
    ] = 3600.0,
    parallel: ParallelOpt = None,
) -> None:
    """Run one monitoring cycle: crawl, store, assess, take in hits, send alerts.

    Exit status 0 when every marketplace crawled, 1 when one was blocked or failed
    (or another cycle holds the lock), 2 for a bad client file.

    With --distributed the workers crawl (see `markwatch worker`); this command queues
    the searches, waits until the queue is drained, then does the post-crawl steps.

    Example: markwatch run --config markwatch.yaml --db sqlite:///markwatch.db
    """
    from crawler import db as storage
    from crawler.monitor import CycleLocked, run_cycle

    client = load(config, alerts=True)
    url = storage.database_url(db)
    try:
        if distributed:
            from crawler.distributed import run_distributed

            if not redis_url:
                fail("--distributed: expected --redis URL (or MARKWATCH_REDIS), e.g. redis://localhost:6379/0")
            report = run_distributed(
                client, url, redis_url, marketplaces=marketplace, data_dir=data_dir, evidence=evidence,
                send_alerts=alerts, timeout=drain_timeout, progress=_say,
            )
        else:
            report = run_cycle(
                client, url, marketplaces=marketplace, data_dir=data_dir, evidence=evidence,
                send_alerts=alerts, progress=_say, parallel=parallel,
            )
    except CycleLocked as exc:
        err_console.print(f"markwatch: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    except ValueError as exc:
        fail(str(exc))
    _print_cycle(report)
    if not report.ok:
        bad = [f"{mr.marketplace} {mr.status}" for mr in report.markets if mr.status != "ok"]
        err_console.print("markwatch: not every marketplace crawled: " + ", ".join(bad), highlight=False)
        raise typer.Exit(1)


@app.command()
def worker(
    config: ConfigOpt,
    redis_url: Annotated[
        str, typer.Option("--redis", envvar="MARKWATCH_REDIS", help="Redis URL of the shared queue.")
    ],
    db: DbOpt = None,
    marketplace: Annotated[
        list[str] | None, typer.Option("--marketplace", "-m", help="Only this marketplace (repeatable).")
    ] = None,
    idle_timeout: Annotated[
        float, typer.Option(help="Exit after this many idle seconds; 0 waits for work forever.")
    ] = 0.0,
    lease: Annotated[
        float, typer.Option(help="Heartbeat lease: a worker silent this long is presumed dead and its requests requeued.")
    ] = 30.0,
    data_dir: Annotated[Path | None, typer.Option(help="Downloaded images; default beside the SQLite file.")] = None,
) -> None:
    """Crawl requests from the shared Redis queue into the shared store (scale-out).

    Any number of workers, on any machines, share one queue and one database;
    `markwatch run --distributed` queues a cycle. A worker killed mid-crawl loses
    nothing: its requests return to the queue when its lease expires.

    Example: markwatch worker --config markwatch.yaml --redis redis://localhost:6379/0 --db postgresql://markwatch@db/markwatch
    """
    from crawler import db as storage
    from crawler.distributed import run_worker

    client = load(config)
    url = storage.database_url(db)
    try:
        run_worker(
            client, url, redis_url, marketplaces=marketplace, idle_timeout=idle_timeout, lease=lease,
            data_dir=data_dir, progress=_say,
        )
    except ValueError as exc:
        fail(str(exc))


@app.command()
def daemon(
    config: ConfigOpt,
    db: DbOpt = None,
    data_dir: Annotated[Path | None, typer.Option(help="Images and evidence; default beside the SQLite file.")] = None,
    interval_hours: Annotated[
        float | None, typer.Option(help="Override every marketplace's interval_hours.")
    ] = None,
    parallel: ParallelOpt = None,
) -> None:
    """Keep monitoring: crawl each marketplace on its interval until SIGTERM.

    Each crawl runs in its own process; SIGTERM lets the current work finish.

    Example: markwatch daemon --config markwatch.yaml --db sqlite:///markwatch.db
    """
    from crawler import db as storage
    from crawler.monitor import run_daemon

    client = load(config, alerts=True)
    url = storage.database_url(db)
    storage.ensure_schema(url)
    cycles = run_daemon(
        client, url, data_dir=str(data_dir) if data_dir else None, default_interval_hours=interval_hours,
        progress=_say, parallel=parallel,
    )
    _say(f"daemon stopped after {cycles} cycle(s)")


@app.command()
def export(
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="JSON Lines file; default standard output.")] = None,
) -> None:
    """Write every stored listing with its latest assessment as JSON Lines.

    Example: markwatch export --db sqlite:///markwatch.db --out listings.jsonl
    """
    from crawler.exports import export_jsonl

    url = existing_store(db)
    if out is None:
        if url:
            export_jsonl(url, sys.stdout)
        return
    tmp = partial_output(out)
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            count = export_jsonl(url, fh) if url else 0
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"{out}: cannot write ({exc.strerror or exc})")
    tmp.replace(out)
    err_console.print(f"{count} listings written to {out}", highlight=False)


@app.command()
def rescore(
    config: ConfigOpt,
    db: DbOpt = None,
    all_listings: Annotated[bool, typer.Option("--all", help="Assess every listing, not only those out of date.")] = False,
) -> None:
    """Run matching again over stored listings, without crawling.

    For after marks, products, sellers or thresholds changed. Listings whose newest
    assessment used the current matcher and client file are skipped unless --all.

    Example: markwatch rescore --config markwatch.yaml --db sqlite:///markwatch.db
    """
    from crawler import db as storage
    from crawler.monitor import rescore_store

    client = load(config, alerts=True)
    url = storage.database_url(db)
    storage.ensure_schema(url)
    counts = rescore_store(client, url, everything=all_listings)
    shown = 20
    changed = [f"\n  {key}: {old} → {new}, score {score:.2f}" for key, old, new, score in counts["changes"][:shown]]
    if len(counts["changes"]) > shown:
        changed.append(f"\n  ... {len(counts['changes']) - shown} more")
    console.print(
        f"Assessed {counts['assessed']} of {counts['listings']} listings: "
        f"{counts['counterfeit']} counterfeit, {counts['review']} review, {counts['clear']} clear; "
        f"{counts['changed']} changed verdict; {counts['alerts_queued']} new hit(s) queued for alerts "
        "(sent by the next `markwatch run` or `markwatch alerts flush`)"
        + (f"; {counts['withdrawn']} candidate case(s) withdrawn (no longer counterfeit)" if counts["withdrawn"] else "")
        + "." + "".join(changed),
        highlight=False, markup=False,
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo store and report.")] = Path("demo-output"),
) -> None:
    """Run one full cycle for the demo brand against the bundled offline marketplace.

    Starts a local marketplace (real page formats, counterfeit and genuine listings of
    the demo brand), crawls it into a fresh SQLite store under OUT and writes an HTML
    report there. A previous demo run's store, data and report in OUT are replaced;
    nothing else in OUT is touched. Exits 1 when a crawl failed.

    Example: markwatch demo --out demo-output
    """
    from crawler.demo import DemoError, run_demo

    try:
        result = run_demo(out, progress=_say, show=_print_cycle)
    except DemoError as exc:
        fail(str(exc))
    if result["failed"]:
        err_console.print(
            f"markwatch: demo failed: {len(result['failed'])} of {len(result['cycle'].markets)} crawls "
            f"did not finish: {'; '.join(result['failed'])}",
            markup=False, highlight=False, soft_wrap=True,
        )
        raise typer.Exit(1)


alerts_app = typer.Typer(help="Alerts: test targets, flush the outbox, list queued alerts.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


def _alert_targets(config: Path | None) -> tuple[Client | None, list]:
    from alerts.targets import load_targets

    client = load(config, alerts=True) if config is not None else None
    return client, load_targets(client)


@alerts_app.command("test")
def alerts_test(config: ConfigOpt) -> None:
    """Send a test message to every alert target and say which worked.

    Targets come from the client file's alerts: list, MARKWATCH_ALERT_URLS and the
    apprise config file named by MARKWATCH_APPRISE_CONFIG. Exit status 1 when no
    target worked.

    Example: markwatch alerts test --config markwatch.yaml
    """
    import alerts

    _, targets = _alert_targets(config)
    if not targets:
        fail(f"{config}: alerts: no targets; add an apprise URL under alerts: or set MARKWATCH_ALERT_URLS")
    worked = 0
    for target, ok, error in alerts.send_test(targets):
        worked += ok
        state = "ok" if ok else f"FAILED: {error}"
        tags = ",".join(sorted(target.tags)) or "all alerts"
        console.print(f"{target.display}  [{tags}]  ({target.source})  {state}", markup=False, highlight=False)
    if not worked:
        err_console.print("markwatch: no target accepted the test message", markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"{worked} of {len(targets)} target(s) worked", markup=False, highlight=False)


@alerts_app.command("flush")
def alerts_flush(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The client file (markwatch.yaml) with alerts: targets.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Send the queued alerts that are due; failed sends stay queued with a back-off.

    Example: markwatch alerts flush --config markwatch.yaml --db sqlite:///markwatch.db
    """
    from alerts.outbox import flush
    from crawler import db as storage

    client, targets = _alert_targets(config)
    url = storage.database_url(db)
    storage.ensure_schema(url)
    result = flush(url, client, targets=targets)
    for error in result.errors:
        err_console.print(f"markwatch: not delivered: {error}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"sent {result.sent} in {result.delivered} message(s), failed {result.failed}, pending {result.pending}",
        markup=False, highlight=False,
    )
    if result.unrouted:
        hint = (
            "; after changing an alert URL, `markwatch alerts reroute --config F` queues them for the new one"
            if config is not None
            else "; pass --config so the client file's targets are known"
        )
        console.print(f"{result.unrouted} pending alert(s) wait for targets not configured here{hint}",
                      markup=False, highlight=False)


def _fanned(payload: dict | None) -> str:
    went = (payload or {}).get("fanned_out_to")
    return f"-> {len(went)} target(s)" if went is not None else "all matching targets"


@alerts_app.command("reroute")
def alerts_reroute(config: ConfigOpt, db: DbOpt = None) -> None:
    """Queue the pending alerts of targets no longer configured for the current ones.

    After an alert URL is corrected or its token rotated, alerts queued for the old
    URL would wait for good: each is queued again for the targets of the client file
    that want it (none is sent twice to one target) and the old row is closed.

    Example: markwatch alerts reroute --config markwatch.yaml --db sqlite:///markwatch.db
    """
    from alerts.outbox import reroute
    from crawler import db as storage

    _, targets = _alert_targets(config)
    if not targets:
        fail("no alert targets configured: nothing to reroute to")
    url = existing_store(db)
    if url is None:
        raise typer.Exit(2)
    with storage.session_scope(url) as session:
        moved, queued = reroute(session, targets)
    console.print(
        f"{moved} pending alert(s) of targets no longer configured; {queued} queued for current targets "
        "(sent by the next `markwatch run` or `markwatch alerts flush`)",
        markup=False, highlight=False,
    )


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        str | None, typer.Option("--status", help="Only alerts in this state: pending, sending, sent or failed.")
    ] = None,
    db: DbOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 100,
) -> None:
    """List queued and sent alerts, newest first.

    Example: markwatch alerts list --status pending --db sqlite:///markwatch.db
    """
    from alerts.outbox import STATUSES, counts, list_alerts
    from crawler import db as storage

    if status is not None and status not in STATUSES:
        fail(f"--status: expected one of {', '.join(STATUSES)}, got {status!r}")
    url = existing_store(db)
    if url is None:
        return
    with storage.session_scope(url) as session:
        rows = list_alerts(session, status, limit)
        totals = counts(session)
        table = Table(title="Alert outbox")
        for col in ("id", "status", "kind", "attempts", "next attempt / sent (UTC)", "target", "title", "last error"):
            table.add_column(col, overflow="fold")
        for row in rows:
            when = row.sent_at if row.status == "sent" else row.next_attempt_at
            table.add_row(
                str(row.id), row.status, row.kind, str(row.attempts),
                when.strftime("%Y-%m-%d %H:%M") if when else "-",
                str((row.payload or {}).get("target_display") or _fanned(row.payload)),
                Text(row.title), Text(row.last_error or ""),  # listing titles and remote errors are not markup
            )
    console.print(table)
    console.print(
        ", ".join(f"{s} {totals.get(s, 0)}" for s in STATUSES), markup=False, highlight=False
    )


# ---------------------------------------------------------------- takedown cases

calendar_app = typer.Typer(
    help="Working-day calendars per country (China: public holidays and adjusted working days).",
    no_args_is_help=True,
)
app.add_typer(calendar_app, name="calendar")
takedown_app = typer.Typer(help="Takedown complaint packages and reporter accuracy.", no_args_is_help=True)
app.add_typer(takedown_app, name="takedown")

CASE_ACTIONS = {
    "confirm": "confirmed", "dismiss": "dismissed", "submit": "submitted", "reject": "rejected",
    "notify": "seller_notified", "await": "awaiting_response", "removed": "removed",
    "cross-complaint": "cross_complaint", "dispute": "dispute", "reinstated": "reinstated",
    "escalate": "escalated",
}
CASE_OTHER_ACTIONS = ("relisted", "note", "test-buy", "show")


def _takedown_call(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run a takedown function; its errors become one-line usage errors (exit 2)."""
    from crawler.takedown.deadlines import TakedownError

    try:
        return fn(*args, **kwargs)
    except TakedownError as exc:
        raise UsageError(str(exc)) from None


def _iso_date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{what}: expected a date YYYY-MM-DD, got {value!r}") from None


@calendar_app.command("add-working-days")
def calendar_add_working_days(
    start: Annotated[str, typer.Argument(help="Start date, YYYY-MM-DD (not counted).")],
    days: Annotated[int, typer.Argument(help="Working days to add.")],
    country: Annotated[str, typer.Option("--country", help="ISO 3166-1 alpha-2 country code.")] = "CN",
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="For a year whose schedule is not published yet, count with the statutory holidays alone "
            "(as case deadlines do) and say so on standard error.",
        ),
    ] = False,
) -> None:
    """Print the date that is DAYS working days after START in a country's calendar.

    China follows chinese-calendar: public holidays, and the weekend days that
    become working days around them. A year the calendar does not cover is an error,
    unless --estimate.

    Example: markwatch calendar add-working-days --country CN 2026-12-30 3 --estimate
    """
    from crawler.takedown import deadlines

    begin = _iso_date(start, "START")
    code = _takedown_call(deadlines.check_country, country)
    result = _takedown_call(deadlines.add_working_days, code, begin, days, estimate=estimate)
    if years := deadlines.estimated_years(code, begin, result) if estimate else []:
        err_console.print(
            f"markwatch: estimated: {code}'s {', '.join(map(str, years))} schedule is not published in the "
            "installed calendars; counted with its statutory holidays, weekend days made working days not known",
            markup=False, highlight=False, soft_wrap=True,
        )
    console.print(result.isoformat(), markup=False, highlight=False)


@app.command("readiness")
def readiness_cmd(
    config: ConfigOpt,
    platform: Annotated[
        list[str] | None, typer.Option("--platform", "-p", help="Platform(s) to check; default the client's.")
    ] = None,
    on: Annotated[str | None, typer.Option("--date", help="Check as of this date (YYYY-MM-DD).")] = None,
) -> None:
    """Check per mark and platform whether a complaint can succeed, with concrete advice.

    Registration in the platform's country, valid today and through protect_until,
    classes covering the goods, business licence, certificate, power of attorney,
    translations.

    Example: markwatch readiness --config markwatch.yaml --platform taobao --platform amazon
    """
    from crawler.takedown import deadlines
    from crawler.takedown import readiness as ready

    client = load(config)
    table_rules = _takedown_call(deadlines.rules)
    today = _iso_date(on, "--date") if on else dt.date.today()
    names = platform or ready.default_platforms(client, table_rules)
    for name in names:
        _takedown_call(table_rules.platform, name)
    rows = ready.check_all(client, names, today=today, rules=table_rules)
    colour = {"ok": "green", "warn": "yellow", "fail": "red"}
    rank = {"ok": 0, "warn": 1, "fail": 2}
    groups = {
        "registration": ("registration",), "valid": ("validity", "protect_until"), "classes": ("classes",),
        "documents": ("business_license", "certificate", "power_of_attorney", "translation", "reason_code"),
    }
    table = Table(title=f"Readiness on {today}")
    for col in ("mark", "platform", "registration", "valid", "classes", "documents", "status"):
        table.add_column(col)
    for row in rows:
        cells = []
        for name, items in groups.items():
            found = [c for c in row.checks if c.item in items]
            if not found:
                cells.append("-")
                continue
            worst = max(found, key=lambda c: rank[c.level]).level
            if name == "registration" and row.registration is not None:
                text = f"{row.registration.country} {row.registration.number}"
            elif worst == "ok":
                text = "ok"
            else:
                text = ", ".join(c.item.replace("_", " ") for c in found if c.level == worst)
            cells.append(f"[{colour[worst]}]{text}[/{colour[worst]}]")
        status = "ready" if row.ready else "refused"
        table.add_row(row.mark.id, row.platform.name, *cells,
                      f"[{colour[row.level]}]{status}[/{colour[row.level]}]")
    console.print(table)
    lines = ready.advice(rows)
    if lines:
        console.print("Advice:")
        for level, text in lines:
            console.print(f"  {level.upper()}: {text}", markup=False, highlight=False, soft_wrap=True)
    else:
        console.print("Advice: none; every mark is ready on every platform checked.")


@takedown_app.command("export")
def takedown_export(
    config: ConfigOpt,
    platform: Annotated[str, typer.Option("--platform", "-p", help="Platform to file with, e.g. taobao, amazon.")],
    db: DbOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the packages.")] = Path("takedown-packages"),
    complaint_type: Annotated[
        str, typer.Option("--type", help="Alibaba IPP complaint type: listing or storefront.")
    ] = "listing",
    evidence_dir: Annotated[
        Path | None, typer.Option(
            "--evidence-dir",
            help="Evidence store; default MARKWATCH_EVIDENCE_DIR, else the one `markwatch run` uses for --db.",
        )
    ] = None,
    skip_unready: Annotated[
        bool, typer.Option("--skip-unready", help="Leave out cases of marks that are not ready instead of refusing.")
    ] = False,
) -> None:
    """Write complaint packages for the platform's confirmed cases: one folder each, plus a zip.

    Refused, with the reason and nothing written, when readiness fails (e.g. an
    expired registration or a missing certificate).

    Example: markwatch takedown export --config markwatch.yaml --platform taobao --out packages/
    """
    from crawler import db as storage
    from crawler.takedown import deadlines, packages

    client = load(config)
    rule = _takedown_call(packages.platform_for, client, platform, _takedown_call(deadlines.rules))
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file; expected a folder for the packages")
    url = existing_store(db)
    if url is None:
        return
    with storage.session_scope(url) as session:
        result = _takedown_call(
            packages.export_packages, session, client, rule.key, out,
            complaint_type=complaint_type, evidence_dir=evidence_dir, skip_unready=skip_unready,
        )
    for warning in result.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    cases = sum(len(c.case_ids) for c in result.complaints)
    console.print(
        f"{len(result.complaints)} {rule.name} complaint(s) for {cases} case(s) in {result.root}",
        markup=False, highlight=False, soft_wrap=True,
    )
    console.print(f"zip: {result.zip_path}", markup=False, highlight=False, soft_wrap=True)
    console.print("After filing: markwatch case ID submit --complaint-id ID", markup=False, highlight=False)


@takedown_app.command("accuracy")
def takedown_accuracy(
    db: DbOpt = None,
    platform: Annotated[str | None, typer.Option("--platform", "-p", help="One platform; default all.")] = None,
) -> None:
    """Show per platform the takedown rate and the counter-notices sellers won (last 3 months).

    Example: markwatch takedown accuracy --db sqlite:///markwatch.db
    """
    from crawler import db as storage
    from crawler.takedown import accuracy, deadlines

    table_rules = _takedown_call(deadlines.rules)
    names = [_takedown_call(table_rules.platform, platform).key] if platform else list(table_rules.platforms)
    url = existing_store(db)
    if url is None:
        return
    table = Table(title="Reporter accuracy")
    for col in ("platform", "decided", "removed", "takedown rate", "seller won", "status"):
        table.add_column(col)
    notes = []
    with storage.session_scope(url) as session:
        for name in names:
            acc = accuracy.platform_accuracy(session, name, rules=table_rules)
            rate = "-" if acc.takedown_rate is None else f"{acc.takedown_rate:.0%}"
            won = "-" if acc.counter_won_rate is None else f"{acc.counter_won_rate:.0%}"
            table.add_row(name, str(acc.decided), str(acc.removed), rate, won, acc.status)
            notes += acc.messages
    console.print(table)
    for note in notes:
        console.print(f"warning: {note}", markup=False, highlight=False, soft_wrap=True)


@app.command("cases")
def cases_cmd(
    db: DbOpt = None,
    state: Annotated[str | None, typer.Option("--state", help="Only cases in this state.")] = None,
    platform: Annotated[str | None, typer.Option("--platform", "-p", help="Only this platform.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only cases whose action deadline has passed.")] = False,
) -> None:
    """List takedown cases with their state, deadline and working days left.

    Example: markwatch cases --state seller_notified --platform taobao --overdue
    """
    from sqlalchemy import select

    from crawler import db as storage
    from crawler import models as mdl
    from crawler.takedown import cases as tcases
    from crawler.takedown import deadlines, states

    url = existing_store(db)
    if url is None:
        return
    table_rules = _takedown_call(deadlines.rules)
    with storage.session_scope(url) as session:
        if platform:
            known = set(table_rules.platforms) | set(session.scalars(select(mdl.Case.platform).distinct()))
            if platform.lower() not in known:
                fail(f"--platform: unknown platform {platform!r}: expected one of {', '.join(sorted(known))}")
        # Each case is judged on its platform's date (Beijing's for Chinese platforms), the
        # date its deadline was counted from.
        found = _takedown_call(tcases.find_cases, session, state=state, platform=platform, overdue=overdue)
        from rich import box

        relists = any(c.relist_of for c in found)
        table = Table(title=f"{len(found)} case(s)", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("id", "platform", "state", "mark", "listing", "deadline", "complaint",
                    *(["relist of"] if relists else [])):
            table.add_column(col, overflow="fold")
        for case in found:
            when = "-"
            if case.deadline is not None:
                country = states.platform_rule(case.platform, table_rules).country
                today = states.local_today(country)
                try:
                    n = deadlines.working_days_between(country, today, case.deadline)
                except deadlines.CalendarError:
                    n = None
                if n is None:
                    left = "?"
                elif states.is_overdue(case, today):
                    left = f"[red]{-n} wd overdue[/red]"
                else:
                    left = f"{-n} wd ago" if n < 0 else f"{n} wd left"
                when = f"{case.deadline} {left}"
            table.add_row(
                str(case.id), case.platform, case.state, case.mark_id or "-", Text(case.listing.key), when,
                case.complaint_id or "-", *([str(case.relist_of or "-")] if relists else []),
            )
    console.print(table)


@app.command("case")
def case_cmd(
    case_ids: Annotated[
        str,
        typer.Argument(
            metavar="CASE",
            help="The case id (see markwatch cases), or several at once: 12,13,20-25 (one complaint "
            "for many links; all move or none).",
        ),
    ],
    action: Annotated[str, typer.Argument(help="confirm, dismiss, submit, reject, notify, await, removed, "
                                          "cross-complaint, dispute, reinstated, escalate, relisted, note, "
                                          "test-buy or show.")],
    db: DbOpt = None,
    note: Annotated[str | None, typer.Option("--note", help="Why; kept in the audit trail.")] = None,
    complaint_id: Annotated[str | None, typer.Option("--complaint-id", help="The platform's complaint id.")] = None,
    ref: Annotated[str | None, typer.Option("--ref", help="A platform reference, e.g. a test-buy order id.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who acts; default $USER.")] = None,
    label: Annotated[
        str | None,
        typer.Option("--label", help="With confirm: counterfeit, copycat, grey market, copyright or patent."),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="The day it happened (YYYY-MM-DD), when recorded later: the deadline counts from it. "
            "Default today on the platform's clock.",
        ),
    ] = None,
) -> None:
    """Move cases along their platform's protocol, record a note or a test-buy order, or show their history.

    Example: markwatch case 12,13,20-25 submit --complaint-id IPP-2026-0042 --note "filed on IPP"
    """
    import os

    from sqlalchemy import select

    from crawler import db as storage
    from crawler import models as mdl

    if action not in CASE_ACTIONS and action not in CASE_OTHER_ACTIONS:
        fail(f"unknown action {action!r}: expected one of {', '.join([*CASE_ACTIONS, *CASE_OTHER_ACTIONS])}")
    ids = _case_ids(case_ids)
    happened = _iso_date(on, "--on") if on else None
    if label is not None:
        from crawler.web.queries import LABELS

        if action != "confirm":
            fail(f"--label: only with confirm, not {action!r}")
        if label not in LABELS:
            fail(f"--label: expected one of {', '.join(LABELS)}, got {label!r}")
    if happened is not None and action not in CASE_ACTIONS:
        fail(f"--on: only for a change of state ({', '.join(CASE_ACTIONS)}), not {action!r}")
    who = actor or os.environ.get("USER") or "analyst"
    url = existing_store(db)
    if url is None:  # no store, no case to move
        raise typer.Exit(2)
    # One transaction: a refused move of any case leaves every case as it was.
    with storage.session_scope(url) as session:
        found = {c.id: c for c in session.scalars(select(mdl.Case).where(mdl.Case.id.in_(ids)))}
        if missing := [i for i in ids if i not in found]:
            fail(f"case {', '.join(map(str, missing))} not found")
        lines = [
            line
            for case in (found[i] for i in ids)
            for line in _case_action(
                session, case, action, who, note=note, complaint_id=complaint_id, ref=ref, on=happened, label=label
            )
        ]
    # Printed once the transaction is committed: a refused case leaves none moved.
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _case_ids(text: str) -> list[int]:
    """"12,13,20-25" -> [12, 13, 20, ..., 25], in order, each once; one line when malformed."""
    ids: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.strip().isdigit()):
            fail(f"CASE: expected a case id or ids such as 12,13,20-25, got {text!r}")
        first, last = int(low), int(high) if sep else int(low)
        if last < first or last - first >= 10_000:
            fail(f"CASE: {part!r} is not a range of at most 10000 ids from low to high")
        ids.extend(range(first, last + 1))
    return list(dict.fromkeys(ids))


def _case_action(
    session: Any, case: Any, action: str, who: str, *, note: str | None, complaint_id: str | None,
    ref: str | None, on: dt.date | None, label: str | None = None,
) -> list[str]:
    """One case's `markwatch case` action: the lines to print once every case has moved
    (a history for `show`)."""
    from crawler.takedown import cases as tcases
    from crawler.takedown import states

    if action == "show":
        return [
            f"case {case.id}: {case.platform} {case.listing.key} state {case.state}"
            f" deadline {case.deadline or '-'} complaint {case.complaint_id or '-'}"
            + (f" relist of {case.relist_of}" if case.relist_of else ""),
            *(
                f"  {e.at:%Y-%m-%d %H:%M} {e.actor}: {e.from_state or '-'} -> {e.to_state}"
                + (f" [{e.platform_ref}]" if e.platform_ref else "") + (f" {e.note}" if e.note else "")
                for e in case.events
            ),
        ]
    if action == "note":
        if not note:
            fail("note: expected --note TEXT")
        _takedown_call(states.annotate, session, case, who, note=note, platform_ref=ref)
        return [f"case {case.id}: note recorded"]
    if action == "test-buy":
        if not ref:
            fail("test-buy: expected --ref ORDER_ID (the test purchase's order id)")
        _takedown_call(states.annotate, session, case, who, note=note or "test buy", platform_ref=f"test-buy:{ref}")
        return [f"case {case.id}: test-buy order {ref} recorded"]
    if action == "relisted":
        new = _takedown_call(tcases.open_relist, session, case.listing, case, actor=who, note=note)
        return [f"case {case.id}: relisted; new case {new.id}"]
    fields: dict[str, str] = {"complaint_id": complaint_id} if complaint_id else {}
    if label:
        fields["label"] = label
    today = states.case_today(case)
    if on is not None:
        if on > today:
            fail(f"--on {on}: in the future (today is {today} on {case.platform}'s clock)")
        if on < today:
            # The deadline counts from the day it happened; the trail says it was recorded later.
            note = f"happened on {on}" + (f"; {note}" if note else "")
    _takedown_call(states.transition, session, case, CASE_ACTIONS[action], who, note=note, platform_ref=ref,
                   today=on or today, **fields)
    event = case.events[-1] if case.events else None
    deadline = f"; deadline {case.deadline}" if case.deadline else ""
    gap = event is not None and event.note and ("deadline not set" in event.note or "deadline estimated" in event.note)
    extra = f" ({event.note})" if gap else ""
    return [f"case {case.id}: {case.state}{deadline}{extra}"]


@app.command()
def serve(
    config: ConfigOpt,
    db: DbOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; any other than loopback requires MARKWATCH_WEB_TOKEN.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")] = 8000,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Images and evidence; default beside the SQLite file.")
    ] = None,
) -> None:
    """Start the analyst triage web UI: hit queue, hit detail, cases board, dashboard, JSON API.

    Listens on 127.0.0.1 unless --host says otherwise. Bound to any other address it
    requires a login: set MARKWATCH_WEB_TOKEN and give analysts that token. Setting the
    token also turns the login on for loopback. The OpenAPI description is at /openapi.json.

    Example: markwatch serve --config config/demo/markwatch.yaml --db sqlite:///markwatch.db --port 8000
    """
    import os
    import socket

    import uvicorn

    from crawler import db as storage
    from crawler.web import create_app
    from crawler.web.security import TOKEN_ENV, is_loopback

    client = load(config)
    token = os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and not token:
        fail(f"--host {host}: serving beyond loopback needs a login; set {TOKEN_ENV} to a long random token")
    if token is not None and len(token) < 12:
        fail(f"{TOKEN_ENV}: expected at least 12 characters")
    url = storage.database_url(db)
    storage.ensure_schema(url)
    web = create_app(client, url, token=token, evidence_dir=data_dir / "evidence" if data_dir else None)
    # Bound here, so a port in use is one line, and --port 0 prints the port it got.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})")
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    err_console.print(
        f"markwatch: serving {client.client.name} from {storage.display_url(url)} on http://{shown}:{port}/"
        + (" (login required)" if token else ""),
        markup=False, highlight=False,
    )
    server = uvicorn.Server(
        uvicorn.Config(web, log_level="warning", proxy_headers=False, server_header=False)
    )
    server.run(sockets=[sock])


@app.command()
def report(
    since: Annotated[str, typer.Option("--since", help="Period: 7d, 24h, 2w, or a date YYYY-MM-DD.")] = "7d",
    fmt: Annotated[str, typer.Option("--format", "-f", help="html (one self-contained file), csv or json.")] = "html",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write; default standard output.")] = None,
    db: DbOpt = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The client file, for the client's name in the title.")
    ] = None,
) -> None:
    """Write a report of the period's hits, triage and takedowns: HTML, CSV or JSON.

    The HTML is one self-contained file (thumbnails inline, charts as SVG) that can be
    e-mailed; CSV has one row per hit for spreadsheets; JSON has the figures too.

    Example: markwatch report --since 7d --format html --out report.html
    """
    from crawler import reports

    client = load(config) if config else None
    if out is not None:
        writable_output(out)
    url = existing_store(db)
    if url is None:
        return
    try:
        built, text = reports.write_report(url, out, client=client, fmt=fmt, since=since)
    except reports.ReportError as exc:
        fail(str(exc))
    if out is None:
        sys.stdout.write(text)
        return
    err_console.print(f"report with {len(built.hits)} hits written to {out}", markup=False, highlight=False)


evidence_app = typer.Typer(help="Evidence: capture listing pages, verify the hash-chained store.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
EvidenceDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dir", envvar="MARKWATCH_EVIDENCE_DIR",
        help="Evidence folder; default: the one `markwatch run` uses for --db (<db>-data/evidence).",
    ),
]


def _require_evidence_folder(session: Any, folder: Path) -> None:
    """End the command with one line when the store holds evidence and `folder` is not there."""
    from sqlalchemy import func, select

    from crawler import models as mdl

    entries = session.scalar(select(func.count()).select_from(mdl.Evidence))
    if entries and not folder.is_dir():
        fail(
            f"{folder}: no evidence folder there for the store's {entries} entries; give --dir "
            "(after `markwatch run --data-dir DIR` it is DIR/evidence)"
        )


@evidence_app.command("capture")
def evidence_capture(
    listing_key: Annotated[str, typer.Argument(help="marketplace:listing_id, e.g. aliexpress:1005001.")],
    db: DbOpt = None,
    evidence_dir: EvidenceDirOpt = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Client file: its marketplace hosts are trusted.")
    ] = None,
    allow_host: Annotated[
        list[str] | None, typer.Option("--allow-host", help="Also trust this host (repeatable), e.g. a local mirror.")
    ] = None,
) -> None:
    """Capture evidence of one stored listing now: screenshot, raw HTML, DOM, request record.

    Example: markwatch evidence capture aliexpress:1005001 --db sqlite:///markwatch.db --dir evidence
    """
    from sqlalchemy import select

    from crawler import db as storage
    from crawler import evidence
    from crawler import models as mdl
    from crawler.netguard import UnsafeURL, marketplace_hosts

    marketplace, sep, listing_id = listing_key.partition(":")
    if not sep or not marketplace or not listing_id:
        fail(f"LISTING_KEY: expected marketplace:listing_id such as aliexpress:1005001, got {listing_key!r}")
    allow = set(allow_host or [])
    if config is not None:
        allow |= marketplace_hosts(load(config))
    url = existing_store(db)
    if url is None:  # no store, no listing to capture
        raise typer.Exit(2)
    folder = evidence_dir or evidence.default_dir(url)
    with storage.session_scope(url) as session:
        listing = session.scalars(
            select(mdl.Listing).where(mdl.Listing.marketplace == marketplace, mdl.Listing.listing_id == listing_id)
        ).first()
        if listing is None:
            fail(f"LISTING_KEY: no stored listing {listing_key!r} in {storage.display_url(url)}")
        # A new folder would split the chain: its files and manifest apart from the rest.
        _require_evidence_folder(session, Path(folder))
        try:
            rows = evidence.capture(session, listing, folder, allow_hosts=allow)
        except UnsafeURL as exc:
            fail(f"evidence capture: {exc}")
        except evidence.EvidenceError as exc:
            fail(f"evidence capture: {exc}")
    table = Table(title=f"Evidence of {listing_key}")
    for col in ("id", "kind", "sha256", "file"):
        table.add_column(col)
    for row in rows:
        table.add_row(str(row.id), row.kind, row.sha256, str(Path(folder) / row.path))
    console.print(table)


@evidence_app.command("verify")
def evidence_verify(db: DbOpt = None, evidence_dir: EvidenceDirOpt = None) -> int:
    """Check every evidence file against its hash and the manifest's hash chain.

    Prints one line per problem (altered or missing file, altered or removed entry)
    and exits 1 when anything was tampered with, 0 when all is intact.

    Example: markwatch evidence verify --db sqlite:///markwatch.db --dir evidence
    """
    from crawler import db as storage
    from crawler import evidence

    url = existing_store(db)
    if url is None:  # nothing to verify: never an "OK" for a mistyped --db
        raise typer.Exit(2)
    folder = evidence_dir or evidence.default_dir(url)
    with storage.session_scope(url) as session:
        # A wrong folder is not tampering: say where to look instead of listing every file missing.
        _require_evidence_folder(session, folder)
        report = evidence.verify(session, folder)
    for warning in report.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if not report.ok:
        for problem in report.problems:
            console.print(problem.message, markup=False, highlight=False, soft_wrap=True)
        err_console.print(
            f"markwatch: evidence verify: {len(report.problems)} problem(s) in {report.checked} entries",
            markup=False, highlight=False,
        )
        raise typer.Exit(1)
    console.print(
        f"OK: {report.checked} entries, {report.files} files intact; chain head {report.head or '-'}",
        markup=False, highlight=False,
    )
    return 0


@app.command("spiders")
def spiders_cmd() -> None:
    """List the marketplace spiders: name, default site, browser need, query language.

    Example: markwatch spiders
    """
    from scrapy.spiderloader import SpiderLoader

    from crawler.spider import project_settings

    loader = SpiderLoader.from_settings(project_settings())
    table = Table(title="Spiders")
    for col in ("name", "default base_url", "browser", "queries"):
        table.add_column(col)
    for name in sorted(loader.list()):
        cls = loader.load(name)
        table.add_row(
            name,
            getattr(cls, "default_base_url", "") or "(from the client file)",
            "yes" if getattr(cls, "requires_browser", False) else "no",
            "Chinese" if getattr(cls, "chinese_site", False) else "Latin",
        )
    console.print(table)


@app.command("sellers")
def sellers_cmd(
    db: DbOpt = None,
    min_risk: Annotated[float, typer.Option("--min-risk", min=0.0, max=1.0, help="Show sellers at or above this risk.")] = 0.0,
    clusters: Annotated[bool, typer.Option("--clusters", help="Also show networks of linked sellers.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Client file: its authorised sellers are never flagged.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many sellers.")] = 50,
) -> None:
    """Who is behind the listings: seller history, risk score and seller networks.

    Risk grows with hits, confirmations, takedowns and relists (see README). With
    --clusters, sellers linked across marketplaces by shared photos, contacts
    (phone, WhatsApp, WeChat, QQ, e-mail, Telegram) or near-identical shop names.

    Example: markwatch sellers --db sqlite:///markwatch.db --min-risk 0.5 --clusters
    """
    from crawler import db as storage
    from crawler import sellers as seller_mod

    client = load(config) if config is not None else None
    url = existing_store(db)
    if url is None:
        return
    with storage.session_scope(url) as session:
        report = seller_mod.seller_report(session, client=client)
    shown = [s for s in report.sellers if s.risk >= min_risk][:limit]
    table = Table(title=f"Sellers ({len(shown)} of {len(report.sellers)}, risk >= {min_risk:.2f})")
    for col in ("seller", "name", "listings", "hits", "review", "confirmed", "removed", "relists", "risk", "cluster", "contacts"):
        table.add_column(col, overflow="fold")
    for s in shown:
        table.add_row(
            # Sellers name themselves: their names and contacts are printed as text, not markup.
            Text(s.key), Text(s.name or ""), str(s.listings), str(s.hits), str(s.reviews), str(s.confirmed),
            str(s.removed), str(s.relists), f"{s.risk:.2f}" + (" (whitelisted)" if s.whitelisted else ""),
            str(s.cluster) if s.cluster else "", Text(", ".join(sorted(map(str, s.contacts)))),
        )
    console.print(table)
    if not clusters:
        return
    _print_widely_shared(report.widely_shared)
    groups = [c for c in report.clusters if c.risk >= min_risk]
    if not groups:
        console.print("No seller networks found.")
        return
    ctable = Table(title=f"Seller networks ({len(groups)})")
    for col in ("cluster", "risk", "hits", "marketplaces", "sellers", "linked by"):
        ctable.add_column(col, overflow="fold")
    for c in groups:
        members = "\n".join(f"{s.key} {s.name or ''}".strip() for s in c.members)
        # Each shared thing with the sellers that share it, not one list for the whole group.
        reasons = [
            f"{detail}: {', '.join(f'{mp}:{sid}' for mp, sid in sorted(refs))}"
            for detail, refs in sorted(c.shared().items())
        ]
        linked = "\n".join(reasons[:6]) + (f"\n... {len(reasons) - 6} more" if len(reasons) > 6 else "")
        ctable.add_row(str(c.id), f"{c.risk:.2f}", str(c.hits), ", ".join(c.marketplaces), Text(members), Text(linked))
    console.print(ctable)


def _print_widely_shared(widely: list[Any]) -> None:
    """Contacts too many sellers show to link them: a platform hotline, or a large network."""
    from crawler.sellers import MAX_SHARED_SELLERS

    if not widely:
        return
    table = Table(
        title=f"Contacts shown by more than {MAX_SHARED_SELLERS} sellers (not linked: "
        "a platform hotline, or a network that large)"
    )
    for col in ("contact", "sellers", "who"):
        table.add_column(col, overflow="fold")
    for w in widely:
        who = ", ".join(f"{mp}:{sid}" for mp, sid in w.sellers[:12])
        more = f" ... {len(w.sellers) - 12} more" if len(w.sellers) > 12 else ""
        table.add_row(Text(w.detail), str(len(w.sellers)), Text(who + more))
    console.print(table)


def _log_to_stderr() -> None:
    """Warnings of markwatch's parts (a photo skipped, a crawl failed) as one line each, marked
    like the command's own messages. MARKWATCH_LOG_LEVEL=INFO or DEBUG shows more of
    markwatch's own logging only: other libraries' debug lines can carry alert URLs."""
    logging.basicConfig(format="markwatch: %(message)s", level=logging.WARNING)
    level = logging.getLevelName(os.environ.get("MARKWATCH_LOG_LEVEL", "WARNING").strip().upper())
    for part in ("crawler", "matching", "alerts", "spiders"):
        logging.getLogger(part).setLevel(level if isinstance(level, int) else logging.WARNING)


def main() -> None:
    _log_to_stderr()
    try:
        result = app(standalone_mode=False)
        if isinstance(result, int):
            sys.exit(result)
    except UsageError as exc:
        err_console.print(f"markwatch: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except ConfigError as exc:
        err_console.print(f"markwatch: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except DatabaseError as exc:
        # The database cannot be reached, is locked or is not a database: say why, in one line.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        err_console.print(f"markwatch: database error: {reason}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:
        # Usage errors of the command-line parser itself (typer bundles click).
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
