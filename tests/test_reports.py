"""`markwatch report`: one self-contained HTML file, CSV for spreadsheets, JSON with figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest

from crawler import db as storage
from crawler import models as m
from crawler import reports
from crawler.web import actions
from tests.conftest import run_cli
from tests.test_web_seed import XSS_TITLE, Seeded, seed_store


@pytest.fixture()
def seeded(tmp_path: Path) -> Seeded:
    seeded = seed_store(tmp_path)
    with storage.session_scope(seeded.db_url) as s:
        confirmed = s.get(m.Listing, seeded.pks["aliexpress:1001"])
        dismissed = s.get(m.Listing, seeded.pks["amazon:B0003"])
        assert confirmed is not None and dismissed is not None
        actions.confirm(s, confirmed, "counterfeit", "test")
        actions.dismiss(s, dismissed, "test")
    return seeded


def test_parse_since() -> None:
    now = dt.datetime(2026, 11, 28, 12, 0)
    assert reports.parse_since("7d", now) == dt.datetime(2026, 11, 21, 12, 0)
    assert reports.parse_since("24h", now) == dt.datetime(2026, 11, 27, 12, 0)
    assert reports.parse_since("2026-11-01", now) == dt.datetime(2026, 11, 1)
    with pytest.raises(reports.ReportError, match="--since"):
        reports.parse_since("last week", now)


def test_html_report_is_one_self_contained_file(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    r = run_cli("report", "--since", "7d", "--format", "html", "--out", str(out), "--db", seeded.db_url,
                "--config", str(seeded.config))
    assert r.returncode == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    assert "Acme Games Ltd." in html
    # Pictures inline, charts inline, nothing fetched from anywhere.
    assert len(re.findall(r'src="data:image/jpeg;base64,', html)) >= 4
    assert html.count("<svg") >= 3
    assert not re.search(r'(src|href)="(?!data:|https://[a-z]+\.example/|#)', html)
    assert "<link" not in html and "<script" not in html.replace("&lt;script", "")
    # Counterfeiters' text stays text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS_TITLE not in html
    assert "ACME Pad Pro wireless controller" in html and "Phone case, blue" not in html


def test_csv_and_json_reports(seeded: Seeded) -> None:
    with storage.session_scope(seeded.db_url) as s:
        built = reports.build_report(s, reports.parse_since("7d"), thumbnails=False)
    rows = list(csv.DictReader(io.StringIO(reports.render_csv(built))))
    assert [r["id"] for r in rows][:2] == ["aliexpress:1001", "aliexpress:1002"]
    assert rows[0]["triage_state"] == "confirmed" and rows[0]["triage_label"] == "counterfeit"
    assert "12.50 USD is 21% of MSRP" in rows[0]["signals"]
    data = json.loads(reports.render_json(built))
    assert data["summary"]["triage"] == {"confirmed": 1, "dismissed": 1, "new": 3}
    assert data["summary"]["hits_per_day"]["aliexpress"]
    assert data["summary"]["cleanliness_by_term"][0]["term"] == "ACME"
    assert data["cases"] and data["cases"][0]["state"] == "confirmed"


def test_csv_neutralises_spreadsheet_formulas(seeded: Seeded) -> None:
    with storage.session_scope(seeded.db_url) as s:
        listing = s.get(m.Listing, seeded.pks["taobao:2001"])
        assert listing is not None
        listing.title = '=HYPERLINK("http://evil.example","x")'
    with storage.session_scope(seeded.db_url) as s:
        text = reports.render_csv(reports.build_report(s, reports.parse_since("7d"), thumbnails=False))
    assert "'=HYPERLINK" in text


def test_takedown_figures(seeded: Seeded) -> None:
    from crawler.takedown.states import transition

    with storage.session_scope(seeded.db_url) as s:
        case = s.query(m.Case).one()
        transition(s, case, "submitted", "test", complaint_id="IPP-1")
        transition(s, case, "removed", "test")
        # Another complaint filed and not decided yet: pending, not a failure (as `takedown accuracy`).
        other = s.get(m.Listing, seeded.pks["aliexpress:1002"])
        pending = actions.confirm(s, other, "counterfeit", "test")
        transition(s, pending, "submitted", "test", complaint_id="IPP-2")
    with storage.session_scope(seeded.db_url) as s:
        summary = reports.summary(s, reports.parse_since("7d"))
    assert (summary.filed, summary.decided, summary.removed, summary.takedown_rate) == (2, 1, 1, 1.0)
    assert summary.median_days_to_removal is not None and summary.median_days_to_removal < 1


def test_a_period_longer_than_a_year_charts_its_latest_days(seeded: Seeded) -> None:
    # An annual report must show this year's hits, not the period's first 366 days.
    since = m.utcnow() - dt.timedelta(days=800)
    with storage.session_scope(seeded.db_url) as s:
        summary = reports.summary(s, since)
    assert summary.days[-1] == m.utcnow().date() and len(summary.days) == 366
    hit_days = {d for per in summary.hits_per_day.values() for d in per}
    assert hit_days and hit_days <= set(summary.days)


def test_report_rejects_bad_options(seeded: Seeded) -> None:
    r = run_cli("report", "--since", "soon", "--db", seeded.db_url)
    assert r.returncode == 2 and "--since" in r.stderr
    r = run_cli("report", "--format", "pdf", "--db", seeded.db_url)
    assert r.returncode == 2 and "--format" in r.stderr


def test_cleanliness_counts_every_marketplace_s_latest_run(tmp_path: Path) -> None:
    # Each marketplace is crawled in runs of its own; the latest run of one must not hide the others.
    from types import SimpleNamespace

    url = f"sqlite:///{tmp_path / 'store.db'}"
    storage.upgrade(url)
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)
    with storage.session_scope(url) as s:
        for market, verdicts in (("aliexpress", ["counterfeit", "clear"]), ("amazon", ["clear"])):
            run = storage.start_run(s, market, "c1")
            for i, verdict in enumerate(verdicts):
                fields = {"marketplace": market, "listing_id": f"{market}-{i}", "url": f"https://x/{i}", "title": "ACME"}
                listing = storage.upsert_listing(s, fields, run_id=run.id, search_term="ACME").listing
                storage.add_assessment(
                    s, listing, SimpleNamespace(score=0.5, verdict=verdict, mark_id="acme", signals=[]), "1"
                )
        assert reports.cleanliness(s, since) == [("ACME", 2 / 3, 3)]


def test_report_files_open_right_and_bad_periods_or_paths_are_refused(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "hits.csv"
    assert run_cli("report", "--format", "CSV", "--out", str(out), "--db", seeded.db_url).returncode == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # spreadsheets read the Chinese titles as UTF-8
    r = run_cli("report", "--since", "2999-01-01", "--db", seeded.db_url)
    assert r.returncode == 2 and "in the future" in r.stderr
    r = run_cli("report", "--out", str(tmp_path / "no" / "such" / "r.html"), "--db", seeded.db_url)
    assert r.returncode == 2 and "does not exist" in r.stderr and not (tmp_path / "no").exists()
