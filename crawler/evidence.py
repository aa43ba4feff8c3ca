"""Evidence of a listing: what its page looked like, when, and proof nobody changed it since.

A capture loads the listing page in Chromium (Playwright) and keeps four files: a
full-page PNG screenshot, the raw HTML exactly as the server sent it, the DOM after
scripts ran, and a JSON record of the request (URLs, status, headers, time). Each
file is stored once under its SHA-256 (`<evidence_dir>/sha256/ab/cdef...`), so a file
that changes no longer matches its name.

Every file gets a row in the `evidence` table. The rows form a hash chain (the
manifest): each row's `entry_hash` commits to the previous row's hash and to its
own listing, kind, URL, capture time and file hash, so removing or editing a row
breaks the chain. After each commit the entries are also appended to
`<evidence_dir>/manifest.jsonl`, which catches rows removed from the end of the
chain. `verify` checks all of it; `markwatch evidence verify` prints the result.

The browser runs on its own thread (Playwright's sync API is bound to the thread
that started it), so an `EvidenceBrowser` can be shared by a whole run and called
from plain code or, through `snapshot_async`, from a running event loop. Every
connection the browser opens, redirects and WebSockets included, goes through the
SSRF guard proxy of `crawler.netguard`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from crawler import models as m
from crawler.files import write_whole
from crawler.netguard import GuardProxy, check_url, host_of
from crawler.settings import CHROMIUM_ARGS, DEFAULT_CHROMIUM

MANIFEST = "manifest.jsonl"
KINDS = ("screenshot", "html", "dom", "meta")
# Stored files carry no extension (they are named by hash); copies handed out get one.
SUFFIX = {"screenshot": ".png", "html": ".html", "dom": ".html", "meta": ".json"}
_MEDIA = {
    "screenshot": "image/png",
    "html": "text/html",
    "dom": "text/html",
    "meta": "application/json",
}
_PENDING = "markwatch.evidence.pending"
# PostgreSQL: one advisory lock id serialises appends to the chain across processes.
_PG_CHAIN_LOCK = 0x6D61726B


class EvidenceError(RuntimeError):
    """A capture that failed (page did not load, browser missing); the message says why."""


def chromium_path() -> str:
    """The Chromium binary: MARKWATCH_CHROMIUM, else Debian's /usr/bin/chromium."""
    return os.environ.get("MARKWATCH_CHROMIUM") or DEFAULT_CHROMIUM


def default_dir(db_url: str | None = None) -> Path:
    """The evidence folder: MARKWATCH_EVIDENCE_DIR, else where `markwatch run` keeps it
    for that store (`<store>-data/evidence` beside a SQLite file), else ./evidence."""
    if os.environ.get("MARKWATCH_EVIDENCE_DIR"):
        return Path(os.environ["MARKWATCH_EVIDENCE_DIR"])
    if db_url:
        try:
            from crawler.monitor import data_dir_for
        except ImportError:
            return Path("evidence")
        return data_dir_for(db_url) / "evidence"
    return Path("evidence")


# ---------------------------------------------------------------- browser side


@dataclass(frozen=True)
class Artifact:
    """One captured file, still in memory."""

    kind: str
    data: bytes


@dataclass
class Snapshot:
    """What the browser saw of one URL; no database or files involved yet."""

    requested_url: str
    final_url: str
    status: int | None
    captured_at: dt.datetime  # naive UTC, like every time in the store
    artifacts: list[Artifact]
    blocked: list[str] = field(default_factory=list)


