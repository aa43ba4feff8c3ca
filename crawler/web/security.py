"""Sessions, login, CSRF and input limits of the triage web app.

The session lives in a cookie signed with itsdangerous (nothing secret is stored in
it: a CSRF token, whether the visitor logged in, and visit times for "new since last
visit"). Every state-changing request (any method but GET/HEAD/OPTIONS) must carry
the session's CSRF token, as a `csrf_token` form field or an `X-CSRF-Token` header;
otherwise it is refused with 403. When a login is required (the server is bound
beyond loopback, or MARKWATCH_WEB_TOKEN is set), every page but the login page and
the static files needs a logged-in session or an `Authorization: Bearer` token.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData

COOKIE = "markwatch_session"
SESSION_MAX_AGE = 12 * 3600
# Forms here carry ids, a label and a note: anything bigger is not ours.
MAX_BODY = 256 * 1024
MAX_FIELDS = 600
MAX_NOTE = 4000
MAX_FIELD = 200
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A new visit starts after this much inactivity; "new since last visit" looks back to it.
VISIT_GAP = dt.timedelta(minutes=30)
TOKEN_ENV = "MARKWATCH_WEB_TOKEN"
SECRET_ENV = "MARKWATCH_WEB_SECRET"


class LoginRequired(Exception):
    """Raised for a page that needs a login; answered with a redirect or 401."""


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Security:
    """The app's security settings; one per app."""

    token: str | None = None
    secret: str = field(default_factory=lambda: os.environ.get(SECRET_ENV) or secrets.token_urlsafe(32))

    def __post_init__(self) -> None:
        self.serializer = URLSafeTimedSerializer(self.secret, salt="markwatch-session")

    @property
    def login_required(self) -> bool:
        return bool(self.token)

    def check_token(self, offered: str | None) -> bool:
        if not self.token or not offered:
            return False
        return hmac.compare_digest(offered.encode("utf-8"), self.token.encode("utf-8"))

    def load(self, cookie: str | None) -> dict[str, Any]:
        if cookie:
            try:
                data = self.serializer.loads(cookie, max_age=SESSION_MAX_AGE)
                if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                    return data
            except BadSignature:
                pass
        return {"csrf": secrets.token_urlsafe(32), "auth": False}

    def dump(self, session: dict[str, Any]) -> str:
        return self.serializer.dumps(session)


def session_of(request: Request) -> dict[str, Any]:
    return request.scope["markwatch.session"]


def touch_visit(session: dict[str, Any], now: dt.datetime) -> None:
    """Track visits: `since` is when the previous visit ended (for "new since last visit")."""
    active = session.get("active")
    last = dt.datetime.fromisoformat(active) if active else None
    if last is None or now - last > VISIT_GAP:
        session["since"] = active
    session["active"] = now.isoformat(timespec="seconds")


def since_last_visit(request: Request) -> dt.datetime | None:
    value = session_of(request).get("since")
    return dt.datetime.fromisoformat(value) if value else None


async def read_form(request: Request) -> FormData:
    """The request's form (cached), with limits; malformed bodies end as 400."""
    try:
        return await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_BODY)
    except (ValueError, UnicodeDecodeError, KeyError) as exc:
        raise HTTPException(400, f"malformed form body: {exc.__class__.__name__}") from None


async def guard(request: Request) -> None:
    """App-wide dependency: login where required, CSRF on every state change."""
    security: Security = request.app.state.security
    session = session_of(request)
    path = request.url.path
    if security.login_required and path not in ("/login", "/healthz"):
        bearer = request.headers.get("authorization", "")
        if not session.get("auth") and not (
            bearer.lower().startswith("bearer ") and security.check_token(bearer[7:].strip())
        ):
            raise LoginRequired()
    if request.method not in SAFE_METHODS:
        offered = request.headers.get("x-csrf-token")
        if not offered:
            ctype = request.headers.get("content-type", "")
            if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                value = (await read_form(request)).get("csrf_token")
                offered = value if isinstance(value, str) else None
        if not offered or not hmac.compare_digest(offered.encode(), session["csrf"].encode()):
            raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")


def text_field(form: FormData, name: str, *, max_len: int = MAX_FIELD, required: bool = False) -> str | None:
    """One text field of a form, stripped; too long or missing-but-required is a 400."""
    value = form.get(name)
    if value is None or value == "":
        if required:
            raise HTTPException(400, f"form field {name!r} is required")
        return None
    if not isinstance(value, str):
        raise HTTPException(400, f"form field {name!r}: expected text")
    if len(value) > max_len:
        raise HTTPException(400, f"form field {name!r}: at most {max_len} characters")
    return value.strip()


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to after a POST; anything else falls back to default."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) < 2000:
        return value
    return default


def actor_of(request: Request) -> str:
    name = session_of(request).get("user")
    return f"web:{name}" if name else request.app.state.actor
