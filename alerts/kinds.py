"""The kinds of alert: what each says, whom it is routed to, and its idempotency key.

Builders read the store and return `Alert` values (a snapshot of what to say, so a
message sent tomorrow still shows the listing as it was); `document()` turns the
snapshots of one outbox group into a `render.Doc`.

- `hits`: new counterfeit (and, for targets that want them, review) hits; one digest
  per cycle per target. Key `hit:<listing>:<verdict>`: a listing is announced once per
  verdict, so a second cycle over unchanged listings adds nothing.
- `review`: the review queue's size, at most once a day (`review:<date>`).
- `deadline`: a case's deadline due soon (within `DUE_SOON_DAYS` working days), due
  today, or overdue; once per stage (`deadline:<case>:<date>:<stage>`).
- `relist`: a listing back after a takedown (`relist:case:<case>`, the key the
  takedown module uses for the row it queues itself).
- `health`: a marketplace blocked or failed, zero results where earlier runs had some,
  an error spike; per crawl run (`health:run<id>:<kind>`, or `health:<cycle>:<market>:<kind>`
  for events without a run id), one digest per cycle.

Deadline reminders count working days with the takedown module's calendar
(`crawler.takedown.deadlines`, the platform's country) and fall back to Monday to
Friday when it is missing or has no data for the year.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.render import Bold, Doc, Image, Link, Seg, clean
from alerts.targets import TAG_HITS, TAG_OPS, TAG_REVIEW, TAG_TAKEDOWN, slug
from crawler import models as m
from crawler.config import Client

DUE_SOON_DAYS = 2
TOP_SIGNALS = 3
MAX_DIGEST_ITEMS = 50
# States after which a case needs no reminders (used only without the takedown module,
# whose ACTION_STATES say which states ask someone to act).
CLOSED_STATES = frozenset(
    {
        "closed",
        "resolved",
        "removed",
        "taken_down",
        "rejected",
        "withdrawn",
        "dismissed",
        "done",
        "archived",
    }
)


@dataclass
class Alert:
    """One thing to tell; the outbox turns it into one row per target that wants it."""

    key: str
    kind: str
    tags: frozenset[str]
    title: str
    payload: dict[str, Any]
    # Rows with the same group (and target) are sent together as one digest.
    group: str | None = None
    # For hits: targets whose min_verdict is above this skip it.
    verdict: str | None = None


@dataclass
class HealthEvent:
    """Something wrong with a crawl, from `CrawlRun` rows."""

    marketplace: str
    kind: str  # blocked | failed | zero_results | error_spike
    detail: str
    run_id: int | None = None
    cycle: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- working days


def _country_of(platform: str | None) -> str | None:
    """The country whose calendar a platform's deadlines follow (takedown rule table)."""
    if not platform:
        return None
    try:
        from crawler.takedown.states import platform_rule

        return platform_rule(platform).country
    except (ImportError, ValueError, OSError):  # no rule table, or one that cannot be read
        return None


def working_days_between(start: dt.date, end: dt.date, platform: str | None = None) -> int:
    """Working days after `start` up to and including `end` (negative when `end` is earlier).

    Uses the takedown module's calendar (public holidays and make-up working days of
    the platform's country) when it knows the platform; otherwise counts Monday to
    Friday.
    """
    country = _country_of(platform)
    if country:
        try:
            from crawler.takedown.deadlines import working_days_between as between

            return int(between(country, start, end))
        except (ImportError, ValueError, NotImplementedError, KeyError):
            # A year outside the calendar's data: weekdays are the best estimate left.
            country = None
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    days = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days += 1
    return sign * days


def _needs_reminder(state: str) -> bool:
    """Only states whose deadline asks someone to act get reminders."""
    try:
        from crawler.takedown.states import ACTION_STATES

        return state in ACTION_STATES
    except ImportError:
        return state not in CLOSED_STATES


# ---------------------------------------------------------------- hits


def _first_image(listing: m.Listing) -> tuple[str | None, str | None]:
    """(local path, remote URL) of the listing's first image."""
    path = url = None
    for img in listing.images:
        if img.path and Path(img.path).is_file():
            # Absolute, so a flush from another working directory still finds it.
            return str(Path(img.path).resolve()), img.url
        url = url or img.url
    if not url and listing.image_urls:
        url = str(listing.image_urls[0])
    return path, url


