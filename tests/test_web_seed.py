"""A seeded store and client file for the web UI, API and report tests.

`seed_store(tmp_path)` writes a small client file with generated mark and product
images, and a SQLite store with listings (one with a hostile title), sightings,
images, assessments and an evidence file, through the storage module's own
functions. The test in this file checks that the seed is what the others expect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from crawler import db as storage
from crawler import models as m
from matching.types import Assessment, Signal

XSS_TITLE = "<script>alert(1)</script> ACME gamepad <b>bold</b>"

CLIENT_YAML = """\
client:
  name: Acme Games Ltd.
marks:
  - id: acme
    type: trademark
    title: ACME
    terms: [ACME, 艾克米]
    images: [marks/acme-logo.png]
    classes: [9, 28]
    registrations:
      - number: "12345678"
        country: CN
        valid_from: 2019-01-01
        valid_until: 2029-01-01
products:
  - id: acme-pad
    mark: acme
    name: ACME Pad Pro controller
    msrp: 59.99
    currency: USD
    images: [products/acme-pad.png]
exchange_rates:
  base: USD
  rates: {CNY: 0.138}
"""


def _picture(path: Path, colour: tuple[int, int, int], text: str, size: tuple[int, int] = (240, 240)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, (245, 245, 245))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((20, 40, size[0] - 20, size[1] - 40), radius=30, fill=colour)
    draw.ellipse((50, 90, 90, 130), fill=(255, 255, 255))
    draw.ellipse((size[0] - 90, 90, size[0] - 50, 130), fill=(255, 255, 255))
    draw.text((size[0] // 2 - 20, 60), text, fill=(255, 255, 255))
    img.save(path)
    return path


@dataclass
class Seeded:
    root: Path
    config: Path
    db_url: str
    pks: dict[str, int] = field(default_factory=dict)


LISTINGS = [
    # key, title, price, currency, seller, score, verdict, signals
    ("aliexpress", "1001", "ACME Pad Pro wireless controller, original quality", 12.5, "USD", ("s1", "Best Store"),
     0.93, "counterfeit",
     [("text", 0.9, "'ACME' matches term 'ACME'"), ("price", 0.8, "12.50 USD is 21% of MSRP 59.99 USD"),
      ("image", 0.7, "image 1 is close to the product photo (phash distance 6)")]),
    ("aliexpress", "1002", XSS_TITLE, 9.99, "USD", ("s2", "<img src=x onerror=alert(2)>"),
     0.81, "counterfeit", [("text", 0.85, "'ACME' matches term 'ACME' in <script>")]),
    ("aliexpress", "1003", "ACME style gamepad for PC", 15.0, "USD", ("s1", "Best Store"),
     0.74, "counterfeit", [("text", 0.75, "'ACME' matches term 'ACME'")]),
    ("taobao", "2001", "艾克米 游戏手柄 无线", 80.0, "CNY", ("t9", "游戏店"),
     0.62, "review", [("chinese", 0.6, "'艾克米' matches term '艾克米'")]),
    ("amazon", "B0003", "Generic controller compatible with many consoles", 19.0, "USD", ("a7", "Gadgets"),
     0.45, "review", [("cue", 0.45, "'compatible with' near a mark term")]),
    ("ebay", "5005", "Phone case, blue", 3.0, "USD", ("e1", "Cases4U"),
     0.05, "clear", []),
]


def seed_store(tmp_path: Path) -> Seeded:
    root = tmp_path
    _picture(root / "marks" / "acme-logo.png", (37, 99, 235), "ACME")
    _picture(root / "products" / "acme-pad.png", (30, 41, 59), "ACME")
    config = root / "markwatch.yaml"
    config.write_text(CLIENT_YAML, encoding="utf-8")
    (root / "secret.txt").write_text("not for the web", encoding="utf-8")
    url = f"sqlite:///{root / 'store.db'}"
    storage.upgrade(url)
    seeded = Seeded(root=root, config=config, db_url=url)
    now = m.utcnow()
    colours = [(30, 41, 59), (220, 38, 38), (22, 163, 74), (217, 119, 6), (124, 58, 237), (8, 145, 178)]
    with storage.session_scope(url) as s:
        run = storage.start_run(s, "aliexpress", cycle="c1")
        for i, (mp, lid, title, price, cur, (sid, sname), score, verdict, signals) in enumerate(LISTINGS):
            image_url = f"https://img.example/{mp}/{lid}.jpg"
            res = storage.upsert_listing(
                s,
                {"marketplace": mp, "listing_id": lid, "url": f"https://{mp}.example/item/{lid}", "title": title,
                 "description": f"Description of {title}", "price": price, "currency": cur, "seller_id": sid,
                 "seller_name": sname, "image_urls": [image_url]},
                run_id=run.id, search_term="ACME" if mp != "taobao" else "艾克米", seen_at=now - dt.timedelta(days=i % 3),
            )
            listing = res.listing
            listing.first_seen = now - dt.timedelta(days=i % 3, hours=1)
            pic = _picture(root / "images" / f"{mp}-{lid}.png", colours[i], "ACME" if i < 4 else "")
            storage.set_images(s, listing, [{
                "url": image_url, "path": str(pic), "sha256": hashlib.sha256(pic.read_bytes()).hexdigest(),
                "width": 240, "height": 240,
            }])
            a = Assessment(id=listing.key, score=score, verdict=verdict, mark_id="acme" if score > 0.3 else None,
                           signals=[Signal(k, sc, d) for k, sc, d in signals],
                           product_id="acme-pad" if score > 0.3 else None)
            storage.add_assessment(s, listing, a, "test-1")
            seeded.pks[listing.key] = listing.id
        storage.finish_run(s, run.id, "ok", items=len(LISTINGS))
        # Evidence as `markwatch run` keeps it: content-addressed, beside the store.
        shot = _picture(root / "tmp-shot.png", (100, 100, 100), "shot")
        digest = hashlib.sha256(shot.read_bytes()).hexdigest()
        rel = f"sha256/{digest[:2]}/{digest[2:]}"
        (root / "store-data" / "evidence" / rel).parent.mkdir(parents=True)
        shot.rename(root / "store-data" / "evidence" / rel)
        s.add(m.Evidence(listing_pk=seeded.pks["aliexpress:1001"], kind="screenshot",
                         url="https://aliexpress.example/item/1001", sha256=digest, path=rel,
                         entry_hash=hashlib.sha256(("0" + digest).encode()).hexdigest()))
    return seeded


def test_seed_has_hits_images_and_evidence(tmp_path: Path) -> None:
    seeded = seed_store(tmp_path)
    with storage.session_scope(seeded.db_url) as s:
        assert len(list(storage.iter_listings_with_assessment(s))) == len(LISTINGS)
        listing = s.get(m.Listing, seeded.pks["aliexpress:1002"])
        assert listing is not None and listing.title == XSS_TITLE
        assert listing.images and Path(listing.images[0].path).is_file()
        assert s.query(m.Evidence).count() == 1
