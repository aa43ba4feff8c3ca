"""Alerts delivered to real receivers: an SMTP server, a JSON webhook and a Slack stand-in.

Everything runs on loopback: aiosmtpd for email, `http.server` for `json://` and for
the Slack plugin (its webhook base URL is pointed at the local server). The outbox is
a real SQLite store.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import io
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

import alerts
from alerts.outbox import flush
from alerts.targets import load_targets
from crawler import db
from crawler import models as m
from crawler.config import load_client
from tests.conftest import run_cli


@dataclass
class Signal:
    """Evidence as the store receives it (the shape of matching's Signal)."""

    kind: str
    score: float
    detail: str

    def to_json(self) -> dict:
        return {"kind": self.kind, "score": self.score, "detail": self.detail}


@dataclass
class Assessment:
    """A verdict as `db.add_assessment` reads it (the shape of matching's Assessment)."""

    id: str
    score: float
    verdict: str
    mark_id: str | None
    signals: list[Signal] = field(default_factory=list)
    product_id: str | None = None


EVIL_TITLE = "<script>alert(1)</script> [click](https://evil.example/x) <!channel> *ACME* & co"


# ---------------------------------------------------------------- receivers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPReceiver:
    """A real SMTP server on loopback that keeps every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.port = free_port()
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                receiver.messages.append(
                    email.message_from_bytes(envelope.content, policy=email.policy.default)
                )
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?mode=insecure"
            "&from=markwatch@brand.example&to=legal@brand.example"
        )


class HTTPReceiver:
    """A local HTTP server (port 0) that records each POST: path, headers, JSON body.

    With `hang_first`, the first request is recorded but not answered until `gate` is set.
    """

    def __init__(self, hang_first: bool = False) -> None:
        self.requests: list[dict] = []
        self.gate = threading.Event()
        received = self.requests
        gate = self.gate

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                received.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(raw or b"{}"),
                    }
                )
                if hang_first and len(received) == 1:
                    gate.wait(20)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp():
    receiver = SMTPReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def http_receiver():
    receiver = HTTPReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def slack_receiver(monkeypatch):
    """The Slack plugin posting to a local server instead of hooks.slack.com."""
    from apprise.plugins.slack import NotifySlack

    receiver = HTTPReceiver()
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{receiver.port}/services")
    yield receiver
    receiver.close()


SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


# ---------------------------------------------------------------- a client and a store


def write_client(folder: Path, alerts_yaml: str = "[]", *, mark_image: bool = True) -> Path:
    """The test client; without `mark_image` the mark is registered as a word only, so the
    brand-side picture of a hit is the genuine product's photo."""
    folder.mkdir(parents=True, exist_ok=True)
    picture = "marks/acme.png" if mark_image else "products/pad.png"
    (folder / picture).parent.mkdir(exist_ok=True)
    PILImage.new("RGB", (64, 64), (200, 20, 20) if mark_image else (20, 160, 20)).save(folder / picture)
    mark_images = f"\n    images: [{picture}]" if mark_image else ""
    product_images = "" if mark_image else f"\n    images: [{picture}]"
    config = folder / "markwatch.yaml"
    config.write_text(
        f"""
client:
  name: Acme Games Ltd.
marks:
  - id: acme
    title: ACME
    terms: [ACME]{mark_images}
products:
  - id: acme-pad
    mark: acme
    name: ACME Pad Pro controller
    msrp: 59.99
    currency: USD{product_images}
exchange_rates:
  base: USD
  rates: {{CNY: 0.138}}
alerts: {alerts_yaml}
""",
        encoding="utf-8",
    )
    return config


def add_hit(
    url: str,
    folder: Path,
    n: int,
    *,
    title: str | None = None,
    verdict: str = "counterfeit",
    score: float = 0.93,
    signals: list[Signal] | None = None,
) -> int:
    """Store a listing with a downloaded image and an assessment; returns the assessment id."""
    image = folder / f"listing-{n}.jpg"
    PILImage.new("RGB", (48, 48), (20, 20, 200 - n)).save(image)
    with db.session_scope(url) as session:
        res = db.upsert_listing(
            session,
            {
                "marketplace": "aliexpress",
                "listing_id": f"100{n}",
                "url": f"https://www.aliexpress.com/item/100{n}.html",
                "title": title or f"Wireless gamepad ACME-style {n}",
                "price": 12.5,
                "currency": "USD",
                "seller_id": "2231",
                "seller_name": "Best Store",
                "image_urls": [f"https://img.example/100{n}.jpg"],
            },
        )
        db.set_images(
            session, res.listing, [{"url": f"https://img.example/100{n}.jpg", "path": str(image)}]
        )
        signals = signals or [
            Signal("text", 0.9, "'ACME-style' matches term 'ACME'"),
            Signal("price", 0.8, "12.50 USD is 21% of MSRP 59.99 USD"),
            Signal("seller", 0.2, "new seller"),
            Signal("cue", 0.1, "weak cue"),
        ]
        row = db.add_assessment(
            session,
            res.listing,
            Assessment(f"aliexpress:100{n}", score, verdict, "acme", signals, "acme-pad"),
            "test-1",
        )
        return row.id


@pytest.fixture
def store(tmp_path: Path, db_url: str):
    return db_url, tmp_path


def cycle(url: str, client, cycle_id: str, hits: list[int], **kw) -> int:
    with db.session_scope(url) as session:
        return alerts.enqueue_cycle_alerts(
            session, client, cycle_id, hits, review_count=0, health_events=[], **kw
        ).total


def outbox_rows(url: str) -> list[m.OutboxAlert]:
    with db.session_scope(url) as session:
        return list(session.scalars(select(m.OutboxAlert).order_by(m.OutboxAlert.id)))


# ---------------------------------------------------------------- email


def test_digest_by_email_has_subject_body_and_side_by_side_images(smtp, store):
    url, folder = store
    client = load_client(write_client(folder / "client", f"[{{url: '{smtp.url}'}}]"))
    hits = [add_hit(url, folder, 1), add_hit(url, folder, 2, title=EVIL_TITLE)]
    assert cycle(url, client, "2026-11-28T10", hits) == 2

    result = flush(url, client)

    assert (result.sent, result.failed, result.pending, result.messages) == (2, 0, 0, 1)
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["Subject"] == "markwatch: 2 new hits (2 counterfeit) for ACME"
    assert msg["To"] == "legal@brand.example"
    assert len(msg["X-Markwatch-Alert"]) == 32
    html_part = msg.get_body(preferencelist=("html",)).get_content()
    # Each hit: title, marketplace, price vs MSRP, score, top signals, link.
    assert "Wireless gamepad ACME-style 1" in html_part
    assert "aliexpress" in html_part
    assert "12.50 USD vs MSRP 59.99 USD (21% of MSRP)" in html_part
    assert "<b>0.93</b>" in html_part
    assert "&#x27;ACME-style&#x27; matches term &#x27;ACME&#x27;" in html_part
    assert "weak cue" not in html_part  # only the top three signals
    assert 'href="https://www.aliexpress.com/item/1001.html"' in html_part
    # The listing image next to the registered mark, both embedded in the message.
    assert 'src="cid:hit1-listing.jpg"' in html_part and 'src="cid:hit1-mark.png"' in html_part
    files = {part.get_filename(): part for part in msg.iter_attachments()}
    assert set(files) == {"hit1-listing.jpg", "hit1-mark.png", "hit2-listing.jpg", "hit2-mark.png"}
    assert files["hit1-mark.png"].get_content_type() == "image/png"
    assert files["hit1-mark.png"]["Content-ID"] == "<hit1-mark.png>"
    mark_bytes = (folder / "client" / "marks" / "acme.png").read_bytes()
    assert files["hit1-mark.png"].get_content() == mark_bytes
    # The counterfeiter's title is text, not markup.
    assert "<script>" not in html_part
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_part
    assert 'href="https://evil.example' not in html_part
    text_part = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Wireless gamepad ACME-style 1" in text_part


def test_email_digest_never_references_a_remote_image(smtp, store):
    url, folder = store
    client = load_client(write_client(folder / "client", f"[{{url: '{smtp.url}'}}]", mark_image=False))
    total = alerts.outbox.MAX_ATTACHED_HITS + 2
    # Scores rise with n: the digest shows the last one stored first.
    hits = [add_hit(url, folder, n, score=0.5 + n / 100) for n in range(1, total + 1)]
    assert cycle(url, client, "c1", hits) == total

    assert flush(url, client).sent == total
    [msg] = smtp.messages
    html_part = msg.get_body(preferencelist=("html",)).get_content()
    sources = re.findall(r"<img[^>]*\bsrc=\"([^\"]*)\"", html_part)
    # Opening the email fetches nothing: every picture is a part of the message.
    assert len(sources) == 2 * alerts.outbox.MAX_ATTACHED_HITS
    assert all(src.startswith("cid:") for src in sources), sources
    assert "img.example" not in html_part
    assert html_part.count("Photo not attached: see the listing.") == 2
    assert "Photos are attached for the first 10 hits only" in html_part
    assert "(no image)" not in html_part
    # The brand-side picture is called what it is: the product photo, not a registered mark.
    assert "genuine product photo: ACME Pad Pro controller" in html_part
    assert "registered mark" not in html_part
    # Highest score first; the attachments follow that order.
    headings = re.findall(r"<h3>(\d+)\. <a [^>]*>([^<]*)</a></h3>", html_part)
    assert headings[0] == ("1", f"Wireless gamepad ACME-style {total}")
    assert headings[-1] == (str(total), "Wireless gamepad ACME-style 1")
    files = {part.get_filename(): part for part in msg.iter_attachments()}
    first = PILImage.open(io.BytesIO(files["hit1-listing.jpg"].get_content()))
    assert first.getpixel((24, 24))[2] == pytest.approx(200 - total, abs=3)
    text_part = msg.get_body(preferencelist=("plain",)).get_content()
    assert "img.example" not in text_part and "(no image)" not in text_part
    assert text_part.count("Photo not attached: see the listing.") == 2


def test_json_digest_past_the_attached_hits_says_the_photo_is_not_attached(http_receiver, store):
    url, folder = store
    target = f"json://127.0.0.1:{http_receiver.port}/hook"
    client = load_client(write_client(folder / "client", f"[{{url: '{target}'}}]"))
    total = alerts.outbox.MAX_ATTACHED_HITS + 1
    cycle(url, client, "c1", [add_hit(url, folder, n) for n in range(1, total + 1)])

    assert flush(url, client).sent == total
    [req] = http_receiver.requests
    message = req["json"]["message"]
    assert len(req["json"]["attachments"]) == 2 * alerts.outbox.MAX_ATTACHED_HITS
    assert "img.example" not in message
    assert message.count("Photo not attached: see the listing.") == 1
    assert "registered mark: ACME (attached as hit1-mark.png)" in message


def test_top_signals_put_the_context_signal_last(smtp, store):
    url, folder = store
    client = load_client(write_client(folder / "client", f"[{{url: '{smtp.url}'}}]"))
    signals = [
        Signal("context", 0.95, "game controllers are goods of the mark"),
        Signal("cue", 0.9, "'1:1 replica' in the title"),
        Signal("text", 0.85, "'ACME-style' matches term 'ACME'"),
        Signal("price", 0.8, "12.50 USD is 21% of MSRP 59.99 USD"),
    ]
    cycle(url, client, "c1", [add_hit(url, folder, 1, signals=signals)])

    flush(url, client)
    [msg] = smtp.messages
    html_part = msg.get_body(preferencelist=("html",)).get_content()
    top = re.findall(r"<li>(\w+) \d\.\d\d: ", html_part.split("Top signals:")[1])
    assert top == ["cue", "text", "price"]
    assert "goods of the mark" not in html_part


def test_smtp_down_keeps_alerts_pending_then_each_is_delivered_exactly_once(store):
    url, folder = store
    receiver = SMTPReceiver()  # not started: connections are refused
    client = load_client(write_client(folder / "client", f"[{{url: '{receiver.url}'}}]"))
    assert cycle(url, client, "c1", [add_hit(url, folder, 1)]) == 1
    with db.session_scope(url) as session:
        review = alerts.enqueue_cycle_alerts(
            session, client, "c1", [], review_count=4, health_events=[]
        ).total
    assert review == 1
    t0 = m.utcnow() + dt.timedelta(seconds=1)

    down = flush(url, client, now=t0)

    assert (down.sent, down.failed, down.pending) == (0, 0, 2)
    rows = outbox_rows(url)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1), ("pending", 1)]
    assert all(r.next_attempt_at == r.next_attempt_at and r.next_attempt_at > t0 for r in rows)
    assert "127.0.0.1" in (rows[0].last_error or "") or rows[0].last_error

    receiver.start()
    try:
        too_early = flush(url, client, now=t0 + dt.timedelta(seconds=30))  # still backing off
        assert (too_early.sent, too_early.messages) == (0, 0)
        assert receiver.messages == []

        up = flush(url, client, now=t0 + dt.timedelta(minutes=5))
        again = flush(url, client, now=t0 + dt.timedelta(hours=1))
    finally:
        receiver.stop()

    assert (up.sent, up.pending) == (2, 0)
    assert (again.sent, again.messages) == (0, 0)
    subjects = sorted(str(msg["Subject"]) for msg in receiver.messages)
    assert subjects == [
        "markwatch: 1 new hit (1 counterfeit) for ACME",
        "markwatch: 4 listings waiting for review",
    ]
    assert [(r.status, r.attempts, r.last_error) for r in outbox_rows(url)] == [
        ("sent", 2, None),
        ("sent", 2, None),
    ]


