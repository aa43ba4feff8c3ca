"""The triage web app under hostile input: no session or CSRF token, XSS payloads in
every listing field, oversized and malformed bodies and parameters.

A real SQLite store holds listings whose every text field (title, description,
seller, location, URLs, image URL, signal evidence, case note) carries payloads; the
pages are parsed with `html.parser` and must contain no element, attribute or URL
that came from a payload.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crawler import db
from crawler import models as m
from crawler.config import load_client
from crawler.demo import demo_files
from crawler.web import create_app
from matching.types import Assessment, Signal

PAYLOADS = [
    "<script>alert('x1')</script>",
    '"><img src=x onerror=alert(2)>',
    "'><svg/onload=alert(3)>",
    "</textarea><iframe src=javascript:alert(4)>",
    "{{7*7}}${7*7}<%= 7*7 %>",
    '<a href="javascript:alert(5)">click</a>',
    "\u202e<b>rtl</b>\u0000nul",
    "<style>*{display:none}</style>",
]
URL_PAYLOADS = [
    "javascript:alert(6)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==",
    "vbscript:msgbox(8)",
    "JaVaScRiPt:alert(9)",
]


def seed(folder: Path) -> tuple[str, Path, list[int]]:
    """A store whose listings carry payloads in every field the UI shows."""
    config, _, _ = demo_files()
    url = f"sqlite:///{folder / 'store.db'}"
    db.upgrade(url)
    pks = []
    with db.session_scope(url) as s:
        db.sync_marks(s, load_client(config))
        for n, payload in enumerate(PAYLOADS):
            bad_url = URL_PAYLOADS[n % len(URL_PAYLOADS)]
            fields = {
                "marketplace": "aliexpress",
                "listing_id": f"x{n}",
                "url": bad_url,
                "title": f"Lumora {payload}",
                "description": payload,
                "price": 9.9,
                "currency": "USD",
                "seller_id": payload[:60],
                "seller_name": payload,
                "store_url": bad_url,
                "location": payload,
                "sales": 3,
                "is_ad": False,
                "image_urls": [bad_url],
            }
            listing = db.upsert_listing(s, fields).listing
            db.set_images(s, listing, [{"url": bad_url, "error": payload}])
            db.note_seller(s, "aliexpress", fields["seller_id"], payload)
            verdict = "counterfeit" if n % 2 == 0 else "review"
            db.add_assessment(
                s,
                listing,
                Assessment(
                    listing.key,
                    0.9 if verdict == "counterfeit" else 0.5,
                    verdict,
                    "lumora",
                    [Signal("text", 0.9, f"matched {payload}"), Signal("cue", 0.5, payload)],
                ),
                "test",
            )
            pks.append(listing.id)
    return url, config, pks


class _Scan(HTMLParser):
    """Collects what a payload would have to become to run: tags, handlers, URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in (
                "href",
                "src",
                "action",
                "formaction",
                "srcset",
                "xlink:href",
            ) and value.startswith(("javascript:", "vbscript:", "data:text")):
                self.problems.append(f"<{tag} {name}={value[:40]}>")
            if "alert(" in value or "msgbox(" in value:
                self.problems.append(f"<{tag} {name}> carries a payload")
        if tag == "script" and not (dict(attrs).get("src") or "").startswith("/static/"):
            self.problems.append("<script> without the app's own src")
        if tag in ("iframe", "object", "embed", "frame"):
            self.problems.append(f"<{tag}>")
        self.open = tag

    def handle_data(self, data: str) -> None:
        # Text is fine anywhere but inside script or style, where it would run or restyle.
        if getattr(self, "open", "") in ("script", "style") and (
            "alert(" in data or "display:none" in data
        ):
            self.problems.append(f"payload inside <{self.open}>")


def scan(html: str) -> list[str]:
    parser = _Scan()
    parser.feed(html)
    return parser.problems


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[str, Path, list[int]]:
    return seed(tmp_path)


@pytest.fixture
def web(seeded: tuple[str, Path, list[int]]) -> TestClient:
    url, config, _ = seeded
    return TestClient(create_app(load_client(config), url), follow_redirects=False)


def csrf(client: TestClient) -> str:
    return client.get("/api/session").json()["csrf_token"]