class EvidenceBrowser:
    """Chromium launched once and reused for many captures.

    Example::

        with EvidenceBrowser(allow_hosts={"127.0.0.1"}) as browser:
            for listing in hits:
                capture(session, listing, evidence_dir, browser=browser)
    """

    def __init__(
        self,
        *,
        allow_hosts: Iterable[str] = (),
        executable_path: str | None = None,
        timeout_s: float = 30.0,
        viewport: tuple[int, int] = (1366, 900),
        user_agent: str | None = None,
        settle_ms: int = 1500,
    ) -> None:
        self.allow_hosts = frozenset(h.lower() for h in allow_hosts)
        self.executable_path = executable_path or chromium_path()
        self.timeout_ms = int(timeout_s * 1000)
        self.viewport = viewport
        self.user_agent = user_agent
        self.settle_ms = settle_ms
        self._pool: ThreadPoolExecutor | None = None
        self._pw: Any = None
        self._browser: Any = None
        self._proxy: GuardProxy | None = None
        self._lock = threading.Lock()

    # The pool has one thread: every Playwright call happens on it.
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        with self._lock:
            if self._pool is not None:
                return
            if not Path(self.executable_path).exists():
                raise EvidenceError(
                    f"Chromium not found at {self.executable_path}; install Debian's chromium "
                    "or set MARKWATCH_CHROMIUM to its path"
                )
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="markwatch-evidence")
            try:
                self._pool.submit(self._launch).result()
            except BaseException:
                self._pool.shutdown(wait=True)
                self._pool = None
                raise

    def _launch(self) -> None:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        # Every connection of the browser goes through the guard proxy, loopback included.
        if self._proxy is None:
            self._proxy = GuardProxy(self.allow_hosts, timeout_s=self.timeout_ms / 1000).start()
        if self._pw is None:
            self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=self.executable_path,
                headless=True,
                args=list(CHROMIUM_ARGS),
                # Playwright adds "<-loopback>": loopback hosts go through the proxy too.
                proxy={"server": self._proxy.url},
            )
        except PlaywrightError as exc:
            self._shutdown()
            raise EvidenceError(
                f"cannot start Chromium at {self.executable_path}: {_first_line(exc)}"
            ) from None

    def _shutdown(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            self._browser = None
            if self._pw is not None:
                self._pw.stop()
                self._pw = None
            if self._proxy is not None:
                self._proxy.close()
                self._proxy = None

    def close(self) -> None:
        with self._lock:
            if self._pool is None:
                return
            try:
                self._pool.submit(self._shutdown).result()
            finally:
                self._pool.shutdown(wait=True)
                self._pool = None

    def submit(self, url: str, allow_hosts: Iterable[str] = ()) -> Future[Snapshot]:
        """Start a snapshot on the browser thread; the future holds it or the error."""
        if self._pool is None:
            self.start()
        assert self._pool is not None
        allow = self.allow_hosts | {h.lower() for h in allow_hosts}
        return self._pool.submit(self._snapshot, url, allow)

    def snapshot(self, url: str, allow_hosts: Iterable[str] = ()) -> Snapshot:
        """Load `url` and capture it (blocks until done)."""
        return self.submit(url, allow_hosts).result()

    async def snapshot_async(self, url: str, allow_hosts: Iterable[str] = ()) -> Snapshot:
        """`snapshot` for code running in an event loop: the loop keeps running meanwhile."""
        return await asyncio.wrap_future(self.submit(url, allow_hosts))

    def _snapshot(self, url: str, allow: frozenset[str]) -> Snapshot:
        from playwright.sync_api import Error as PlaywrightError

        check_url(url, allow)
        if self._browser is None or not self._browser.is_connected():
            # A crashed browser costs one page, not the rest of the run.
            self._browser = None
            self._launch()
        assert self._proxy is not None
        # Snapshots run one at a time on this thread, so the proxy's list is this page's.
        self._proxy.allow_hosts = allow
        self._proxy.blocked = []
        context = self._browser.new_context(
            viewport={"width": self.viewport[0], "height": self.viewport[1]},
            user_agent=self.user_agent,
            service_workers="block",
            accept_downloads=False,
        )
        try:
            context.set_default_timeout(self.timeout_ms)
            page = context.new_page()
            hops: list[str] = []
            page_hosts: set[str | None] = set()
            page.on("request", lambda r: page_hosts.add(host_of(r.url)))
            page.on(
                "request",
                lambda r: (
                    hops.append(r.url)
                    if r.is_navigation_request() and r.frame == page.main_frame
                    else None
                ),
            )
            captured_at = m.utcnow()
            try:
                response = page.goto(url, wait_until="load")
            except PlaywrightError as exc:
                # A hop of the navigation (a redirect) refused by the proxy ends
                # here as a failed load: name the refusal, not the symptom.
                for hop_url in hops:
                    check_url(hop_url, allow)
                raise EvidenceError(f"{url}: page did not load ({_first_line(exc)})") from None
            if response is None:
                raise EvidenceError(f"{url}: no response for the page")
            # The proxy refused any hop to a forbidden host (the browser got a 403
            # from it); say so instead of keeping a capture of the refusal.
            hop = response.request
            while hop is not None:
                check_url(hop.url, allow)
                hop = hop.redirected_from
            try:
                page.wait_for_load_state("networkidle", timeout=self.settle_ms)
            except PlaywrightError:
                pass  # pages that poll forever still get captured
            final_url = page.url
            raw = response.body()
            dom = page.content().encode("utf-8")
            png = page.screenshot(full_page=True, type="png", animations="disabled")
            # The page's own refused requests (the browser's background calls are not evidence).
            blocked = [r.reason for r in self._proxy.blocked if r.host in page_hosts]
            meta = {
                "requested_url": url,
                "final_url": final_url,
                "status": response.status,
                "headers": response.headers,
                "captured_at": captured_at.isoformat(timespec="microseconds") + "Z",
                "viewport": list(self.viewport),
                "user_agent": page.evaluate("navigator.userAgent"),
                "blocked_requests": blocked,
            }
            meta_bytes = json.dumps(meta, sort_keys=True, ensure_ascii=False, indent=1).encode(
                "utf-8"
            )
            return Snapshot(
                requested_url=url,
                final_url=final_url,
                status=response.status,
                captured_at=captured_at,
                artifacts=[
                    Artifact("screenshot", png),
                    Artifact("html", raw),
                    Artifact("dom", dom),
                    Artifact("meta", meta_bytes),
                ],
                blocked=blocked,
            )
        finally:
            context.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ---------------------------------------------------------------- content-addressed store


def blob_path(sha256: str) -> str:
    """Where a file with this hash lives, relative to the evidence folder."""
    return f"sha256/{sha256[:2]}/{sha256[2:]}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def store_blob(evidence_dir: Path, data: bytes) -> tuple[str, str]:
    """Write `data` under its SHA-256 (once); returns (sha256, relative path)."""
    sha = hashlib.sha256(data).hexdigest()
    rel = blob_path(sha)
    target = Path(evidence_dir) / rel
    if target.is_file() and sha256_file(target) == sha:
        return sha, rel
    write_whole(target, data, mode=0o444, durable=True)  # evidence is read-only
    return sha, rel


# ---------------------------------------------------------------- the chain


def entry_hash(
    prev_hash: str | None,
    listing_key: str,
    kind: str,
    url: str,
    captured_at: dt.datetime,
    sha256: str,
) -> str:
    """sha256 of the previous entry's hash and this entry's fields, one per line."""
    fields = [prev_hash or "", listing_key, kind, url, _iso(captured_at), sha256]
    return hashlib.sha256("\n".join(fields).encode("utf-8")).hexdigest()


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _lock_chain(session: Session) -> None:
    """Serialise appends so two writers never fork the chain."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
    elif dialect == "sqlite":
        # Take SQLite's write lock before reading the chain's head; a second
        # writer waits (busy_timeout) instead of reading a head about to change.
        session.execute(text("UPDATE evidence SET id = id WHERE 0"))


def _manifest_entry(row: m.Evidence, listing_key: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "listing": listing_key,
        "kind": row.kind,
        "url": row.url,
        "captured_at": _iso(row.captured_at),
        "sha256": row.sha256,
        "path": row.path,
        "prev_hash": row.prev_hash,
        "entry_hash": row.entry_hash,
    }


def _queue_manifest(session: Session, evidence_dir: Path, entries: list[dict[str, Any]]) -> None:
    """Append the entries to the manifest file once the transaction commits."""
    pending: dict[str, list[dict[str, Any]]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = {}
        session.info[_PENDING] = pending

        @event.listens_for(session, "after_commit")
        def _write(sess: Session) -> None:
            queued = sess.info.pop(_PENDING, None) or {}
            for folder, items in queued.items():
                _append_manifest(Path(folder), items)

        @event.listens_for(session, "after_rollback")
        def _drop(sess: Session) -> None:
            sess.info.pop(_PENDING, None)

    pending.setdefault(str(evidence_dir), []).extend(entries)


def _append_manifest(evidence_dir: Path, entries: list[dict[str, Any]]) -> None:
    if not entries:
        return
    evidence_dir.mkdir(parents=True, exist_ok=True)
    data = "".join(
        json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in entries
    ).encode("utf-8")
    fd = os.open(evidence_dir / MANIFEST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)  # one append: concurrent writers do not interleave lines
        os.fsync(fd)
    finally:
        os.close(fd)


def check_status(snapshot: Snapshot) -> None:
    """Raise `EvidenceError` when the page answered with an HTTP error status (4xx or 5xx)."""
    status = snapshot.status
    if status is not None and status >= 400:
        try:
            phrase = " " + HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        raise EvidenceError(
            f"{snapshot.final_url}: the page answered HTTP {status}{phrase}; not kept as evidence"
        )


def record(
    session: Session, listing: m.Listing, snapshot: Snapshot, evidence_dir: Path
) -> list[m.Evidence]:
    """Store a snapshot's files and append their rows to the chain (in the caller's transaction).

    Raises `EvidenceError` for a page that answered with an HTTP error status: a
    "not found" or "forbidden" page shows nothing of the listing. Nothing is stored then.
    """
    check_status(snapshot)
    evidence_dir = Path(evidence_dir)
    stored = [(a.kind, *store_blob(evidence_dir, a.data)) for a in snapshot.artifacts]
    _lock_chain(session)
    head = session.scalars(select(m.Evidence).order_by(m.Evidence.id.desc()).limit(1)).first()
    prev = head.entry_hash if head is not None else None
    rows: list[m.Evidence] = []
    entries: list[dict[str, Any]] = []
    key = listing.key
    for kind, sha, rel in stored:
        row = m.Evidence(
            listing_pk=listing.id,
            kind=kind,
            url=snapshot.final_url,
            captured_at=snapshot.captured_at,
            sha256=sha,
            path=rel,
            prev_hash=prev,
            entry_hash=entry_hash(prev, key, kind, snapshot.final_url, snapshot.captured_at, sha),
        )
        session.add(row)
        session.flush()
        rows.append(row)
        entries.append(_manifest_entry(row, key))
        prev = row.entry_hash
    _queue_manifest(session, evidence_dir, entries)
    return rows


def capture(
    session: Session,
    listing: m.Listing,
    evidence_dir: Path,
    *,
    browser: EvidenceBrowser | None = None,
    allow_hosts: Iterable[str] = (),
) -> list[m.Evidence]:
    """Capture a listing's page and record it: screenshot, raw HTML, DOM and request record.

    Raises `UnsafeURL` when the URL (or a redirect) points somewhere the guard refuses,
    `EvidenceError` when the page cannot be captured or answered with an HTTP error
    status (the message names the status). Nothing is recorded then, so the listing
    has no evidence and a later capture tries again.
    """
    allow = set(allow_hosts)
    check_url(listing.url, allow | set(browser.allow_hosts if browser else ()))
    if browser is None:
        with EvidenceBrowser(allow_hosts=allow) as own:
            snap = own.snapshot(listing.url)
    else:
        snap = browser.snapshot(listing.url, allow)
    return record(session, listing, snap, evidence_dir)


def has_current_evidence(session: Session, listing: m.Listing) -> bool:
    """True when the listing's evidence was taken after its current content was first
    assessed, and after it came back if it is a relist (see `is_current`)."""
    taken = session.scalar(select(func.max(m.Evidence.captured_at)).where(m.Evidence.listing_pk == listing.id))
    if taken is None:
        return False
    current_since = session.scalar(
        select(func.min(m.AssessmentRow.created_at)).where(
            m.AssessmentRow.listing_pk == listing.id, m.AssessmentRow.content_hash == listing.content_hash
        )
    )
    return is_current(taken, current_since, session.scalar(_relisted_at(listing.id)))


def _relisted_at(listing_pk: Any) -> Any:
    """When the listing's newest relist case opened (a scalar select)."""
    return select(func.max(m.Case.created_at)).where(m.Case.listing_pk == listing_pk, m.Case.relist_of.is_not(None))