def test_a_stale_sending_row_is_retried_and_a_fresh_claim_is_left_alone(smtp, store):
    url, folder = store
    client = load_client(write_client(folder / "client", f"[{{url: '{smtp.url}'}}]"))
    cycle(url, client, "c1", [add_hit(url, folder, 1)])
    t0 = m.utcnow() + dt.timedelta(seconds=1)
    # A flush that died after claiming: the row is `sending` under a lease.
    with db.session_scope(url) as session:
        claimed = alerts.outbox.claim(session, t0)
    assert [r.status for r in claimed] == ["sending"]

    during_lease = flush(url, client, now=t0 + dt.timedelta(minutes=1))
    assert (during_lease.messages, smtp.messages) == (0, [])

    after_lease = flush(url, client, now=t0 + alerts.outbox.LEASE + dt.timedelta(seconds=1))
    assert after_lease.sent == 1
    assert len(smtp.messages) == 1
    assert [(r.status, r.attempts) for r in outbox_rows(url)] == [("sent", 2)]


def test_a_flush_killed_while_sending_is_retried_with_the_same_alert_id(store, tmp_path):
    import subprocess
    import sys
    import time

    url, folder = store
    receiver = HTTPReceiver(hang_first=True)
    try:
        target = f"json://127.0.0.1:{receiver.port}/hook"
        client_file = write_client(folder / "client", f"[{{url: '{target}'}}]")
        client = load_client(client_file)
        cycle(url, client, "c1", [add_hit(url, folder, 1)])
        script = (
            "import sys; from alerts.outbox import flush; from crawler.config import load_client; "
            "flush(sys.argv[1], load_client(sys.argv[2]))"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", script, url, str(client_file)],
            cwd=Path(__file__).resolve().parent.parent,
        )
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, "the flush never reached the receiver"
        proc.kill()  # killed mid-send: the receiver has the message, the store does not know
        proc.wait(10)
        [row] = outbox_rows(url)
        assert (row.status, row.attempts) == ("sending", 1)

        assert flush(url, client).messages == 0  # still under its lease: nobody else sends it
        later = flush(url, client, now=m.utcnow() + alerts.outbox.LEASE + dt.timedelta(seconds=1))
        assert later.sent == 1
        [row] = outbox_rows(url)
        assert (row.status, row.attempts) == ("sent", 2)
        # At-least-once: the repeat carries the same id, so the receiver can drop it.
        first, second = receiver.requests
        assert first["headers"]["X-Markwatch-Alert"] == second["headers"]["X-Markwatch-Alert"]
        assert first["json"]["message"] == second["json"]["message"]
    finally:
        receiver.close()


