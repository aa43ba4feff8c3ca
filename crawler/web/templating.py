"""The Jinja environment of the web app and the HTML report: autoescape always on."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


def _when(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _pct(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def _money(value: float | None, currency: str | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f} {currency or ''}".strip()


def _http_url(value: Any) -> str:
    """Only http(s) links: a listing URL like javascript:... must not become a link."""
    text = str(value or "")
    return text if text.lower().startswith(("http://", "https://")) else "#"


@lru_cache(maxsize=1)
def environment() -> Environment:
    # Autoescape for every template: listing text comes from counterfeiters.
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["pct"] = _pct
    env.filters["money"] = _money
    env.filters["http_url"] = _http_url
    return env
