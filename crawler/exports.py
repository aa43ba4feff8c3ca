"""`markwatch export`: the store as JSON Lines (CONTRACT.md section 4).

Every stored listing with its latest assessment: the listing fields of a scoring
input (with `images` as the listing's image URLs), then score, verdict, mark_id and
signals, plus first_seen and last_seen in ISO 8601 UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TextIO

from crawler import db


def iso_utc(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def listing_fields(listing: Any) -> dict[str, Any]:
    """A stored listing's fields as in a scoring input (CONTRACT.md section 2), images as URLs."""
    return {
        "id": listing.key,
        "marketplace": listing.marketplace,
        "url": listing.url,
        "title": listing.title,
        "description": listing.description,
        "price": listing.price,
        "currency": listing.currency,
        "seller_id": listing.seller_id,
        "seller_name": listing.seller_name,
        "images": list(listing.image_urls or []),
    }


def export_record(listing: Any, assessment: Any) -> dict[str, Any]:
    return {
        **listing_fields(listing),
        "score": round(assessment.score, 4) if assessment else 0.0,
        "verdict": assessment.verdict if assessment else None,
        "mark_id": assessment.mark_id if assessment else None,
        "signals": list(assessment.signals) if assessment else [],
        "first_seen": iso_utc(listing.first_seen),
        "last_seen": iso_utc(listing.last_seen),
    }


def export_jsonl(url: str, out: TextIO) -> int:
    """Write the store to `out`; returns the number of listings written."""
    count = 0
    with db.session_scope(url) as session:
        for listing, assessment in db.iter_listings_with_assessment(session):
            out.write(json.dumps(export_record(listing, assessment), ensure_ascii=False) + "\n")
            count += 1
    return count
