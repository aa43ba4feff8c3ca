"""Broken client files: each is refused with one distinct line naming the key, exit 2,
and `markwatch run` writes nothing (no store file, no data folder).

`tests/test_crawler_config.py` covers 29 breakages; these are others (different keys
or different ways to be wrong), run through the real command's entry point
(`crawler.cli.main`, in this process for speed; a few through the installed script).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawler.config import ConfigError, load_client
from tests.conftest import DEMO_CONFIG, run_cli
from tests.test_crawler_config import BROKEN as EXISTING

DELETE = object()


def _set(data: dict, path: str, value: Any) -> None:
    """Set (or with value=DELETE remove) a key given as 'marks.0.registrations.0.number'."""
    parts = path.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    key: Any = int(last) if last.isdigit() else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value


# (case id, edits to the demo file, key path the error must start with, words the reason must contain)
BROKEN: list[tuple[str, list[tuple[str, Any]], str, str]] = [
    ("unknown-client-key", [("client.nmae", "x")], "client.nmae", "unknown key"),
    ("unknown-contact-key", [("client.contact.fax", "1")], "client.contact.fax", "unknown key"),
    (
        "unknown-document-key",
        [("client.documents.license", "docs/business-license.pdf")],
        "client.documents.license",
        "unknown key",
    ),
    (
        "unknown-registration-key",
        [("marks.0.registrations.0.numbr", "1")],
        "marks[0].registrations[0].numbr",
        "unknown key",
    ),
    ("unknown-product-key", [("products.0.price", 3)], "products[0].price", "unknown key"),
    (
        "unknown-seller-key",
        [("authorized_sellers.0.shop", "x")],
        "authorized_sellers[0].shop",
        "unknown key",
    ),
    (
        "unknown-rates-key",
        [("exchange_rates.rate", {"EUR": 1})],
        "exchange_rates.rate",
        "unknown key",
    ),
    (
        "unknown-marketplace-key",
        [("marketplaces.aliexpress.max_page", 3)],
        "marketplaces.aliexpress.max_page",
        "unknown key",
    ),
    (
        "unknown-alert-key",
        [("alerts", [{"url": "json://localhost", "to": "x"}])],
        "alerts[0].to",
        "unknown key",
    ),
    (
        "unknown-thresholds-key",
        [("thresholds", {"counterfit": 0.7})],
        "thresholds.counterfit",
        "unknown key",
    ),
    ("empty-client-name", [("client.name", "")], "client.name", "at least 1"),
    ("client-not-mapping", [("client", "Lumora")], "client", ""),
    ("missing-mark-title", [("marks.0.title", DELETE)], "marks[0].title", "missing"),
    (
        "missing-registration-number",
        [("marks.0.registrations.0.number", DELETE)],
        "marks[0].registrations[0].number",
        "missing",
    ),
    (
        "bad-valid-from",
        [("marks.0.registrations.0.valid_from", "2021-13-40")],
        "marks[0].registrations[0].valid_from",
        "date",
    ),
    ("bad-protect-until", [("marks.0.protect_until", "never")], "marks[0].protect_until", "date"),
    ("class-not-number", [("marks.0.classes", ["nine"])], "marks[0].classes[0]", "whole number"),
    ("class-zero", [("marks.0.classes", [0])], "marks[0].classes[0]", ">= 1"),
    ("empty-term", [("marks.0.terms", ["", "Lumora"])], "marks[0].terms[0]", "at least 1"),
    (
        "empty-keyword",
        [("marks.0.keywords", ["earbuds", ""])],
        "marks[0].keywords[1]",
        "at least 1",
    ),
    ("registrations-not-list", [("marks.0.registrations", "CN")], "marks[0].registrations", "list"),
    (
        "mark-images-not-list",
        [("marks.1.images", "marks/lumora-logo.png")],
        "marks[1].images",
        "list",
    ),
    (
        "duplicate-product-id",
        [("products.1.id", "lumora-buds")],
        "products[1].id",
        "duplicate product id",
    ),
    ("missing-product-name", [("products.0.name", DELETE)], "products[0].name", "missing"),
    (
        "missing-product-image",
        [("products.0.images", ["products/nope.jpg"])],
        "products[0].images",
        "not found",
    ),
    ("products-not-list", [("products", {"id": "x"})], "products", "list"),
    ("msrp-zero", [("products.1.msrp", 0)], "products[1].msrp", "> 0"),
    (
        "empty-seller-marketplace",
        [("authorized_sellers.1.marketplace", "")],
        "authorized_sellers[1].marketplace",
        "at least 1",
    ),
    ("bad-rates-base", [("exchange_rates.base", "DOLLAR")], "exchange_rates.base", "ISO 4217"),
    (
        "negative-rate",
        [("exchange_rates.rates", {"CNY": -0.1, "EUR": 1.08})],
        "exchange_rates.rates.CNY",
        "> 0",
    ),
    ("rates-not-mapping", [("exchange_rates.rates", [0.138])], "exchange_rates.rates", "mapping"),
    (
        "max-pages-too-many",
        [("marketplaces.aliexpress.max_pages", 101)],
        "marketplaces.aliexpress.max_pages",
        "<= 100",
    ),
    (
        "concurrency-zero",
        [("marketplaces.taobao.concurrency", 0)],
        "marketplaces.taobao.concurrency",
        ">= 1",
    ),
    (
        "concurrency-too-high",
        [("marketplaces.dhgate.concurrency", 65)],
        "marketplaces.dhgate.concurrency",
        "<= 64",
    ),
    (
        "negative-delay",
        [("marketplaces.amazon.download_delay", -1)],
        "marketplaces.amazon.download_delay",
        ">= 0",
    ),
    (
        "interval-zero",
        [("marketplaces.ebay.interval_hours", 0)],
        "marketplaces.ebay.interval_hours",
        "> 0",
    ),
    (
        "robots-not-bool",
        [("marketplaces.ebay.obey_robots", "perhaps")],
        "marketplaces.ebay.obey_robots",
        "true or false",
    ),
    (
        "browser-not-bool",
        [("marketplaces.amazon.use_browser", "maybe")],
        "marketplaces.amazon.use_browser",
        "true or false",
    ),
    (
        "marketplace-not-mapping",
        [("marketplaces.aliexpress", ["x"])],
        "marketplaces.aliexpress",
        "",
    ),
    (
        "base-url-not-url",
        [("marketplaces.dhgate.base_url", "www.dhgate.com")],
        "marketplaces.dhgate.base_url",
        "http",
    ),
    (
        "unknown-selector",
        [
            (
                "marketplaces.shop",
                {
                    "search_url": "https://shop.example/s?q={term}",
                    "selectors": {"item": "li", "id": "a", "title": "h2", "titel": "h3"},
                },
            )
        ],
        "marketplaces.shop.selectors.titel",
        "unknown key",
    ),
    ("alert-not-url", [("alerts", [{"url": "nonsense"}])], "alerts[0].url", "apprise URL"),
    ("alert-missing-url", [("alerts", [{"min_verdict": "review"}])], "alerts[0].url", "missing"),
    ("alerts-not-list", [("alerts", "json://localhost")], "alerts", "list"),
    (
        "threshold-above-one",
        [("thresholds", {"counterfeit": 1.5})],
        "thresholds.counterfeit",
        "<= 1",
    ),
    ("threshold-not-number", [("thresholds", {"review": "high"})], "thresholds.review", "number"),
    (
        "missing-translation",
        [("client.documents.translations", ["docs/nope-en.pdf"])],
        "client.documents.translations",
        "not found",
    ),
    (
        "missing-power-of-attorney",
        [("client.documents.power_of_attorney", "docs/gone.pdf")],
        "client.documents.power_of_attorney",
        "not found",
    ),
    (
        "bad-registration-country-type",
        [("marks.0.registrations.0.country", 86)],
        "marks[0].registrations[0].country",
        "",
    ),
]

# Broken before validation even starts (YAML level), with the words the line must contain.
UNPARSEABLE = [
    ("tab-indent", "client:\n\tname: X\n", "invalid YAML"),
    ("duplicate-anchor-alias", "client: *nothing\n", "invalid YAML"),
    ("scalar-top", "just a string\n", "expected a mapping"),
]


@pytest.fixture
def client_dir(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "client"
    shutil.copytree(DEMO_CONFIG.parent, target, ignore=shutil.ignore_patterns("market"))
    return target


def _write(client_dir: Path, edits: list[tuple[str, Any]]) -> Path:
    path = client_dir / "markwatch.yaml"
    data = yaml.safe_load(path.read_text())
    for where, value in edits:
        _set(data, where, value)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def run_in_process(args: list[str], capsys: Any) -> tuple[int, str]:
    """`markwatch ARGS` through the real entry point in this process: (exit status, stderr)."""
    from crawler.cli import main

    old = sys.argv
    sys.argv = ["markwatch", *args]
    code: int = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    return code, capsys.readouterr().err


def test_cases_are_new_and_many():
    ids = [b[0] for b in BROKEN]
    assert len(ids) == len(set(ids))
    keys = {(b[2], b[3]) for b in EXISTING}
    assert not [b for b in BROKEN if (b[2], b[3]) in keys]
    assert len(BROKEN) + len(UNPARSEABLE) >= 50


def test_every_broken_file_gives_a_distinct_line_exit_2_and_writes_nothing(
    client_dir: Path, tmp_path: Path, capsys
):
    messages: dict[str, str] = {}
    problems: list[str] = []
    pristine = (client_dir / "markwatch.yaml").read_text()
    for case, edits, key, words in BROKEN:
        (client_dir / "markwatch.yaml").write_text(pristine)
        path = _write(client_dir, edits)
        try:
            load_client(path)
            problems.append(f"{case}: accepted")
            continue
        except ConfigError as exc:
            message = str(exc)
        if (
            not message.startswith(f"{path}: {key}")
            or words.lower() not in message.lower()
            or "\n" in message
        ):
            problems.append(f"{case}: {message}")
        messages[case] = message.split(": ", 1)[1]
        store = tmp_path / f"{case}.db"
        code, err = run_in_process(
            ["run", "--config", str(path), "--db", f"sqlite:///{store}"], capsys
        )
        lines = err.strip().splitlines()
        if code != 2 or len(lines) != 1 or key not in lines[0]:
            problems.append(f"{case}: exit {code}, stderr {err!r}")
        if store.exists() or (tmp_path / f"{case}-data").exists():
            problems.append(f"{case}: wrote {store}")
    assert problems == [], "\n".join(problems)
    assert len(set(messages.values())) == len(messages), "two cases gave the same message"


@pytest.mark.parametrize("case, text, words", UNPARSEABLE, ids=[u[0] for u in UNPARSEABLE])
def test_unparseable_files_exit_2(tmp_path: Path, capsys, case: str, text: str, words: str):
    path = tmp_path / "markwatch.yaml"
    path.write_text(text)
    store = tmp_path / "store.db"
    code, err = run_in_process(["run", "--config", str(path), "--db", f"sqlite:///{store}"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, err
    assert not store.exists()


def test_installed_command_refuses_before_touching_the_store(client_dir: Path, tmp_path: Path):
    # The console script, in its own process, for two representative breakages.
    for case in ("unknown-marketplace-key", "negative-rate"):
        _, edits, key, _ = next(b for b in BROKEN if b[0] == case)
        path = _write(client_dir, edits)
        store = tmp_path / f"{case}.db"
        out = run_cli("run", "--config", str(path), "--db", f"sqlite:///{store}")
        assert out.returncode == 2, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and key in out.stderr
        assert not store.exists()


def test_impossible_date_names_its_key(client_dir: Path, tmp_path: Path, capsys):
    # YAML reads 2027-13-31 as a timestamp and fails to build it: that must be the
    # one-line key error of any bad date, not a ValueError traceback.
    path = client_dir / "markwatch.yaml"
    text = path.read_text()
    assert "valid_until: 2031-03-13" in text
    path.write_text(text.replace("valid_until: 2031-03-13", "valid_until: 2031-13-03", 1))
    store = tmp_path / "store.db"
    code, err = run_in_process(["run", "--config", str(path), "--db", f"sqlite:///{store}"], capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    assert "registrations[0].valid_until: expected a date YYYY-MM-DD" in err
    assert not store.exists()