def test_gives_up_after_max_attempts(store):
    url, folder = store
    receiver = SMTPReceiver()  # never started
    client = load_client(write_client(folder / "client", f"[{{url: '{receiver.url}'}}]"))
    cycle(url, client, "c1", [add_hit(url, folder, 1)])
    now = m.utcnow() + dt.timedelta(seconds=1)
    results = []
    for _ in range(3):
        results.append(flush(url, client, now=now, max_attempts=3))
        now += dt.timedelta(days=1)
    assert [(r.failed, r.pending) for r in results] == [(0, 1), (0, 1), (1, 0)]
    [row] = outbox_rows(url)
    assert (row.status, row.attempts) == ("failed", 3)


# ---------------------------------------------------------------- JSON and Slack


def test_json_receiver_gets_the_digest_with_images(http_receiver, store):
    url, folder = store
    target = f"json://127.0.0.1:{http_receiver.port}/hooks/markwatch"
    client = load_client(write_client(folder / "client", f"[{{url: '{target}'}}]"))
    cycle(url, client, "c1", [add_hit(url, folder, 1, title=EVIL_TITLE)])

    result = flush(url, client)

    assert result.sent == 1
    [req] = http_receiver.requests
    assert req["path"] == "/hooks/markwatch"
    payload = req["json"]
    assert payload["title"] == "markwatch: 1 new hit (1 counterfeit) for ACME"
    assert payload["type"] == "warning"
    message = payload["message"]
    assert "aliexpress" in message and "12.50 USD vs MSRP 59.99 USD (21% of MSRP)" in message
    assert "https://www.aliexpress.com/item/1001.html" in message
    assert "'ACME-style' matches term 'ACME'" in message
    # Plain text keeps the title as written, minus nothing dangerous for a JSON consumer.
    assert "<script>alert(1)</script>" in message
    names = sorted(a["filename"] for a in payload["attachments"])
    assert names == ["hit1-listing.jpg", "hit1-mark.png"]
    mark = next(a for a in payload["attachments"] if a["filename"] == "hit1-mark.png")
    assert (
        base64.b64decode(mark["base64"]) == (folder / "client" / "marks" / "acme.png").read_bytes()
    )
    assert req["headers"]["X-Markwatch-Alert"]


