"""Item pipelines of a monitoring crawl, in order: normalise, images, store, assess, intake.

Each is a plain Scrapy component built by `from_crawler` and switched off by
`NotConfigured` when the run that started the crawl did not ask for it (a bare
crawl yields items only). They read what they need from settings that
`crawler.monitor` passes in: `MARKWATCH_DB`, `MARKWATCH_CONFIG`, `MARKWATCH_RUN_ID`,
`MARKWATCH_DATA_DIR`. Each step writes in its own transaction and every step can be
repeated: a crawl killed between two steps leaves whole listings, and the next cycle
finishes what was left (an unassessed listing is assessed then).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import queue
import re
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.http import Request
from scrapy.pipelines.files import FSFilesStore
from scrapy.pipelines.images import ImagesPipeline

from crawler import db, intake
from crawler.config import Client, load_client
from crawler.files import write_whole
from crawler.items import Listing
from crawler.parsing import clean_text, parse_price

log = logging.getLogger(__name__)

MAX_IMAGES = 4
MAX_IMAGE_BYTES = 8 * 1024 * 1024


def _drop(stats: Any, reason: str, detail: str) -> DropItem:
    if stats is not None:
        stats.inc_value(f"markwatch/dropped/{reason}")
    return DropItem(f"{reason}: {detail}")


class NormalisePipeline:
    """Clean titles, parse price text, make image URLs absolute, unique and few."""

    def __init__(self, max_images: int, stats: Any = None) -> None:
        self.max_images = max_images
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalisePipeline:
        return cls(crawler.settings.getint("MARKWATCH_MAX_IMAGES", MAX_IMAGES), crawler.stats)

    def process_item(self, item: Listing, spider: Any = None) -> Listing:
        item.title = clean_text(item.title or "")
        if not item.listing_id or not item.title:
            raise _drop(self.stats, "missing_title" if item.listing_id else "missing_id", repr(item.url))
        item.listing_id = str(item.listing_id).strip()
        if item.description:
            item.description = clean_text(item.description)
        if item.price is None and item.price_text:
            item.price, currency = parse_price(item.price_text, item.currency)
            item.currency = item.currency or currency
        if item.price is not None and (item.price < 0 or item.price != item.price):
            item.price = None
        if item.currency:
            item.currency = item.currency.upper()[:3]
        urls: list[str] = []
        for url in item.image_urls or []:
            url = str(url).strip()
            if url.startswith("//"):
                url = "https:" + url
            if re.match(r"^https?://", url) and url not in urls:
                urls.append(url)
        item.image_urls = urls[: self.max_images]
        return item


class AtomicFSFilesStore(FSFilesStore):
    """Scrapy's file store, writing each file whole or not at all.

    A crawl killed mid-write must not leave a truncated photo that the next crawl
    would take as already downloaded.
    """

    def persist_file(self, path: Any, buf: Any, info: Any, meta: Any = None, headers: Any = None) -> None:
        # Crawls of several marketplaces run at once and share the store: the same
        # photo URL may be saved by two of them at the same moment.
        write_whole(self._get_filesystem_path(path), buf.getvalue())


class ListingImagesPipeline(ImagesPipeline):
    """Download a listing's photos (size, type and count limits), then hash them.

    Scrapy's images pipeline does the fetching, caching and format checks; this
    adds the SSRF guard (only public hosts and the marketplace's own host), the
    SHA-256 of the stored file and perceptual hashes for relist and seller links.
    """

    MIN_WIDTH = 40
    STORE_SCHEMES = {**ImagesPipeline.STORE_SCHEMES, "": AtomicFSFilesStore, "file": AtomicFSFilesStore}

    def __init__(self, store_uri: str, *args: Any, allow_hosts: set[str] | None = None, **kwargs: Any) -> None:
        super().__init__(store_uri, *args, **kwargs)
        self.store_dir = Path(store_uri)
        self.allow_hosts = allow_hosts or set()
        # Scrapy reports a failed image as a bare FileException without its URL: keep both.
        self._requested: dict[int, list[str]] = {}
        self._failures: dict[str, str] = {}
        # Listings share photos: each stored file is read and hashed once per crawl.
        self._hashed: OrderedDict[tuple[str, int, int], dict[str, Any]] = OrderedDict()

    @classmethod
    def from_crawler(cls, crawler: Any) -> ListingImagesPipeline:
        if not crawler.settings.get("IMAGES_STORE"):
            raise NotConfigured("IMAGES_STORE not set")
        Path(crawler.settings["IMAGES_STORE"]).mkdir(parents=True, exist_ok=True)
        pipe = super().from_crawler(crawler)
        pipe.allow_hosts = set(crawler.settings.getlist("MARKWATCH_ALLOW_HOSTS"))
        return pipe

    @staticmethod
    def settings_for(data_dir: Path) -> dict[str, Any]:
        """The images pipeline's Scrapy settings for a store under `data_dir`."""
        return {
            "IMAGES_STORE": str(data_dir / "images"),
            "IMAGES_URLS_FIELD": "image_urls",
            "IMAGES_RESULT_FIELD": "images",
            "IMAGES_MIN_WIDTH": ListingImagesPipeline.MIN_WIDTH,
        }

    def get_media_requests(self, item: Any, info: Any) -> list[Request]:
        from crawler.netguard import UnsafeURL, check_url, host_of

        spider = getattr(info, "spider", None)
        allow = set(self.allow_hosts)
        base = getattr(spider, "base_url", None)
        if base and host_of(base):
            allow.add(host_of(base))
        requests = []
        for url in ItemAdapter(item).get("image_urls") or []:
            try:
                check_url(url, allow)
            except UnsafeURL as exc:
                log.warning("image refused: %s", exc)
                if self.crawler.stats is not None:
                    self.crawler.stats.inc_value("markwatch/images/refused_unsafe")
                continue
            requests.append(Request(url, meta={"download_maxsize": MAX_IMAGE_BYTES, "playwright": False}))
        self._requested[id(item)] = [r.url for r in requests]
        return requests

    def media_failed(self, failure: Any, request: Any, info: Any) -> Any:
        self._failures[request.url] = f"{failure.type.__name__}: {failure.value}"[:300]
        return super().media_failed(failure, request, info)

    def item_completed(self, results: list[tuple[bool, Any]], item: Any, info: Any) -> Any:
        import imagehash
        from PIL import Image

        images: list[dict[str, Any]] = []
        requested = self._requested.pop(id(item), [])
        for n, (ok, result) in enumerate(results):
            if not ok:
                reason = getattr(result, "value", result)
                url = requested[n] if n < len(requested) else ""
                error = self._failures.get(url) or str(reason) or reason.__class__.__name__
                images.append({"url": url, "error": error[:300]})
                continue
            path = self.store_dir / result["path"]
            entry: dict[str, Any] = {"url": result["url"], "path": str(path)}
            try:
                st = path.stat()
                key = (str(path), st.st_size, st.st_mtime_ns)
                if key not in self._hashed:
                    data = path.read_bytes()
                    found: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest()}
                    with Image.open(path) as img:
                        img.load()
                        found["width"], found["height"] = img.size
                        found["phash"] = str(imagehash.phash(img))
                        found["dhash"] = str(imagehash.dhash(img))
                    self._hashed[key] = found
                    if len(self._hashed) > 10_000:
                        self._hashed.popitem(last=False)
                entry.update(self._hashed[key])
            except Exception as exc:  # a broken file costs its hashes, not the listing
                entry["error"] = f"{exc.__class__.__name__}: {exc}"[:300]
            images.append(entry)
        # Failed downloads have no URL in the result; keep them only when they say why.
        item.images = [i for i in images if i.get("url") or i.get("error")]
        return item