def xss_family(web: TestClient, pks: list[int]) -> list[tuple[str, list[str]]]:
    """Every page that shows listing text, scanned; (page, problems)."""
    token = csrf(web)
    # A note and a case with payloads too.
    for pk, payload in zip(pks, PAYLOADS):
        web.post(
            f"/hits/{pk}/action", data={"action": "note", "note": payload, "csrf_token": token}
        )
    web.post(
        f"/hits/{pks[0]}/action",
        data={
            "action": "confirm",
            "label": "counterfeit",
            "note": PAYLOADS[1],
            "csrf_token": token,
        },
    )
    pages = [
        "/queue",
        "/queue?seller=%3Cscript%3E",
        "/cases",
        "/dashboard",
        "/readiness",
        *[f"/hits/{pk}" for pk in pks],
    ]
    out = []
    for path in pages:
        response = web.get(path, headers={"accept": "text/html"})
        problems = [] if response.status_code == 200 else [f"status {response.status_code}"]
        problems += scan(response.text)
        if "nosniff" not in response.headers.get("x-content-type-options", ""):
            problems.append("no nosniff header")
        if "script-src" not in response.headers.get(
            "content-security-policy", ""
        ) and "default-src" not in response.headers.get("content-security-policy", ""):
            problems.append("no CSP")
        out.append((path, problems))
    return out


def test_xss_payloads_in_every_listing_field_stay_inert(web: TestClient, seeded):
    _, _, pks = seeded
    results = xss_family(web, pks)
    bad = [(page, p) for page, p in results if p]
    assert bad == [], bad
    # The payload text is still shown, as text.
    detail = web.get(f"/hits/{pks[0]}").text
    assert "&lt;script&gt;alert(" in detail


def refusal_family(web: TestClient, app: Any, pks: list[int]) -> list[tuple[str, int, bool]]:
    """State changes without a session or token, and malformed or oversized input:
    (case, status, refused as expected)."""
    token = csrf(web)
    other = TestClient(app, follow_redirects=False)  # a visitor with no session
    good = {"listing_ids": [pks[1]], "action": "note", "note": "ok"}
    cases: list[tuple[str, Any, Any]] = [
        ("api post, no session", lambda: other.post("/api/actions", json=good), (403,)),
        ("api post, session, no token", lambda: web.post("/api/actions", json=good), (403,)),
        (
            "api post, wrong token",
            lambda: web.post("/api/actions", json=good, headers={"X-CSRF-Token": "x" * 43}),
            (403,),
        ),
        (
            "api post, token of another session",
            lambda: other.post("/api/actions", json=good, headers={"X-CSRF-Token": token}),
            (403,),
        ),
        (
            "form post, no token",
            lambda: web.post(f"/hits/{pks[0]}/action", data={"action": "dismiss"}),
            (403,),
        ),
        (
            "bulk post, no token",
            lambda: web.post("/bulk", data={"action": "dismiss", "ids": [str(p) for p in pks]}),
            (403,),
        ),
        (
            "case transition, no token",
            lambda: web.post("/api/cases/1/transition", json={"to_state": "submitted"}),
            (403,),
        ),
        (
            "forged cookie",
            lambda: TestClient(app, cookies={"markwatch_session": "eyJjc3JmIjoieCJ9.x.y"}).post(
                "/api/actions", json=good, headers={"X-CSRF-Token": "x"}
            ),
            (403,),
        ),
        (
            "body over 256 KB",
            lambda: web.post(
                "/api/actions",
                content=b"{" + b" " * (300 * 1024) + b"}",
                headers={"X-CSRF-Token": token, "content-type": "application/json"},
            ),
            (413,),
        ),
        (
            "form over 256 KB",
            lambda: web.post(
                f"/hits/{pks[0]}/action",
                data={"action": "note", "note": "n" * (300 * 1024), "csrf_token": token},
            ),
            (413,),
        ),
        (
            "malformed json",
            lambda: web.post(
                "/api/actions",
                content=b'{"listing_ids": [1,',
                headers={"X-CSRF-Token": token, "content-type": "application/json"},
            ),
            (400, 422),
        ),
        (
            "unknown field",
            lambda: web.post(
                "/api/actions", json={**good, "admin": True}, headers={"X-CSRF-Token": token}
            ),
            (422,),
        ),
        (
            "bad action",
            lambda: web.post(
                "/api/actions", json={**good, "action": "delete"}, headers={"X-CSRF-Token": token}
            ),
            (422,),
        ),
        (
            "bad label",
            lambda: web.post(
                "/api/actions",
                json={**good, "action": "confirm", "label": "<b>"},
                headers={"X-CSRF-Token": token},
            ),
            (422,),
        ),
        (
            "ids not numbers",
            lambda: web.post(
                "/api/actions",
                json={**good, "listing_ids": ["1 or 1=1"]},
                headers={"X-CSRF-Token": token},
            ),
            (422,),
        ),
        (
            "too many ids",
            lambda: web.post(
                "/api/actions",
                json={**good, "listing_ids": list(range(1, 5000))},
                headers={"X-CSRF-Token": token},
            ),
            (422,),
        ),
        (
            "note too long",
            lambda: web.post(
                "/api/actions", json={**good, "note": "n" * 5000}, headers={"X-CSRF-Token": token}
            ),
            (422,),
        ),
        (
            "form note too long",
            lambda: web.post(
                f"/hits/{pks[0]}/action",
                data={"action": "note", "note": "n" * 5000, "csrf_token": token},
            ),
            (400,),
        ),
        (
            "form ids not numbers",
            lambda: web.post(
                "/bulk",
                data={
                    "action": "note",
                    "note": "x",
                    "ids": ["1; drop table listings"],
                    "csrf_token": token,
                },
            ),
            (400,),
        ),
        (
            "form missing action",
            lambda: web.post(f"/hits/{pks[0]}/action", data={"csrf_token": token}),
            (400,),
        ),
        (
            "unknown listing",
            lambda: web.post(
                "/api/actions",
                json={**good, "listing_ids": [999999]},
                headers={"X-CSRF-Token": token},
            ),
            (404,),
        ),
        ("score filter out of range", lambda: web.get("/api/hits?min_score=7"), (422,)),
        ("page out of range", lambda: web.get("/api/hits?page=-1"), (422,)),
        ("date filter malformed", lambda: web.get("/api/hits?date_from=yesterday'--"), (422,)),
        ("listing id not a number", lambda: web.get("/api/listings/abc"), (422,)),
        (
            "open redirect via next",
            lambda: web.post(
                f"/hits/{pks[1]}/action",
                data={
                    "action": "note",
                    "note": "x",
                    "next": "//evil.example/",
                    "csrf_token": token,
                },
            ),
            (303,),
        ),
        (
            "evidence path traversal",
            lambda: web.get("/media/evidence/../../etc/passwd"),
            (404, 422),
        ),
        (
            "content-length not a number",
            lambda: web.post(
                "/api/actions",
                content=b"{}",
                headers={
                    "X-CSRF-Token": token,
                    "content-type": "application/json",
                    "content-length": "-1",
                },
            ),
            (400, 413),
        ),
    ]
    out = []
    for name, call, expected in cases:
        try:
            response = call()
            status = response.status_code
            ok = status in expected
            if name == "open redirect via next":
                ok = (
                    ok
                    and response.headers.get("location", "").startswith("/")
                    and not response.headers.get("location", "").startswith("//")
                )
        except Exception as exc:  # noqa: BLE001 - a crash of the app is a failure too
            status, ok = 500, False
            name += f" ({exc.__class__.__name__}: {exc})"
        out.append((name, status, ok))
    return out