def test_two_stores_alerting_one_receiver_never_share_an_alert_id(http_receiver, tmp_path):
    # Two clients, one store each, one webhook: a receiver that drops repeated ids (as
    # the README advises) must not drop the second client's alerts, though the row keys
    # (`hit:aliexpress:1001:counterfeit`, `review:<day>`) are the same in both stores.
    target = f"json://127.0.0.1:{http_receiver.port}/hooks/markwatch"
    for name in ("a", "b"):
        folder = tmp_path / name
        url = f"sqlite:///{folder / 'store.db'}"
        folder.mkdir()
        db.upgrade(url)
        client = load_client(write_client(folder / "client", f"[{{url: '{target}'}}]"))
        with db.session_scope(url) as session:
            alerts.enqueue_cycle_alerts(
                session, client, "c1", [add_hit(url, folder, 1)], review_count=3, health_events=[]
            )
        assert flush(url, client).messages == 2
    ids = [req["headers"]["X-Markwatch-Alert"] for req in http_receiver.requests]
    assert len(ids) == 4 and len(set(ids)) == 4, ids


def test_slack_payload_escapes_listing_text_and_links_images(slack_receiver, store):
    url, folder = store
    client = load_client(write_client(folder / "client", f"[{{url: '{SLACK_URL}'}}]"))
    cycle(url, client, "c1", [add_hit(url, folder, 1, title=EVIL_TITLE)])

    result = flush(url, client)

    assert result.sent == 1
    [req] = slack_receiver.requests
    assert req["path"] == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    payload = req["json"]
    attachment = payload["attachments"][0]
    assert attachment["title"] == "markwatch: 1 new hit (1 counterfeit) for ACME"
    text = attachment["text"]
    assert payload["mrkdwn"] is True
    # Our own link is a Slack link; the counterfeiter's markup stays inert text.
    assert "<https://www.aliexpress.com/item/1001.html|" in text
    assert "<https://evil.example" not in text and "|click>" not in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "12.50 USD vs MSRP 59.99 USD" in text
    # Webhooks take no files: the listing image is linked instead.
    assert "<https://img.example/1001.jpg|listing image>" in text
    assert "attached" not in text


