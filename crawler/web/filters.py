"""Query-string filters of the hit queue, shared by the queue page and /api/hits."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BeforeValidator, Field

from crawler.web import queries
from crawler.web.security import since_last_visit

PER_PAGE = 50


def _blank_is_unset(value: Any) -> Any:
    """An empty form field means "no filter": the queue's form submits every field."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


# Blank values become None before the type and range checks run (which apply only to a value).
Blank = BeforeValidator(_blank_is_unset)
Score = Annotated[float, Field(ge=0, le=1)]
PageNumber = Annotated[int, Field(ge=1, le=100000)]
TriageState = Annotated[str, Field(pattern="^(open|confirmed|dismissed|all)$")]


def queue_filter(
    marketplace: Annotated[str | None, Query(max_length=40)] = None,
    mark: Annotated[str | None, Query(max_length=100)] = None,
    verdict: Annotated[str | None, Query(pattern="^(counterfeit|review|clear)?$")] = None,
    min_score: Annotated[Score | None, Blank, Query()] = None,
    max_score: Annotated[Score | None, Blank, Query()] = None,
    seller: Annotated[str | None, Query(max_length=200)] = None,
    date_from: Annotated[dt.date | None, Blank, Query()] = None,
    date_to: Annotated[dt.date | None, Blank, Query()] = None,
    new: Annotated[bool | None, Blank, Query()] = None,
    state: Annotated[TriageState | None, Blank, Query()] = None,
    page: Annotated[PageNumber | None, Blank, Query()] = None,
) -> dict[str, Any]:
    return {
        "marketplace": marketplace or None, "mark": mark or None, "verdict": verdict or None,
        "min_score": min_score, "max_score": max_score, "seller": seller or None,
        "date_from": date_from, "date_to": date_to, "new": bool(new), "state": state or "open",
        "page": page or 1,
    }


def build_filter(request: Request, params: dict[str, Any], per_page: int = PER_PAGE) -> queries.QueueFilter:
    values = {k: v for k, v in params.items() if k != "new"}
    new_since = since_last_visit(request) if params["new"] else None
    return queries.QueueFilter(**values, new_since=new_since, per_page=per_page)


def filter_query(params: dict[str, Any], **override: Any) -> str:
    merged = {**params, **override}
    clean = {k: ("1" if v is True else v) for k, v in merged.items() if v not in (None, "", False)}
    if clean.get("state") == "open":
        clean.pop("state")
    if clean.get("page") == 1:
        clean.pop("page")
    return urllib.parse.urlencode(clean)
