"""The alert outbox: every alert is a database row first; `flush` delivers pending rows.

Rows are per (alert, target): the key is `<alert key>><target fingerprint>`, unique in
the table, so enqueueing the same alert again is a no-op and one target failing never
makes another receive a message twice.

Flush, in three steps:

1. claim (one transaction): due rows (`pending`, or `sending` whose lease ran out) are
   set to `sending`, `attempts + 1`, and `next_attempt_at = now + lease`; the update
   is conditional on the row being unchanged, so two flushes never claim the same row;
2. send: rows of one target and one group (the hits of one cycle) go as one digest
   through apprise;
3. record (one transaction per message): `sent` with `sent_at`; or, on failure,
   `pending` with an exponential back-off, or `failed` after `max_attempts`.

Delivery is at-least-once. A process killed before step 3 leaves the row `sending`;
after the lease it is sent again, because a lost counterfeit alert costs more than a
duplicate. The window for a duplicate is the instant between the receiver accepting
the message and the commit of step 3; every message carries the header
`X-Markwatch-Alert` (a hash of its row keys, the same on every retry) so a receiver
can drop a repeat. A process killed before or during step 2 loses nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alerts import render
from alerts.kinds import Alert, document, sort_hits
from alerts.targets import Target, instantiate, masked_logs
from crawler import models as m
from crawler.config import Client

log = logging.getLogger("markwatch.alerts")

LEASE = dt.timedelta(minutes=10)
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=6)
MAX_ATTEMPTS = 8
BATCH = 500
MAX_ATTACHED_HITS = 10
STATUSES = ("pending", "sending", "sent", "failed")
KINDS = ("hits", "review", "deadline", "relist", "health", "test")


@dataclass
class FlushResult:
    """Rows sent and failed for good by this flush, and rows still pending (or sending) after it.

    A row is one alert for one target; several go out in one message (a digest), so
    `messages` (tried) and `delivered` count what the receivers saw.
    """

    sent: int = 0
    failed: int = 0
    pending: int = 0
    messages: int = 0
    delivered: int = 0
    # Pending rows for targets this flush was not given (e.g. run without the client file).
    unrouted: int = 0
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- enqueue


def _row_key(alert_key: str, target: Target) -> str:
    key = f"{alert_key}>{target.fingerprint}"
    if len(key) > 200:
        # Keys must fit the column; a long listing id is replaced by its hash.
        digest = hashlib.sha256(alert_key.encode("utf-8")).hexdigest()[:32]
        key = f"{alert_key[:140]}#{digest}>{target.fingerprint}"
    return key


def _insert_ignore(session: Session, values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists; True when it was inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - other databases: check, then insert
        if (
            session.scalar(select(m.OutboxAlert.id).where(m.OutboxAlert.key == values["key"]))
            is not None
        ):
            return False
        session.add(m.OutboxAlert(**values))
        session.flush()
        return True
    stmt = (
        insert(m.OutboxAlert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(m.OutboxAlert.id)
    )
    # RETURNING, not rowcount: drivers disagree on rowcount after DO NOTHING.
    return session.execute(stmt).scalar() is not None


def enqueue(
    session: Session, alert: Alert, targets: Sequence[Target], now: dt.datetime | None = None
) -> int:
    """Queue `alert` for each target that wants it; returns the number of new rows."""
    now = now or m.utcnow()
    created = 0
    for target in targets:
        if not target.wants(alert.tags):
            continue
        if alert.verdict is not None and not target.accepts_verdict(alert.verdict):
            continue
        body = render.write(document(alert.kind, [alert.payload], alert.group, {}), render.TEXT)
        values = {
            "key": _row_key(alert.key, target),
            "kind": alert.kind,
            "tags": sorted(alert.tags),
            "title": render.plain_title(alert.title),
            "body": body,
            "payload": {
                "target": target.fingerprint,
                "target_display": target.display,
                "group": alert.group,
                "alert_key": alert.key,
                "data": alert.payload,
            },
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        created += _insert_ignore(session, values)
    return created


def fan_out(session: Session, targets: Sequence[Target], now: dt.datetime) -> int:
    """Give each row queued without a target (by other parts of markwatch) one row per target.

    Such a row says what to tell, with route tags; here it becomes a row per target
    that wants those tags (keys `<row key>><fingerprint>`, so running this twice adds
    nothing), and the original is marked `sent` with the fingerprints it went to.
    Without any configured target the rows wait.
    """
    if not targets:
        return 0
    rows = [
        row
        for row in session.scalars(
            select(m.OutboxAlert).where(
                m.OutboxAlert.status == "pending", m.OutboxAlert.next_attempt_at <= now
            )
        )
        if not (row.payload or {}).get("target")
    ]
    created = 0
    for row in rows:
        wanted = [t for t in targets if t.wants(row.tags or [])]
        data = {**(row.payload or {}), "_queued": {"title": row.title, "body": row.body}}
        for target in wanted:
            created += _insert_ignore(
                session,
                {
                    "key": _row_key(row.key, target),
                    "kind": row.kind,
                    "tags": list(row.tags or []),
                    "title": row.title,
                    "body": row.body,
                    "payload": {
                        "target": target.fingerprint,
                        "target_display": target.display,
                        "group": None,
                        "alert_key": row.key,
                        "data": data,
                    },
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": row.created_at,
                },
            )
        row.payload = {**(row.payload or {}), "fanned_out_to": [t.fingerprint for t in wanted]}
        if wanted:
            row.status, row.sent_at, row.last_error = "sent", now, None
        else:
            row.status, row.last_error = (
                "failed",
                f"no target takes the tags {sorted(row.tags or [])}",
            )
    session.commit()
    return created


def reroute(session: Session, targets: Sequence[Target], now: dt.datetime | None = None) -> tuple[int, int]:
    """Queue the pending alerts of targets no longer configured for the current ones.

    A corrected alert URL or a rotated token is another target: rows queued for the
    old one would wait for good. Each such row is queued again for the current targets
    that want it (a target that has the alert already gets nothing twice) and marked
    `failed` with the reason. Returns (rows moved, rows queued).
    """
    now = now or m.utcnow()
    current = {t.fingerprint for t in targets}
    moved = queued = 0
    if not targets:
        return moved, queued
    for row in session.scalars(select(m.OutboxAlert).where(m.OutboxAlert.status == "pending")):
        payload = row.payload or {}
        if not payload.get("target") or payload["target"] in current or not payload.get("alert_key"):
            continue  # waiting for fan-out, routed to a current target, or not ours to move
        data = payload.get("data") or {}
        alert = Alert(
            key=payload["alert_key"], kind=row.kind, tags=frozenset(row.tags or []), title=row.title,
            payload=data, group=payload.get("group"), verdict=data.get("verdict") if row.kind == "hits" else None,
        )
        queued += enqueue(session, alert, targets, now)
        row.status, row.last_error = "failed", f"rerouted: {payload.get('target_display') or 'its target'} is no longer configured"
        moved += 1
    session.flush()
    return moved, queued


# ---------------------------------------------------------------- flush


@contextmanager
def _session(url_or_session: str | Session) -> Iterator[Session]:
    if isinstance(url_or_session, Session):
        yield url_or_session
        return
    from crawler.db import session_scope

    with session_scope(url_or_session) as session:
        yield session


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try: 1, 2, 4, ... minutes, at most six hours."""
    return min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_MAX)


