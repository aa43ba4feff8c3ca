"""The crawl's pipelines: photos hashed once per crawl, store transactions taken in turn."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import imagehash
import pytest
from PIL import Image
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from crawler import db
from crawler import models as m
from crawler.pipelines import AtomicFSFilesStore, ListingImagesPipeline, StorePipeline


def _jpeg(colour: tuple[int, int, int], size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "JPEG")
    return buf.getvalue()


def test_a_photo_shown_by_many_listings_is_hashed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    phash = imagehash.phash

    def counted(img: Image.Image, *args: object, **kwargs: object) -> imagehash.ImageHash:
        calls.append(1)
        return phash(img, *args, **kwargs)

    monkeypatch.setattr(imagehash, "phash", counted)
    pipe = ListingImagesPipeline.from_crawler(
        get_crawler(settings_dict={"IMAGES_STORE": str(tmp_path)})
    )
    (tmp_path / "full").mkdir()
    stored = tmp_path / "full" / "a.jpg"
    stored.write_bytes(_jpeg((200, 30, 30), 64))
    result = [(True, {"url": "https://img.example/a.jpg", "path": "full/a.jpg"})]

    items = [SimpleNamespace(images=None) for _ in range(3)]
    for item in items:
        pipe.item_completed(result, item, None)
    assert len(calls) == 1
    first = items[0].images[0]
    assert [i.images[0] for i in items] == [first] * 3
    assert first["path"] == str(stored) and first["width"] == 64 and len(first["sha256"]) == 64

    # The same URL stored again with other bytes is read again.
    stored.write_bytes(_jpeg((30, 30, 200), 80))
    changed = SimpleNamespace(images=None)
    pipe.item_completed(result, changed, None)
    assert len(calls) == 2
    assert changed.images[0]["width"] == 80 and changed.images[0]["sha256"] != first["sha256"]


def test_the_crawl_threads_take_turns_at_a_sqlite_store(tmp_path: Path) -> None:
    # SQLite would let the second thread in and make it poll for the write lock;
    # in turn, it starts once the first has committed.
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.ensure_schema(url)
    step = StorePipeline(url, None, None)
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with step.transaction() as session:
            session.execute(select(m.Listing.id)).all()
            first_in.set()
            time.sleep(0.3)
            order.append("first committed")

    def second() -> None:
        first_in.wait(5)
        with step.transaction():
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert order == ["first committed", "second in"]
    # Other databases keep their own concurrency.
    assert not isinstance(db.sqlite_turn("postgresql://u@h/markwatch"), type(threading.RLock()))


def test_two_crawls_saving_the_same_photo_at_once_leave_it_whole(tmp_path: Path) -> None:
    # Marketplaces crawled at once share the images store, and the same photo URL
    # can be saved by two of them at the same moment.
    store = AtomicFSFilesStore(str(tmp_path))
    big, small = b"A" * 2_000_000, b"B" * 1_000
    errors: list[BaseException] = []

    def save(data: bytes) -> None:
        for _ in range(30):
            try:
                store.persist_file("full/same.jpg", io.BytesIO(data), None)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    writers = [threading.Thread(target=save, args=(d,)) for d in (big, small)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert errors == []
    assert (tmp_path / "full" / "same.jpg").read_bytes() in (big, small)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["same.jpg"]  # no leftovers
