"""Figures, charts and reports over the store: for the dashboard and `markwatch report`.

`summary` computes the figures (hits per marketplace per day, triage outcomes,
takedown rate, median time to removal, relists, cleanliness of search results);
`line_chart` and `bar_chart` draw them as inline SVG (no JavaScript, no files), so
the same charts serve the web dashboard and a report that must travel as one
e-mail attachment. `build_report` gathers the hits of a period with thumbnails as
data: URIs; `render_html`, `render_csv` and `render_json` write it out.

Listing text is written by counterfeiters: the HTML goes through Jinja with
autoescape on, and the SVG text through `html.escape`.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler import models as m
from crawler.config import Client
from crawler.files import write_whole
from crawler.takedown.accuracy import OUTCOMES

HIT_VERDICTS = ("counterfeit", "review")
# Case states that mean "the platform took it down" and "we filed it"; a filed case is
# decided by its last outcome, as `markwatch takedown accuracy` counts them.
REMOVED_STATES = ("removed",)
FILED_STATES = ("submitted",)
# Cleanliness looks at this many top results per search term.
TOP_RESULTS = 20
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c")


class ReportError(ValueError):
    """Bad report options; the message is one line for the user."""


def parse_since(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """'7d', '24h', '2w' or a date YYYY-MM-DD -> the UTC start of the period (naive)."""
    now = now or m.utcnow()
    text = value.strip().lower()
    match = re.fullmatch(r"(\d{1,4})\s*([hdw])", text)
    if match:
        n, unit = int(match.group(1)), match.group(2)
        return now - {"h": dt.timedelta(hours=n), "d": dt.timedelta(days=n), "w": dt.timedelta(weeks=n)}[unit]
    try:
        start = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
    except ValueError:
        raise ReportError(f"--since: expected a period such as 7d, 24h, 2w or a date YYYY-MM-DD, got {value!r}") from None
    if start > now:
        raise ReportError(f"--since: expected a date up to today, got {value!r}, which is in the future")
    return start


# ---------------------------------------------------------------- figures


@dataclass
class Summary:
    since: dt.datetime
    until: dt.datetime
    days: list[dt.date]
    hits_per_day: dict[str, dict[dt.date, int]]
    hits_total: int
    verdicts: dict[str, int]
    triage: dict[str, int]
    cases_by_state: dict[str, int]
    filed: int
    decided: int
    removed: int
    takedown_rate: float | None  # removed of the decided (pending complaints are not failures)
    median_days_to_removal: float | None
    relists: int
    cleanliness: float | None
    cleanliness_by_term: list[tuple[str, float, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() + "Z",
            "until": self.until.isoformat() + "Z",
            "hits_total": self.hits_total,
            "hits_per_day": {
                mp: {d.isoformat(): n for d, n in sorted(per.items())} for mp, per in sorted(self.hits_per_day.items())
            },
            "verdicts": self.verdicts,
            "triage": self.triage,
            "cases_by_state": self.cases_by_state,
            "filed": self.filed,
            "decided": self.decided,
            "removed": self.removed,
            "takedown_rate": self.takedown_rate,
            "median_days_to_removal": self.median_days_to_removal,
            "relists": self.relists,
            "cleanliness": self.cleanliness,
            "cleanliness_by_term": [
                {"term": t, "clean_share": round(s, 4), "results": n} for t, s, n in self.cleanliness_by_term
            ],
        }


@dataclass(frozen=True)
class _Row:
    marketplace: str
    first_seen: dt.datetime
    triage_state: str
    verdict: str


def _period_rows(session: Session, since: dt.datetime) -> dict[int, _Row]:
    """Per listing seen in the period: the few columns the figures need (no JSON decoding)."""
    from crawler.db import newest_assessment_ids

    newest = newest_assessment_ids()
    stmt = (
        select(m.Listing.id, m.Listing.marketplace, m.Listing.first_seen, m.Listing.triage_state,
               m.AssessmentRow.verdict)
        .join(newest, newest.c.listing_pk == m.Listing.id)
        .join(m.AssessmentRow, m.AssessmentRow.id == newest.c.aid)
        .where(m.Listing.last_seen >= since)
    )
    return {pk: _Row(mp, first, state, verdict) for pk, mp, first, state, verdict in session.execute(stmt)}


def summary(session: Session, since: dt.datetime, until: dt.datetime | None = None) -> Summary:
    """The period's figures. Hits are counted on the day a listing was first seen."""
    until = until or m.utcnow()
    rows = _period_rows(session, since)
    hits_per_day: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    verdicts: Counter[str] = Counter()
    triage: Counter[str] = Counter()
    hits_total = 0
    for row in rows.values():
        verdicts[row.verdict] += 1
        if row.verdict in HIT_VERDICTS or row.triage_state == "confirmed":
            hits_total += 1
            triage[row.triage_state] += 1
            if row.first_seen >= since:
                hits_per_day[row.marketplace][row.first_seen.date()] += 1
    # A period longer than a year charts its last 366 days: the recent hits are the ones to show.
    n_days = max(1, min(366, (until.date() - since.date()).days + 1))
    days = [until.date() - dt.timedelta(days=n_days - 1 - i) for i in range(n_days)]

    cases = list(session.scalars(select(m.Case)))
    events: dict[int, list[m.CaseEvent]] = defaultdict(list)
    for ev in session.scalars(select(m.CaseEvent).order_by(m.CaseEvent.id)):
        events[ev.case_id].append(ev)
    by_state = Counter(c.state for c in cases)
    filed = decided = removed = relists = 0
    durations: list[float] = []
    for case in cases:
        evs = events.get(case.id, [])
        filed_at = next((e.at for e in evs if e.to_state in FILED_STATES), None)
        removed_at = next((e.at for e in evs if e.to_state in REMOVED_STATES), None)
        if case.relist_of is not None and case.created_at >= since:
            relists += 1
        if filed_at is None or filed_at < since:
            continue
        filed += 1
        if removed_at is not None:
            durations.append((removed_at - filed_at).total_seconds() / 86400)
        outcome = next((e.to_state for e in reversed(evs) if e.to_state in OUTCOMES), None)
        if outcome is not None:
            decided += 1
            removed += outcome in REMOVED_STATES
    clean_terms = cleanliness(session, since, rows)
    return Summary(
        since=since,
        until=until,
        days=days,
        hits_per_day={k: dict(v) for k, v in hits_per_day.items()},
        hits_total=hits_total,
        verdicts=dict(verdicts),
        triage=dict(triage),
        cases_by_state=dict(by_state),
        filed=filed,
        decided=decided,
        removed=removed,
        takedown_rate=(removed / decided) if decided else None,
        median_days_to_removal=round(statistics.median(durations), 2) if durations else None,
        relists=relists,
        cleanliness=(statistics.fmean(s for _, s, _ in clean_terms) if clean_terms else None),
        cleanliness_by_term=clean_terms,
    )