def test_routing_by_tag_and_min_verdict(http_receiver, slack_receiver, store):
    url, folder = store
    json_url = f"json://127.0.0.1:{http_receiver.port}/ops"
    client = load_client(
        write_client(
            folder / "client",
            f"[{{url: '{json_url}', tags: [ops]}}, {{url: '{SLACK_URL}', tags: [acme], min_verdict: review}}]",
        )
    )
    hits = [add_hit(url, folder, 1), add_hit(url, folder, 2, verdict="review", score=0.5)]
    with db.session_scope(url) as session:
        created = alerts.enqueue_cycle_alerts(
            session,
            client,
            "c1",
            hits,
            review_count=0,
            health_events=[
                alerts.HealthEvent("aliexpress", "blocked", "captcha page at /search", run_id=7)
            ],
        )
    # Slack (acme, review) gets both hits; the JSON target (ops) only the health alert.
    assert created.created == {"hits": 2, "health": 1}
    result = flush(url, client)
    assert result.sent == 3 and result.messages == 2
    [slack] = slack_receiver.requests
    assert "1 to review" in slack["json"]["attachments"][0]["title"]
    [ops] = http_receiver.requests
    assert ops["json"]["title"] == "markwatch crawl health: 1 problem on aliexpress"
    assert (
        "blocked" in ops["json"]["message"] and "captcha page at /search" in ops["json"]["message"]
    )


