"""Complaint packages: confirmed cases turned into what each platform's protocol asks for.

`export_packages` writes one folder per complaint and a zip of them all:

- Alibaba IPP (Taobao, Tmall, 1688, Alibaba.com, AliExpress): one IP right per
  complaint with its fields (registration number, title, owner, type, country,
  validity and protection period), at most 300 links per complaint, the complaint
  type (listing or storefront), the reason, evidence files.
- Amazon: at most 50 listings per report, one IP type (and one registration) per
  report, the rights owner's contact, nature of infringement, ASINs and URLs,
  test-buy order ids where recorded.
- eBay VeRO: item ids each with a reason code, the JSON body of the VeRO API's
  `POST /commerce/vero/v1/vero_report` (when reason code ids are set in the rules),
  and the NOCI form's fields for the manual route.
- JD and DHgate: their complaint forms' fields as far as known (marked unverified).
- Sites without a portal: a complaint letter in English and Chinese with the
  listings, IP details, evidence hashes and the client's contact.

Readiness is checked first: a package is refused, with the reason and nothing
written, when a required item is missing. Exporting changes no case: after filing,
record each complaint id with `markwatch case ID submit --complaint-id ...`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler import models as m
from crawler.config import Client, Mark, Registration, country_name
from crawler.evidence import SUFFIX as EVIDENCE_SUFFIX
from crawler.takedown import accuracy, readiness
from crawler.takedown.cases import test_buy_orders
from crawler.takedown.deadlines import PlatformRule, Rules, TakedownError, UnknownPlatform
from crawler.takedown.deadlines import rules as load_rules

COMPLAINT_TYPES = ("listing", "storefront")
AMAZON_MAX = 50
IPP_MAX = 300
ASIN = re.compile(r"^[A-Z0-9]{10}$")
ASIN_IN_URL = re.compile(r"/(?:dp|gp/product|product)/([A-Z0-9]{10})(?:[/?]|$)")


class PackageRefused(TakedownError):
    """A package that cannot be built; the message says what is missing."""


def _platforms() -> tuple[str, ...]:
    try:
        return tuple(load_rules().platforms)
    except TakedownError:
        return ()


PLATFORMS = _platforms()

# Reasons by IP type and case label: (English, Chinese).
REASONS: dict[str, dict[str, tuple[str, str]]] = {
    "trademark": {
        "counterfeit": (
            ("Counterfeit goods: the listing sells goods bearing the registered trademark {title} "
            "without the owner's authorisation."),
            "假冒商品：该商品未经权利人授权，使用了注册商标“{title}”。",
        ),
        "copycat": (
            ("Trademark infringement: the listing uses the registered trademark {title} or a sign "
            "confusingly similar to it without authorisation."),
            "商标侵权：该商品未经授权使用了与注册商标“{title}”相同或近似的标识。",
        ),
    },
    "copyright": {
        "default": (
            ("Copyright infringement: the listing uses the protected work {title} (images or text) "
            "without the owner's authorisation."),
            "著作权侵权：该商品未经权利人授权，使用了作品“{title}”（图片或文字）。",
        ),
    },
    "patent": {
        "default": (
            "Patent infringement: the goods offered implement the patent {title} without authorisation.",
            "专利侵权：该商品未经授权实施了专利“{title}”。",
        ),
    },
    "design": {
        "default": (
            "Design infringement: the goods offered copy the registered design {title}.",
            "外观设计侵权：该商品仿冒了外观设计“{title}”。",
        ),
    },
}

AMAZON_NATURE = {
    ("trademark", "counterfeit"): "Counterfeit: the product is a counterfeit of the brand",
    ("trademark", None): "Trademark infringement: the trademark is used in the listing without authorisation",
    ("copyright", None): "Copyright infringement: images or text copied from the rights owner",
    ("patent", None): "Utility patent infringement",
    ("design", None): "Design patent infringement",
}


@dataclass
class Complaint:
    folder: Path
    family: str
    case_ids: list[int]
    data: dict[str, Any]


@dataclass
class ExportResult:
    root: Path
    zip_path: Path
    complaints: list[Complaint] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Item:
    case: m.Case
    listing: m.Listing
    mark: Mark
    evidence: list[m.Evidence]


def _reason(mark: Mark, label: str | None) -> tuple[str, str]:
    table = REASONS[mark.type.value]
    # No label: the case came from a counterfeit verdict. Other labels (grey market,
    # mixed batches) take the general ground of the IP type, never "counterfeit".
    en, zh = table.get(label or "counterfeit") or table.get("copycat") or table["default"]
    return en.format(title=mark.title), zh.format(title=mark.title)


def _batch_label(items: list[_Item]) -> str:
    """The label all cases of a complaint share (no label: counterfeit), else "mixed"."""
    labels = {it.case.label or "counterfeit" for it in items}
    return labels.pop() if len(labels) == 1 else "mixed"


def _batches(items: list[Any], size: int | None) -> list[list[Any]]:
    if not size:
        return [items] if items else []
    return [items[i : i + size] for i in range(0, len(items), size)]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "x"


def _ip_right(mark: Mark, reg: Registration | None, today: dt.date) -> dict[str, Any]:
    """The IP right's fields as Alibaba IPP (and most portals) ask for them."""
    if reg is None:
        return {
            "registration_number": None, "title": mark.title, "owner": mark.owner, "type": mark.type.value,
            "country": None, "validity_period": None, "protection_period": None,
        }
    until = reg.valid_until
    if mark.protect_until and mark.protect_until < until:
        until = mark.protect_until
    return {
        "registration_number": reg.number,
        "title": mark.title,
        "owner": mark.owner,
        "type": mark.type.value,
        "country": reg.country,
        "country_name": country_name(reg.country),
        "classes": list(mark.classes),
        "validity_period": {"from": reg.valid_from.isoformat(), "until": reg.valid_until.isoformat()},
        # The period the owner asks the platform to enforce: from today to protect_until
        # (never beyond the registration's validity).
        "protection_period": {"from": max(today, reg.valid_from).isoformat(), "until": until.isoformat()},
    }


