"""Shared test fixtures: paths, a valid client file to break, a fresh SQLite store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config" / "demo" / "markwatch.yaml"
SHARED = ROOT.parent / "shared"
MARKWATCH = Path(sys.executable).with_name("markwatch")


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300):
    """Run the installed `markwatch` console script and capture its output."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [str(MARKWATCH), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout
    )


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """A copy of the demo client folder that a test may edit."""
    target = tmp_path / "client"
    shutil.copytree(DEMO_CONFIG.parent, target)
    return target


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite store."""
    from crawler import db

    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.upgrade(url)
    return url


@pytest.fixture(scope="session")
def market_server(tmp_path_factory: pytest.TempPathFactory):
    """The local marketplace server with `sample_catalogue()` for every marketplace template."""
    from crawler.marketplace_server import MarketplaceServer, sample_catalogue

    images = tmp_path_factory.mktemp("market-images")
    with MarketplaceServer(sample_catalogue(images), images) as server:
        yield server


@pytest.fixture
def seeded(tmp_path: Path):
    """The triage UI's seeded store (tests/test_web_seed.py)."""
    from tests.test_web_seed import seed_store

    return seed_store(tmp_path)


@pytest.fixture
def web(seeded):
    """The triage UI on the seeded store, in this process."""
    from fastapi.testclient import TestClient

    from crawler.config import load_client
    from crawler.web import create_app

    return TestClient(create_app(load_client(seeded.config), seeded.db_url), follow_redirects=False)
