"""Scoring a JSON Lines file of listings (CONTRACT.md sections 2 and 3), streamed.

Lines are read one at a time, grouped into chunks and scored by a pool of worker
processes (one per core) sharing one `Matcher`, built before they are forked;
results are written in input order while later chunks are still being scored, so
memory stays bounded whatever the file's size. A bad line is reported with its
line number and skipped.

A photo is matched once per file, not once per worker: the workers keep what
they found in a photo in one small SQLite file (`SharedPhotoStore`) behind
their in-memory caches, so a photo that another worker has already matched
costs a lookup.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from matching.types import ListingInput

CHUNK = 48  # listings per task: large enough to amortise the hand-over, small for even load

_worker_matcher = None


class SharedPhotoStore:
    """Photo findings shared by the processes of one scoring run (a `PhotoStore`).

    One SQLite file in a temporary folder; each process opens its own
    connection. Two workers meeting the same new photo at once both match it
    and the second write replaces the first with the same findings. Nothing
    here needs to survive the run, so writes are not synced to disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def create(self) -> None:
        with sqlite3.connect(self.path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS photo (sha256 TEXT PRIMARY KEY, signals TEXT)")

    def _db(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # a forked copy opens its own
            self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._conn.execute("PRAGMA synchronous=OFF")
            self._pid = os.getpid()
        return self._conn

    def load(self, sha256: str) -> list[dict[str, Any]] | None:
        row = self._db().execute("SELECT signals FROM photo WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else json.loads(row[0])

    def save(self, sha256: str, signals: list[dict[str, Any]]) -> None:
        self._db().execute(
            "INSERT OR REPLACE INTO photo (sha256, signals) VALUES (?, ?)",
            (sha256, json.dumps(signals, ensure_ascii=False)),
        )

    def __getstate__(self) -> dict[str, Any]:  # sent to spawned workers: the path only
        return {"path": self.path, "_conn": None, "_pid": 0}


@dataclass(slots=True)
class BatchStats:
    read: int = 0
    scored: int = 0
    bad: int = 0
    errors: int = 0


class InputError(Exception):
    """The listings file cannot be read at all (one line for the user)."""


def _parse(
    lines: Iterator[tuple[int, bytes]],
    base: Path,
    warn: Callable[[str], None],
    name: str,
    stats: BatchStats,
) -> Iterator[tuple[int, dict[str, Any]]]:
    seen: set[str] = set()
    for n, raw in lines:
        stats.read += 1
        if not raw.strip():
            continue
        try:
            # A byte-order mark (files saved by spreadsheet tools) is not part of the JSON.
            # (without its line break, so that an error's column is on this line)
            text = raw.decode("utf-8-sig" if n == 1 else "utf-8").rstrip("\r\n")
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            if "id" not in data or data["id"] in (None, ""):
                raise ValueError("missing required key 'id'")
            if data.get("title") is None:
                raise ValueError("missing required key 'title'")
            if not isinstance(data["title"], str):
                raise ValueError(f"'title' must be text, got {type(data['title']).__name__} {data['title']!r}")
            if data.get("price") is not None:
                try:
                    float(data["price"])
                except (TypeError, ValueError):
                    raise ValueError(f"'price' must be a number, got {data['price']!r}") from None
            images = data.get("images")
            if images is not None and not isinstance(images, list):
                raise ValueError("'images' must be a list of paths or URLs")
        except UnicodeDecodeError:
            stats.bad += 1
            warn(f"{name}:{n}: skipped: not UTF-8 text")
            continue
        except json.JSONDecodeError as exc:
            stats.bad += 1
            warn(f"{name}:{n}: skipped: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        except (ValueError, TypeError) as exc:
            stats.bad += 1
            warn(f"{name}:{n}: skipped: {exc}")
            continue
        lid = str(data["id"])
        if lid in seen:
            warn(f"{name}:{n}: duplicate id {lid!r}; scored again")
        if len(seen) < 2_000_000:
            seen.add(lid)
        yield n, data


def single_threaded_opencv() -> int | None:
    """One process per core already: OpenCV's own threads would only compete."""
    try:
        import cv2
    except ImportError:
        return None
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    return before


def single_threaded_blas() -> None:
    """The BLAS behind matrix products (logo matching) runs threads of its own,
    which spin between calls and take the other workers' cores: one per process."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def _init_worker(config: str, images: bool, photos: SharedPhotoStore | None = None) -> None:
    global _worker_matcher
    if images:
        single_threaded_opencv()
        single_threaded_blas()  # in the worker only: the parent keeps its own setting
    if _worker_matcher is None:  # else built once by the parent and inherited through fork
        from crawler.config import load_client
        from matching.score import Matcher

        _worker_matcher = Matcher(load_client(config), images=images, fetch_urls=True)
    if photos is not None and _worker_matcher.images is not None:
        # This process's copy of the cache; the parent's stays as it was.
        _worker_matcher.images.cache.store = photos


def _score_chunk(
    chunk: list[tuple[int, dict[str, Any]]], base: str, matcher=None
) -> list[tuple[str, list[str]]]:
    """Score a chunk; returns (output line, warnings) per listing, in order."""
    m = matcher or _worker_matcher
    out: list[tuple[str, list[str]]] = []
    for n, data in chunk:
        warnings: list[str] = []
        try:
            listing = ListingInput.from_dict(data, Path(base))
            result = m.assess(listing).to_json()
        except Exception as exc:  # one listing's failure must not lose the rest
            warnings.append(
                f"line {n}: scoring failed ({exc.__class__.__name__}: {exc}); written as clear"
            )
            result = {
                "id": str(data.get("id")),
                "score": 0.0,
                "verdict": "clear",
                "mark_id": None,
                "signals": [
                    {
                        "kind": "error",
                        "score": 0.0,
                        "detail": f"not scored: {exc.__class__.__name__}",
                    }
                ],
            }
        out.append((json.dumps(result, ensure_ascii=False), warnings))
    return out


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            yield n, raw


def check_input(listings: str | os.PathLike[str]) -> Path:
    """The listings file, or InputError with one line when it cannot be read."""
    path = Path(listings)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: expected a JSON Lines file, found a directory or special file")
    try:
        path.open("rb").close()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    return path


def score_file(
    config: str | os.PathLike[str],
    listings: str | os.PathLike[str],
    out: IO[str],
    *,
    workers: int = 0,
    images: bool = True,
    warn: Callable[[str], None] | None = None,
    matcher=None,
) -> BatchStats:
    """Score every listing of a JSONL file into `out`, one line each, in input order.

    `matcher` (already built for the same client) is used in-process for small
    inputs; larger inputs fan out to `workers` processes (0 = all cores), which
    share one matcher built here where processes are forked.
    """
    global _worker_matcher
    warn = warn or (lambda m: print(m, file=sys.stderr))
    path = check_input(listings)
    base = str(path.resolve().parent)
    stats = BatchStats()
    items = _parse(_lines(path), Path(base), warn, str(path), stats)
    workers = workers or os.cpu_count() or 1

    def emit(results: list[tuple[str, list[str]]]) -> None:
        for line, warnings in results:
            for w in warnings:
                stats.errors += 1
                warn(f"{path}:{w}")
            out.write(line + "\n")
            stats.scored += 1

    first: list[tuple[int, dict[str, Any]]] = []
    for item in items:
        first.append(item)
        if len(first) >= CHUNK * 2:
            break
    if len(first) < CHUNK * 2 or workers == 1:
        # Small input (or one core): no pool to start.
        if matcher is None:
            from crawler.config import load_client
            from matching.score import Matcher

            matcher = Matcher(load_client(config), images=images, fetch_urls=True)
        emit(_score_chunk(first, base, matcher))
        chunk: list[tuple[int, dict[str, Any]]] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= CHUNK:
                emit(_score_chunk(chunk, base, matcher))
                chunk = []
        if chunk:
            emit(_score_chunk(chunk, base, matcher))
        return stats

    ctx = mp.get_context("spawn" if sys.platform != "linux" else "fork")
    pending: deque[Future] = deque()
    max_pending = workers * 4
    threads = None
    if ctx.get_start_method() == "fork":
        # Build the matcher (image index included) once here: forked workers share
        # it instead of each spending seconds of CPU building its own copy.
        threads = single_threaded_opencv() if images else None
        if matcher is None:
            from crawler.config import load_client
            from matching.score import Matcher

            matcher = Matcher(load_client(config), images=images, fetch_urls=True)
        _worker_matcher = matcher
    tmp = photos = None
    if images:
        try:
            tmp = tempfile.TemporaryDirectory(prefix="markwatch-score-")
            photos = SharedPhotoStore(Path(tmp.name) / "photos.db")
            photos.create()
        except (OSError, sqlite3.Error) as exc:  # each worker then matches photos on its own
            warn(f"photo findings not shared between workers: {exc}")
            photos = None
    try:
        with ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(str(config), images, photos),
        ) as pool:

            def submit(chunk: list[tuple[int, dict[str, Any]]]) -> None:
                pending.append(pool.submit(_score_chunk, chunk, base))
                while len(pending) >= max_pending:
                    emit(pending.popleft().result())

            submit(first[:CHUNK])
            submit(first[CHUNK:])
            chunk = []
            for item in items:
                chunk.append(item)
                if len(chunk) >= CHUNK:
                    submit(chunk)
                    chunk = []
            if chunk:
                submit(chunk)
            while pending:
                emit(pending.popleft().result())
    finally:
        _worker_matcher = None
        if tmp is not None:
            tmp.cleanup()
        if threads is not None:
            import cv2

            cv2.setNumThreads(threads)
    return stats