def _listing_fields(item: _Item) -> dict[str, Any]:
    lst = item.listing
    return {
        "case_id": item.case.id, "listing_id": lst.listing_id, "url": lst.url, "title": lst.title,
        "price": lst.price, "currency": lst.currency, "seller_id": lst.seller_id,
        "seller_name": lst.seller_name, "store_url": lst.store_url,
        "first_seen": lst.first_seen.isoformat() + "Z" if lst.first_seen else None,
        "last_seen": lst.last_seen.isoformat() + "Z" if lst.last_seen else None,
    }


def _contact(client: Client) -> dict[str, Any]:
    c = client.client.contact
    return {"name": client.client.name, "person": c.person, "email": c.email, "phone": c.phone, "address": c.address}


class _Writer:
    """Writes one complaint folder: JSON, copied evidence and documents, a README."""

    def __init__(self, root: Path, evidence_dir: Path, warnings: list[str]) -> None:
        self.root = root
        self.evidence_dir = evidence_dir
        self.warnings = warnings
        self.count = 0

    def folder(self, name: str) -> Path:
        self.count += 1
        path = self.root / f"{self.count:03d}-{_slug(name)}"
        path.mkdir(parents=True)
        return path

    def evidence(self, folder: Path, items: list[_Item]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            if not item.evidence:
                # Platforms ask for proof of what was on sale: the analyst should capture it first.
                self.warnings.append(
                    f"case {item.case.id} has no evidence; capture it first: "
                    f"markwatch evidence capture {item.listing.marketplace}:{item.listing.listing_id}"
                )
            elif item.case.relist_of is not None and max(e.captured_at for e in item.evidence) < item.case.created_at:
                # Captures from before the removal do not show the listing back on sale.
                self.warnings.append(
                    f"case {item.case.id} is a relist of case {item.case.relist_of} but its evidence predates the "
                    f"relist; capture it again: markwatch evidence capture "
                    f"{item.listing.marketplace}:{item.listing.listing_id}"
                )
            for ev in item.evidence:
                src = Path(ev.path)
                if not src.is_absolute():
                    src = self.evidence_dir / src
                entry = {
                    "case_id": item.case.id, "listing_id": item.listing.listing_id, "kind": ev.kind,
                    "url": ev.url, "captured_at": ev.captured_at.isoformat() + "Z", "sha256": ev.sha256,
                    "entry_hash": ev.entry_hash, "file": None,
                }
                if src.is_file():
                    suffix = EVIDENCE_SUFFIX.get(ev.kind, "")
                    name = f"evidence/{_slug(item.listing.listing_id)}-{ev.kind}-{ev.sha256[:12]}{suffix}"
                    (folder / "evidence").mkdir(exist_ok=True)
                    shutil.copyfile(src, folder / name)
                    entry["file"] = name
                else:
                    self.warnings.append(f"evidence file of case {item.case.id} not found: {src}")
                out.append(entry)
        return out

    def documents(self, folder: Path, client: Client, mark: Mark, reg: Registration | None) -> list[dict[str, str]]:
        docs = client.client.documents
        wanted: list[tuple[str, Path | None]] = [
            ("business_license", docs.business_license),
            ("certificate", reg.certificate if reg else None),
        ]
        if (mark.owner or client.client.name).casefold() != client.client.name.casefold():
            wanted.append(("power_of_attorney", docs.power_of_attorney))
        if reg is not None and readiness._needs_translation(reg.language):
            wanted += [("translation", p) for p in docs.translations if readiness._has_translation_file(p, reg)]
        out = []
        for kind, path in wanted:
            if path is None or not Path(path).is_file():
                continue
            (folder / "documents").mkdir(exist_ok=True)
            name = f"documents/{kind}-{Path(path).name}"
            shutil.copyfile(path, folder / name)
            out.append({"kind": kind, "file": name, "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()})
        return out

    def write(self, folder: Path, data: dict[str, Any], readme: str, extra: dict[str, str] | None = None) -> None:
        (folder / "complaint.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (folder / "README.txt").write_text(readme.rstrip() + "\n", encoding="utf-8")
        for name, text in (extra or {}).items():
            (folder / name).write_text(text, encoding="utf-8")


def _readme(rule: PlatformRule, batch: tuple[int, int], what: str) -> str:
    lines = [
        f"{rule.name} complaint {batch[0]} of {batch[1]}",
        f"Where to file: {rule.portal or 'no portal: send the letter to the site operator'}",
        f"Protocol: {rule.source}" + ("" if rule.verified else " (not verified against the platform's own rules)"),
        what,
        "After filing, record the platform's complaint id for every case listed in complaint.json:",
        "  markwatch case <case id> submit --complaint-id <id>",
    ]
    return "\n".join(lines)


def _group_by_mark(items: list[_Item]) -> dict[str, list[_Item]]:
    groups: dict[str, list[_Item]] = {}
    for item in items:
        groups.setdefault(item.mark.id, []).append(item)
    return groups


# ---------------------------------------------------------------- per family


def _alibaba_ipp(w: _Writer, rule: PlatformRule, client: Client, items: list[_Item], ready: dict[str, Any],
                 today: dt.date, complaint_type: str) -> list[Complaint]:
    out = []
    limit = min(rule.max_links or IPP_MAX, IPP_MAX)
    for mark_id, group in _group_by_mark(items).items():
        mark, reg = group[0].mark, ready[mark_id].registration
        if complaint_type == "storefront":
            # One link per store; the store's listings are its evidence.
            stores: dict[str, list[_Item]] = {}
            for item in group:
                key = item.listing.store_url or item.listing.url
                if not item.listing.store_url:
                    w.warnings.append(f"case {item.case.id}: no store URL, the listing link is used instead")
                stores.setdefault(key, []).append(item)
            units = [(url, its) for url, its in stores.items()]
        else:
            units = [(item.listing.url, [item]) for item in group]
        batches = _batches(units, limit)
        for n, batch in enumerate(batches, 1):
            members = [it for _, its in batch for it in its]
            folder = w.folder(f"{rule.key}-{mark_id}-{n}")
            reason_en, reason_zh = _reason(mark, _batch_label(members))
            links = [url for url, _ in batch]
            data = {
                "platform": rule.key, "platform_name": rule.name, "family": rule.family, "portal": rule.portal,
                "batch": {"index": n, "of": len(batches), "max_links": limit},
                "complaint_type": complaint_type,
                "ip_right": _ip_right(mark, reg, today),
                "reason": reason_en, "reason_zh": reason_zh,
                "links": links,
                "listings": [_listing_fields(it) for it in members],
                "case_ids": [it.case.id for it in members],
                "complainant": _contact(client),
                "evidence": w.evidence(folder, members),
                "documents": w.documents(folder, client, mark, reg),
            }
            w.write(folder, data, _readme(rule, (n, len(batches)),
                    "Upload the IP right once, then paste links.txt (one link per line) into the complaint."),
                    {"links.txt": "\n".join(links) + "\n"})
            out.append(Complaint(folder, rule.family, data["case_ids"], data))
    return out


def _asin(listing: m.Listing) -> str | None:
    if ASIN.match(listing.listing_id or ""):
        return listing.listing_id
    found = ASIN_IN_URL.search(listing.url or "")
    return found.group(1) if found else None


def _amazon(w: _Writer, rule: PlatformRule, client: Client, items: list[_Item], ready: dict[str, Any],
            today: dt.date, complaint_type: str) -> list[Complaint]:
    out = []
    limit = min(rule.max_links or AMAZON_MAX, AMAZON_MAX)
    # One registration per report keeps one IP type per report as well.
    for mark_id, group in _group_by_mark(items).items():
        mark, reg = group[0].mark, ready[mark_id].registration
        batches = _batches(group, limit)
        for n, batch in enumerate(batches, 1):
            folder = w.folder(f"amazon-{mark_id}-{n}")
            asins = []
            for it in batch:
                asin = _asin(it.listing)
                if asin is None:
                    w.warnings.append(f"case {it.case.id}: no ASIN in listing id or URL; the URL is reported alone")
                else:
                    asins.append(asin)
            # Cases open from counterfeit verdicts: no label means counterfeit; mixed labels the general ground.
            labels = {it.case.label or "counterfeit" for it in batch}
            label = labels.pop() if len(labels) == 1 else None
            nature = AMAZON_NATURE.get((mark.type.value, label)) or AMAZON_NATURE[(mark.type.value, None)]
            orders = [{"case_id": it.case.id, "order_id": o} for it in batch for o in test_buy_orders(it.case)]
            data = {
                "platform": rule.key, "platform_name": rule.name, "family": rule.family, "portal": rule.portal,
                "batch": {"index": n, "of": len(batches), "max_listings": limit},
                "rights_owner": {**_contact(client), "name": mark.owner or client.client.name,
                                 "filed_by": client.client.name},
                "ip_type": mark.type.value,
                "brand": mark.title,
                "registration_number": reg.number if reg else None,
                "registration_office": reg.country if reg else None,
                "nature_of_infringement": nature,
                "asins": asins,
                "urls": [it.listing.url for it in batch],
                "test_buy_order_ids": orders,
                "listings": [_listing_fields(it) for it in batch],
                "case_ids": [it.case.id for it in batch],
                "evidence": w.evidence(folder, batch),
                "documents": w.documents(folder, client, mark, reg),
            }
            w.write(folder, data, _readme(rule, (n, len(batches)),
                    "Use the Report Infringement form: one IP type per report, the ASINs below."),
                    {"asins.txt": "\n".join(asins) + ("\n" if asins else "")})
            out.append(Complaint(folder, rule.family, data["case_ids"], data))
    return out


def _ebay(w: _Writer, rule: PlatformRule, client: Client, items: list[_Item], ready: dict[str, Any],
          today: dt.date, complaint_type: str) -> list[Complaint]:
    out = []
    codes = (rule.extra.get("vero") or {}).get("reason_codes") or {}
    limit = rule.max_links or 150
    for mark_id, group in _group_by_mark(items).items():
        mark, reg = group[0].mark, ready[mark_id].registration
        code = codes.get(mark.type.value) or {}
        code_id, code_text = code.get("id"), code.get("text") or f"{mark.type.value} infringement"
        batches = _batches(group, limit)
        for n, batch in enumerate(batches, 1):
            folder = w.folder(f"ebay-{mark_id}-{n}")
            reason_en, _ = _reason(mark, _batch_label(batch))
            items_out = [
                {"item_id": it.listing.listing_id, "case_id": it.case.id, "url": it.listing.url,
                 "reason_code_id": code_id, "reason": code_text}
                for it in batch
            ]
            extra: dict[str, str] = {}
            api_body = None
            if code_id is not None:
                api_body = {
                    "reportItems": [
                        {
                            "itemId": str(it.listing.listing_id),
                            "veroReasonCodeId": str(code_id),
                            "messageToSeller": reason_en[:1000],
                            "copyEmailToRightsOwner": True,
                        }
                        for it in batch
                    ]
                }
                extra["vero_report.json"] = json.dumps(api_body, indent=2, ensure_ascii=False) + "\n"
            else:
                w.warnings.append(
                    f"eBay: no VeRO reason code id for {mark.type.value} in the rules file; "
                    "the package has the NOCI form route only"
                )
            contact = _contact(client)
            data = {
                "platform": rule.key, "platform_name": rule.name, "family": rule.family, "portal": rule.portal,
                "batch": {"index": n, "of": len(batches), "max_items": limit},
                "items": items_out,
                "vero_api": {"method": "POST", "url": "https://api.ebay.com/commerce/vero/v1/vero_report",
                             "body": api_body},
                "noci": {
                    "rights_owner": mark.owner or client.client.name,
                    "contact_name": contact["person"], "company": client.client.name,
                    "address": contact["address"], "phone": contact["phone"], "email": contact["email"],
                    "ip_type": mark.type.value, "ip_title": mark.title,
                    "registration_number": reg.number if reg else None,
                    "registration_country": reg.country if reg else None,
                    "items": [{"item_id": i["item_id"], "reason": i["reason"]} for i in items_out],
                    "good_faith_statement": (
                        "I have a good faith belief that use of the material in the manner complained of is "
                        "not authorised by the intellectual property rights owner, its agent, or the law."
                    ),
                    "accuracy_statement": (
                        "The information in this notice is accurate, and under penalty of perjury, I am the "
                        "owner, or an agent authorised to act on behalf of the owner, of the rights described."
                    ),
                    "signature": contact["person"] or client.client.name,
                    "date": today.isoformat(),
                },
                "case_ids": [it.case.id for it in batch],
                "listings": [_listing_fields(it) for it in batch],
                "evidence": w.evidence(folder, batch),
                "documents": w.documents(folder, client, mark, reg),
            }
            w.write(folder, data, _readme(rule, (n, len(batches)),
                    "VeRO members: send vero_report.json to the VeRO API; otherwise fill the NOCI form "
                    "with the `noci` fields."), extra)
            out.append(Complaint(folder, rule.family, data["case_ids"], data))
    return out


def _cn_portal(w: _Writer, rule: PlatformRule, client: Client, items: list[_Item], ready: dict[str, Any],
               today: dt.date, complaint_type: str) -> list[Complaint]:
    """JD and DHgate: IP right, rights holder, item numbers and links, reason, evidence."""
    out = []
    limit = rule.max_links
    for mark_id, group in _group_by_mark(items).items():
        mark, reg = group[0].mark, ready[mark_id].registration
        batches = _batches(group, limit)
        for n, batch in enumerate(batches, 1):
            folder = w.folder(f"{rule.key}-{mark_id}-{n}")
            reason_en, reason_zh = _reason(mark, _batch_label(batch))
            id_key = "sku_ids" if rule.family == "jd" else "item_numbers"
            data = {
                "platform": rule.key, "platform_name": rule.name, "family": rule.family, "portal": rule.portal,
                "fields_verified": rule.verified,
                "batch": {"index": n, "of": len(batches), "max_links": limit,
                          "max_links_verified": rule.max_links_verified},
                "rights_holder": {**_contact(client), "name": mark.owner or client.client.name},
                "ip_right": _ip_right(mark, reg, today),
                "complaint_reason": reason_en, "complaint_reason_zh": reason_zh,
                id_key: [it.listing.listing_id for it in batch],
                "links": [it.listing.url for it in batch],
                "seller_ids": sorted({it.listing.seller_id for it in batch if it.listing.seller_id}),
                "case_ids": [it.case.id for it in batch],
                "listings": [_listing_fields(it) for it in batch],
                "evidence": w.evidence(folder, batch),
                "documents": w.documents(folder, client, mark, reg),
            }
            w.write(folder, data, _readme(rule, (n, len(batches)),
                    "Fill the platform's IPR complaint form with these fields."),
                    {"links.txt": "\n".join(data["links"]) + "\n"})
            out.append(Complaint(folder, rule.family, data["case_ids"], data))
    return out


def letter_texts(client: Client, rule: PlatformRule, mark: Mark, ip: dict[str, Any], listings: list[dict[str, Any]],
                 evidence: list[dict[str, Any]], today: dt.date, label: str | None = None) -> tuple[str, str]:
    """The complaint letter in English and in Chinese."""
    c = _contact(client)
    reason_en, reason_zh = _reason(mark, label)
    validity = ip.get("validity_period") or {}
    reg_en = (
        f"{ip['type']} {ip['title']}, registration no. {ip['registration_number']} ({ip.get('country_name')}), "
        f"valid {validity.get('from')} to {validity.get('until')}, owned by {ip['owner']}"
        if ip.get("registration_number") else f"{ip['type']} {ip['title']}, owned by {ip['owner']}"
    )
    reg_zh = (
        f"{ip['title']}（{ip['type']}），注册号 {ip['registration_number']}（{ip.get('country')}），"
        f"有效期 {validity.get('from')} 至 {validity.get('until')}，权利人 {ip['owner']}"
        if ip.get("registration_number") else f"{ip['title']}（{ip['type']}），权利人 {ip['owner']}"
    )
    ev_lines = [
        f"  - {e['kind']} of {e['url']} captured {e['captured_at']}: SHA-256 {e['sha256']}" for e in evidence
    ] or ["  - (no captured evidence yet)"]
    ev_zh = [f"  - {e['kind']}（{e['url']}，取证时间 {e['captured_at']}）：SHA-256 {e['sha256']}" for e in evidence] \
        or ["  - （尚无取证文件）"]
    lst_en = [f"  {i}. {x['url']} : {x['title']} (seller {x['seller_name'] or x['seller_id'] or 'unknown'})"
              for i, x in enumerate(listings, 1)]
    lst_zh = [f"  {i}. {x['url']}：{x['title']}（卖家 {x['seller_name'] or x['seller_id'] or '未知'}）"
              for i, x in enumerate(listings, 1)]
    contact_en = [f"  {k}: {v}" for k, v in (("Company", c["name"]), ("Contact", c["person"]), ("Email", c["email"]),
                                             ("Phone", c["phone"]), ("Address", c["address"])) if v]
    contact_zh = [f"  {k}：{v}" for k, v in (("公司", c["name"]), ("联系人", c["person"]), ("邮箱", c["email"]),
                                            ("电话", c["phone"]), ("地址", c["address"])) if v]
    en = "\n".join([
        f"Date: {today.isoformat()}",
        f"To: the operator of {rule.name}",
        f"Subject: Notice of intellectual property infringement ({ip['title']})",
        "",
        f"We write on behalf of {ip['owner']}, owner of the following right:",
        f"  {reg_en}.",
        "",
        reason_en,
        "The following listings on your site infringe this right:",
        *lst_en,
        "",
        "Evidence (files enclosed; SHA-256 hashes allow you to verify them):",
        *ev_lines,
        "",
        "We ask you to remove these listings without delay and to tell us when this is done.",
        "We have a good faith belief that this use is not authorised by the rights owner, its agent or the law,",
        "and the information in this notice is accurate.",
        "",
        "Contact:",
        *contact_en,
    ])
    zh = "\n".join([
        f"日期：{today.isoformat()}",
        f"致：{rule.name} 运营方",
        f"事由：知识产权侵权通知（{ip['title']}）",
        "",
        f"我方代表权利人 {ip['owner']} 致函。权利信息如下：",
        f"  {reg_zh}。",
        "",
        reason_zh,
        "贵站以下商品链接侵犯上述权利：",
        *lst_zh,
        "",
        "证据（随附文件，可通过 SHA-256 哈希值核验）：",
        *ev_zh,
        "",
        "请贵方尽快删除上述商品链接，并告知处理结果。",
        "我方善意相信上述使用未经权利人、其代理人或法律许可，且本通知所载信息真实准确。",
        "",
        "联系方式：",
        *contact_zh,
    ])
    return en + "\n", zh + "\n"


def _letter(w: _Writer, rule: PlatformRule, client: Client, items: list[_Item], ready: dict[str, Any],
            today: dt.date, complaint_type: str) -> list[Complaint]:
    out = []
    for mark_id, group in _group_by_mark(items).items():
        mark, reg = group[0].mark, ready[mark_id].registration
        folder = w.folder(f"{rule.key}-{mark_id}-letter")
        ip = _ip_right(mark, reg, today)
        listings = [_listing_fields(it) for it in group]
        evidence = w.evidence(folder, group)
        en, zh = letter_texts(client, rule, mark, ip, listings, evidence, today, _batch_label(group))
        data = {
            "platform": rule.key, "platform_name": rule.name, "family": rule.family, "portal": rule.portal,
            "batch": {"index": 1, "of": 1},
            "ip_right": ip, "listings": listings, "case_ids": [it.case.id for it in group],
            "contact": _contact(client), "evidence": evidence,
            "documents": w.documents(folder, client, mark, reg),
            "letters": {"en": "letter_en.txt", "zh": "letter_zh.txt"},
        }
        w.write(folder, data, _readme(rule, (1, 1), "Send letter_en.txt and letter_zh.txt with the enclosed files."),
                {"letter_en.txt": en, "letter_zh.txt": zh})
        out.append(Complaint(folder, rule.family, data["case_ids"], data))
    return out


EXPORTERS = {
    "alibaba_ipp": _alibaba_ipp, "amazon": _amazon, "ebay_vero": _ebay, "jd": _cn_portal, "dhgate": _cn_portal,
    "letter": _letter,
}


# ---------------------------------------------------------------- entry points


def platform_for(client: Client, platform: str, table: Rules | None = None) -> PlatformRule:
    """The platform's rule; a marketplace of the client file without one gets the letter of `generic`."""
    table = table or load_rules()
    try:
        return table.platform(platform)
    except UnknownPlatform:
        name = str(platform).strip().lower()
        if name in {k.lower() for k in client.marketplaces}:
            return dataclasses.replace(table.platform("generic"), key=name, name=name)
        raise


def _cases(session: Session, platform: str, case_ids: Iterable[int] | None) -> list[m.Case]:
    stmt = select(m.Case).where(m.Case.platform == platform, m.Case.state == "confirmed").order_by(m.Case.id)
    cases = list(session.scalars(stmt))
    if case_ids is not None:
        wanted = set(case_ids)
        cases = [c for c in cases if c.id in wanted]
    return cases


def export_packages(
    session: Session,
    client: Client,
    platform: str,
    out_dir: str | Path,
    *,
    today: dt.date | None = None,
    rules: Rules | None = None,
    complaint_type: str = "listing",
    evidence_dir: str | Path | None = None,
    case_ids: Iterable[int] | None = None,
    skip_unready: bool = False,
) -> ExportResult:
    """Write the complaint packages of the platform's confirmed cases; refuse when not ready.

    Nothing is written when the export is refused (PackageRefused, one line). With
    `skip_unready`, cases of marks that are not ready are left out (and named in the
    warnings) instead, as long as some case remains.
    """
    table = rules or load_rules()
    rule = platform_for(client, platform, table)
    today = today or dt.date.today()
    if complaint_type not in COMPLAINT_TYPES:
        raise PackageRefused(f"complaint type: expected one of {', '.join(COMPLAINT_TYPES)}, got {complaint_type!r}")
    if complaint_type != "listing" and rule.family != "alibaba_ipp":
        # Other platforms' packages report listings only: asking for more must not pass unnoticed.
        raise PackageRefused(
            f"complaint type {complaint_type}: only Alibaba IPP platforms (taobao, tmall, 1688, alibaba, aliexpress) "
            f"take it; {rule.name} packages report listings"
        )
    cases = _cases(session, rule.key, case_ids)
    if not cases:
        raise PackageRefused(
            f"no confirmed cases for {rule.name}: confirm candidates first (markwatch case ID confirm)"
        )
    marks = {mk.id: mk for mk in client.marks}
    ready: dict[str, readiness.Readiness] = {}
    for case in cases:
        if case.mark_id not in marks:
            raise PackageRefused(
                f"case {case.id}: mark {case.mark_id!r} is not in the client file; expected one of {sorted(marks)}"
            )
        if case.mark_id not in ready:
            ready[case.mark_id] = readiness.check(client, marks[case.mark_id], rule, today=today, rules=table)
    warnings: list[str] = []
    for mark_id, r in ready.items():
        if r.ready:
            continue
        refusal = f"{rule.name} package refused for {marks[mark_id].title}: {r.reason()} (see markwatch readiness)"
        if not skip_unready or all(not x.ready for x in ready.values()):
            raise PackageRefused(refusal)
        skipped = [c.id for c in cases if c.mark_id == mark_id]
        warnings.append(f"{refusal}; cases left out: {', '.join(map(str, skipped))}")
    cases = [c for c in cases if ready[c.mark_id].ready]
    ready = {k: v for k, v in ready.items() if v.ready}

    acc = accuracy.platform_accuracy(session, rule.key, rules=table)
    warnings += acc.messages
    for r in ready.values():
        warnings += [f"{r.mark.title}: {c.message}" for c in r.checks if c.level == "warn"]

    evidence_rows: dict[int, list[m.Evidence]] = {}
    listing_pks = [c.listing_pk for c in cases]
    for ev in session.scalars(select(m.Evidence).where(m.Evidence.listing_pk.in_(listing_pks)).order_by(m.Evidence.id)):
        evidence_rows.setdefault(ev.listing_pk, []).append(ev)
    items = [_Item(c, c.listing, marks[c.mark_id], evidence_rows.get(c.listing_pk, [])) for c in cases]

    if evidence_dir is None:
        from crawler.evidence import default_dir

        # Where `markwatch run` keeps the evidence of this store.
        url = session.get_bind().url.render_as_string(hide_password=False)
        evidence_dir = default_dir(url)
    files = sum(len(rows) for rows in evidence_rows.values())
    if files and not Path(evidence_dir).is_dir():
        # A wrong folder would give complaints that list evidence but enclose none of it.
        raise PackageRefused(
            f"{evidence_dir}: no evidence folder there for the cases' {files} evidence files; give --evidence-dir "
            "(after `markwatch run --data-dir DIR` it is DIR/evidence)"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = m.utcnow().strftime("%Y%m%d-%H%M%S")
    name = f"{rule.key}-{stamp}"
    suffix = 1
    while (out_dir / name).exists() or (out_dir / f"{name}.zip").exists():
        suffix += 1
        name = f"{rule.key}-{stamp}-{suffix}"
    # Build in a temporary folder beside the target, then move it into place: a
    # failure half-way leaves nothing behind.
    staging = Path(tempfile.mkdtemp(prefix=".markwatch-export-", dir=out_dir))
    try:
        writer = _Writer(staging, Path(evidence_dir), warnings)
        complaints = EXPORTERS[rule.family](writer, rule, client, items, ready, today, complaint_type)
        manifest = {
            "platform": rule.key, "platform_name": rule.name, "family": rule.family, "created": m.utcnow().isoformat() + "Z",
            "rules": {"source": rule.source, "verified": rule.verified},
            "accuracy": {
                "status": acc.status, "decided": acc.decided, "removed": acc.removed,
                "counter_won": acc.counter_won, "takedown_rate": acc.takedown_rate,
                "counter_won_rate": acc.counter_won_rate,
            },
            "warnings": warnings,
            "complaints": [{"folder": c.folder.name, "case_ids": c.case_ids} for c in complaints],
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        root = out_dir / name
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    complaints = [Complaint(root / c.folder.name, c.family, c.case_ids, c.data) for c in complaints]
    zip_path = out_dir / f"{name}.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, Path(name) / path.relative_to(root))
    return ExportResult(root, zip_path, complaints, warnings)


def export(
    client: Client, db_url: str, platform: str, out: str | Path, **options: Any
) -> ExportResult:
    """`export_packages` in its own read-only transaction, for callers without a session."""
    from crawler.db import session_scope

    with session_scope(db_url) as session:
        return export_packages(session, client, platform, out, **options)