def evidence_times() -> Any:
    """(listing_pk, taken, current_since, relisted) per listing with evidence: when its
    newest evidence was taken, when its current content was first assessed, when it
    came back after a takedown (the rule of `has_current_evidence` for many listings in
    one query)."""
    taken = (
        select(m.Evidence.listing_pk, func.max(m.Evidence.captured_at).label("taken"))
        .group_by(m.Evidence.listing_pk)
        .subquery()
    )
    return (
        select(
            taken.c.listing_pk,
            taken.c.taken,
            func.min(m.AssessmentRow.created_at).label("current_since"),
            _relisted_at(taken.c.listing_pk).scalar_subquery().label("relisted"),
        )
        .join(m.Listing, m.Listing.id == taken.c.listing_pk)
        .outerjoin(
            m.AssessmentRow,
            (m.AssessmentRow.listing_pk == m.Listing.id) & (m.AssessmentRow.content_hash == m.Listing.content_hash),
        )
        .group_by(taken.c.listing_pk, taken.c.taken)
    )


def is_current(
    taken: dt.datetime | None, current_since: dt.datetime | None, relisted: dt.datetime | None = None
) -> bool:
    """Evidence taken at `taken` shows what is on sale now: it is newer than the listing's
    current content (first assessed at `current_since`; a changed title or price needs a
    new capture) and than its return after a takedown (`relisted`: evidence from before
    the removal does not prove the relist)."""
    return taken is not None and all(t is None or taken >= t for t in (current_since, relisted))