def cleanliness(
    session: Session, since: dt.datetime, rows: dict[int, _Row] | None = None
) -> list[tuple[str, float, int]]:
    """Per search term: the share of its top results that are clean, over all marketplaces.

    Clean means the newest verdict is `clear`, or an analyst dismissed it as a false
    positive. The top results are, on each marketplace, the first sightings of the
    term in that marketplace's latest run, in the order the marketplace listed them.
    """
    rows = rows if rows is not None else _period_rows(session, since)
    by_term: dict[str, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    sightings_stmt = (
        select(m.Sighting.search_term, m.Listing.marketplace, m.Sighting.run_id, m.Sighting.listing_pk)
        .join(m.Listing, m.Listing.id == m.Sighting.listing_pk)
        .where(m.Sighting.seen_at >= since, m.Sighting.search_term.is_not(None))
        .order_by(m.Sighting.id)
    )
    for term, market, run_id, listing_pk in session.execute(sightings_stmt):
        by_term[term or ""][market].append((run_id or 0, listing_pk))
    out: list[tuple[str, float, int]] = []
    for term, markets in sorted(by_term.items()):
        top: list[int] = []
        # Each marketplace is crawled in runs of its own: its latest one speaks for it.
        for sightings in markets.values():
            last_run = max(run for run, _ in sightings)
            firsts = list(dict.fromkeys(pk for run, pk in sightings if run == last_run))
            top.extend(firsts[:TOP_RESULTS])
        if not top:
            continue
        clean = sum(
            1 for pk in top
            if pk in rows and (rows[pk].verdict == "clear" or rows[pk].triage_state == "dismissed")
        )
        out.append((term, clean / len(top), len(top)))
    return out


# ---------------------------------------------------------------- charts


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def line_chart(
    series: dict[str, dict[dt.date, int]], days: list[dt.date], *, title: str, width: int = 640, height: int = 240
) -> str:
    """One line per series over the days, with axes and a legend, as an SVG string."""
    left, right, top, bottom = 40, 130, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    # Round the top up to a multiple of 4 so the five grid lines fall on whole numbers.
    top_value = max([1, *(v for per in series.values() for v in per.values())])
    peak = 4 * -(-top_value // 4)
    n = max(1, len(days) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top + plot_h * (1 - v / peak)

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{_e(title)}">'
        ),
        f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="#111827">{_e(title)}</text>',
    ]
    for k in range(5):
        v = peak * k / 4
        _, y = xy(0, v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#6b7280">{v:.0f}</text>')
    step = max(1, len(days) // 6)
    for i, day in enumerate(days):
        if i % step == 0 or i == len(days) - 1:
            x, _ = xy(i, 0)
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 16}" font-size="10" text-anchor="middle" fill="#6b7280">'
                f"{day.strftime('%m-%d')}</text>"
            )
    if not series:
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" font-size="12" text-anchor="middle" '
            'fill="#6b7280">no hits in this period</text>'
        )
    for idx, (name, per) in enumerate(sorted(series.items())):
        color = PALETTE[idx % len(PALETTE)]
        points = " ".join("{:.1f},{:.1f}".format(*xy(i, per.get(day, 0))) for i, day in enumerate(days))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        for i, day in enumerate(days):
            if per.get(day):
                x, y = xy(i, per[day])
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{_e(name)} {day}: {per[day]}</title></circle>')
        ly = top + 12 + idx * 16
        parts.append(f'<rect x="{left + plot_w + 12}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{left + plot_w + 27}" y="{ly}" font-size="11" fill="#111827">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(items: list[tuple[str, float]], *, title: str, width: int = 420, fmt: str = "{:.0f}",
              colors: dict[str, str] | None = None, max_value: float | None = None) -> str:
    """Horizontal bars with their values, as an SVG string."""
    row, left, top = 22, 120, 28
    height = top + row * max(1, len(items)) + 10
    peak = max_value or max([1e-9, *(v for _, v in items)])
    plot_w = width - left - 60
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{_e(title)}">'
        ),
        f'<text x="0" y="16" font-size="13" font-weight="600" fill="#111827">{_e(title)}</text>',
    ]
    if not items:
        parts.append(f'<text x="{left}" y="{top + 14}" font-size="12" fill="#6b7280">nothing yet</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = max(1.0, plot_w * (value / peak)) if value else 0
        color = (colors or {}).get(label, PALETTE[i % len(PALETTE)])
        short = label if len(label) <= 18 else label[:17] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 14}" font-size="11" text-anchor="end" fill="#111827">{_e(short)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" rx="2" fill="{color}"><title>{_e(label)}</title></rect>')
        parts.append(f'<text x="{left + w + 5:.1f}" y="{y + 14}" font-size="11" fill="#374151">{_e(fmt.format(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


TRIAGE_COLORS = {"confirmed": "#dc2626", "dismissed": "#16a34a", "new": "#2563eb"}


def charts(s: Summary) -> dict[str, str]:
    """The dashboard's and the report's charts, as SVG strings."""
    return {
        "hits": line_chart(s.hits_per_day, s.days, title="Hits per marketplace per day (first seen)"),
        "triage": bar_chart(
            [(k, float(s.triage.get(k, 0))) for k in ("confirmed", "dismissed", "new")],
            title="Confirmed vs dismissed", colors=TRIAGE_COLORS,
        ),
        "cases": bar_chart(sorted(((k, float(v)) for k, v in s.cases_by_state.items()), key=lambda kv: -kv[1]),
                           title="Cases by state"),
        "cleanliness": bar_chart(
            [(t, 100 * share) for t, share, _ in s.cleanliness_by_term[:15]],
            title="Clean share of top results per search term (%)", fmt="{:.0f}%", max_value=100,
        ),
    }


# ---------------------------------------------------------------- reports


def thumbnail_data_uri(path: str | Path | None, size: int = 120) -> str | None:
    """A small JPEG of a local image as a data: URI, or None when it cannot be read."""
    from PIL import Image

    if not path:
        return None
    try:
        with Image.open(path) as img:
            img.draft("RGB", (size * 2, size * 2))  # cheap decode of big JPEGs
            img = img.convert("RGB")
            img.thumbnail((size, size))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=80)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # a broken or hostile image must not break the report
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class Report:
    title: str
    generated_at: dt.datetime
    summary: Summary
    hits: list[dict[str, Any]]
    cases: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "generated_at": self.generated_at.isoformat() + "Z",
            "summary": self.summary.to_json(),
            "hits": [{k: v for k, v in h.items() if k != "thumbnail"} for h in self.hits],
            "cases": self.cases,
        }


