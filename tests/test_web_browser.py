"""The triage UI in Debian's Chromium against a running `markwatch serve` on a seeded store.

Screenshots of every page visited are kept under test-artifacts/web/; the queue's
is also saved as docs/queue.png for the README when that file is missing or
MARKWATCH_UPDATE_SCREENSHOTS is set.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crawler.evidence import chromium_path
from crawler.settings import CHROMIUM_ARGS
from tests.conftest import ROOT
from tests.test_web_seed import XSS_TITLE, Seeded, seed_store

pytestmark = pytest.mark.browser

CHROMIUM = chromium_path()
ARTIFACTS = ROOT / "test-artifacts" / "web"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's Chromium is not installed")
    seeded = seed_store(tmp_path_factory.mktemp("web"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MARKWATCH_WEB_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", "--config", str(seeded.config), "--db", seeded.db_url,
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"markwatch serve did not start: {out}")
            time.sleep(0.2)
        yield base, seeded
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@pytest.fixture()
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1360, "height": 820})  # type: ignore[attr-defined]
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    yield pg
    context.close()


def shot(pg: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_triage_flow_in_the_browser(server: tuple[str, Seeded], page: object) -> None:
    base, seeded = server
    pg = page
    pg.goto(base + "/queue")  # type: ignore[attr-defined]
    rows = pg.locator("#queue tr.hit")  # type: ignore[attr-defined]
    assert rows.count() == 5
    first = rows.nth(0)
    assert "ACME Pad Pro wireless controller" in first.inner_text()
    # Polled from here: wait_for_function evaluates its predicate with eval, which the
    # app's Content-Security-Policy (rightly) forbids.
    for _ in range(100):
        if pg.evaluate("() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"):  # type: ignore[attr-defined]
            break
        pg.wait_for_timeout(100)  # type: ignore[attr-defined]
    shot(pg, "01-queue")
    readme_shot = ROOT / "docs" / "queue.png"
    if not readme_shot.exists() or os.environ.get("MARKWATCH_UPDATE_SCREENSHOTS"):
        readme_shot.parent.mkdir(exist_ok=True)
        pg.screenshot(path=str(readme_shot))  # type: ignore[attr-defined]

    # Keyboard: j moves the highlight down, k back up, o opens the highlighted hit.
    pg.keyboard.press("j")  # type: ignore[attr-defined]
    assert "current" in (rows.nth(1).get_attribute("class") or "")
    pg.keyboard.press("k")  # type: ignore[attr-defined]
    assert "current" in (rows.nth(0).get_attribute("class") or "")
    pg.keyboard.press("o")  # type: ignore[attr-defined]
    pg.wait_for_url(f"**/hits/{seeded.pks['aliexpress:1001']}")  # type: ignore[attr-defined]
    assert "12.50 USD is 21% of MSRP 59.99 USD" in pg.locator("#signals").inner_text()  # type: ignore[attr-defined]
    assert pg.locator(".compare img").count() >= 3  # type: ignore[attr-defined]
    shot(pg, "02-detail")

    # Confirm with a label.
    pg.select_option("#confirm-label", "copycat")  # type: ignore[attr-defined]
    pg.click("#confirm-btn")  # type: ignore[attr-defined]
    pg.wait_for_selector(".flash")  # type: ignore[attr-defined]
    assert pg.locator("#triage-state").inner_text() == "confirmed"  # type: ignore[attr-defined]
    assert pg.locator("#triage-label").inner_text() == "copycat"  # type: ignore[attr-defined]
    shot(pg, "03-confirmed")

    # The confirmed hit is a case on the board.
    pg.click("text=Cases")  # type: ignore[attr-defined]
    card = pg.locator(f'.casecard[data-listing="{seeded.pks["aliexpress:1001"]}"]')  # type: ignore[attr-defined]
    assert card.count() == 1
    assert "ACME Pad Pro wireless controller" in card.inner_text()
    column = pg.locator('section.column[data-state="confirmed"]')  # type: ignore[attr-defined]
    assert "ACME Pad Pro" in column.inner_text()
    shot(pg, "04-cases")

    # Dismiss another from the queue with the d shortcut on the highlighted row.
    pg.goto(base + "/queue?marketplace=taobao")  # type: ignore[attr-defined]
    assert pg.locator("#queue tr.hit").count() == 1  # type: ignore[attr-defined]
    pg.keyboard.press("d")  # type: ignore[attr-defined]
    pg.wait_for_selector(".flash")  # type: ignore[attr-defined]
    assert "dismiss: 1 listing" in pg.locator(".flash").inner_text()  # type: ignore[attr-defined]
    assert pg.locator("#queue tr.hit").count() == 0  # type: ignore[attr-defined]
    pg.goto(base + "/queue")  # type: ignore[attr-defined]
    assert pg.locator("#queue tr.hit").count() == 3  # type: ignore[attr-defined]
    shot(pg, "05-queue-after")

    # On a hit's page, d dismisses it.
    pg.goto(f"{base}/hits/{seeded.pks['amazon:B0003']}")  # type: ignore[attr-defined]
    pg.keyboard.press("d")  # type: ignore[attr-defined]
    pg.wait_for_selector(".flash")  # type: ignore[attr-defined]
    assert pg.locator("#triage-state").inner_text() == "dismissed"  # type: ignore[attr-defined]

    # Bulk selection: everything left on the page, confirmed together with one label.
    pg.goto(base + "/queue")  # type: ignore[attr-defined]
    assert pg.locator("#queue tr.hit").count() == 2  # type: ignore[attr-defined]
    pg.check("#select-all")  # type: ignore[attr-defined]
    assert pg.locator("#queue input[name=ids]:checked").count() == 2  # type: ignore[attr-defined]
    pg.select_option("#bulk-action", "confirm")  # type: ignore[attr-defined]
    pg.select_option("#bulk-label", "grey market")  # type: ignore[attr-defined]
    pg.click("text=Apply to selected")  # type: ignore[attr-defined]
    pg.wait_for_selector(".flash")  # type: ignore[attr-defined]
    assert "confirm: 2 listings" in pg.locator(".flash").inner_text()  # type: ignore[attr-defined]
    assert pg.locator("#queue tr.hit").count() == 0  # type: ignore[attr-defined]
    pg.goto(base + "/cases")  # type: ignore[attr-defined]
    assert pg.locator('section.column[data-state="confirmed"] .casecard').count() == 3  # type: ignore[attr-defined]

    for name in ("dashboard", "readiness"):
        pg.goto(f"{base}/{name}")  # type: ignore[attr-defined]
        assert pg.locator("h1").count() == 1  # type: ignore[attr-defined]
        shot(pg, f"06-{name}")
    assert pg.dialogs == []  # type: ignore[attr-defined]


def test_xss_title_is_inert_and_posts_need_the_csrf_token(server: tuple[str, Seeded], page: object) -> None:
    base, seeded = server
    pg = page
    pk = seeded.pks["aliexpress:1002"]
    pg.goto(f"{base}/hits/{pk}")  # type: ignore[attr-defined]
    assert pg.locator("#listing-title").inner_text() == XSS_TITLE  # type: ignore[attr-defined]
    assert pg.evaluate("document.querySelectorAll('#listing-title *').length") == 0  # type: ignore[attr-defined]
    pg.goto(base + "/queue?state=all")  # type: ignore[attr-defined]
    assert pg.get_by_text("<script>alert(1)</script>", exact=False).count() >= 1  # type: ignore[attr-defined]
    pg.wait_for_timeout(300)  # type: ignore[attr-defined]
    assert pg.dialogs == []  # type: ignore[attr-defined]
    shot(pg, "07-xss")

    # Same browser session, same cookies: without the token the POST is refused.
    refused = pg.request.post(f"{base}/hits/{pk}/action", form={"action": "dismiss"})  # type: ignore[attr-defined]
    assert refused.status == 403
    forged = pg.request.post(  # type: ignore[attr-defined]
        f"{base}/api/actions", data={"listing_ids": [pk], "action": "dismiss"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert forged.status == 403
    token = pg.get_attribute('meta[name="csrf-token"]', "content")  # type: ignore[attr-defined]
    allowed = pg.request.post(  # type: ignore[attr-defined]
        f"{base}/api/actions", data={"listing_ids": [pk], "action": "note", "note": "checked"},
        headers={"X-CSRF-Token": token},
    )
    assert allowed.status == 200
