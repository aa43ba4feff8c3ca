"""Readiness per mark and platform: CN-registered, foreign-only and unregistered marks,
validity, classes, documents and translations, from real client files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from crawler.config import load_client
from crawler.takedown import readiness

TODAY = dt.date(2026, 6, 1)
CN_PLATFORMS = ["taobao", "tmall", "1688"]


def write_client(tmp_path: Path, marks: list[dict], documents: dict | None = None, name: str = "Acme Games Ltd.",
                 products: list[dict] | None = None) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    for f in ("license.pdf", "poa.pdf", "cn-12345678.pdf", "us-555.pdf", "de-3020.pdf", "de-3020-zh.pdf"):
        (docs / f).write_bytes(b"%PDF-1.4 " + f.encode())
    data = {
        "client": {"name": name, "contact": {"person": "Ann Lee", "email": "ip@acme.example"},
                   "documents": documents if documents is not None else {"business_license": "docs/license.pdf"}},
        "marks": marks,
    }
    if products:
        data["products"] = products
    path = tmp_path / "markwatch.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def mark(**over) -> dict:
    base = {
        "id": "acme", "type": "trademark", "title": "ACME", "terms": ["ACME", "艾克米"], "classes": [9, 28],
        "keywords": ["game controller", "gamepad"],
        "registrations": [{"number": "12345678", "country": "CN", "valid_from": "2019-01-01",
                           "valid_until": "2029-01-01", "certificate": "docs/cn-12345678.pdf"}],
    }
    base.update(over)
    return base


def checks(row: readiness.Readiness) -> dict[str, str]:
    return {c.item: c.level for c in row.checks}


def test_cn_registered_mark_with_documents_is_ready(tmp_path: Path) -> None:
    client = load_client(write_client(tmp_path, [mark(protect_until="2027-12-31")]))
    rows = readiness.check_all(client, CN_PLATFORMS + ["jd"], today=TODAY)
    assert all(r.ready and r.level == "ok" for r in rows)
    row = rows[0]
    assert row.registration.number == "12345678"
    assert checks(row) == {"registration": "ok", "validity": "ok", "protect_until": "ok", "classes": "ok",
                           "business_license": "ok", "certificate": "ok"}
    assert readiness.advice(rows) == []


def test_foreign_only_mark_gets_grouped_advice(tmp_path: Path) -> None:
    us = [{"number": "555", "country": "US", "valid_from": "2020-01-01", "valid_until": "2030-01-01",
           "certificate": "docs/us-555.pdf"}]
    client = load_client(write_client(tmp_path, [mark(registrations=us)]))
    rows = readiness.check_all(client, CN_PLATFORMS + ["amazon"], today=TODAY)
    by_platform = {r.platform.key: r for r in rows}
    for key in CN_PLATFORMS:
        assert checks(by_platform[key])["registration"] == "warn"
        assert by_platform[key].ready  # foreign registrations sometimes work: a warning, not a refusal
    assert checks(by_platform["amazon"])["registration"] == "ok"
    assert ("warn", ("ACME has no CN registration: Taobao/Tmall/1688 complaints will likely fail; "
            "register in China first")) in readiness.advice(rows)


def test_unregistered_marks(tmp_path: Path) -> None:
    client = load_client(write_client(tmp_path, [
        mark(registrations=[]),
        mark(id="art", type="copyright", title="ACME Hero artwork", registrations=[], classes=[]),
    ]))
    tm = readiness.check(client, client.mark("acme"), "taobao", today=TODAY)
    assert not tm.ready and checks(tm)["registration"] == "fail"
    assert "ACME has no registration" in tm.reason()
    text = {t: lvl for lvl, t in readiness.advice([tm])}
    assert "ACME has no registration: Taobao complaints will fail; register the trademark in China first" in text
    art = readiness.check(client, client.mark("art"), "taobao", today=TODAY)
    assert art.ready and checks(art)["registration"] == "warn"
    assert "proof of authorship" in readiness.advice([art])[0][1]


def test_expired_and_not_yet_valid_registrations_fail(tmp_path: Path) -> None:
    old = [{"number": "12345678", "country": "CN", "valid_from": "2010-01-01", "valid_until": "2020-01-01",
            "certificate": "docs/cn-12345678.pdf"}]
    future = [{"number": "12345678", "country": "CN", "valid_from": "2027-01-01", "valid_until": "2037-01-01",
               "certificate": "docs/cn-12345678.pdf"}]
    client = load_client(write_client(tmp_path, [mark(registrations=old), mark(id="new", registrations=future)]))
    r = readiness.check(client, client.mark("acme"), "tmall", today=TODAY)
    assert checks(r)["validity"] == "fail"
    assert r.reason() == "registration 12345678 (CN) expired on 2020-01-01"
    n = readiness.check(client, client.mark("new"), "tmall", today=TODAY)
    assert checks(n)["validity"] == "fail" and "valid only from 2027-01-01" in n.reason()


def test_protect_until_beyond_the_registration_warns(tmp_path: Path) -> None:
    client = load_client(write_client(tmp_path, [mark(protect_until="2030-06-30")]))
    r = readiness.check(client, client.mark("acme"), "taobao", today=TODAY)
    assert r.ready and checks(r)["protect_until"] == "warn"
    assert "ends 2029-01-01, before protect_until 2030-06-30" in r.checks[2].message


def test_classes_must_cover_the_goods(tmp_path: Path) -> None:
    products = [{"id": "bag", "mark": "acme", "name": "ACME travel handbag", "msrp": 80, "currency": "USD"}]
    client = load_client(write_client(tmp_path, [mark(), mark(id="bare", classes=[])], products=products))
    r = readiness.check(client, client.mark("acme"), "taobao", today=TODAY)
    assert checks(r)["classes"] == "warn"
    advice = readiness.advice([r])[0][1]
    assert "handbag is goods of class 18" in advice and "register in class 18" in advice
    bare = readiness.check(client, client.mark("bare"), "taobao", today=TODAY)
    assert checks(bare)["classes"] == "warn" and "list the registration's Nice classes" in readiness.advice([bare])[0][1]
    assert readiness.goods_classes("ACME phone case and 手提包") == {"phone case": {9}, "手提包": {18}}


def test_missing_documents_refuse(tmp_path: Path) -> None:
    reg = [{"number": "12345678", "country": "CN", "valid_from": "2019-01-01", "valid_until": "2029-01-01"}]
    client = load_client(write_client(tmp_path, [mark(registrations=reg, owner="Acme Holdings Ltd.")], documents={}))
    r = readiness.check(client, client.mark("acme"), "taobao", today=TODAY)
    assert {k: v for k, v in checks(r).items() if v == "fail"} == {
        "business_license": "fail", "certificate": "fail", "power_of_attorney": "fail"}
    lines = [t for _, t in readiness.advice([r])]
    assert any("business licence (client.documents.business_license)" in t for t in lines)
    assert any("registration certificate of 12345678" in t for t in lines)
    assert any("owned by Acme Holdings Ltd., not Acme Games Ltd.: add a power of attorney" in t for t in lines)
    # Amazon asks for none of these documents, but an agent still needs the power of attorney.
    amazon = readiness.check(client, client.mark("acme"), "amazon", today=TODAY)
    assert {k for k, v in checks(amazon).items() if v == "fail"} == {"power_of_attorney"}


def test_power_of_attorney_present_for_an_agent(tmp_path: Path) -> None:
    client = load_client(write_client(
        tmp_path, [mark(owner="Acme Holdings Ltd.")],
        documents={"business_license": "docs/license.pdf", "power_of_attorney": "docs/poa.pdf"}))
    r = readiness.check(client, client.mark("acme"), "taobao", today=TODAY)
    assert r.ready and checks(r)["power_of_attorney"] == "ok"


def test_translation_needed_for_a_german_certificate(tmp_path: Path) -> None:
    de = [{"number": "3020", "country": "DE", "valid_from": "2019-01-01", "valid_until": "2029-01-01",
           "certificate": "docs/de-3020.pdf", "language": "de"}]
    client = load_client(write_client(tmp_path, [mark(registrations=de)]))
    r = readiness.check(client, client.mark("acme"), "aliexpress", today=TODAY)
    assert checks(r)["translation"] == "fail"
    assert "certificate 3020 is in de" in r.reason()
    client = load_client(write_client(tmp_path, [mark(registrations=de)], documents={
        "business_license": "docs/license.pdf", "translations": ["docs/de-3020-zh.pdf"]}))
    r = readiness.check(client, client.mark("acme"), "aliexpress", today=TODAY)
    assert checks(r)["translation"] == "ok" and r.ready


def test_ebay_without_reason_code_ids_warns_and_rows_are_plain(tmp_path: Path) -> None:
    client = load_client(write_client(tmp_path, [mark()]))
    r = readiness.check(client, client.mark("acme"), "ebay", today=TODAY)
    assert r.ready and checks(r)["reason_code"] == "warn"
    plain = readiness.readiness(client, ["taobao"])
    assert plain[0]["mark"] == "acme" and plain[0]["platform"] == "taobao" and plain[0]["ready"] is True
    assert {c["item"] for c in plain[0]["checks"]} >= {"registration", "validity", "certificate"}


def test_unknown_platform(tmp_path: Path) -> None:
    from crawler.takedown.deadlines import UnknownPlatform

    client = load_client(write_client(tmp_path, [mark()]))
    with pytest.raises(UnknownPlatform, match="unknown platform 'shopee'"):
        readiness.check(client, client.mark("acme"), "shopee", today=TODAY)