class _StoreStep:
    """Shared set-up of the steps that write to the store."""

    def __init__(self, db_url: str, run_id: int | None, config_path: str | None, stats: Any = None) -> None:
        self.db_url = db_url
        self.run_id = run_id
        self.config_path = config_path
        self.stats = stats
        self._client: Client | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> Any:
        url = crawler.settings.get("MARKWATCH_DB")
        if not url:
            raise NotConfigured("MARKWATCH_DB not set")
        run_id = crawler.settings.getint("MARKWATCH_RUN_ID", 0) or None
        return cls(url, run_id, crawler.settings.get("MARKWATCH_CONFIG"), crawler.stats)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A store transaction, in turn with the crawl's other threads (see db.sqlite_turn)."""
        with db.sqlite_turn(self.db_url), db.session_scope(self.db_url) as session:
            yield session

    @property
    def client(self) -> Client:
        if self._client is None:
            if not self.config_path:
                raise NotConfigured("MARKWATCH_CONFIG not set")
            self._client = load_client(self.config_path)
        return self._client


class StorePipeline(_StoreStep):
    """Upsert the listing, one sighting per run, and its images: one transaction."""

    async def process_item(self, item: Listing, spider: Any = None) -> Listing:
        # In a worker thread, so the crawl keeps downloading while the store writes.
        return await asyncio.to_thread(self.store, item)

    def store(self, item: Listing) -> Listing:
        fields = {
            "marketplace": item.marketplace, "listing_id": item.listing_id, "url": item.url,
            "title": item.title, "description": item.description, "price": item.price,
            "currency": item.currency, "seller_id": item.seller_id, "seller_name": item.seller_name,
            "store_url": item.store_url, "location": item.location, "sales": item.sales,
            "is_ad": item.is_ad, "image_urls": item.image_urls,
        }
        with self.transaction() as session:
            result = db.upsert_listing(
                session, fields, run_id=self.run_id, search_term=item.search_term, page_url=item.page_url
            )
            if item.images:
                db.set_images(session, result.listing, item.images)
            db.note_seller(session, item.marketplace, item.seller_id, item.seller_name)
            item.stored_id = result.listing.id
        return item