def build_report(
    session: Session, since: dt.datetime, *, client: Client | None = None, limit: int = 500, thumbnails: bool = True
) -> Report:
    """The period's hits (best score first) and cases, with figures and thumbnails."""
    from crawler.web.queries import case_json, listing_json, with_newest_assessment

    s = summary(session, since)
    found = session.execute(
        with_newest_assessment()
        .where(
            m.Listing.last_seen >= since,
            (m.AssessmentRow.verdict.in_(HIT_VERDICTS)) | (m.Listing.triage_state == "confirmed"),
        )
        .order_by(m.AssessmentRow.score.desc(), m.Listing.id)
        .limit(limit)
    )
    hits: list[dict[str, Any]] = [{**listing_json(listing, a), "thumbnail": None} for listing, a in found]
    if thumbnails:
        for h in hits:
            images = session.scalars(
                select(m.ListingImage).where(m.ListingImage.listing_pk == h["pk"]).order_by(m.ListingImage.position)
            )
            for img in images:
                h["thumbnail"] = thumbnail_data_uri(img.path)
                if h["thumbnail"]:
                    break
    cases = [
        case_json(c) for c in session.scalars(select(m.Case).where(m.Case.updated_at >= since).order_by(m.Case.id))
    ]
    name = client.client.name if client else "markwatch"
    return Report(
        title=f"{name}: marketplace monitoring report, {s.since.date()} to {s.until.date()}",
        generated_at=m.utcnow(),
        summary=s,
        hits=hits,
        cases=cases,
    )


