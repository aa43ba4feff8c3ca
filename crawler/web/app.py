"""The triage web app: hit queue, hit detail, actions, cases board, readiness, dashboard.

`create_app(client, db_url, token=...)` builds a FastAPI app. Pages are rendered on
the server with Jinja (autoescape on); a small script adds keyboard shortcuts and
bulk selection. Images are served only when the client file or the store names
them: registered mark and product images by their position in the client file,
listing images and evidence files by their row in the store.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
import secrets
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from crawler import models as m
from crawler.config import Client
from crawler.db import session_scope
from crawler.evidence import SUFFIX as EVIDENCE_SUFFIX
from crawler.web import actions, queries
from crawler.web.filters import build_filter, filter_query, queue_filter
from crawler.web.security import (
    COOKIE,
    MAX_BODY,
    MAX_NOTE,
    SAFE_METHODS,
    SESSION_MAX_AGE,
    LoginRequired,
    Security,
    actor_of,
    guard,
    read_form,
    safe_next,
    session_of,
    since_last_visit,
    text_field,
    touch_visit,
)
from crawler.web.templating import STATIC, environment

PER_PAGE = 50
BOARD_STATES = ("candidate", "confirmed", "submitted", "seller_notified", "awaiting_response", "removed")
CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Magic numbers of the image formats we serve; anything else is refused.
IMAGE_MAGIC = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def create_app(
    client: Client | None, db_url: str, *, token: str | None = None, actor: str | None = None,
    evidence_dir: Path | None = None,
) -> FastAPI:
    """The web app over one store; `token` set means a login is required.

    `evidence_dir` is where evidence files live (default: the store's data folder's
    `evidence`, as `markwatch run` writes it).
    """
    app = FastAPI(
        title="markwatch",
        description="Triage of marketplace hits, takedown cases and reports.",
        version="1",
        dependencies=[Depends(guard)],
        # Swagger UI would load its script from a CDN; the JSON description is enough.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.client = client
    app.state.db_url = db_url
    app.state.security = Security(token=token)
    app.state.actor = actor or _default_actor()
    app.state.evidence_dir = (evidence_dir or default_evidence_dir(db_url)).resolve()
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.middleware("http")
    async def session_middleware(request: Request, call_next: Any) -> Response:
        if request.method not in SAFE_METHODS:
            length = request.headers.get("content-length")
            if length is None and request.headers.get("transfer-encoding"):
                return _plain(411, "a Content-Length is required")
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
                return _plain(413, f"request body too large (at most {MAX_BODY} bytes)")
        security: Security = app.state.security
        raw = request.cookies.get(COOKIE)
        session = security.load(raw)
        before = json.dumps(session, sort_keys=True)
        if not request.url.path.startswith(("/static/", "/media/")):
            touch_visit(session, m.utcnow())
        request.scope["markwatch.session"] = session
        response = await call_next(request)
        if raw is None or json.dumps(session, sort_keys=True) != before:
            response.set_cookie(
                COOKIE, security.dump(session), max_age=SESSION_MAX_AGE, httponly=True, samesite="strict",
                secure=request.url.scheme == "https", path="/",
            )
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api") or request.method not in SAFE_METHODS:
            return JSONResponse({"detail": "login required"}, status_code=401)
        target = urllib.parse.quote(request.url.path + ("?" + request.url.query if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return _error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # The JSON API keeps FastAPI's structured 422; a page gets one readable line.
        if not _wants_html(request):
            return await request_validation_exception_handler(request, exc)
        return _error_page(request, 422, validation_message(exc.errors()))

    _pages(app)
    from crawler.web.api import router

    app.include_router(router)
    return app


def default_evidence_dir(db_url: str) -> Path:
    try:
        from crawler.monitor import data_dir_for

        return data_dir_for(db_url) / "evidence"
    except ImportError:
        from crawler.evidence import default_dir

        return default_dir()


def _default_actor() -> str:
    try:
        return f"web:{getpass.getuser()}"
    except (OSError, KeyError):
        return "web:analyst"


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api")


def back_link(path: str) -> tuple[str, str]:
    """Where an error page sends the user back to: the page the failed request belongs to."""
    if path.startswith("/cases"):
        return "/cases", "Back to the cases board"
    if path.startswith(("/readiness", "/takedown")):
        return "/readiness", "Back to takedown readiness"
    if path.startswith("/dashboard"):
        return "/dashboard", "Back to the dashboard"
    hit = re.match(r"/hits/(\d+)(/|$)", path)
    if hit and hit.group(2) == "/":
        return f"/hits/{hit.group(1)}", "Back to the hit"
    return "/queue", "Back to the queue"


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    href, label = back_link(request.url.path)
    body = _render(request, "error.html", status=status, message=message, back_href=href, back_label=label)
    return HTMLResponse(body, status_code=status)


# What a query or form field should have held, by pydantic's error type.
_EXPECTED = {
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "int_type": "a whole number",
    "bool_parsing": "1 or 0",
    "date_parsing": "a date as YYYY-MM-DD",
    "date_from_datetime_parsing": "a date as YYYY-MM-DD",
    "date_from_datetime_inexact": "a date as YYYY-MM-DD",
    "date_type": "a date as YYYY-MM-DD",
    "missing": "a value",
}


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def validation_message(errors: Any) -> str:
    """Request validation errors as one line: each field, what was expected, what came."""
    parts = []
    for err in errors:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body", "header", "cookie")]
        field = ".".join(loc) or "request"
        kind = str(err.get("type", ""))
        ctx = err.get("ctx") or {}
        expected = _EXPECTED.get(kind)
        if expected is None:
            if kind == "greater_than_equal":
                expected = f"at least {_number(ctx.get('ge'))}"
            elif kind == "greater_than":
                expected = f"more than {_number(ctx.get('gt'))}"
            elif kind == "less_than_equal":
                expected = f"at most {_number(ctx.get('le'))}"
            elif kind == "less_than":
                expected = f"less than {_number(ctx.get('lt'))}"
            elif kind == "string_too_long":
                expected = f"at most {ctx.get('max_length')} characters"
            elif kind == "string_pattern_mismatch":
                choices = re.fullmatch(r"\^\(([\w |-]+)\)\??\$", str(ctx.get("pattern", "")))
                expected = f"one of {', '.join(choices.group(1).split('|'))}" if choices else "another value"
            else:
                msg = str(err.get("msg", "a valid value"))
                expected = msg[:1].lower() + msg[1:]
        got = err.get("input")
        shown = f" (got {str(got)[:40]!r})" if kind != "missing" and isinstance(got, (str, int, float)) else ""
        parts.append(f"{field}: expected {expected}{shown}")
    return "; ".join(parts) or "the request is not valid"


# The takedown rules speak to the command line; the web forms name their fields instead.
_CLI_WORDING = (("(--complaint-id)", "(the complaint id field)"), ("--complaint-id", "the complaint id field"))


def web_wording(message: str) -> str:
    for cli, web in _CLI_WORDING:
        message = message.replace(cli, web)
    return message


def _plain(status: int, message: str) -> Response:
    return JSONResponse({"detail": message}, status_code=status)


def _render(request: Request, name: str, **ctx: Any) -> str:
    session = session_of(request) if "markwatch.session" in request.scope else {}
    client: Client | None = request.app.state.client
    flash = session.pop("flash", None) if session else None
    return environment().get_template(name).render(
        request=request,
        path=request.url.path,
        csrf_token=session.get("csrf", ""),
        client_name=client.client.name if client else "markwatch",
        logged_in=bool(session.get("auth")),
        login_required=request.app.state.security.login_required,
        flash=flash,
        **ctx,
    )


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return HTMLResponse(_render(request, name, **ctx), status_code=status)


def flash(request: Request, message: str) -> None:
    session_of(request)["flash"] = message[:300]


def first_image(listing: m.Listing) -> m.ListingImage | None:
    return next((img for img in listing.images if img.path and not img.error), None)


# ---------------------------------------------------------------- pages


Filters = Annotated[dict[str, Any], Depends(queue_filter)]


def _pages(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str | None = None) -> HTMLResponse:
        return page(request, "login.html", next=safe_next(next, "/queue"), error=None)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await read_form(request)
        token = text_field(form, "token", max_len=500) or ""
        name = text_field(form, "name", max_len=60)
        target = safe_next(text_field(form, "next", max_len=1000), "/queue")
        security: Security = request.app.state.security
        if not security.check_token(token):
            return page(request, "login.html", status=401, next=target, error="Wrong token.")
        session = session_of(request)
        session["auth"] = True
        session["csrf"] = secrets.token_urlsafe(32)  # a fresh token for the logged-in session
        if name:
            session["user"] = "".join(ch for ch in name if ch.isalnum() or ch in "._-@ ")[:60]
        return RedirectResponse(target, status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> RedirectResponse:
        session = session_of(request)
        session["auth"] = False
        session.pop("user", None)
        return RedirectResponse("/login", status_code=303)

    @app.get("/queue", response_class=HTMLResponse, include_in_schema=False)
    def queue_page(request: Request, params: Filters) -> HTMLResponse:
        flt = build_filter(request, params)
        with session_scope(request.app.state.db_url) as s:
            rows, total = queries.queue(s, flt)
            items = [(listing, a, first_image(listing)) for listing, a in rows]
            pages = max(1, (total + flt.per_page - 1) // flt.per_page)
            return page(
                request, "queue.html", items=items, total=total, params=params, pages=pages,
                facets=queries.facets(s), labels=queries.LABELS, filter_qs=filter_query(params),
                page_qs=lambda n: filter_query(params, page=n), since=since_last_visit(request),
            )

    @app.get("/hits/{pk}", response_class=HTMLResponse, include_in_schema=False)
    def hit_page(request: Request, pk: int, params: Filters) -> HTMLResponse:
        flt = build_filter(request, params)
        with session_scope(request.app.state.db_url) as s:
            d = queries.detail(s, request.app.state.client, pk)
            if d is None:
                raise HTTPException(404, f"no listing {pk}")
            prev_pk, next_pk = queries.neighbours(s, flt, pk)
            return page(
                request, "detail.html", d=d, labels=queries.LABELS, filter_qs=filter_query(params, page=None),
                prev_pk=prev_pk, next_pk=next_pk, first_image=first_image(d.listing),
                next_states={c.id: actions.allowed_next(c) for c in d.cases},
            )

    @app.post("/hits/{pk}/action", include_in_schema=False)
    async def hit_action(request: Request, pk: int) -> Response:
        form = await read_form(request)
        action = text_field(form, "action", required=True) or ""
        label = text_field(form, "label")
        note = text_field(form, "note", max_len=MAX_NOTE)
        target = safe_next(text_field(form, "next", max_len=2000), f"/hits/{pk}")
        actor = actor_of(request)

        def run() -> str:
            with session_scope(request.app.state.db_url) as s:
                listing = s.get(m.Listing, pk)
                if listing is None:
                    raise HTTPException(404, f"no listing {pk}")
                actions.apply(s, listing, action, actor, label=label, note=note)
                return listing.key

        try:
            key = await run_in_threadpool(run)
        except actions.ActionError as exc:
            raise HTTPException(409, str(exc)) from None
        flash(request, f"{action}: {key}" + (f" ({label})" if action == "confirm" and label else ""))
        return RedirectResponse(target, status_code=303)

    @app.post("/bulk", include_in_schema=False)
    async def bulk(request: Request) -> Response:
        form = await read_form(request)
        action = text_field(form, "action", required=True) or ""
        label = text_field(form, "label")
        note = text_field(form, "note", max_len=MAX_NOTE)
        target = safe_next(text_field(form, "next", max_len=2000), "/queue")
        try:
            ids = sorted({int(v) for v in form.getlist("ids") if isinstance(v, str)})
        except ValueError:
            raise HTTPException(400, "ids: expected listing numbers") from None
        if not ids:
            flash(request, "Nothing selected.")
            return RedirectResponse(target, status_code=303)
        actor = actor_of(request)

        def run() -> int:
            with session_scope(request.app.state.db_url) as s:
                for pk in ids:
                    listing = s.get(m.Listing, pk)
                    if listing is None:
                        raise HTTPException(404, f"no listing {pk}")
                    actions.apply(s, listing, action, actor, label=label, note=note)
                return len(ids)

        try:
            done = await run_in_threadpool(run)
        except actions.ActionError as exc:
            raise HTTPException(409, str(exc)) from None
        flash(request, f"{action}: {done} listing{'s' if done != 1 else ''}")
        return RedirectResponse(target, status_code=303)

    @app.get("/cases", response_class=HTMLResponse, include_in_schema=False)
    def cases_page(
        request: Request, platform: Annotated[str | None, Query(max_length=40)] = None
    ) -> HTMLResponse:
        today = dt.date.today()
        with session_scope(request.app.state.db_url) as s:
            found = queries.cases(s, platform=platform or None)
            # The main path is always shown; side states (disputes, closed) only when used.
            columns: dict[str, list[m.Case]] = {s: [] for s in actions.all_states() if s in BOARD_STATES}
            for case in found:
                columns.setdefault(case.state, []).append(case)
            rank = {s: i for i, s in enumerate(actions.all_states())}
            columns = dict(sorted(columns.items(), key=lambda kv: rank.get(kv[0], len(rank))))
            return page(
                request, "cases.html", columns=columns, today=today, platform=platform,
                platforms=sorted({c.platform for c in found}),
                days_left={c.id: working_days_left(c, case_today(c, today)) for c in found},
                overdue={c.id: is_overdue(c, case_today(c, today)) for c in found},
                next_states={c.id: actions.allowed_next(c) for c in found},
                takedown=actions.takedown_states() is not None,
            )

    @app.post("/cases/{case_id}/state", include_in_schema=False)
    async def case_state(request: Request, case_id: int) -> Response:
        form = await read_form(request)
        to_state = text_field(form, "to_state", max_len=30, required=True) or ""
        note = text_field(form, "note", max_len=MAX_NOTE)
        complaint_id = text_field(form, "complaint_id", max_len=200)
        target = safe_next(text_field(form, "next", max_len=2000), "/cases")
        actor = actor_of(request)

        def run() -> str:
            with session_scope(request.app.state.db_url) as s:
                case = s.get(m.Case, case_id)
                if case is None:
                    raise HTTPException(404, f"no case {case_id}")
                before = case.state
                actions.change_case(s, case, to_state, actor, note, complaint_id=complaint_id)
                return f"case {case_id}: {before} -> {case.state}"

        try:
            message = await run_in_threadpool(run)
        except actions.ActionError as exc:
            raise HTTPException(409, web_wording(str(exc))) from None
        flash(request, message)
        return RedirectResponse(target, status_code=303)

    @app.get("/readiness", response_class=HTMLResponse, include_in_schema=False)
    def readiness_page(request: Request) -> HTMLResponse:
        from crawler.web import takedown_bridge

        with session_scope(request.app.state.db_url) as s:
            confirmed = queries.cases(s, state="confirmed")
            rows, error = takedown_bridge.readiness_rows(request.app.state.client)
            return page(
                request, "readiness.html", rows=rows, error=error,
                advice=takedown_bridge.advice_lines(request.app.state.client),
                platforms=[p for p in takedown_bridge.export_platforms() if p in {c.platform for c in confirmed}],
                can_export=takedown_bridge.can_export(), confirmed=confirmed,
            )

    @app.post("/takedown/export", include_in_schema=False)
    async def export_package(request: Request) -> Response:
        from crawler.web import takedown_bridge

        form = await read_form(request)
        platform = text_field(form, "platform", max_len=40, required=True) or ""
        if platform not in takedown_bridge.export_platforms():
            raise HTTPException(400, f"platform: expected one of {', '.join(takedown_bridge.export_platforms())}")

        def run() -> tuple[str, bytes]:
            return takedown_bridge.export_zip(
                request.app.state.client, request.app.state.db_url, platform, request.app.state.evidence_dir
            )

        try:
            name, data = await run_in_threadpool(run)
        except takedown_bridge.ExportRefused as exc:
            raise HTTPException(409, str(exc)) from None
        return Response(
            data, media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(
        request: Request, since: Annotated[str, Query(max_length=20)] = "30d"
    ) -> HTMLResponse:
        from crawler import reports

        try:
            start = reports.parse_since(since)
        except reports.ReportError as exc:
            raise HTTPException(400, str(exc)) from None
        with session_scope(request.app.state.db_url) as s:
            summary = reports.summary(s, start)
            return page(request, "dashboard.html", s=summary, charts=reports.charts(summary), since=since)

    # ------------------------------------------------------------ media

    @app.get("/media/mark/{mark_id}/{index}", include_in_schema=False)
    def mark_image(request: Request, mark_id: str, index: int) -> Response:
        client: Client | None = request.app.state.client
        try:
            images = client.mark(mark_id).images if client else []
        except KeyError:
            images = []
        path = images[index] if 0 <= index < len(images) else None
        return _image_file(path)

    @app.get("/media/product/{product_id}/{index}", include_in_schema=False)
    def product_image(request: Request, product_id: str, index: int) -> Response:
        client: Client | None = request.app.state.client
        product = next((p for p in (client.products if client else []) if p.id == product_id), None)
        path = product.images[index] if product and 0 <= index < len(product.images) else None
        return _image_file(path)

    @app.get("/media/listing/{image_id}", include_in_schema=False)
    def listing_image(request: Request, image_id: int) -> Response:
        with session_scope(request.app.state.db_url) as s:
            row = s.get(m.ListingImage, image_id)
            path = row.path if row else None
        return _image_file(Path(path) if path else None)

    @app.get("/media/evidence/{evidence_id}", include_in_schema=False)
    def evidence_file(request: Request, evidence_id: int) -> Response:
        with session_scope(request.app.state.db_url) as s:
            row = s.get(m.Evidence, evidence_id)
            stored = row.path if row else None
            owner = s.get(m.Listing, row.listing_pk) if row else None
            key, kind, digest = (owner.key if owner else "listing"), (row.kind if row else ""), (row.sha256 if row else "")
        root: Path = request.app.state.evidence_dir
        path = (root / stored).resolve() if stored else None
        # Only files inside the evidence folder, whatever a row says.
        if path is None or not path.is_relative_to(root) or not path.is_file():
            raise HTTPException(404, "no such evidence file")
        # Stored by content hash, without an extension: the bytes say what it is. A
        # screenshot shows inline; saved marketplace HTML must never run in our
        # origin, so everything else downloads.
        media = _image_type(path)
        name = evidence_download_name(key, kind, digest, media)
        if media is not None:
            return FileResponse(path, media_type=media, headers={"Content-Disposition": f'inline; filename="{name}"'})
        return FileResponse(
            path,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


# Extensions of image evidence by its actual type.
IMAGE_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


def evidence_download_name(listing_key: str, kind: str, sha256: str, media: str | None = None) -> str:
    """`<listing key>-<kind>-<sha256><ext>`: the takedown package's pattern, with the whole hash.

    Only letters, digits, dot, dash and underscore, so it is safe in a header.
    """
    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "x"

    suffix = IMAGE_SUFFIX.get(media or "") if media else None
    suffix = suffix or EVIDENCE_SUFFIX.get(kind, "")
    digest = sha256.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", sha256 or "") else "unknown"
    return f"{slug(listing_key)}-{slug(kind)}-{digest}{suffix}"


def _image_type(path: Path) -> str | None:
    """The picture's media type from its first bytes (JPEG, PNG, GIF, WebP), else None."""
    with path.open("rb") as fh:
        head = fh.read(16)
    media = next((t for magic, t in IMAGE_MAGIC.items() if head.startswith(magic)), None)
    if media is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        media = "image/webp"
    return media


