"""Complaint packages, field by field, with each platform's batching limits; refusals;
the reporter-accuracy guard. Real SQLite store, real client file, real evidence files."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from crawler import db
from crawler import models as m
from crawler.config import load_client
from crawler.takedown import accuracy, deadlines, packages
from crawler.takedown.cases import open_candidate
from crawler.takedown.packages import PackageRefused
from crawler.takedown.states import annotate, transition
from tests.test_takedown_readiness import mark, write_client

TODAY = dt.date(2026, 6, 1)


def client_file(tmp_path: Path, marks: list[dict] | None = None) -> Path:
    path = write_client(tmp_path, marks or [
        mark(protect_until="2027-12-31"),
        mark(id="art", type="copyright", title="ACME Hero artwork", classes=[], keywords=[],
             registrations=[{"number": "2021-F-0001", "country": "CN", "valid_from": "2021-01-01",
                             "valid_until": "2071-01-01", "certificate": "docs/cn-12345678.pdf"}]),
    ])
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["client"]["contact"] = {"person": "Ann Lee", "email": "ip@acme.example", "phone": "+44 20 0000 0000",
                                 "address": "1 Acme Street, London"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def seed(url: str, marketplace: str, n: int, *, mark_id: str = "acme", ids=None, stores: int | None = None,
         state: str = "confirmed", evidence_dir: Path | None = None) -> list[int]:
    """n listings with confirmed cases; optionally one evidence file per listing."""
    case_ids = []
    with db.session_scope(url) as session:
        for i in range(n):
            lid = ids(i) if ids else f"{mark_id}-{i}"
            listing = db.upsert_listing(session, {
                "marketplace": marketplace, "listing_id": lid, "url": f"https://{marketplace}.example/item/{lid}",
                "title": f"ACME controller copy {i}", "seller_id": f"s{i % (stores or 1)}",
                "seller_name": f"Shop {i % (stores or 1)}",
                "store_url": f"https://{marketplace}.example/shop/{i % stores}" if stores else None,
                "price": 9.5, "currency": "CNY",
            }).listing
            case = open_candidate(session, listing, SimpleNamespace(verdict="counterfeit", score=0.9, mark_id=mark_id))
            if state == "confirmed":
                transition(session, case, "confirmed", "analyst", today=TODAY)
            if evidence_dir is not None:
                data = f"<html>{lid}</html>".encode()
                sha = hashlib.sha256(data).hexdigest()
                rel = f"sha256/{sha[:2]}/{sha[2:]}"
                (evidence_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                (evidence_dir / rel).write_bytes(data)
                session.add(m.Evidence(listing_pk=listing.id, kind="html", url=listing.url, sha256=sha, path=rel,
                                       prev_hash=None, entry_hash=hashlib.sha256(f"e{lid}{marketplace}".encode()).hexdigest()))
            case_ids.append(case.id)
    return case_ids


def export(url: str, client_path: Path, platform: str, out: Path, **kw):
    client = load_client(client_path)
    with db.session_scope(url) as session:
        return packages.export_packages(session, client, platform, out, today=TODAY, **kw)


def test_alibaba_ipp_batches_300_links_per_complaint_with_every_field(db_url: str, tmp_path: Path) -> None:
    ev = tmp_path / "evidence"
    ids = seed(db_url, "taobao", 301, evidence_dir=ev)
    result = export(db_url, client_file(tmp_path), "taobao", tmp_path / "out", evidence_dir=ev)
    assert len(result.complaints) == 2
    first, second = (c.data for c in result.complaints)
    assert len(first["links"]) == 300 and len(second["links"]) == 1
    assert first["batch"] == {"index": 1, "of": 2, "max_links": 300}
    assert first["case_ids"] + second["case_ids"] == ids
    assert first["ip_right"] == {
        "registration_number": "12345678", "title": "ACME", "owner": "Acme Games Ltd.", "type": "trademark",
        "country": "CN", "country_name": "China", "classes": [9, 28],
        "validity_period": {"from": "2019-01-01", "until": "2029-01-01"},
        "protection_period": {"from": "2026-06-01", "until": "2027-12-31"},
    }
    assert first["complaint_type"] == "listing"
    assert "counterfeit" in first["reason"].lower() and "ACME" in first["reason"]
    assert "假冒" in first["reason_zh"]
    folder = result.complaints[0].folder
    assert (folder / "links.txt").read_text().splitlines() == first["links"]
    assert first["links"][0] == "https://taobao.example/item/acme-0"
    # Evidence: copied files whose hashes match the evidence table.
    assert len(first["evidence"]) == 300
    e0 = first["evidence"][0]
    assert hashlib.sha256((folder / e0["file"]).read_bytes()).hexdigest() == e0["sha256"]
    # Every time in the package is UTC and says so.
    assert e0["captured_at"].endswith("Z") and first["listings"][0]["first_seen"].endswith("Z")
    assert first["listings"][0]["last_seen"].endswith("Z")
    kinds = {d["kind"] for d in first["documents"]}
    assert kinds == {"business_license", "certificate"}
    for d in first["documents"]:
        assert hashlib.sha256((folder / d["file"]).read_bytes()).hexdigest() == d["sha256"]
    # The zip holds every folder; the manifest lists the complaints.
    names = zipfile.ZipFile(result.zip_path).namelist()
    assert f"{result.root.name}/001-taobao-acme-1/complaint.json" in names
    assert f"{result.root.name}/002-taobao-acme-2/links.txt" in names
    manifest = json.loads((result.root / "manifest.json").read_text())
    assert [c["folder"] for c in manifest["complaints"]] == ["001-taobao-acme-1", "002-taobao-acme-2"]
    # Exporting changes no case.
    with db.session_scope(db_url) as session:
        assert {c.state for c in session.query(m.Case)} == {"confirmed"}


def test_alibaba_ipp_one_ip_right_per_complaint_and_storefronts(db_url: str, tmp_path: Path) -> None:
    seed(db_url, "aliexpress", 3, stores=2)
    seed(db_url, "aliexpress", 2, mark_id="art")
    client = client_file(tmp_path)
    result = export(db_url, client, "aliexpress", tmp_path / "out", evidence_dir=tmp_path)
    rights = [(c.data["ip_right"]["registration_number"], len(c.data["links"])) for c in result.complaints]
    assert rights == [("12345678", 3), ("2021-F-0001", 2)]
    # These cases were seeded without evidence: each is named, with the command that captures it.
    missing = [w for w in result.warnings if "has no evidence" in w]
    assert len(missing) == 5 and "markwatch evidence capture aliexpress:" in missing[0]
    art = result.complaints[1].data
    assert art["ip_right"]["type"] == "copyright" and "Copyright" in art["reason"]
    stores = export(db_url, client, "aliexpress", tmp_path / "out2", evidence_dir=tmp_path, complaint_type="storefront")
    first = stores.complaints[0].data
    assert first["complaint_type"] == "storefront"
    assert first["links"] == ["https://aliexpress.example/shop/0", "https://aliexpress.example/shop/1"]
    assert len(first["listings"]) == 3
    with pytest.raises(PackageRefused, match="complaint type"):
        export(db_url, client, "aliexpress", tmp_path / "out3", complaint_type="shop")


def test_amazon_reports_hold_50_listings_one_ip_type_each(db_url: str, tmp_path: Path) -> None:
    ids = seed(db_url, "amazon", 51, ids=lambda i: f"B0{i:08d}")
    seed(db_url, "amazon", 1, mark_id="art", ids=lambda i: "B0ART00001")
    with db.session_scope(db_url) as session:
        annotate(session, session.get(m.Case, ids[0]), "buyer", note="test buy", platform_ref="test-buy:111-222")
    result = export(db_url, client_file(tmp_path), "amazon", tmp_path / "out", evidence_dir=tmp_path)
    sizes = [(c.data["ip_type"], len(c.data["asins"])) for c in result.complaints]
    assert sizes == [("trademark", 50), ("trademark", 1), ("copyright", 1)]
    r = result.complaints[0].data
    assert r["batch"] == {"index": 1, "of": 2, "max_listings": 50}
    assert r["rights_owner"] == {"name": "Acme Games Ltd.", "person": "Ann Lee", "email": "ip@acme.example",
                                 "phone": "+44 20 0000 0000", "address": "1 Acme Street, London",
                                 "filed_by": "Acme Games Ltd."}
    assert (r["brand"], r["registration_number"], r["registration_office"]) == ("ACME", "12345678", "CN")
    assert r["nature_of_infringement"].startswith("Counterfeit")
    assert r["asins"][:2] == ["B000000000", "B000000001"]
    assert r["urls"][0] == "https://amazon.example/item/B000000000"
    assert r["test_buy_order_ids"] == [{"case_id": ids[0], "order_id": "111-222"}]
    assert result.complaints[2].data["nature_of_infringement"].startswith("Copyright")
    assert (result.complaints[0].folder / "asins.txt").read_text().split() == r["asins"]


def test_ebay_vero_api_body_and_noci_fields(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(db_url, "ebay", 2, ids=lambda i: f"12345678901{i}")
    client = client_file(tmp_path)
    plain = export(db_url, client, "ebay", tmp_path / "out", evidence_dir=tmp_path)
    assert any("NOCI form route only" in w for w in plain.warnings)
    assert not (plain.complaints[0].folder / "vero_report.json").exists()
    assert plain.complaints[0].data["vero_api"]["body"] is None

    rules = tmp_path / "rules.yaml"
    text = deadlines.RULES_FILE.read_text(encoding="utf-8").replace(
        'trademark: {id: null', 'trademark: {id: 90210')
    rules.write_text(text, encoding="utf-8")
    monkeypatch.setenv(deadlines.RULES_ENV, str(rules))
    result = export(db_url, client, "ebay", tmp_path / "out2", evidence_dir=tmp_path)
    c = result.complaints[0]
    body = json.loads((c.folder / "vero_report.json").read_text())
    assert body == c.data["vero_api"]["body"]
    assert [i["itemId"] for i in body["reportItems"]] == ["123456789010", "123456789011"]
    assert all(i["veroReasonCodeId"] == "90210" and i["copyEmailToRightsOwner"] is True for i in body["reportItems"])
    assert all(0 < len(i["messageToSeller"]) <= 1000 for i in body["reportItems"])
    assert c.data["vero_api"]["url"] == "https://api.ebay.com/commerce/vero/v1/vero_report"
    assert [(i["item_id"], i["reason_code_id"]) for i in c.data["items"]] == [
        ("123456789010", 90210), ("123456789011", 90210)]
    noci = c.data["noci"]
    assert (noci["rights_owner"], noci["email"], noci["registration_number"]) == (
        "Acme Games Ltd.", "ip@acme.example", "12345678")
    assert [i["item_id"] for i in noci["items"]] == ["123456789010", "123456789011"]
    assert "good faith" in noci["good_faith_statement"] and noci["date"] == "2026-06-01"


def test_jd_and_dhgate_fields(db_url: str, tmp_path: Path) -> None:
    seed(db_url, "jd", 101, ids=lambda i: f"{100000 + i}")
    seed(db_url, "dhgate", 2)
    client = client_file(tmp_path)
    jd = export(db_url, client, "jd", tmp_path / "out", evidence_dir=tmp_path)
    assert [len(c.data["sku_ids"]) for c in jd.complaints] == [100, 1]  # 100 per complaint (unverified)
    d = jd.complaints[0].data
    assert d["batch"]["max_links_verified"] is False
    assert d["rights_holder"]["name"] == "Acme Games Ltd." and d["ip_right"]["registration_number"] == "12345678"
    assert d["sku_ids"][0] == "100000" and d["links"][0] == "https://jd.example/item/100000"
    assert "商标" in d["complaint_reason_zh"] or "假冒" in d["complaint_reason_zh"]
    dh = export(db_url, client, "dhgate", tmp_path / "out2", evidence_dir=tmp_path).complaints[0].data
    assert dh["item_numbers"] == ["acme-0", "acme-1"] and dh["fields_verified"] is False
    assert dh["seller_ids"] == ["s0"]


def test_generic_letter_in_english_and_chinese(db_url: str, tmp_path: Path) -> None:
    ev = tmp_path / "evidence"
    ev.mkdir()
    seed(db_url, "pinduoduo", 2, evidence_dir=ev)
    result = export(db_url, client_file(tmp_path), "pinduoduo", tmp_path / "out", evidence_dir=ev)
    c = result.complaints[0]
    en = (c.folder / "letter_en.txt").read_text(encoding="utf-8")
    zh = (c.folder / "letter_zh.txt").read_text(encoding="utf-8")
    sha = c.data["evidence"][0]["sha256"]
    for text in (en, zh):
        assert "https://pinduoduo.example/item/acme-0" in text and "https://pinduoduo.example/item/acme-1" in text
        assert "12345678" in text and sha in text
        assert "ip@acme.example" in text and "Ann Lee" in text
    assert "Notice of intellectual property infringement" in en and "registration no. 12345678" in en
    assert "知识产权侵权通知" in zh and "注册号 12345678" in zh and "联系方式" in zh


def _store_with_evidence_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: Path) -> str:
    """A SQLite store in tmp_path (the working folder) with one Pinduoduo case whose evidence is in `folder`."""
    monkeypatch.delenv("MARKWATCH_EVIDENCE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.ensure_schema(url)
    seed(url, "pinduoduo", 1, evidence_dir=folder)
    return url


def test_evidence_comes_from_where_the_cycle_keeps_it_for_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _store_with_evidence_in(tmp_path, monkeypatch, tmp_path / "store-data" / "evidence")  # as `run` keeps it
    result = export(url, client_file(tmp_path), "pinduoduo", tmp_path / "out")
    assert not [w for w in result.warnings if "not found" in w], result.warnings
    assert [p.name for p in (result.complaints[0].folder / "evidence").iterdir()]


def test_a_wrong_evidence_folder_is_refused_instead_of_packages_without_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store on PostgreSQL run with --data-dir keeps its evidence elsewhere: the complaint
    # must not list evidence it does not enclose.
    url = _store_with_evidence_in(tmp_path, monkeypatch, tmp_path / "elsewhere" / "evidence")
    out = tmp_path / "out"
    with pytest.raises(PackageRefused, match=r"store-data/evidence: no evidence folder there .* --evidence-dir"):
        export(url, client_file(tmp_path), "pinduoduo", out)
    assert not out.exists() or not any(out.iterdir())
    result = export(url, client_file(tmp_path), "pinduoduo", out, evidence_dir=tmp_path / "elsewhere" / "evidence")
    assert [p.name for p in (result.complaints[0].folder / "evidence").iterdir()]


def test_a_relist_whose_evidence_predates_it_is_flagged(db_url: str, tmp_path: Path) -> None:
    # A stay-down complaint needs a capture of the listing back on sale, not the old one.
    from crawler.takedown.cases import open_relist

    (case_id,) = seed(db_url, "pinduoduo", 1, evidence_dir=tmp_path)
    with db.session_scope(db_url) as session:
        case = session.get(m.Case, case_id)
        for step in ("submitted", "removed"):
            transition(session, case, step, "a", today=TODAY, complaint_id="P-1")
        relist = open_relist(session, case.listing, case)
        transition(session, relist, "confirmed", "a", today=TODAY)
        relist_id = relist.id
    result = export(db_url, client_file(tmp_path), "pinduoduo", tmp_path / "out", evidence_dir=tmp_path)
    assert result.complaints[0].case_ids == [relist_id]
    assert any(f"case {relist_id} is a relist of case {case_id} but its evidence predates" in w for w in result.warnings)


def test_refused_packages_write_nothing(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    expired = [{"number": "12345678", "country": "CN", "valid_from": "2010-01-01", "valid_until": "2020-01-01",
                "certificate": "docs/cn-12345678.pdf"}]
    client = client_file(tmp_path, [mark(registrations=expired)])
    with pytest.raises(PackageRefused, match="no confirmed cases for Taobao"):
        export(db_url, client, "taobao", out)
    seed(db_url, "taobao", 2)
    with pytest.raises(PackageRefused) as err:
        export(db_url, client, "taobao", out)
    assert str(err.value) == ("Taobao package refused for ACME: registration 12345678 (CN) expired on 2020-01-01 "
                              "(see markwatch readiness)")
    assert not out.exists() or not any(out.iterdir())
    with pytest.raises(deadlines.UnknownPlatform):
        export(db_url, client, "wish", out)
    with pytest.raises(PackageRefused, match="complaint type storefront: only Alibaba IPP platforms"):
        export(db_url, client, "amazon", out, complaint_type="storefront")
    seed(db_url, "tmall", 1, mark_id="ghost")
    with pytest.raises(PackageRefused, match="mark 'ghost' is not in the client file"):
        export(db_url, client, "tmall", out)


def _outcomes(url: str, platform: str, removed: int, reinstated: int, at: dt.datetime | None = None) -> None:
    ids = seed(url, platform, removed + reinstated, mark_id="acme", ids=lambda i: f"{platform}-{removed}-{i}-{at}")
    with db.session_scope(url) as session:
        for n, cid in enumerate(ids):
            case = session.get(m.Case, cid)
            transition(session, case, "submitted", "a", today=TODAY, complaint_id=f"C{cid}")
            transition(session, case, "seller_notified", "a", today=TODAY)
            if n < removed:
                transition(session, case, "removed", "a", today=TODAY)
            else:
                transition(session, case, "cross_complaint", "a", today=TODAY)
                transition(session, case, "reinstated", "a", today=TODAY)
            if at is not None:
                for e in case.events:
                    e.at = at


def test_accuracy_guard_thresholds(db_url: str, tmp_path: Path) -> None:
    _outcomes(db_url, "taobao", 8, 2)       # 80% taken down, sellers won 20%: past
    _outcomes(db_url, "tmall", 19, 1)       # 95% and 5%: within, but near the 5% line
    _outcomes(db_url, "1688", 30, 0)        # clean record
    _outcomes(db_url, "alibaba", 0, 5, at=m.utcnow() - dt.timedelta(days=200))  # outside the window
    with db.session_scope(db_url) as session:
        past = accuracy.platform_accuracy(session, "taobao")
        near = accuracy.platform_accuracy(session, "tmall")
        ok = accuracy.platform_accuracy(session, "1688")
        old = accuracy.platform_accuracy(session, "alibaba")
    assert (past.status, past.decided, past.removed, past.counter_won) == ("past", 10, 8, 2)
    assert past.takedown_rate == 0.8 and "past the thresholds" in past.messages[0]
    assert (near.status, near.takedown_rate, near.counter_won_rate) == ("near", 0.95, 0.05)
    assert ok.status == "ok" and ok.messages == []
    assert (old.status, old.decided) == ("none", 0)
    # The export carries the warning and still writes the packages.
    seed(db_url, "taobao", 1, ids=lambda i: "fresh-1")
    result = export(db_url, client_file(tmp_path), "taobao", tmp_path / "out", evidence_dir=tmp_path)
    assert any("taobao: takedown rate 80% (8/10)" in w and "past the thresholds" in w for w in result.warnings)
    assert json.loads((result.root / "manifest.json").read_text())["accuracy"]["status"] == "past"


def test_skip_unready_leaves_out_marks_that_are_not_ready(db_url: str, tmp_path: Path) -> None:
    no_cert = [{"number": "777", "country": "CN", "valid_from": "2019-01-01", "valid_until": "2029-01-01"}]
    client = client_file(tmp_path, [mark(), mark(id="logo", title="ACME logo", registrations=no_cert)])
    ok_ids = seed(db_url, "tmall", 2)
    bad_ids = seed(db_url, "tmall", 1, mark_id="logo")
    with pytest.raises(PackageRefused, match="refused for ACME logo: no certificate for 777"):
        export(db_url, client, "tmall", tmp_path / "strict")
    result = export(db_url, client, "tmall", tmp_path / "out", evidence_dir=tmp_path, skip_unready=True)
    assert [c.case_ids for c in result.complaints] == [ok_ids]
    assert any(f"cases left out: {bad_ids[0]}" in w for w in result.warnings)


def test_a_configured_site_without_rules_gets_the_letter(db_url: str, tmp_path: Path) -> None:
    path = client_file(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["marketplaces"] = {"shopsite": {"base_url": "https://shopsite.example", "enabled": False}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    seed(db_url, "shopsite", 1)
    result = export(db_url, path, "shopsite", tmp_path / "out", evidence_dir=tmp_path)
    c = result.complaints[0]
    assert c.family == "letter" and c.data["platform"] == "shopsite"
    assert "To: the operator of shopsite" in (c.folder / "letter_en.txt").read_text(encoding="utf-8")


def test_reason_follows_the_case_labels(db_url: str, tmp_path: Path) -> None:
    ids = seed(db_url, "1688", 2)
    client = client_file(tmp_path)
    assert export(db_url, client, "1688", tmp_path / "a", evidence_dir=tmp_path).complaints[0].data[
        "reason"].startswith("Counterfeit goods")
    with db.session_scope(db_url) as session:
        session.get(m.Case, ids[0]).label = "grey market"
    mixed = export(db_url, client, "1688", tmp_path / "b", evidence_dir=tmp_path).complaints[0].data
    assert mixed["reason"].startswith("Trademark infringement") and "商标侵权" in mixed["reason_zh"]


def test_ebay_reports_hold_at_most_150_items(db_url: str, tmp_path: Path) -> None:
    seed(db_url, "ebay", 151, ids=lambda i: f"2000000{i:05d}")
    result = export(db_url, client_file(tmp_path), "ebay", tmp_path / "out", evidence_dir=tmp_path)
    assert [len(c.data["items"]) for c in result.complaints] == [150, 1]
    assert result.complaints[0].data["batch"] == {"index": 1, "of": 2, "max_items": 150}