def _msrp(
    client: Client | None, mark_id: str | None, product_id: str | None
) -> tuple[Any, ...] | None:
    if client is None or not mark_id:
        return None
    products = [p for p in client.products if p.id == product_id] or client.products_of(mark_id)
    for product in products:
        if product.msrp:
            return product.msrp, product.currency, product.name, product.images
    return None


def sort_hits(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A digest's hits, highest score first (stable, so attachments and text agree)."""
    return sorted(items, key=lambda i: -float(i.get("score") or 0))


def hit_payload(
    client: Client | None, listing: m.Listing, assessment: m.AssessmentRow
) -> dict[str, Any]:
    """What a digest needs to show one hit, frozen at enqueue time."""
    signals = sorted(assessment.signals or [], key=m.signal_rank)[:TOP_SIGNALS]
    image_path, image_url = _first_image(listing)
    mark_title = assessment.mark_id
    mark_image = None
    mark_image_kind = None  # "mark": a registered image; "product": a photo of the genuine goods
    if client is not None and assessment.mark_id:
        try:
            mark = client.mark(assessment.mark_id)
            mark_title = mark.title
            if mark.images:
                mark_image, mark_image_kind = str(mark.images[0]), "mark"
        except KeyError:
            pass
    msrp = _msrp(client, assessment.mark_id, assessment.product_id)
    ratio = None
    if msrp and listing.price is not None and client is not None:
        price_base = client.exchange_rates.to_base(listing.price, listing.currency)
        msrp_base = client.exchange_rates.to_base(msrp[0], msrp[1])
        if price_base is not None and msrp_base:
            ratio = round(price_base / msrp_base, 4)
    if mark_image is None and msrp and msrp[3]:
        mark_image, mark_image_kind = str(msrp[3][0]), "product"
    return {
        "listing": listing.key,
        "listing_pk": listing.id,
        "marketplace": listing.marketplace,
        "title": clean(listing.title, 500),
        "url": listing.url,
        "price": listing.price,
        "currency": listing.currency,
        "msrp": msrp[0] if msrp else None,
        "msrp_currency": msrp[1] if msrp else None,
        "product": msrp[2] if msrp else None,
        "price_ratio": ratio,
        "score": round(float(assessment.score), 3),
        "verdict": assessment.verdict,
        "mark_id": assessment.mark_id,
        "mark_title": mark_title,
        "signals": [
            {"kind": s.get("kind"), "score": s.get("score"), "detail": clean(s.get("detail"), 300)}
            for s in signals
        ],
        "seller_name": listing.seller_name,
        "seller_id": listing.seller_id,
        "listing_image": image_path,
        "listing_image_url": image_url,
        "mark_image": mark_image,
        "mark_image_kind": mark_image_kind,
    }


def hit_alert(
    client: Client | None, listing: m.Listing, assessment: m.AssessmentRow, cycle_id: str
) -> Alert:
    tags = {TAG_HITS}
    if client is not None:
        tags.add(slug(client.client.name))
    if assessment.mark_id:
        tags.add(assessment.mark_id.lower())
    return Alert(
        key=f"hit:{listing.key}:{assessment.verdict}",
        kind="hits",
        tags=frozenset(tags),
        title=f"{assessment.verdict} {float(assessment.score):.2f} {listing.marketplace}: {clean(listing.title, 120)}",
        payload=hit_payload(client, listing, assessment),
        group=f"hits:{cycle_id}",
        verdict=assessment.verdict,
    )


def resolve_hits(session: Session, hits: Iterable[Any]) -> list[tuple[m.Listing, m.AssessmentRow]]:
    """Normalise what the loop passes: assessment ids, AssessmentRow, Listing, or pairs."""
    from crawler.db import latest_assessment

    out: list[tuple[m.Listing, m.AssessmentRow]] = []
    for hit in hits:
        if isinstance(hit, tuple):
            listing, assessment = hit
        elif isinstance(hit, m.Listing):
            listing, assessment = hit, latest_assessment(session, hit.id)
        else:
            found = (
                hit if isinstance(hit, m.AssessmentRow) else session.get(m.AssessmentRow, int(hit))
            )
            if found is None:
                raise ValueError(
                    f"new_hits: expected a stored assessment, no assessment with id {hit!r}"
                )
            listing, assessment = found.listing, found
        if assessment is None or assessment.verdict not in ("counterfeit", "review"):
            continue
        out.append((listing, assessment))
    return out


def _money(amount: Any, currency: Any) -> str:
    return f"{float(amount):.2f} {clean(currency or '', 3)}".strip()


PHOTO_NOT_ATTACHED = "Photo not attached: see the listing."


def _reference_caption(item: dict[str, Any]) -> str:
    """What the brand-side picture is: the registered mark, or a photo of the genuine goods."""
    title = item.get("mark_title") or item.get("mark_id")
    kind = item.get("mark_image_kind")
    if kind == "mark":
        return f"registered mark: {title}"
    if kind == "product":
        return f"genuine product photo: {item.get('product') or title}"
    return f"reference image: {title}"  # queued before the payload said which


def hits_document(
    items: list[dict[str, Any]],
    cycle: str | None,
    attached: dict[str, str],
    link_photos: bool = False,
) -> Doc:
    """The digest of new hits, highest score first; `attached` maps `<n>-listing` /
    `<n>-mark` to the names of files sent with the message (n counts in that order).

    `link_photos`: link each listing's photo on the seller's host, for targets that take
    no files (Slack webhooks); others show attached photos only.
    """
    items = sort_hits(items)
    counterfeit = sum(1 for i in items if i.get("verdict") == "counterfeit")
    review = len(items) - counterfeit
    marks = sorted({str(i.get("mark_title") or i.get("mark_id") or "?") for i in items})
    what = f"{counterfeit} counterfeit" + (f", {review} to review" if review else "")
    doc = Doc(
        title=f"markwatch: {len(items)} new hit{'s' if len(items) != 1 else ''} ({what}) for {', '.join(marks)}"
    )
    if cycle and cycle.startswith("rescore-"):
        doc.p(
            f"Stored listings that now look like counterfeits of {', '.join(marks)} after "
            f"`markwatch rescore` ({cycle.removeprefix('rescore-')})."
        )
    else:
        doc.p(
            f"New listings that look like counterfeits of {', '.join(marks)}"
            + (f" (cycle {cycle})." if cycle else ".")
        )
    with_photos = {int(k.split("-", 1)[0]) for k in attached if k.split("-", 1)[0].isdigit()}
    if with_photos and len(items) > max(with_photos):
        doc.p(
            f"Photos are attached for the first {max(with_photos)} hits only; "
            "for the others, open the listing."
        )
    for n, item in enumerate(items[:MAX_DIGEST_ITEMS], start=1):
        doc.hr()
        doc.h(
            f"{n}. ", Link(item.get("title") or item.get("listing") or "listing", item.get("url"))
        )
        price = "unknown"
        if item.get("price") is not None:
            price = _money(item["price"], item.get("currency"))
            if item.get("msrp"):
                price += f" vs MSRP {_money(item['msrp'], item.get('msrp_currency'))}"
                if item.get("price_ratio") is not None:
                    price += f" ({float(item['price_ratio']) * 100:.0f}% of MSRP)"
        seller = item.get("seller_name") or item.get("seller_id")
        doc.ul(
            [
                ["Marketplace: ", str(item.get("marketplace") or "?")],
                ["Price: ", price],
                [
                    "Score: ",
                    Bold(f"{float(item.get('score') or 0):.2f}"),
                    f" ({item.get('verdict')}), mark ",
                    str(item.get("mark_title") or item.get("mark_id") or "?"),
                ],
                *([["Seller: ", str(seller)]] if seller else []),
                ["Link: ", Link(str(item.get("url") or ""), item.get("url"))],
            ]
        )
        signals = sorted(item.get("signals") or [], key=m.signal_rank)
        if signals:
            doc.p("Top signals:")
            doc.ul(
                [
                    [
                        f"{s.get('kind')} {float(s.get('score') or 0):.2f}: ",
                        str(s.get("detail") or ""),
                    ]
                    for s in signals
                ]
            )
        doc.images(
            [
                Image(
                    "listing image",
                    attached.get(f"{n}-listing"),
                    item.get("listing_image_url") if link_photos else None,
                ),
                Image(_reference_caption(item), attached.get(f"{n}-mark")),
            ],
            missing=PHOTO_NOT_ATTACHED,
        )
    if len(items) > MAX_DIGEST_ITEMS:
        doc.p(
            f"... and {len(items) - MAX_DIGEST_ITEMS} more; run `markwatch export` for all of them."
        )
    return doc


# ---------------------------------------------------------------- review queue


def review_queue_count(session: Session) -> int:
    """Listings whose newest assessment says `review` and that no analyst has triaged."""
    from crawler.db import newest_assessment_ids

    newest = newest_assessment_ids()
    stmt = (
        select(func.count())
        .select_from(m.Listing)
        .join(newest, newest.c.listing_pk == m.Listing.id)
        .join(m.AssessmentRow, m.AssessmentRow.id == newest.c.aid)
        .where(
            m.AssessmentRow.verdict == "review",
            m.Listing.triage_state == "new",
            m.Listing.status == "active",
        )
    )
    return int(session.scalar(stmt) or 0)


def review_alert(client: Client | None, count: int, today: dt.date) -> Alert:
    tags = {TAG_REVIEW}
    if client is not None:
        tags.add(slug(client.client.name))
    return Alert(
        key=f"review:{today.isoformat()}",
        kind="review",
        tags=frozenset(tags),
        title=f"Review queue: {count} listing{'s' if count != 1 else ''} waiting",
        payload={
            "count": count,
            "date": today.isoformat(),
            "client": client.client.name if client else None,
        },
    )


def review_document(item: dict[str, Any]) -> Doc:
    count = int(item.get("count") or 0)
    doc = Doc(title=f"markwatch: {count} listing{'s' if count != 1 else ''} waiting for review")
    doc.p(
        f"{count} listing{'s' if count != 1 else ''} scored between the review and counterfeit thresholds "
        f"and {'waits' if count == 1 else 'wait'} for an analyst (",
        Bold("markwatch serve"),
        " opens the triage queue).",
    )
    return doc


# ---------------------------------------------------------------- deadlines and relists


def _case_listing(case: m.Case) -> dict[str, Any]:
    listing = case.listing
    return {
        "listing": listing.key if listing else None,
        "title": clean(listing.title, 300) if listing else None,
        "url": listing.url if listing else None,
    }


def _case_today(case: m.Case) -> dt.date:
    """Today on the platform's clock (Beijing's date for Chinese platforms), as deadlines are set."""
    try:
        from crawler.takedown.states import case_today

        return case_today(case)
    except (ImportError, ValueError, OSError):
        return dt.date.today()


def deadline_alerts(session: Session, today: dt.date | None = None) -> list[Alert]:
    """Reminders for open cases whose deadline is near or past, in working days.

    `today`: by default each case's platform date, so a Chinese platform's deadline is
    overdue once Beijing's day is over, not hours later."""
    alerts: list[Alert] = []
    cases = session.scalars(
        select(m.Case).where(m.Case.deadline.is_not(None)).order_by(m.Case.deadline, m.Case.id)
    )
    for case in cases:
        if case.deadline is None or not _needs_reminder(case.state):
            continue
        day = today or _case_today(case)
        left = working_days_between(day, case.deadline, case.platform)
        if case.deadline < day:
            stage = "overdue"
        elif left == 0:
            stage = "due_today"
        elif left <= DUE_SOON_DAYS:
            stage = "due_soon"
        else:
            continue
        when = {
            "overdue": f"overdue by {abs(left)} working day{'s' if abs(left) != 1 else ''}",
            "due_today": "due today",
            "due_soon": f"due in {left} working day{'s' if left != 1 else ''}",
        }[stage]
        alerts.append(
            Alert(
                key=f"deadline:{case.id}:{case.deadline.isoformat()}:{stage}",
                kind="deadline",
                tags=frozenset({TAG_TAKEDOWN}),
                title=f"Case {case.id} ({case.platform}, {case.state}): deadline {case.deadline} {when}",
                payload={
                    "case": case.id,
                    "platform": case.platform,
                    "state": case.state,
                    "mark_id": case.mark_id,
                    "deadline": case.deadline.isoformat(),
                    "stage": stage,
                    "working_days_left": left,
                    "when": when,
                    "complaint_id": case.complaint_id,
                    **_case_listing(case),
                },
            )
        )
    return alerts


def deadline_document(item: dict[str, Any]) -> Doc:
    doc = Doc(title=f"markwatch: case {item.get('case')} deadline {item.get('when')}")
    doc.p(
        "Case ",
        Bold(str(item.get("case"))),
        f" on {item.get('platform')} is in state {item.get('state')}; ",
        f"its deadline {item.get('deadline')} is ",
        Bold(str(item.get("when"))),
        ".",
    )
    rows: list[list[Any]] = [
        ["Listing: ", Link(str(item.get("title") or item.get("listing") or "?"), item.get("url"))]
    ]
    if item.get("complaint_id"):
        rows.append(["Complaint: ", str(item["complaint_id"])])
    if item.get("mark_id"):
        rows.append(["Mark: ", str(item["mark_id"])])
    doc.ul(rows)
    return doc


def relist_alerts(session: Session) -> list[Alert]:
    """A relist case (a listing back after a takedown) is announced once."""
    alerts: list[Alert] = []
    for case in session.scalars(
        select(m.Case).where(m.Case.relist_of.is_not(None)).order_by(m.Case.id)
    ):
        tags = {TAG_TAKEDOWN, "relist"}
        if case.mark_id:
            tags.add(case.mark_id.lower())
        info = _case_listing(case)
        listing, old = case.listing, session.get(m.Case, case.relist_of)
        removed = next((e.at for e in reversed(old.events) if e.to_state == "removed"), None) if old else None
        alerts.append(
            Alert(
                # The same key as the takedown module's own relist row: one alert per case.
                key=f"relist:case:{case.id}",
                kind="relist",
                tags=frozenset(tags),
                title=f"Relist: case {case.id} on {case.platform} (was case {case.relist_of}): {info['title']}",
                payload={
                    "case": case.id,
                    "relist_of": case.relist_of,
                    "platform": case.platform,
                    "mark_id": case.mark_id,
                    "state": case.state,
                    **info,
                    # What the lawyer needs to act on it: who sells it now, why it is the
                    # same listing, and the takedown it came back from.
                    "seller": _seller_text(listing),
                    "price": _money(listing.price, listing.currency) if listing and listing.price is not None else None,
                    "why": case.events[0].note if case.events else None,
                    "old": _case_listing(old) if old else None,
                    "old_complaint_id": old.complaint_id if old else None,
                    "removed_on": removed.date().isoformat() if removed else None,
                },
            )
        )
    return alerts


def _seller_text(listing: m.Listing | None) -> str | None:
    if listing is None or not (listing.seller_name or listing.seller_id):
        return None
    name = clean(listing.seller_name or "", 120)
    return f"{name} ({listing.seller_id})" if name and listing.seller_id else name or listing.seller_id


def relist_document(item: dict[str, Any]) -> Doc:
    case = item.get("case") or item.get("case_id")
    doc = Doc(title=f"markwatch: listing back after takedown (case {case})")
    doc.p(
        f"A listing taken down in case {item.get('relist_of')} is back on {item.get('platform') or 'its marketplace'}; ",
        f"case {case} follows it up.",
    )
    rows: list[list[Seg]] = [
        ["Listing: ", Link(str(item.get("title") or item.get("listing") or "?"), item.get("url"))]
    ]
    for label, key in (("Seller: ", "seller"), ("Price: ", "price"), ("Why it is the same listing: ", "why")):
        if item.get(key):
            rows.append([label, str(item[key])])
    old = item.get("old") or {}
    if old:
        taken: list[Seg] = ["Taken down: ", Link(str(old.get("title") or old.get("listing") or "?"), old.get("url"))]
        done = [
            f"removed {item['removed_on']}" if item.get("removed_on") else "",
            f"complaint {item['old_complaint_id']}" if item.get("old_complaint_id") else "",
        ]
        if any(done):
            taken.append(" (" + ", ".join(d for d in done if d) + ")")
        rows.append(taken)
    doc.ul(rows)
    return doc


# ---------------------------------------------------------------- crawl health


def detect_health(
    session: Session, cycle_id: str, history: int = 5, spike_factor: float = 3.0
) -> list[HealthEvent]:
    """Health events of one cycle's crawl runs, compared with earlier runs."""
    events: list[HealthEvent] = []
    runs = session.scalars(
        select(m.CrawlRun).where(m.CrawlRun.cycle == cycle_id).order_by(m.CrawlRun.id)
    )
    for run in runs:
        earlier = list(
            session.scalars(
                select(m.CrawlRun)
                .where(
                    m.CrawlRun.marketplace == run.marketplace,
                    m.CrawlRun.id < run.id,
                    m.CrawlRun.status.in_(("ok", "blocked", "failed")),
                )
                .order_by(m.CrawlRun.id.desc())
                .limit(history)
            )
        )
        if run.status in ("blocked", "failed"):
            events.append(
                HealthEvent(
                    run.marketplace,
                    run.status,
                    clean(run.reason or run.status, 300),
                    run.id,
                    cycle_id,
                )
            )
            continue
        if run.status != "ok":
            continue
        had = [r.items for r in earlier if r.status == "ok" and r.items > 0]
        if run.items == 0 and had:
            events.append(
                HealthEvent(
                    run.marketplace,
                    "zero_results",
                    f"0 results; the previous {len(had)} run(s) found up to {max(had)}",
                    run.id,
                    cycle_id,
                )
            )
        usual = statistics.median([r.errors for r in earlier]) if earlier else 0
        if run.errors >= 5 and run.errors > spike_factor * max(1.0, usual):
            events.append(
                HealthEvent(
                    run.marketplace,
                    "error_spike",
                    f"{run.errors} errors in {run.pages} pages (usually {usual:g})",
                    run.id,
                    cycle_id,
                )
            )
    return events


def health_alert(event: HealthEvent | dict[str, Any], cycle_id: str) -> Alert:
    if isinstance(event, dict):
        known = {"marketplace", "kind", "detail", "run_id", "cycle"}
        event = HealthEvent(
            marketplace=str(event.get("marketplace") or "?"),
            kind=str(event.get("kind") or "problem"),
            detail=str(event.get("detail") or ""),
            run_id=event.get("run_id"),
            cycle=event.get("cycle"),
            extra={k: v for k, v in event.items() if k not in known},
        )
    ref = f"run{event.run_id}" if event.run_id is not None else f"{cycle_id}:{event.marketplace}"
    return Alert(
        key=f"health:{ref}:{event.kind}",
        kind="health",
        tags=frozenset({TAG_OPS}),
        title=f"{event.marketplace}: {event.kind.replace('_', ' ')}: {clean(event.detail, 150)}",
        payload={
            "marketplace": event.marketplace,
            "kind": event.kind,
            "detail": clean(event.detail, 300),
            "run_id": event.run_id,
            "cycle": event.cycle or cycle_id,
        },
        group=f"health:{cycle_id}",
    )


_HEALTH_WORDS = {
    "blocked": "blocked",
    "failed": "crawl failed",
    "zero_results": "zero results",
    "error_spike": "error spike",
    "errors": "error spike",
}


def health_document(items: list[dict[str, Any]], cycle: str | None) -> Doc:
    markets = sorted({str(i.get("marketplace")) for i in items})
    doc = Doc(
        title=f"markwatch crawl health: {len(items)} problem{'s' if len(items) != 1 else ''} on {', '.join(markets)}"
    )
    doc.p(f"Cycle {cycle}:" if cycle else "Crawl problems:")
    doc.ul(
        [
            [
                Bold(str(i.get("marketplace"))),
                f": {_HEALTH_WORDS.get(str(i.get('kind')), i.get('kind'))}: ",
                str(i.get("detail") or ""),
            ]
            for i in items
        ]
    )
    return doc


def test_document(target_display: str) -> Doc:
    doc = Doc(title="markwatch test alert")
    doc.p("This target receives markwatch alerts: ", Bold(target_display), ".")
    return doc


def queued_document(title: str, body: str) -> Doc:
    """A row another part of markwatch queued with its own title and text body."""
    doc = Doc(title=f"markwatch: {clean(title, 150)}")
    for line in body.splitlines():
        if line.strip().startswith(("http://", "https://")):
            doc.p(Link(line.strip(), line.strip()))
        elif line.strip():
            doc.p(line)
    return doc


def document(
    kind: str,
    items: list[dict[str, Any]],
    group: str | None,
    attached: dict[str, str],
    link_photos: bool = False,
) -> Doc:
    """The message for one outbox group (one item for kinds that are not digests)."""
    if items and "_queued" in items[0]:
        queued = items[0]["_queued"]
        return queued_document(str(queued.get("title") or kind), str(queued.get("body") or ""))
    cycle = group.split(":", 1)[1] if group and ":" in group else None
    if kind == "hits":
        return hits_document(items, cycle, attached, link_photos)
    if kind == "health":
        return health_document(items, cycle)
    item = items[0]
    if kind == "review":
        return review_document(item)
    if kind == "deadline":
        return deadline_document(item)
    if kind == "relist":
        return relist_document(item)
    if kind == "test":
        return test_document(str(item.get("target") or ""))
    raise ValueError(f"unknown kind of alert {kind!r}")
