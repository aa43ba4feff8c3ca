"""Seller history, risk and networks over a real SQLite store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crawler import db
from crawler import models as m
from crawler.sellers import (
    Contact,
    extract_contacts,
    normalise_name,
    normalise_phone,
    risk_score,
    seller_report,
)
from crawler.takedown.cases import open_relist
from crawler.takedown.states import create_case, transition
from tests.conftest import run_cli


@pytest.mark.parametrize(
    "text,region,expected",
    [
        ("加微信: abc_12345 现货", None, {Contact("wechat", "abc_12345")}),
        ("WeChat ID：Shop-Xyz9", None, {Contact("wechat", "shop-xyz9")}),
        (
            "VX 13800138000",
            "CN",
            {Contact("wechat", "13800138000"), Contact("phone", "8613800138000")},
        ),
        (
            "WhatsApp +86 138 0013 8000",
            None,
            {Contact("whatsapp", "8613800138000"), Contact("phone", "8613800138000")},
        ),
        ("联系QQ：123456789", None, {Contact("qq", "123456789")}),
        ("mail: Sales@Example.COM.", None, {Contact("email", "sales@example.com")}),
        ("12345678@qq.com", None, {Contact("email", "12345678@qq.com"), Contact("qq", "12345678")}),
        ("telegram @Fake_Shop", None, {Contact("telegram", "fake_shop")}),
        ("order at https://t.me/FakeShop", None, {Contact("telegram", "fakeshop")}),
        ("tel 0086-139 1234 5678", None, {Contact("phone", "8613912345678")}),
        ("call +1 (415) 555-2671", None, {Contact("phone", "14155552671")}),
        # Full-width digits as typed on Chinese keyboards.
        (
            "微信号１３８００１３８０００",
            "CN",
            {Contact("wechat", "13800138000"), Contact("phone", "8613800138000")},
        ),
        # Model numbers, years and prices are not contacts.
        ("ACME Pad 2024 model X360 price 12.50 USD, 20000mAh", "CN", set()),
        ("wxyz1234 qqq 55555", "CN", set()),
    ],
)
def test_contacts_are_found_and_normalised(
    text: str, region: str | None, expected: set[Contact]
) -> None:
    assert extract_contacts(text, region=region) == expected


def test_phone_spellings_normalise_to_one_value() -> None:
    spellings = ["+86 138-0013-8000", "0086 13800138000", "8613800138000"]
    assert {normalise_phone(s if s[0] in "+0" else "+" + s) for s in spellings} == {"8613800138000"}
    assert normalise_phone("13800138000", "CN") == "8613800138000"
    assert normalise_phone("12345", "CN") is None


def test_shop_names_normalise_away_generic_words() -> None:
    assert normalise_name("Shenzhen Gadgets Official Store") == normalise_name(
        "shenzhen-gadgets shop"
    )
    assert normalise_name("深圳艾克米旗舰店") == "深圳艾克米"


def test_risk_grows_with_proof_and_saturates() -> None:
    nothing = risk_score(listings=3, hits=0, reviews=0, confirmed=0, removed=0, relists=0)
    hit = risk_score(listings=1, hits=1, reviews=0, confirmed=0, removed=0, relists=0)
    removed = risk_score(listings=1, hits=1, reviews=0, confirmed=1, removed=1, relists=0)
    relisted = risk_score(listings=2, hits=2, reviews=0, confirmed=2, removed=1, relists=1)
    big_shop = risk_score(listings=40, hits=1, reviews=0, confirmed=0, removed=0, relists=0)
    assert nothing == 0.0 < big_shop < hit < removed < relisted < 1.0
    assert abs(removed - 0.7769) < 1e-3  # the documented "one takedown gives about 0.78"


# ---------------------------------------------------------------- store scenario


@pytest.fixture()
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'mw.db'}"
    db.upgrade(url)
    return url


_counter = iter(range(1, 10_000))


def _add(
    s: Session,
    marketplace: str,
    seller_id: str,
    name: str,
    *,
    title: str = "Wireless gamepad",
    description: str | None = None,
    verdict: str | None = "counterfeit",
    images: list[dict[str, Any]] | None = None,
) -> m.Listing:
    n = next(_counter)
    listing = db.upsert_listing(
        s,
        {
            "marketplace": marketplace,
            "listing_id": str(n),
            "url": f"https://{marketplace}.example/{n}",
            "title": title,
            "description": description,
            "seller_id": seller_id,
            "seller_name": name,
            "image_urls": [i["url"] for i in images or []],
        },
    ).listing
    if images:
        db.set_images(s, listing, images)
    if verdict:
        s.add(
            m.AssessmentRow(
                listing_pk=listing.id,
                score=0.9,
                verdict=verdict,
                mark_id="acme",
                signals=[],
                matching_version="t",
                content_hash=listing.content_hash,
            )
        )
    s.flush()
    return listing


def _img(sha: str, phash: str | None = None) -> dict[str, Any]:
    return {"url": f"https://img.example/{sha[:8]}{phash or ''}.jpg", "sha256": sha, "phash": phash}


def _remove(s: Session, listing: m.Listing) -> m.Case:
    case = create_case(s, listing, actor="test", mark_id="acme")
    transition(s, case, "confirmed", "analyst")
    transition(s, case, "submitted", "analyst", complaint_id="IPP-1")
    transition(s, case, "removed", "analyst")
    return case


def _scenario(store: str) -> None:
    with db.session_scope(store) as s:
        # Network 1: a photo links aliexpress:111 and dhgate:A9; a WhatsApp number links A9 and jd:J1.
        first = _add(
            s, "aliexpress", "111", "Gamepad World", images=[_img("a" * 64, "c3d4e5f60718293a")]
        )
        old = _remove(s, first)
        relist = _add(s, "aliexpress", "111", "Gamepad World", title="Wireless gamepad v2")
        open_relist(s, relist, old)
        _add(
            s,
            "dhgate",
            "A9",
            "Joystick Heaven",
            images=[_img("b" * 64, "c3d4e5f60718293b")],
            description="Contact WhatsApp +86 139 1234 5678 for wholesale",
        )
        _add(
            s, "jd", "J1", "Controller Plaza", title="手柄 电话 0086-13912345678", verdict="review"
        )
        # Network 2: the same WeChat id, spelled differently, on taobao and amazon.
        _add(s, "taobao", "t1", "Tao Toys", title="游戏手柄 加微信 FakeAcme88")
        _add(s, "amazon", "B2", "Amz Deals", description="WeChat: fakeacme88", verdict=None)
        # Network 3: near-identical shop names.
        _add(s, "ebay", "e1", "shenzhen-gadgets store", verdict="review")
        _add(s, "aliexpress", "222", "Shenzhen Gadgets Official Store")
        # A stock photo on seven shops links none of them.
        for i in range(7):
            _add(
                s,
                "alibaba",
                f"s{i}",
                f"Wholesaler number {i} {'xyz'[i % 3] * (i + 3)}",
                verdict="review",
                images=[_img("f" * 64)],
            )
        # One WeChat id in eight shops' descriptions links none of them, but is reported.
        for i in range(8):
            _add(s, "taobao", f"w{i}", f"Shop {i} {'pqr'[i % 3] * (i + 4)}", verdict="review",
                 description="客服微信 bigboss2026")
        # A whitelisted shop that shares network 1's photo stays out of it.
        s.add(m.Seller(marketplace="tmall", seller_id="W1", name="ACME Official", whitelisted=True))
        _add(s, "tmall", "W1", "ACME Official", verdict="clear", images=[_img("a" * 64)])


def test_seller_history_and_clusters(store: str) -> None:
    _scenario(store)
    with db.session_scope(store) as s:
        report = seller_report(s)

    top = report.sellers[0]
    assert top.key == "aliexpress:111"
    # The relist is a fresh candidate: found again, not yet confirmed.
    assert (top.listings, top.hits, top.confirmed, top.removed, top.relists) == (2, 2, 1, 1, 1)
    assert top.risk > 0.9
    white = report.seller("tmall", "W1")
    assert white is not None and white.whitelisted and white.risk == 0.0 and white.cluster is None
    jd = report.seller("jd", "J1")
    assert jd is not None and (jd.hits, jd.reviews) == (0, 1)
    assert Contact("phone", "8613912345678") in jd.contacts

    groups = {frozenset(s.key for s in c.members): c for c in report.clusters}
    network1 = frozenset({"aliexpress:111", "dhgate:A9", "jd:J1"})
    assert set(groups) == {
        network1,
        frozenset({"taobao:t1", "amazon:B2"}),
        frozenset({"ebay:e1", "aliexpress:222"}),
    }
    assert {lk.kind for lk in groups[network1].links} == {"image", "contact"}
    assert groups[network1].marketplaces == ["aliexpress", "dhgate", "jd"]
    assert report.clusters[0].members[0].key == "aliexpress:111"  # riskiest network first
    assert {lk.kind for lk in groups[frozenset({"taobao:t1", "amazon:B2"})].links} == {"contact"}
    assert {lk.kind for lk in groups[frozenset({"ebay:e1", "aliexpress:222"})].links} == {"name"}
    assert all(s.cluster is None for s in report.sellers if s.marketplace == "alibaba")


def test_authorised_sellers_from_the_client_file_are_not_flagged(store: str) -> None:
    _scenario(store)

    class Client:
        def is_authorized(
            self, marketplace: str | None, seller_id: str | None, seller_name: str | None = None
        ) -> bool:
            return (marketplace, seller_id) == ("dhgate", "A9")

    with db.session_scope(store) as s:
        report = seller_report(s, client=Client())
    a9 = report.seller("dhgate", "A9")
    assert a9 is not None and a9.risk == 0.0 and a9.cluster is None
    # Without A9 the photo and the WhatsApp number no longer join 111 and J1.
    assert not any("jd:J1" in {s.key for s in c.members} for c in report.clusters)


def test_cli_sellers(store: str) -> None:
    _scenario(store)
    cmd = [
        sys.executable,
        "-m",
        "crawler.cli",
        "sellers",
        "--db",
        store,
        "--clusters",
        "--min-risk",
        "0.3",
    ]
    result = subprocess.run(
        cmd,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "250", "PATH": ""},
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "aliexpress:111" in out and "Seller networks" in out and "dhgate:A9" in out
    # Each link says which sellers share the thing, not one list for the whole network.
    assert "same phone 8613912345678: dhgate:A9, jd:J1" in out
    # A contact too widely shared to link is listed with the shops that show it.
    shared = out.split("Contacts shown by more than 6 sellers")[1].split("Seller networks")[0]
    assert "wechat bigboss2026" in shared and "taobao:w0" in shared and "8" in shared
    # Review-only sellers are below 0.3 and filtered out.
    assert "ebay:e1" not in out.split("Seller networks")[0]


def test_cli_prints_a_seller_s_own_name_as_text(store: str) -> None:
    # Counterfeiters name their shops: "[/x]" in a name must neither crash nor vanish.
    with db.session_scope(store) as s:
        _add(s, "ebay", "e9", "[/x] Best [red]Deals[/red]")
    out = run_cli("sellers", "--db", store, env={"COLUMNS": "250"})
    assert out.returncode == 0, out.stderr
    assert "[/x] Best [red]Deals[/red]" in out.stdout
