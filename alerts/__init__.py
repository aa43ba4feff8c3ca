"""Alerts through apprise: an outbox in the store, digests, reminders and crawl health.

The monitoring loop calls, once per cycle and inside its own transaction:

    created = alerts.enqueue_cycle_alerts(session, client, cycle_id, new_hits, review_count, health_events)

and then, after committing:

    result = alerts.flush(db_url, client)   # FlushResult(sent, failed, pending, ...)

Nothing here imports Scrapy: the CLI, the pipeline and the tests share it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from alerts.kinds import (
    Alert,
    HealthEvent,
    deadline_alerts,
    detect_health,
    health_alert,
    hit_alert,
    relist_alerts,
    resolve_hits,
    review_alert,
    review_queue_count,
    working_days_between,
)
from alerts.outbox import FlushResult, enqueue, flush, list_alerts
from alerts.targets import Target, load_targets
from crawler.config import Client


@dataclass
class EnqueueResult:
    """New outbox rows per kind of alert (0 everywhere when nothing was new)."""

    created: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.created.values())

    def add(self, kind: str, n: int) -> None:
        if n:
            self.created[kind] = self.created.get(kind, 0) + n


def enqueue_alerts(
    session: Session, alerts: Iterable[Alert], targets: Sequence[Target]
) -> EnqueueResult:
    """Queue ready-made alerts for the targets that want them."""
    result = EnqueueResult()
    for alert in alerts:
        result.add(alert.kind, enqueue(session, alert, targets))
    return result


def enqueue_cycle_alerts(
    session: Session,
    client: Client | None,
    cycle_id: str,
    new_hits: Iterable[Any] = (),
    review_count: int | None = None,
    health_events: Iterable[HealthEvent | dict[str, Any]] | None = None,
    *,
    targets: Sequence[Target] | None = None,
    today: dt.date | None = None,
) -> EnqueueResult:
    """Queue everything one monitoring cycle has to say; idempotent.

    - `new_hits`: AssessmentRow, Listing, listing pk, or (Listing, AssessmentRow)
      values; listings whose newest verdict is `clear` are skipped, and a listing
      already announced with the same verdict adds nothing.
    - `review_count`: the review queue's size; None counts it in the store. A
      summary goes out at most once a day, and only when the queue is not empty.
    - `health_events`: HealthEvent values (or dicts of their fields); None detects
      them from this cycle's CrawlRun rows.
    - deadline reminders and relists are found in the store's cases.
    The caller's transaction holds the rows; they go out at the next `flush`.
    """
    day = today or dt.date.today()
    targets = list(targets) if targets is not None else load_targets(client)
    result = EnqueueResult()
    if not targets:
        return result
    for listing, assessment in resolve_hits(session, new_hits):
        result.add(
            "hits", enqueue(session, hit_alert(client, listing, assessment, cycle_id), targets)
        )
    count = review_queue_count(session) if review_count is None else int(review_count)
    if count > 0:
        result.add("review", enqueue(session, review_alert(client, count, day), targets))
    events = detect_health(session, cycle_id) if health_events is None else list(health_events)
    for event in events:
        result.add("health", enqueue(session, health_alert(event, cycle_id), targets))
    for alert in deadline_alerts(session, today):
        result.add("deadline", enqueue(session, alert, targets))
    for alert in relist_alerts(session):
        result.add("relist", enqueue(session, alert, targets))
    session.flush()
    return result


def send_test(targets: Sequence[Target]) -> list[tuple[Target, bool, str]]:
    """Send a test message straight to each target (no outbox): (target, ok, error)."""
    from alerts.outbox import send

    results = []
    for target in targets:
        ok, error = send(
            target, "test", [{"target": target.display}], None, f"test-{target.fingerprint}"
        )
        results.append((target, ok, error))
    return results


__all__ = [
    "Alert",
    "EnqueueResult",
    "FlushResult",
    "HealthEvent",
    "Target",
    "deadline_alerts",
    "detect_health",
    "enqueue",
    "enqueue_alerts",
    "enqueue_cycle_alerts",
    "flush",
    "list_alerts",
    "load_targets",
    "send_test",
    "working_days_between",
]
