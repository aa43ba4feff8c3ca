"""Paths and stores a command cannot use end it with one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import DEMO_CONFIG, run_cli


def _one_line(out, *fragments: str) -> None:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr and all(f in lines[0] for f in fragments), lines[0]


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    other = tmp_path / "listings.jsonl"
    other.write_text('{"id": "a"}\n')
    for command in (["export"], ["cases"], ["report", "-o", str(tmp_path / "r.html")]):
        _one_line(run_cli(*command, "--db", str(other)), "database error", "not a database")


def test_another_program_s_database_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table notes (text)")
    _one_line(run_cli("cases", "--db", str(other)), "not a markwatch store")
    with sqlite3.connect(other) as conn:
        assert [r[0] for r in conn.execute("select name from sqlite_master")] == ["notes"]


def test_a_database_without_its_driver(tmp_path: Path) -> None:
    out = run_cli("export", "--db", "mysql://user:secret@localhost/markwatch")
    _one_line(out, "--db", "no driver for mysql")
    assert "secret" not in out.stderr


def test_output_paths_that_cannot_be_written(tmp_path: Path) -> None:
    listings = tmp_path / "in.jsonl"
    listings.write_text(json.dumps({"id": "a", "title": "flower pot"}) + "\n")
    folder = tmp_path / "out"
    folder.mkdir()
    score = ["score", "--config", str(DEMO_CONFIG), "--listings", str(listings)]
    _one_line(run_cli(*score, "--out", str(folder)), str(folder), "is a folder")
    assert not (tmp_path / "out.partial").exists()
    store = tmp_path / "store.db"
    run_cli("db", "upgrade", "--db", str(store))
    _one_line(run_cli("export", "--db", str(store), "--out", str(folder)), "is a folder")
    _one_line(run_cli("export", "--db", str(store), "--out", str(tmp_path / "no" / "x.jsonl")), "does not exist")
    a_file = tmp_path / "packages"
    a_file.write_text("not a folder")
    out = run_cli(
        "takedown", "export", "--config", str(DEMO_CONFIG), "--db", str(store), "-p", "aliexpress", "--out", str(a_file)
    )
    _one_line(out, "--out", "is a file")


def test_an_in_memory_store_is_refused() -> None:
    # Everything a cycle found would be gone when the command ends.
    for url in ("sqlite:///", "sqlite://", "sqlite:///:memory:"):
        _one_line(run_cli("cases", "--db", url), "--db", "in memory")


def test_verifying_evidence_in_a_folder_that_is_not_there_is_not_tampering(tmp_path: Path) -> None:
    from crawler import db
    from crawler.evidence import record
    from tests.test_crawler_evidence import _fake_snapshot, _listing

    store = f"sqlite:///{tmp_path / 'mw.db'}"
    db.upgrade(store)
    with db.session_scope(store) as s:
        record(s, _listing(s, "1", "https://www.aliexpress.com/item/1.html"), _fake_snapshot("https://x/1", 1),
               tmp_path / "kept-elsewhere")
    _one_line(run_cli("evidence", "verify", "--db", store, "--dir", str(tmp_path / "wrong")),
              "no evidence folder there for the store's 2 entries", "--dir")


def test_serving_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    store = tmp_path / "store.db"
    run_cli("db", "upgrade", "--db", str(store))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        out = run_cli("serve", "--config", str(DEMO_CONFIG), "--db", str(store), "--port", port, timeout=60)
    _one_line(out, f"--port {port}", "cannot listen there")
