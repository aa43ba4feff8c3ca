"""The base spider's run bookkeeping and `run_crawl`'s failure reports.

Duplicates per crawl run, unusable result pages, and the one-line reason of a failed
crawl: real Scrapy responses fed to a small `MarketSpider`, and real child processes.
"""

from __future__ import annotations

from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request

from crawler.items import Listing
from crawler.parsing import PageError
from crawler.spider import (
    CrawlFailed,
    CrawlResult,
    MarketSpider,
    failure_reason,
    last_error_line,
    run_crawl,
    unusable_pages,
)


class RunSpider(MarketSpider):
    """One listing per line of the page; "BROKEN" is an unusable page."""

    name = "runspider"
    default_base_url = "http://shop.test"

    def search_url(self, term: str, page: int) -> str:
        return f"{self.base_url}/s?q={term}&p={page}"

    def crawl_run(self, response: Any) -> Any:
        return response.meta.get("run")

    def parse_results(self, response: Any) -> list[Listing]:
        if "BROKEN" in response.text:
            raise PageError("no_listing_json", "no data")
        return [
            Listing(
                marketplace=self.name, listing_id=line, url=f"{self.base_url}/i/{line}", title=f"item {line}"
            )
            for line in response.text.split()
        ]


def _page(spider: MarketSpider, body: str, run: Any, page: int = 1) -> list[Any]:
    request = Request(
        spider.search_url("acme", page), meta={"run": run, "search_term": "acme", "search_page": page}
    )
    response = HtmlResponse(request.url, body=body.encode(), encoding="utf-8", request=request)
    return [o for o in spider.parse_search(response) if isinstance(o, Listing)]


def test_duplicates_are_dropped_within_one_run_only():
    spider = RunSpider(terms=["acme"], max_pages=1)
    assert [x.listing_id for x in _page(spider, "1 2", run=1)] == ["1", "2"]
    assert [x.listing_id for x in _page(spider, "2 3", run=1)] == ["3"]  # 2: seen in run 1
    # The next run (a worker's spider serves cycle after cycle) yields them all again.
    assert [x.listing_id for x in _page(spider, "1 2 3", run=2)] == ["1", "2", "3"]
    assert [x.listing_id for x in _page(spider, "3 4", run=1)] == ["4"]  # a late run-1 page
    # Bounded: only the latest runs' keys are kept.
    for run in range(3, 40):
        assert len(_page(spider, "1 2", run=run)) == 2
    assert len(spider._seen) <= RunSpider.seen_runs_kept
    assert list(spider._seen)[-1] == 39


def test_a_plain_spider_crawls_one_run():
    class OneRun(RunSpider):
        crawl_run = MarketSpider.crawl_run  # the base: a spider's lifetime is one run

    spider = OneRun(terms=["acme"], max_pages=1)
    assert len(_page(spider, "1 2", run=1)) == 2
    assert [x.listing_id for x in _page(spider, "1 2 3", run=2)] == ["3"]


def test_unusable_pages_is_not_zero_results():
    assert unusable_pages({"markwatch/pages": 20, "markwatch/pages_dropped/no_listing_json": 20}) == (
        "20 of 20 result pages unusable: no_listing_json"
    )
    mixed = {
        "markwatch/pages": 6,
        "markwatch/pages_dropped/no_listing_json": 3,
        "markwatch/pages_dropped/parse_error": 1,
        "markwatch/zero_results": 2,
    }
    assert unusable_pages(mixed) == "4 of 6 result pages unusable: no_listing_json (3), parse_error (1)"
    # Genuine zero results, listing-level drops, or listings found anyway: not unusable.
    assert unusable_pages({"markwatch/pages": 4, "markwatch/zero_results": 4}) is None
    assert unusable_pages({"markwatch/pages": 2, "markwatch/dropped/missing_id": 5}) is None
    assert unusable_pages({"markwatch/pages": 5, "markwatch/listings": 8, "markwatch/pages_dropped/x": 1}) is None
    assert CrawlResult(stats={"markwatch/pages": 1, "markwatch/pages_dropped/x": 1}).unusable


def test_an_unusable_page_is_counted_as_a_page_drop():
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(RunSpider)
    spider = RunSpider.from_crawler(crawler, terms=["acme"])
    assert _page(spider, "BROKEN", run=None) == []
    stats = crawler.stats.get_stats()
    assert stats["markwatch/pages_dropped/no_listing_json"] == 1
    assert stats["markwatch/dropped/no_listing_json"] == 1
    assert unusable_pages(stats) == "1 of 1 result pages unusable: no_listing_json"


TRACEBACK = """\
2026-11-29 01:00:00 [scrapy.core.engine] ERROR: Error while opening spider
Traceback (most recent call last):
  File "/x/a.py", line 3, in f
    g()
    ^^^
KeyError: 'first'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/b.py", line 9, in h
    raise ValueError("bad base_url")
ValueError: bad base_url
"""


def test_last_error_line_picks_the_exception_line_of_the_last_traceback():
    assert last_error_line(TRACEBACK) == "ValueError: bad base_url"
    later = TRACEBACK + "2026-11-29 01:00:01 [scrapy] CRITICAL: reactor gone\n2026-11-29 [x] INFO: bye\n"
    assert last_error_line(later) == "reactor gone"
    assert last_error_line("just one line\n\n") == "just one line"
    assert last_error_line("") == ""
    long = last_error_line("Traceback (most recent call last):\n  File x\nOSError: " + "y" * 1000)
    assert len(long) <= 300 and long.startswith("OSError: yyy") and "\n" not in long


def test_failure_reason_is_one_line_with_the_detail():
    exc = RuntimeError("crawl with amazon failed (exit 1):\n" + TRACEBACK)
    assert failure_reason(exc) == "crawl with amazon failed (exit 1): ValueError: bad base_url"
    assert failure_reason(RuntimeError("")) == "RuntimeError"
    assert failure_reason(ValueError("x" * 900)).count("x") < 500


def test_a_failed_child_is_one_line_naming_its_error():
    with pytest.raises(CrawlFailed) as caught:
        run_crawl("crawler.no_such_module:Spider", {"LOG_LEVEL": "ERROR"}, terms=["x"], timeout=60)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("crawl with crawler.no_such_module:Spider failed (exit 1): ")
    assert message.endswith("ModuleNotFoundError: No module named 'crawler.no_such_module'")
    assert "Traceback" in caught.value.log_tail  # the whole tail stays at hand


def test_a_crawl_child_dies_with_the_process_that_started_it(tmp_path):
    # `markwatch run` killed with SIGKILL left its crawl children crawling on, beside the
    # next cycle, until their own timeout.
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hang(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(30)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = {
        "search_url": f"http://127.0.0.1:{server.server_address[1]}/s?q={{term}}&p={{page}}",
        "selectors": {"item": "div", "id": "::attr(id)", "title": "h2"},
        "obey_robots": False,
    }
    script = (
        "import sys; from crawler.spider import run_crawl; "
        f"run_crawl('smallshop', {{'LOG_LEVEL': 'WARNING'}}, config={config!r}, terms=['x'], download_delay=0)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])

    def alive(pid: int) -> bool:
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def crawl_children() -> list[int]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
                cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == parent.pid and b"crawler.spider" in cmd:
                found.append(int(pid))
        return found

    started: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not started and time.monotonic() < deadline:
            time.sleep(0.2)
            started = crawl_children()
        assert started, "no crawl child started"
        time.sleep(3)  # the child is past its start-up, waiting on the hanging server
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        while any(map(alive, started)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(map(alive, started)), "the crawl child outlived its parent"
    finally:
        for pid in started:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        server.shutdown()