Candidate = tuple[int, str, dt.datetime, int, dict[str, Any], str]


def _due(
    session: Session, now: dt.datetime, limit: int, only_targets: set[str] | None
) -> list[Candidate]:
    """Rows to send now: pending and due, or `sending` with a lapsed lease."""
    rows = session.execute(
        select(
            m.OutboxAlert.id,
            m.OutboxAlert.status,
            m.OutboxAlert.next_attempt_at,
            m.OutboxAlert.attempts,
            m.OutboxAlert.payload,
            m.OutboxAlert.kind,
        )
        .where(
            m.OutboxAlert.status.in_(("pending", "sending")), m.OutboxAlert.next_attempt_at <= now
        )
        .order_by(m.OutboxAlert.id)
        .limit(limit)
    ).all()
    out: list[Candidate] = []
    for row_id, status, next_at, attempts, payload, kind in rows:
        target = (payload or {}).get("target")
        # Rows without a target wait for fan_out; rows for targets this flush was not
        # given (run without the client file) are left alone, attempts untouched.
        if target and (only_targets is None or target in only_targets):
            out.append((row_id, status, next_at, attempts, payload or {}, kind))
    return out


def _claim(
    session: Session, candidates: Sequence[Candidate], now: dt.datetime, lease: dt.timedelta
) -> list[m.OutboxAlert]:
    """Conditional updates to `sending`: a row another flush changed meanwhile is skipped."""
    claimed: list[int] = []
    for row_id, status, next_at, attempts, _payload, _kind in candidates:
        result = session.execute(
            update(m.OutboxAlert)
            .where(
                m.OutboxAlert.id == row_id,
                m.OutboxAlert.status == status,
                m.OutboxAlert.next_attempt_at == next_at,
                m.OutboxAlert.attempts == attempts,
            )
            .values(status="sending", next_attempt_at=now + lease, attempts=attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(row_id)
    # Durable before anything is sent: a crash from here on leaves the rows `sending`.
    session.commit()
    if not claimed:
        return []
    return list(
        session.scalars(
            select(m.OutboxAlert)
            .where(m.OutboxAlert.id.in_(claimed))
            .order_by(m.OutboxAlert.id)
            .execution_options(populate_existing=True)
        )
    )


def claim(
    session: Session,
    now: dt.datetime,
    lease: dt.timedelta = LEASE,
    limit: int = BATCH,
    only_targets: set[str] | None = None,
) -> list[m.OutboxAlert]:
    """Mark every due row `sending` under a lease; a row is claimed by one flush only.

    `flush` claims one message's rows at a time, right before sending them, so a
    long flush never outlives the lease of rows still waiting their turn.
    """
    return _claim(session, _due(session, now, limit, only_targets), now, lease)


def _format_of(plugin: Any) -> str:
    formats = plugin.notify_format
    first = formats[0] if isinstance(formats, (tuple, list)) else formats
    value = getattr(first, "value", str(first))
    return {"html": render.HTML, "markdown": render.MARKDOWN}.get(value, render.TEXT)


def _can_attach(plugin: Any) -> bool:
    if not getattr(plugin, "attachment_support", False):
        return False
    # Slack webhooks accept no files; their messages link the images instead.
    mode = str(getattr(getattr(plugin, "mode", ""), "value", getattr(plugin, "mode", ""))).lower()
    return not (type(plugin).__name__ == "NotifySlack" and ("hook" in mode or "webhook" in mode))


def _attachments(kind: str, items: list[dict[str, Any]], plugin: Any) -> tuple[dict[str, str], Any]:
    """Attach listing and mark images (local files) to a hits digest, when the target can."""
    if kind != "hits" or not _can_attach(plugin):
        return {}, None
    from apprise import AppriseAttachment
    from apprise.attachment.file import AttachFile

    names: dict[str, str] = {}
    attach = AppriseAttachment()
    for n, item in enumerate(items[:MAX_ATTACHED_HITS], start=1):
        for role, key in (("listing", "listing_image"), ("mark", "mark_image")):
            path = item.get(key)
            if not path or not Path(path).is_file():
                continue
            name = f"hit{n}-{role}{Path(path).suffix.lower() or '.img'}"
            if attach.add(AttachFile(str(path), name=name)):
                names[f"{n}-{role}"] = name
    if names and hasattr(plugin, "inline"):
        # Email: embed the images so the HTML shows listing and mark side by side.
        plugin.inline = True
    return names, (attach if names else None)


def _scrub(message: str, target: Target) -> str:
    """Drop anything of the URL that could be a secret from an error message."""
    from crawler.config import mask_secrets

    return mask_secrets(message, target.url)


def _error_text(result: Any, target: Target) -> str:
    messages: list[str] = []
    logs = getattr(result, "logs", None)
    if callable(logs):
        for entry in logs():
            if str(getattr(entry, "level", "")).upper() in ("WARNING", "ERROR", "CRITICAL"):
                messages.append(str(entry.message))
    text = "; ".join(dict.fromkeys(messages))[-500:] or "the target did not accept the message"
    return _scrub(text, target)


def send(
    target: Target, kind: str, items: list[dict[str, Any]], group: str | None, dedupe_id: str
) -> tuple[bool, str]:
    """Deliver one message to one target; (ok, error text without secrets)."""
    import apprise

    plugin = instantiate(target)
    if plugin is None:
        return False, f"apprise cannot load the URL {target.display}"
    fmt = _format_of(plugin)
    if kind == "hits":
        # The order the digest shows them in, so hit n's attachments are hit n's.
        items = sort_hits(items)
    attached, attach = _attachments(kind, items, plugin)
    # Only targets that take no files link the photos on the seller's host (README).
    doc = document(kind, items, group, attached, link_photos=not _can_attach(plugin))
    body = render.write(doc, fmt)
    headers = getattr(plugin, "headers", None)
    if isinstance(headers, dict):
        headers["X-Markwatch-Alert"] = dedupe_id
    notify_type = (
        apprise.NotifyType.WARNING
        if kind in ("hits", "relist", "deadline")
        else apprise.NotifyType.INFO
    )
    if kind == "health":
        notify_type = apprise.NotifyType.FAILURE
    apobj = apprise.Apprise()
    apobj.add(plugin)
    try:
        with masked_logs(target):
            result = apobj.notify(
                body=body,
                title=render.plain_title(doc.title),
                body_format=fmt,
                notify_type=notify_type,
                attach=attach,
            )
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not stop the other targets
        return False, _scrub(f"{exc.__class__.__name__}: {exc}", target)
    return (True, "") if result else (False, _error_text(result, target))


def _group_key(row_id: int, kind: str, payload: dict[str, Any]) -> tuple[str, str, str]:
    return (str(payload.get("target")), kind, payload.get("group") or f"row:{row_id}")


def _dedupe_id(members: Sequence[m.OutboxAlert]) -> str:
    """The `X-Markwatch-Alert` id of one message: the same on every retry of it.

    Keys alone repeat from store to store (`review:<day>`, `deadline:<case id>:...`), so
    two clients' stores alerting one receiver would share ids and a receiver dropping
    repeats would drop the second client's alert; each row's queueing time, fixed once
    the row exists, tells them apart.
    """
    parts = sorted(f"{r.key}@{r.created_at.isoformat()}" for r in members)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def flush(
    url_or_session: str | Session,
    client: Client | None = None,
    *,
    targets: Sequence[Target] | None = None,
    now: dt.datetime | None = None,
    lease: dt.timedelta = LEASE,
    max_attempts: int = MAX_ATTEMPTS,
) -> FlushResult:
    """Send every due row; see the module docstring for the guarantees.

    `url_or_session` is a database URL or an open session (which this commits).
    `targets` default to `load_targets(client)`.
    """
    from alerts.targets import load_targets

    now = now or m.utcnow()
    targets = list(targets) if targets is not None else load_targets(client)
    by_fp = {t.fingerprint: t for t in targets}
    out = FlushResult()
    with _session(url_or_session) as session:
        fan_out(session, targets, now)
        groups: dict[tuple[str, str, str], list[Candidate]] = {}
        for cand in _due(session, now, BATCH, set(by_fp)):
            groups.setdefault(_group_key(cand[0], cand[5], cand[4]), []).append(cand)
        for (fp, kind, group), candidates in groups.items():
            members = _claim(session, candidates, max(now, m.utcnow()), lease)
            if not members:
                continue  # another flush took them
            target = by_fp[fp]
            items = [(r.payload or {}).get("data") or {} for r in members]
            if kind not in KINDS and not items[0].get("_queued"):
                # A kind this version cannot render: say what the row says.
                items = [{"_queued": {"title": r.title, "body": r.body}} for r in members[:1]]
            if kind == "test":
                items = [{"target": target.display}]
            # The same id on every retry of this message, for receivers that drop repeats.
            dedupe = _dedupe_id(members)
            ok, error = send(
                target, kind, items, None if group.startswith("row:") else group, dedupe
            )
            out.messages += 1
            out.delivered += ok
            done = max(now, m.utcnow())
            for row in members:
                if ok:
                    row.status, row.sent_at, row.last_error = "sent", done, None
                    out.sent += 1
                elif row.attempts >= max_attempts:
                    row.status, row.last_error = "failed", error
                    out.failed += 1
                else:
                    row.status, row.last_error = "pending", error
                    row.next_attempt_at = done + backoff(row.attempts)
            if not ok:
                out.errors.append(f"{target.display}: {error}")
                log.info("alert to %s not delivered: %s", target.display, error)
            # Record each message as soon as it is out: a crash later repeats nothing.
            session.commit()
        waiting = session.execute(
            select(m.OutboxAlert.payload).where(m.OutboxAlert.status.in_(("pending", "sending")))
        ).scalars()
        for payload in waiting:
            out.pending += 1
            if (payload or {}).get("target") not in by_fp:
                out.unrouted += 1
    return out


def list_alerts(
    session: Session, status: str | None = None, limit: int = 200
) -> list[m.OutboxAlert]:
    """Outbox rows, newest first, optionally of one status."""
    stmt = select(m.OutboxAlert).order_by(m.OutboxAlert.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(m.OutboxAlert.status == status)
    return list(session.scalars(stmt))


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(m.OutboxAlert.status, func.count()).group_by(m.OutboxAlert.status)
    ).all()
    return {status: int(n) for status, n in rows}


__all__ = [
    "STATUSES",
    "FlushResult",
    "backoff",
    "claim",
    "counts",
    "enqueue",
    "flush",
    "list_alerts",
    "send",
]
