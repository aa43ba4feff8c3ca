"""`markwatch demo --out DIR`: only the demo's own files in DIR are replaced, a file is
refused, failed crawls fail the demo, and every hit (Taobao's too) gets evidence."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler import db
from crawler import models as m
from crawler.config import load_client
from crawler.demo import MARKER, DemoError, demo_files, prepare_out
from tests.conftest import run_cli

ENV = {"MARKWATCH_DATA_DIR": "", "MARKWATCH_EVIDENCE_DIR": ""}


def _user_files(folder: Path) -> None:
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("precious\n")
    (folder / "sub" / "draft.md").write_text("keep me\n")


def _assert_user_files(folder: Path) -> None:
    assert (folder / "notes.txt").read_text() == "precious\n"
    assert (folder / "sub" / "draft.md").read_text() == "keep me\n"


@pytest.mark.browser
def test_demo_in_a_working_folder_replaces_only_its_own_files(tmp_path: Path) -> None:
    work = tmp_path / "work"
    _user_files(work)
    # What a previous demo run left: its marker, store, data and report.
    (work / MARKER).write_text("{}\n")
    (work / "markwatch.db").write_bytes(b"an old demo store")
    (work / "markwatch-data" / "evidence").mkdir(parents=True)
    (work / "markwatch-data" / "evidence" / "stale").write_text("old")
    (work / "report.html").write_text("old report")

    done = run_cli("demo", "--out", ".", cwd=work, env=ENV)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    _assert_user_files(work)
    assert not (work / "markwatch-data" / "evidence" / "stale").exists()
    assert "old report" not in (work / "report.html").read_text()
    assert "failed" not in out and "evidence not captured" not in out, out

    # Every counterfeit hit has evidence, and it is the listing's page, not an error page.
    url = f"sqlite:///{work / 'markwatch.db'}"
    with db.session_scope(url) as s:
        hits = {lst.key for lst, a in db.iter_listings_with_assessment(s) if a and a.verdict == "counterfeit"}
        metas = {
            lst.key: json.loads((work / "markwatch-data" / "evidence" / e.path).read_bytes())
            for e, lst in s.execute(
                select(m.Evidence, m.Listing)
                .join(m.Listing, m.Listing.id == m.Evidence.listing_pk)
                .where(m.Evidence.kind == "meta")
            )
        }
    assert hits and set(metas) == hits
    assert {k for k in hits if k.startswith("taobao:")}, hits
    assert all(meta["status"] == 200 for meta in metas.values()), metas
    assert f"evidence captured: {len(hits)}" in out
    verified = run_cli("evidence", "verify", "--db", str(work / "markwatch.db"), env=ENV)
    assert verified.returncode == 0 and verified.stdout.startswith("OK: "), verified.stdout + verified.stderr

    # A demo folder from before the marker existed is still recognised by its store.
    (work / MARKER).unlink()
    prepare_out(work, load_client(demo_files()[0]))
    assert not (work / "markwatch.db").exists() and not (work / "markwatch-data").exists()
    assert not (work / "report.html").exists() and (work / MARKER).is_file()
    _assert_user_files(work)


def test_out_naming_a_file_is_one_line_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "afile.txt"
    target.write_text("precious\n")
    done = run_cli("demo", "--out", str(target), env=ENV)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [f"markwatch: --out {target}: expected a folder, found a file"]
    assert "Traceback" not in done.stderr and target.read_text() == "precious\n"


def test_a_store_or_report_the_demo_did_not_write_is_left_alone(tmp_path: Path) -> None:
    work = tmp_path / "work"
    _user_files(work)
    store = work / "markwatch.db"
    conn = sqlite3.connect(store)
    conn.execute("CREATE TABLE marks (id TEXT, owner TEXT)")
    conn.execute("INSERT INTO marks VALUES ('acme', 'ACME Corp.')")
    conn.commit()
    conn.close()
    before = store.read_bytes()
    done = run_cli("demo", "--out", str(work), env=ENV)
    assert done.returncode == 2 and "not written by markwatch demo" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert store.read_bytes() == before
    _assert_user_files(work)

    only_report = tmp_path / "reports"
    only_report.mkdir()
    (only_report / "report.html").write_text("my report")
    with pytest.raises(DemoError, match="report.html"):
        prepare_out(only_report, load_client(demo_files()[0]))
    assert (only_report / "report.html").read_text() == "my report"


def test_a_demo_whose_crawls_failed_exits_non_zero_and_says_so(tmp_path: Path) -> None:
    # An unknown log level makes every crawl process fail at start-up, before any request.
    done = run_cli("demo", "--out", str(tmp_path / "out"), env={**ENV, "MARKWATCH_LOG_LEVEL": "nonsense"})
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("markwatch: demo failed: ") and "crawls did not finish" in last, done.stderr
    assert "aliexpress: failed" in last