CSV_FIELDS = (
    "id", "marketplace", "title", "url", "price", "currency", "seller_id", "seller_name", "score", "verdict",
    "mark_id", "triage_state", "triage_label", "first_seen", "last_seen", "signals",
)


def render_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    for h in report.hits:
        row = []
        for key in CSV_FIELDS:
            value = h.get(key)
            if key == "signals":
                value = "; ".join(f"{s.get('kind')} {s.get('score')}: {s.get('detail')}" for s in value or [])
            elif isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
                # A listing title must not run as a spreadsheet formula.
                value = "'" + value
            row.append("" if value is None else value)
        writer.writerow(row)
    return buf.getvalue()


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), ensure_ascii=False, indent=2)


def render_html(report: Report) -> str:
    """One self-contained HTML file: inline CSS, inline SVG charts, data: URI thumbnails."""
    from crawler.web.templating import environment

    css = (Path(__file__).parent / "web" / "static" / "app.css").read_text(encoding="utf-8")
    template = environment().get_template("report.html")
    return template.render(report=report, s=report.summary, charts=charts(report.summary), css=css)


FORMATS = {"html": render_html, "csv": render_csv, "json": render_json}


def write_report(
    db_url: str, path: str | Path | None, *, client: Client | None = None, fmt: str = "html", since: str = "7d",
) -> tuple[Report, str]:
    """Build the report of the period from the store and write it (atomically) to path.

    With path None nothing is written; the text is returned either way.
    """
    from crawler.db import session_scope

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ReportError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    start = parse_since(since)
    with session_scope(db_url) as session:
        built = build_report(session, start, client=client, thumbnails=(fmt == "html"))
        text = FORMATS[fmt](built)
    if path is not None:
        # A byte-order mark tells spreadsheet programs the CSV is UTF-8 (Chinese titles).
        write_whole(Path(path), (("\ufeff" if fmt == "csv" else "") + text).encode("utf-8"))
    return built, text
