"""The analyst triage web app (`markwatch serve`): queue, detail, cases, dashboard, API."""

from __future__ import annotations

from crawler.web.app import create_app

__all__ = ["create_app"]