class AssessPipeline(_StoreStep):
    """Run `matching` on new or changed listings and store the assessment."""

    def open_spider(self, spider: Any = None) -> None:
        from matching import Matcher
        from matching.batch import single_threaded_blas, single_threaded_opencv

        # One matcher per core, each used by one thread at a time (OpenCV's matchers are
        # not documented thread-safe); OpenCV and BLAS single-threaded so they do not compete.
        single_threaded_opencv()
        single_threaded_blas()
        from matching.image import PhotoCache

        self.version = matching_version(self.client)
        # A photo reused by many listings (or seen in an earlier run) is matched once.
        self.photo_store = db.StoredPhotoSignals(self.db_url, photo_matching_version(self.client))
        cache = PhotoCache(store=self.photo_store)
        self.matchers: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(max(1, os.cpu_count() or 1)):
            self.matchers.put(Matcher(self.client, photo_cache=cache))

    async def process_item(self, item: Listing, spider: Any = None) -> Listing:
        if item.stored_id is None:
            return item
        # Matching is CPU work (image hashing, keypoints): off the reactor's thread, so
        # downloads go on meanwhile and both cores are used.
        await asyncio.to_thread(self.assess, item)
        if self.stats is not None and item.verdict:
            self.stats.inc_value(f"markwatch/verdict/{item.verdict}")
        return item

    def close_spider(self, spider: Any = None) -> None:
        with self.transaction() as session:
            self.photo_store.write_pending(session)

    def assess(self, item: Listing) -> None:
        with self.transaction() as session:
            listing = session.get(db.m.Listing, item.stored_id)
            if listing is None or not db.needs_assessment(session, listing, self.version):
                return
            data = listing_input(listing)
        # No transaction is held while matching runs.
        matcher = self.matchers.get()
        try:
            assessment = matcher.assess(data)
        finally:
            self.matchers.put(matcher)
        with self.transaction() as session:
            listing = session.get(db.m.Listing, item.stored_id)
            row = db.add_assessment(session, listing, assessment, self.version)
            # With the assessment, so no complaint is filed on a verdict that changed.
            intake.withdraw_candidate(session, listing, row)
            self.photo_store.write_pending(session)
            item.assessment_id = row.id
            item.verdict = row.verdict


class IntakePipeline(_StoreStep):
    """Take in hits: a counterfeit becomes a takedown candidate (or a relist of a removed one)."""

    def process_item(self, item: Listing, spider: Any = None) -> Listing:
        if item.assessment_id is None or item.verdict != "counterfeit":
            return item
        with self.transaction() as session:
            intake.take_in(session, item.stored_id, item.assessment_id)
        return item


# ------------------------------------------------------------------ helpers


def listing_input(listing: Any) -> Any:
    """The stored listing as the matchers see it, with its downloaded images."""
    from matching.types import ListingInput

    paths = [img.path for img in listing.images if img.path and not img.error and Path(img.path).is_file()]
    return ListingInput(
        id=listing.key, title=listing.title, marketplace=listing.marketplace, url=listing.url,
        description=listing.description, price=listing.price, currency=listing.currency,
        seller_id=listing.seller_id, seller_name=listing.seller_name, images=paths,
    )


def matching_version(client: Client) -> str:
    """The matcher's version plus a digest of what in the client file affects scores.

    A listing is assessed again when either changes (new marks, thresholds, sellers).
    """
    import matching

    relevant = client.model_dump(
        mode="json", include={"marks", "products", "authorized_sellers", "exchange_rates", "thresholds"}
    )
    digest = hashlib.sha256(repr(relevant).encode()).hexdigest()[:10]
    return f"{getattr(matching, '__version__', '0')}+{digest}"


def photo_matching_version(client: Client) -> str:
    """The matcher's version plus a digest of what photos are compared with.

    That is the registered images' bytes and the marks' terms (read in photos):
    findings stored per photo stay valid when only thresholds, prices or sellers change.
    """
    import matching

    digest = hashlib.sha256(getattr(matching, "__version__", "0").encode())
    owners = [(m.id, m.images, [m.title, *m.terms]) for m in client.marks]
    owners += [(f"{p.mark}/{p.id}", p.images, []) for p in client.products]
    for owner, images, terms in owners:
        digest.update(repr((owner, terms)).encode())
        for path in images:
            try:
                digest.update(Path(path).read_bytes())
            except OSError as exc:  # the matcher warns about it; the digest still differs
                digest.update(str(exc).encode())
    return f"{getattr(matching, '__version__', '0')}+{digest.hexdigest()[:10]}"


MONITOR_PIPELINES = {
    "crawler.pipelines.NormalisePipeline": 100,
    "crawler.pipelines.ListingImagesPipeline": 200,
    "crawler.pipelines.StorePipeline": 300,
    "crawler.pipelines.AssessPipeline": 400,
    "crawler.pipelines.IntakePipeline": 500,
}
