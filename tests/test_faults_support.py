"""Shared pieces of the fault suite (no tests here): local servers and client files.

- `HookReceiver`: a webhook on 127.0.0.1 that apprise's `json://` target posts to;
  it records each message with its `X-Markwatch-Alert` id and can hold the first
  request unanswered (so a test can kill the sender mid-flush) or refuse to answer.
- `HostileServer`: serves fixed answers per path (any status, headers, body, delay,
  redirect) and counts the requests it got, for images, outages and redirects.
- `client_file`: the demo client pointed at local servers, with alert targets.

Everything listens on loopback, port 0; nothing here reaches another machine.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import yaml

from crawler.demo import demo_files


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1:0 in a daemon thread."""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a hanging answer must not hold up stop()
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Delivery:
    alert_id: str
    title: str
    body: str
    answered: bool


class HookReceiver(_Server):
    """Records webhook messages; `hold_first()` keeps the next request waiting unanswered."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.holding = False
        self.down = False  # answer 503 to everything

    def hold_first(self) -> None:
        self.arrived.clear()
        self.release.clear()
        self.holding = True

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def answered(self) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.answered]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = {}
                entry = Delivery(
                    self.headers.get("X-Markwatch-Alert", ""),
                    str(data.get("title", "")),
                    str(data.get("message", "")),
                    False,
                )
                with receiver.lock:
                    receiver.deliveries.append(entry)
                    hold = receiver.holding
                    receiver.holding = False
                if hold:
                    receiver.arrived.set()
                    receiver.release.wait(30)
                    self.close_connection = True
                    return  # never answered: the sender was killed meanwhile
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                entry.answered = True

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a hanging server)
    chunks: int = 1  # send the body in this many pieces (with the delay between them)
    locations: list[str] = field(default_factory=list)  # redirect targets, one per request in turn


class HostileServer(_Server):
    """Serves `answers[path]`; everything else is 404. `hits` counts requests per path."""

    def __init__(self, answers: dict[str, Answer] | None = None) -> None:
        self.answers: dict[str, Answer] = dict(answers or {})
        self.hits: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}

    def url(self, path: str) -> str:
        return self.root + path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                path = self.path
                server.hits[path] += 1
                server.times.setdefault(path, []).append(time.monotonic())
                bare = path.split("?")[0]
                if bare != path:
                    server.hits[bare] += 1  # counted under the path without its query too
                answer = server.answers.get(path) or server.answers.get(bare)
                if answer is None:
                    answer = Answer(404, b"not found")
                try:
                    if answer.delay and answer.chunks <= 1:
                        time.sleep(answer.delay)
                    self.send_response(answer.status)
                    if answer.content_type:
                        self.send_header("Content-Type", answer.content_type)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    if answer.locations:
                        self.send_header(
                            "Location",
                            answer.locations[(server.hits[bare] - 1) % len(answer.locations)],
                        )
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    if answer.chunks <= 1:
                        self.wfile.write(answer.body)
                        return
                    step = max(1, len(answer.body) // answer.chunks)
                    for i in range(0, len(answer.body), step):
                        self.wfile.write(answer.body[i : i + step])
                        self.wfile.flush()
                        time.sleep(answer.delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def client_file(
    folder: Path,
    marketplaces: dict[str, dict[str, Any]],
    *,
    alerts: list[dict[str, Any]] | None = None,
    terms: list[str] | None = None,
) -> Path:
    """The demo client copied to `folder`, watching `marketplaces` (name -> block).

    With `terms`, the client keeps one mark with just those terms (and no products),
    so a crawl makes one search per term.
    """
    config, _, _ = demo_files()
    target = folder / "client"
    shutil.copytree(
        config.parent, target, ignore=shutil.ignore_patterns("market"), dirs_exist_ok=True
    )
    data = yaml.safe_load((target / "markwatch.yaml").read_text())
    data["marketplaces"] = {
        name: {"max_pages": 3, "download_delay": 0, "concurrency": 8, **block}
        for name, block in marketplaces.items()
    }
    data["alerts"] = alerts or []
    if terms is not None:
        data["marks"] = [{**data["marks"][0], "terms": terms, "keywords": []}]
        data["products"] = []
    path = target / "markwatch.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def demo_items(marketplace: str) -> list[dict[str, Any]]:
    """The demo catalogue's listings of one marketplace."""
    _, catalogue, _ = demo_files()
    return [
        json.loads(line)
        for line in catalogue.read_text().splitlines()
        if line.strip() and json.loads(line)["marketplace"] == marketplace
    ]


class Tripwire:
    """A last downloader middleware for fault tests: any request to a non-loopback
    address is recorded in `MARKWATCH_TRIPWIRE_FILE` and dropped, so a guard that
    failed can never make a test send traffic off this machine."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def from_crawler(cls, crawler: Any) -> Tripwire:
        return cls(crawler.settings.get("MARKWATCH_TRIPWIRE_FILE"))

    def process_request(self, request: Any) -> None:
        import ipaddress
        import socket
        from urllib.parse import urlsplit

        from scrapy.exceptions import IgnoreRequest

        host = (urlsplit(request.url).hostname or "").strip("[]")
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = [ipaddress.ip_address(i[4][0]) for i in socket.getaddrinfo(host, None)]
            except OSError:
                addresses = []
        if all(a.is_loopback for a in addresses) and addresses:
            return
        with open(self.path, "a") as fh:
            fh.write(request.url + "\n")
        raise IgnoreRequest(f"tripwire: {request.url}")


def tripwire_settings(path: Path) -> dict[str, Any]:
    """Crawl settings adding `Tripwire` after every other downloader middleware."""
    from crawler import settings

    return {
        "DOWNLOADER_MIDDLEWARES": {
            **settings.DOWNLOADER_MIDDLEWARES,
            "tests.test_faults_support.Tripwire": 990,
        },
        "MARKWATCH_TRIPWIRE_FILE": str(path),
    }
