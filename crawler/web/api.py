"""The JSON API under /api: listings, hits, cases and actions (OpenAPI at /openapi.json).

Reads are GETs; the actions are POSTs and, like every state change, need the
session's CSRF token in an `X-CSRF-Token` header (GET /api/session hands it out
and sets the session cookie). With a login required, send
`Authorization: Bearer $MARKWATCH_WEB_TOKEN` too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from crawler import models as m
from crawler.db import newest_assessment_ids, session_scope
from crawler.web import actions, queries
from crawler.web.filters import build_filter, queue_filter
from crawler.web.security import MAX_NOTE, actor_of, session_of

router = APIRouter(prefix="/api", tags=["api"])


class ListingOut(BaseModel):
    pk: int
    id: str
    marketplace: str
    url: str
    title: str
    description: str | None = None
    price: float | None = None
    currency: str | None = None
    seller_id: str | None = None
    seller_name: str | None = None
    images: list[str] = []
    score: float | None = None
    verdict: str | None = None
    mark_id: str | None = None
    signals: list[dict[str, Any]] = []
    first_seen: str | None = None
    last_seen: str | None = None
    status: str
    triage_state: str
    triage_label: str | None = None


class Page(BaseModel):
    total: int
    items: list[ListingOut]


class CaseOut(BaseModel):
    id: int
    listing_pk: int
    mark_id: str | None
    platform: str
    state: str
    label: str | None
    complaint_id: str | None
    created_at: str
    state_since: str
    deadline: str | None
    relist_of: int | None


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listing_ids: list[int] = Field(min_length=1, max_length=500)
    action: Literal["confirm", "dismiss", "whitelist", "note"]
    label: Literal["counterfeit", "copycat", "grey market", "copyright", "patent"] | None = None
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class ActionOut(BaseModel):
    done: int
    listings: list[ListingOut]


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_state: str = Field(min_length=1, max_length=30)
    note: str | None = Field(default=None, max_length=MAX_NOTE)
    # The platform's complaint id: needed to move a case to `submitted` on platforms with a portal.
    complaint_id: str | None = Field(default=None, min_length=1, max_length=200)
    # A platform reference for the audit trail (an order id, a ticket number).
    platform_ref: str | None = Field(default=None, min_length=1, max_length=200)


class SessionOut(BaseModel):
    csrf_token: str


@router.get("/session", response_model=SessionOut)
def api_session(request: Request) -> dict[str, str]:
    """The CSRF token to send as X-CSRF-Token on POSTs (the session cookie is set too)."""
    return {"csrf_token": session_of(request)["csrf"]}


@router.get("/listings", response_model=Page)
def api_listings(
    request: Request,
    marketplace: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Stored listings with their newest assessment, in id order."""
    newest = newest_assessment_ids()
    stmt = (
        select(m.Listing, m.AssessmentRow)
        .outerjoin(newest, newest.c.listing_pk == m.Listing.id)
        .outerjoin(m.AssessmentRow, m.AssessmentRow.id == newest.c.aid)
    )
    if marketplace:
        stmt = stmt.where(m.Listing.marketplace == marketplace)
    with session_scope(request.app.state.db_url) as s:
        total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = s.execute(stmt.order_by(m.Listing.id).limit(limit).offset(offset)).all()
        return {"total": total, "items": [queries.listing_json(r[0], r[1]) for r in rows]}


@router.get("/listings/{pk}", response_model=ListingOut)
def api_listing(request: Request, pk: int) -> dict[str, Any]:
    with session_scope(request.app.state.db_url) as s:
        listing = s.get(m.Listing, pk)
        if listing is None:
            raise HTTPException(404, f"no listing {pk}")
        return queries.listing_json(listing, queries.latest(s, pk))


@router.get("/hits", response_model=Page)
def api_hits(
    request: Request,
    params: Annotated[dict[str, Any], Depends(queue_filter)],
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The hit queue as JSON: same filters as the queue page, best score first."""
    flt = build_filter(request, params, per_page=per_page)
    with session_scope(request.app.state.db_url) as s:
        rows, total = queries.queue(s, flt)
        return {"total": total, "items": [queries.listing_json(listing, a) for listing, a in rows]}


@router.get("/cases", response_model=list[CaseOut])
def api_cases(
    request: Request,
    state: Annotated[str | None, Query(max_length=30)] = None,
    platform: Annotated[str | None, Query(max_length=40)] = None,
) -> list[dict[str, Any]]:
    """Takedown cases, earliest deadline first."""
    known = actions.all_states()
    if state and known and state not in known:
        # A misspelt state would otherwise answer with no cases, as if there were none.
        raise HTTPException(422, f"state: expected one of {', '.join(known)}, got {state!r}")
    with session_scope(request.app.state.db_url) as s:
        return [queries.case_json(c) for c in queries.cases(s, state=state, platform=platform)]


@router.post("/actions", response_model=ActionOut)
async def api_actions(request: Request, body: ActionIn) -> dict[str, Any]:
    """Confirm, dismiss, whitelist the seller of, or annotate one or more listings."""
    actor = actor_of(request)

    def run() -> dict[str, Any]:
        with session_scope(request.app.state.db_url) as s:
            out = []
            for pk in body.listing_ids:
                listing = s.get(m.Listing, pk)
                if listing is None:
                    raise HTTPException(404, f"no listing {pk}")
                actions.apply(s, listing, body.action, actor, label=body.label, note=body.note)
                out.append(listing)
            s.flush()
            return {"done": len(out), "listings": [queries.listing_json(x, queries.latest(s, x.id)) for x in out]}

    try:
        return await run_in_threadpool(run)
    except actions.ActionError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/cases/{case_id}/transition", response_model=CaseOut)
async def api_transition(request: Request, case_id: int, body: TransitionIn) -> dict[str, Any]:
    """Move a case to another state through the takedown module (audited)."""
    actor = actor_of(request)

    def run() -> dict[str, Any]:
        with session_scope(request.app.state.db_url) as s:
            case = s.get(m.Case, case_id)
            if case is None:
                raise HTTPException(404, f"no case {case_id}")
            actions.change_case(
                s, case, body.to_state, actor, body.note, complaint_id=body.complaint_id, platform_ref=body.platform_ref,
            )
            s.flush()
            return queries.case_json(case)

    try:
        return await run_in_threadpool(run)
    except actions.ActionError as exc:
        raise HTTPException(409, str(exc)) from None
