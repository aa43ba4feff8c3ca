"""The `markwatch` command line.

Every command's docstring is its help and carries an example; a test fails when a
command lacks one. Errors the user can fix (a bad client file, an unknown case)
end as one line on stderr and exit status 2.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from sqlalchemy.exc import OperationalError
from rich.console import Console
from rich.table import Table

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

console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The client file (markwatch.yaml).")]
DbOpt = Annotated[
    Optional[str],
    typer.Option("--db", envvar="MARKWATCH_DB", help="SQLAlchemy URL or SQLite path; default ./markwatch.db."),
]


class UsageError(Exception):
    """A mistake the user can fix; reported as one line with exit status 2."""


def fail(message: str) -> None:
    raise UsageError(message)


def load(config: Path) -> Client:
    """Load the client file or stop with the one-line reason."""
    try:
        return load_client(config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


@app.command()
def check(config: ConfigOpt) -> None:
    """Validate a client file and print what it asks markwatch to watch.

    Example: markwatch check --config config/demo/markwatch.yaml
    """
    client = load(config)
    today = dt.date.today()
    console.print(f"[bold]{client.client.name}[/bold]  ({client.source})")
    marks = Table(title="Marks", show_lines=False)
    for col in ("id", "type", "title", "owner", "terms", "images", "classes"):
        marks.add_column(col)
    for m in client.marks:
        marks.add_row(
            m.id, m.type.value, m.title, m.owner or "", ", ".join(m.terms), str(len(m.images)),
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
            products.add_row(p.id, p.mark, p.name, msrp, str(len(p.images)))
        console.print(products)
    enabled = client.enabled_marketplaces()
    console.print(f"Authorised sellers: {len(client.authorized_sellers)}")
    console.print("Marketplaces enabled: " + (", ".join(enabled) if enabled else "none"))
    if client.alerts:
        console.print("Alert targets:")
        for a in client.alerts:
            console.print(f"  {redact(a.url)}  (min verdict {a.min_verdict})", markup=False, highlight=False)
    else:
        console.print("Alert targets: none")
    console.print(
        f"Thresholds: counterfeit >= {client.thresholds.counterfeit}, review >= {client.thresholds.review}"
    )


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Create the store or bring its schema up to date (Alembic migrations).

    Example: markwatch db upgrade --db sqlite:///markwatch.db
    """
    from crawler import db as storage

    url = storage.database_url(db)
    storage.upgrade(url)
    console.print(f"Schema up to date at {storage.display_url(url)}", markup=False, highlight=False)


def main() -> None:
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
    except OperationalError as exc:
        # The database cannot be reached or is locked: say which and why, in one line.
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