def test_state_changes_need_a_session_and_its_token_and_bad_input_is_refused(
    web: TestClient, seeded
):
    url, _, pks = seeded
    with db.session_scope(url) as s:
        notes_before = len(s.query(m.Note).all())
    results = refusal_family(web, web.app, pks)
    bad = [r for r in results if not r[2]]
    assert bad == [], bad
    assert len(results) >= 25
    # Nothing the refused requests asked for happened.
    with db.session_scope(url) as s:
        assert all(lst.triage_state != "dismissed" for lst in s.query(m.Listing).all())
        notes = [n.text for n in s.query(m.Note).all()] if hasattr(m.Note, "text") else []
        assert len(s.query(m.Note).all()) == notes_before + 1, (
            notes
        )  # only the open-redirect case's note


def test_login_required_when_exposed(seeded):
    url, config, pks = seeded
    app = create_app(load_client(config), url, token="correct-horse-battery-staple")
    web = TestClient(app, follow_redirects=False)
    assert web.get("/queue").status_code == 303
    assert web.get("/api/hits").status_code == 401
    assert (
        web.post("/api/actions", json={"listing_ids": [pks[0]], "action": "dismiss"}).status_code
        == 401
    )
    assert web.get("/api/hits", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert web.get("/media/listing/1").status_code in (303, 401)
    bearer = {"Authorization": "Bearer correct-horse-battery-staple"}
    assert web.get("/api/hits", headers=bearer).status_code == 200
    # A valid bearer is not a CSRF token: a POST still needs the session's token.
    assert (
        web.post(
            "/api/actions", json={"listing_ids": [pks[0]], "action": "dismiss"}, headers=bearer
        ).status_code
        == 403
    )
    # The login form itself needs its CSRF token; a wrong token logs nobody in.
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text)
    assert form_token, "login form without a CSRF field"
    assert web.post("/login", data={"token": "correct-horse-battery-staple"}).status_code == 403
    assert (
        web.post("/login", data={"token": "nope", "csrf_token": form_token.group(1)}).status_code
        == 401
    )
    assert web.get("/api/hits").status_code == 401
    right = web.post(
        "/login", data={"token": "correct-horse-battery-staple", "csrf_token": form_token.group(1)}
    )
    assert right.status_code == 303 and web.get("/api/hits").status_code == 200


def test_api_json_escapes_nothing_but_is_served_as_json(web: TestClient, seeded):
    _, _, pks = seeded
    response = web.get(f"/api/listings/{pks[0]}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.text)["title"].startswith("Lumora <script>")