def evidence_of(session: Session, listing: m.Listing) -> list[m.Evidence]:
    """A listing's evidence rows, oldest first."""
    return list(
        session.scalars(
            select(m.Evidence).where(m.Evidence.listing_pk == listing.id).order_by(m.Evidence.id)
        )
    )


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the evidence: `kind` is file-missing, file-altered,
    row-altered, chain-break or row-removed."""

    kind: str
    evidence_id: int | None
    message: str


@dataclass
class VerifyReport:
    checked: int = 0
    files: int = 0
    head: str | None = None
    problems: list[Problem] = field(default_factory=list)
    # Not tampering, but worth knowing (e.g. a crash between commit and manifest write).
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_manifest(path: Path, report: VerifyReport) -> dict[str, dict[str, Any]] | None:
    if not path.is_file():
        return None
    entries: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                entries[str(entry["entry_hash"])] = entry
            except (ValueError, KeyError, TypeError):
                report.problems.append(
                    Problem(
                        "manifest-altered",
                        None,
                        f"{path}:{n}: not a manifest entry (expected a JSON object)",
                    )
                )
    return entries


def verify(session: Session, evidence_dir: Path) -> VerifyReport:
    """Check every evidence row, its file and the chain; list what is wrong."""
    evidence_dir = Path(evidence_dir)
    report = VerifyReport()
    manifest = _read_manifest(evidence_dir / MANIFEST, report)
    stmt = (
        select(m.Evidence, m.Listing.marketplace, m.Listing.listing_id)
        .outerjoin(m.Listing, m.Listing.id == m.Evidence.listing_pk)
        .order_by(m.Evidence.id)
    )
    prev: str | None = None
    prev_id: int | None = None
    seen: set[str] = set()
    file_ok: dict[str, bool] = {}
    for row, marketplace, listing_id in session.execute(stmt):
        report.checked += 1
        key = f"{marketplace}:{listing_id}"
        if row.prev_hash != prev:
            after = f"entry #{prev_id}" if prev_id is not None else "the start of the chain"
            report.problems.append(
                Problem(
                    "chain-break",
                    row.id,
                    f"evidence #{row.id}: chain break after {after}: an entry was removed, inserted or reordered",
                )
            )
        expected = entry_hash(row.prev_hash, key, row.kind, row.url, row.captured_at, row.sha256)
        if expected != row.entry_hash:
            report.problems.append(
                Problem(
                    "row-altered",
                    row.id,
                    f"evidence #{row.id} ({key} {row.kind}): row altered, entry hash mismatch",
                )
            )
        if row.path != blob_path(row.sha256):
            report.problems.append(
                Problem(
                    "row-altered",
                    row.id,
                    f"evidence #{row.id}: path {row.path!r} does not match its hash",
                )
            )
        path = evidence_dir / blob_path(row.sha256)
        if row.sha256 not in file_ok:
            report.files += 1
            if not path.is_file():
                file_ok[row.sha256] = False
                report.problems.append(
                    Problem(
                        "file-missing",
                        row.id,
                        f"evidence #{row.id} ({key} {row.kind}): file missing: {path}",
                    )
                )
            elif sha256_file(path) != row.sha256:
                file_ok[row.sha256] = False
                report.problems.append(
                    Problem(
                        "file-altered",
                        row.id,
                        f"evidence #{row.id} ({key} {row.kind}): file altered, hash mismatch: {path}",
                    )
                )
            else:
                file_ok[row.sha256] = True
        if manifest is not None and row.entry_hash not in manifest:
            report.warnings.append(f"evidence #{row.id}: in the store but not in {MANIFEST}")
        seen.add(row.entry_hash)
        prev, prev_id = row.entry_hash, row.id
    report.head = prev
    if manifest is None:
        if report.checked:
            report.warnings.append(
                f"no {MANIFEST} in {evidence_dir}: removals at the end of the chain go unnoticed"
            )
    else:
        for digest, entry in manifest.items():
            if digest not in seen:
                report.problems.append(
                    Problem(
                        "row-removed",
                        entry.get("id"),
                        f"evidence #{entry.get('id')} ({entry.get('listing')} {entry.get('kind')}): "
                        f"in {MANIFEST} but removed from the store",
                    )
                )
    return report