# ---------------------------------------------------------------- idempotency


def test_second_cycle_over_unchanged_listings_sends_nothing_new(smtp, store):
    url, folder = store
    client = load_client(write_client(folder / "client", f"[{{url: '{smtp.url}'}}]"))
    hits = [add_hit(url, folder, 1), add_hit(url, folder, 2)]
    assert cycle(url, client, "c1", hits) == 2
    assert flush(url, client).sent == 2
    # The next cycle sees the same listings again (re-crawled, unchanged).
    for n in (1, 2):
        with db.session_scope(url) as session:
            db.upsert_listing(
                session,
                {
                    "marketplace": "aliexpress",
                    "listing_id": f"100{n}",
                    "url": f"https://www.aliexpress.com/item/100{n}.html",
                    "title": f"Wireless gamepad ACME-style {n}",
                    "price": 12.5,
                    "currency": "USD",
                    "seller_id": "2231",
                    "seller_name": "Best Store",
                    "image_urls": [f"https://img.example/100{n}.jpg"],
                },
            )
    assert cycle(url, client, "c2", hits) == 0
    assert flush(url, client).messages == 0
    assert len(smtp.messages) == 1
    # A new hit in a third cycle is announced alone.
    assert cycle(url, client, "c3", [*hits, add_hit(url, folder, 3)]) == 1
    flush(url, client)
    assert len(smtp.messages) == 2 and "1 new hit" in str(smtp.messages[1]["Subject"])


# ---------------------------------------------------------------- targets from the environment