def _image_file(path: Path | None) -> Response:
    if path is None or not path.is_file():
        raise HTTPException(404, "no such image")
    media = _image_type(path)
    if media is None:
        raise HTTPException(404, "not an image")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


def case_today(case: m.Case, today: dt.date) -> dt.date:
    """Today on the case's platform clock (Beijing's date for Chinese platforms), as its deadline was set."""
    try:
        from crawler.takedown.states import case_today as platform_today

        return platform_today(case)
    except (ImportError, ValueError):
        return today


def working_days_left(case: m.Case, today: dt.date) -> int | None:
    """Working days from today to the case's deadline, in the platform's country (negative: overdue)."""
    if case.deadline is None:
        return None
    try:
        from crawler.takedown.deadlines import working_days_between
        from crawler.takedown.states import platform_rule

        return working_days_between(platform_rule(case.platform).country, today, case.deadline)
    except ImportError:
        import numpy as np  # weekdays only, until the takedown calendar is installed

        return int(np.busday_count(today, case.deadline)) if case.deadline >= today else -int(
            np.busday_count(case.deadline, today)
        )
    except ValueError:  # a calendar the holiday library does not cover
        return (case.deadline - today).days


def is_overdue(case: m.Case, today: dt.date) -> bool:
    try:
        from crawler.takedown.states import is_overdue as overdue

        return bool(overdue(case, today))
    except ImportError:
        return case.deadline is not None and case.deadline < today
