"""The web app's view of the takedown module: readiness rows and package exports.

The takedown module (`crawler.takedown`) owns readiness checks and complaint
packages; this bridge only calls it, and says so plainly when it is not installed.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from crawler.config import Client


class ExportRefused(Exception):
    """A package that cannot be built (missing documents, nothing to file); one line."""


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"crawler.takedown.{name}")
    except ImportError:
        return None


def readiness_rows(client: Client | None) -> tuple[list[dict[str, Any]], str | None]:
    """One row per mark and platform from the takedown module, or an explanation."""
    mod = _module("readiness")
    if mod is None:
        return [], "Readiness checks come with the takedown module, which is not installed."
    if client is None:
        return [], "Start the server with --config to check readiness."
    try:
        return mod.readiness(client), None
    except ValueError as exc:  # a rule table or calendar problem, one line
        return [], f"Readiness check failed: {exc}"


def advice_lines(client: Client | None) -> list[tuple[str, str]]:
    """Concrete advice (level, text) over every mark and platform, failures first."""
    mod = _module("readiness")
    if mod is None or client is None:
        return []
    try:
        return list(mod.advice(mod.check_all(client)))
    except ValueError:
        return []


def export_platforms() -> tuple[str, ...]:
    mod = _module("packages")
    return tuple(sorted(mod.PLATFORMS)) if mod is not None else ()


def can_export() -> bool:
    return _module("packages") is not None


def export_zip(
    client: Client | None, db_url: str, platform: str, evidence_dir: Path | None = None
) -> tuple[str, bytes]:
    """Build the platform's complaint packages and return (file name, zip bytes)."""
    mod = _module("packages")
    if mod is None:
        raise ExportRefused("complaint packages come with the takedown module, which is not installed")
    if client is None:
        raise ExportRefused("start the server with --config to export packages")
    with tempfile.TemporaryDirectory(prefix="markwatch-export-") as tmp:
        try:
            options = {"evidence_dir": evidence_dir} if evidence_dir is not None else {}
            result = mod.export(client, db_url, platform, Path(tmp), **options)
        except ValueError as exc:  # PackageRefused and the takedown module's other errors
            raise ExportRefused(str(exc)) from None
        zip_path = Path(result.zip_path)
        return zip_path.name, zip_path.read_bytes()