def test_targets_from_env_and_apprise_config_file(tmp_path, monkeypatch, http_receiver):
    secret_file = tmp_path / "secrets" / "apprise.yml"
    secret_file.parent.mkdir()
    secret_file.write_text(
        f"urls:\n  - json://127.0.0.1:{http_receiver.port}/from-file:\n    - tag: ops, takedown\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(
        "MARKWATCH_ALERT_URLS", f"acme,review=json://127.0.0.1:{http_receiver.port}/env\n"
    )
    monkeypatch.setenv("MARKWATCH_APPRISE_CONFIG", str(secret_file))
    targets = load_targets(None)
    by_path = {urlsplit(t.url).path.strip("/"): t for t in targets}
    assert by_path["env"].tags == {"acme", "review"} and by_path["env"].min_verdict == "review"
    assert by_path["from-file"].tags == {"ops", "takedown"}
    assert by_path["from-file"].min_verdict == "counterfeit"
    results = alerts.send_test(targets)
    assert [ok for _, ok, _ in results] == [True, True]
    assert sorted(r["path"] for r in http_receiver.requests) == ["/env", "/from-file"]


# ---------------------------------------------------------------- the command line


def test_cli_test_flush_and_list(tmp_path, http_receiver, store):
    url, folder = store
    good = f"json://127.0.0.1:{http_receiver.port}/ok"
    dead = f"json://127.0.0.1:{free_port()}/dead"
    config = write_client(
        folder / "client",
        f"[{{url: '{good}'}}, {{url: 'json://user:s3cretpass@127.0.0.1:{free_port()}/x'}}]",
    )

    tested = run_cli("alerts", "test", "--config", str(config), timeout=60)
    assert tested.returncode == 0, tested.stderr
    assert "1 of 2 target(s) worked" in tested.stdout and "FAILED" in tested.stdout
    assert "s3cretpass" not in tested.stdout + tested.stderr

    only_dead = write_client(tmp_path / "dead", f"[{{url: '{dead}'}}]")
    failed = run_cli("alerts", "test", "--config", str(only_dead), timeout=60)
    assert failed.returncode == 1
    assert "no target" in failed.stderr.lower() or "no target" in failed.stdout.lower()

    client = load_client(config)
    cycle(url, client, "c1", [add_hit(url, folder, 1)])
    listed = run_cli("alerts", "list", "--status", "pending", "--db", url)
    assert listed.returncode == 0, listed.stderr
    assert "hits" in listed.stdout and "pending" in listed.stdout
    assert "s3cretpass" not in listed.stdout

    flushed = run_cli("alerts", "flush", "--config", str(config), "--db", url, timeout=60)
    assert flushed.returncode == 0, flushed.stderr
    assert "sent 1" in flushed.stdout
    # The dead target's copy waits for the next flush.
    assert sorted(r.status for r in outbox_rows(url)) == ["pending", "sent"]
    bad = run_cli("alerts", "list", "--status", "lost", "--db", url)
    assert bad.returncode == 2 and "--status" in bad.stderr

    # The dead URL is corrected in the client file: its waiting alert goes to the new one.
    fixed = write_client(tmp_path / "fixed", f"[{{url: '{good}'}}, {{url: '{good}/second'}}]")
    stuck = run_cli("alerts", "flush", "--config", str(fixed), "--db", url, timeout=60)
    assert "1 pending alert(s) wait for targets not configured here" in stuck.stdout
    assert "markwatch alerts reroute" in stuck.stdout
    moved = run_cli("alerts", "reroute", "--config", str(fixed), "--db", url, timeout=60)
    assert moved.returncode == 0, moved.stderr
    assert "1 pending alert(s) of targets no longer configured; 1 queued for current targets" in moved.stdout
    before = len(http_receiver.requests)
    again = run_cli("alerts", "flush", "--config", str(fixed), "--db", url, timeout=60)
    assert "sent 1 in 1 message(s), failed 0, pending 0" in again.stdout, again.stdout
    assert [r["path"] for r in http_receiver.requests[before:]] == ["/ok/second"]
