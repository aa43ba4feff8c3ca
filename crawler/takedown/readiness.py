"""Readiness: can this mark be enforced on this platform today, and what is missing?

Platforms remove listings when the complaint follows their protocol to the letter:
a registration the platform accepts (China's for Chinese platforms), valid today
and through the period the owner wants enforced, classes that cover the goods, and
the documents: business licence, registration certificate, power of attorney when
an agent files, translations of documents in neither English nor Chinese.

Each check is ok, warn (may fail) or fail (the package is refused). Advice is
concrete and grouped across platforms, e.g. "ACME has no CN registration:
Taobao/Tmall/1688 complaints will likely fail; register in China first".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from crawler.config import Client, Mark, MarkType, Registration, country_name
from crawler.takedown.deadlines import PlatformRule, Rules
from crawler.takedown.deadlines import rules as load_rules

NICE_FILE = Path(__file__).with_name("nice_goods.yaml")
# Languages platforms read without a translation.
PLATFORM_LANGUAGES = {"en", "eng", "english", "zh", "zho", "chi", "chinese", "zh-cn", "zh-hans", "zh-hant", "zh-tw"}


@dataclass(frozen=True)
class Check:
    item: str
    level: str  # ok | warn | fail
    message: str
    # Advice for the user; "{platforms}" is filled with every platform the same advice applies to.
    advice: str | None = None


@dataclass
class Readiness:
    mark: Mark
    platform: PlatformRule
    registration: Registration | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(c.level != "fail" for c in self.checks)

    @property
    def level(self) -> str:
        levels = {c.level for c in self.checks}
        return "fail" if "fail" in levels else "warn" if "warn" in levels else "ok"

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.level == "fail"]

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for the web UI and JSON."""
        reg = self.registration
        return {
            "mark": self.mark.id, "title": self.mark.title, "platform": self.platform.key,
            "platform_name": self.platform.name, "level": self.level, "ready": self.ready,
            "registration": f"{reg.country} {reg.number}" if reg else None,
            "checks": [{"item": c.item, "level": c.level, "message": c.message} for c in self.checks],
            "advice": [c.advice.replace("{platforms}", self.platform.name) for c in self.checks
                       if c.advice and c.level != "ok"],
        }

    def reason(self) -> str:
        """One line: why a package for this mark and platform is refused."""
        return "; ".join(c.message for c in self.failures())


@lru_cache(maxsize=1)
def nice_goods() -> dict[int, tuple[str, ...]]:
    data = yaml.safe_load(NICE_FILE.read_text(encoding="utf-8")) or {}
    return {int(k): tuple(str(w).casefold() for w in v) for k, v in data.items()}


def goods_classes(text: str) -> dict[str, set[int]]:
    """Goods words found in `text` and the Nice classes they belong to."""
    found: dict[str, set[int]] = {}
    folded = text.casefold()
    for cls, words in nice_goods().items():
        for word in words:
            if word.isascii():
                hit = re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", folded) is not None
            else:
                hit = word in folded
            if hit:
                found.setdefault(word, set()).add(cls)
    # A longer phrase ("phone case") makes its parts ("phone") redundant.
    for word in list(found):
        if any(word != other and word in other for other in found):
            del found[word]
    return found


def _best_registration(mark: Mark, rule: PlatformRule, today: dt.date) -> tuple[Registration | None, bool]:
    """The registration to file with, and whether it is from an office the platform prefers."""
    if not mark.registrations:
        return None, False
    offices = rule.registration_offices or (rule.country,)
    preferred = [r for r in mark.registrations if r.country in offices]
    pool = preferred or list(mark.registrations)

    def rank(r: Registration) -> tuple[int, int, dt.date]:
        home = 1 if r.country == rule.country else 0
        return (1 if r.is_valid_on(today) else 0, home, r.valid_until)

    return max(pool, key=rank), bool(preferred)


def _needs_translation(language: str | None) -> bool:
    return bool(language) and language.strip().casefold() not in PLATFORM_LANGUAGES


def _has_translation_file(path: Path, reg: Registration) -> bool:
    """A translation belongs to a registration when its file name carries the number or certificate name."""
    keys = {reg.number.casefold()}
    if reg.certificate is not None:
        keys.add(reg.certificate.stem.casefold())
    return any(k in path.name.casefold() for k in keys)


def _has_translation(client: Client, reg: Registration) -> bool:
    return any(_has_translation_file(p, reg) for p in client.client.documents.translations)


def check(
    client: Client, mark: Mark, platform: str | PlatformRule, *, today: dt.date | None = None,
    rules: Rules | None = None,
) -> Readiness:
    """Every readiness check for one mark on one platform."""
    table = rules or load_rules()
    rule = platform if isinstance(platform, PlatformRule) else table.platform(platform)
    today = today or dt.date.today()
    reg, preferred = _best_registration(mark, rule, today)
    result = Readiness(mark, rule, reg)
    add = result.checks.append
    home = rule.country
    title = mark.title

    # Registration: where, and whether the platform accepts it.
    if reg is None:
        if mark.type == MarkType.copyright:
            add(Check("registration", "warn", "unregistered copyright",
                      f"{title} is an unregistered copyright: {{platforms}} complaints need proof of authorship; "
                      f"a {country_name(home)} copyright registration makes them much stronger"))
        else:
            where = "in China" if home == "CN" else f"in {country_name(home)}"
            add(Check("registration", "fail", f"{title} has no registration",
                      f"{title} has no registration: {{platforms}} complaints will fail; register the "
                      f"{mark.type.value} {where} first"))
    elif not preferred:
        level = rule.foreign_registrations
        offices = ", ".join(rule.registration_offices) or home
        others = ", ".join(sorted({r.country for r in mark.registrations}))
        if home == "CN" and rule.registration_offices == ("CN",):
            advice = (f"{title} has no CN registration: {{platforms}} complaints will likely fail; "
                      "register in China first")
        else:
            advice = (f"{title} has no registration from an office {{platforms}} prefer ({offices}): "
                      f"complaints may fail; register in {country_name(home)}")
        if level != "ok":
            add(Check("registration", level, f"foreign registration only ({others})", advice))
        else:
            add(Check("registration", "ok", f"{reg.country} {reg.number} (foreign, accepted)"))
    else:
        add(Check("registration", "ok", f"{reg.country} {reg.number}"))

    # Validity today and through the period the owner wants enforced.
    if reg is not None:
        if reg.valid_until < today:
            add(Check("validity", "fail", f"registration {reg.number} ({reg.country}) expired on {reg.valid_until}",
                      f"{title}: registration {reg.number} ({reg.country}) expired on {reg.valid_until}; "
                      "renew it before filing on {platforms}"))
        elif reg.valid_from > today:
            add(Check("validity", "fail", f"registration {reg.number} ({reg.country}) valid only from {reg.valid_from}",
                      f"{title}: registration {reg.number} is not in force until {reg.valid_from}; "
                      "{platforms} complaints must wait"))
        else:
            add(Check("validity", "ok", f"valid {reg.valid_from} .. {reg.valid_until}"))
        if mark.protect_until and reg.valid_until < mark.protect_until:
            add(Check("protect_until", "warn",
                      f"ends {reg.valid_until}, before protect_until {mark.protect_until}",
                      f"{title}: registration {reg.number} ends {reg.valid_until}, before protect_until "
                      f"{mark.protect_until}; renew it in time to keep {{platforms}} complaints possible"))
        elif mark.protect_until:
            add(Check("protect_until", "ok", f"covers protect_until {mark.protect_until}"))

    # Classes against the goods the mark is used on.
    if mark.type == MarkType.trademark:
        goods_text = " ".join([*mark.keywords, *(p.name for p in client.products_of(mark.id))])
        found = goods_classes(goods_text)
        if not mark.classes:
            add(Check("classes", "warn", "no Nice classes listed",
                      f"{title}: list the registration's Nice classes (marks[].classes) so markwatch can check "
                      "that they cover the goods"))
        else:
            uncovered = {w: c for w, c in found.items() if not c & set(mark.classes)}
            if uncovered:
                needed = sorted(set().union(*uncovered.values()))
                words = ", ".join(sorted(uncovered))
                add(Check("classes", "warn", f"goods outside classes: {words}",
                          f"{title} is registered in classes {', '.join(map(str, mark.classes))}, but {words} "
                          f"{'is' if len(uncovered) == 1 else 'are'} goods of class "
                          f"{', '.join(map(str, needed))}: {{platforms}} complaints about them may fail; "
                          f"register in class {', '.join(map(str, needed))}"))
            else:
                add(Check("classes", "ok", f"classes {', '.join(map(str, mark.classes))} cover the goods"))

    # Documents.
    docs = client.client.documents
    if "business_license" in rule.documents:
        if docs.business_license is None:
            add(Check("business_license", "fail", "no business licence",
                      "add the rights owner's business licence (client.documents.business_license): "
                      "{platforms} require it"))
        else:
            add(Check("business_license", "ok", docs.business_license.name))
    if "certificate" in rule.documents and reg is not None:
        if reg.certificate is None:
            add(Check("certificate", "fail", f"no certificate for {reg.number}",
                      f"{title}: add the registration certificate of {reg.number} "
                      "(marks[].registrations[].certificate): {platforms} require it"))
        else:
            add(Check("certificate", "ok", reg.certificate.name))
    owner = mark.owner or client.client.name
    if owner.casefold() != client.client.name.casefold():
        if docs.power_of_attorney is None:
            add(Check("power_of_attorney", "fail", f"owner {owner} is not the client",
                      f"{title} is owned by {owner}, not {client.client.name}: add a power of attorney from "
                      f"{owner} (client.documents.power_of_attorney) for {{platforms}}"))
        else:
            add(Check("power_of_attorney", "ok", docs.power_of_attorney.name))
    if reg is not None and _needs_translation(reg.language):
        if _has_translation(client, reg):
            add(Check("translation", "ok", f"translation of {reg.number} present"))
        else:
            add(Check("translation", "fail", f"certificate {reg.number} is in {reg.language}, no translation",
                      f"{title}: the certificate of {reg.number} is in {reg.language}; add a Chinese or English "
                      f"translation whose file name contains {reg.number!r} (client.documents.translations) "
                      "for {platforms}"))

    # Platform-specific gaps in the rule table itself.
    if rule.family == "ebay_vero":
        codes = (rule.extra.get("vero") or {}).get("reason_codes") or {}
        if not (codes.get(mark.type.value) or {}).get("id"):
            add(Check("reason_code", "warn", "VeRO reason code id not set",
                      f"eBay VeRO reason code ids are site-specific: fetch them with GET "
                      f"/commerce/vero/v1/vero_reason_code and set platforms.ebay.vero.reason_codes."
                      f"{mark.type.value}.id in the rules file; until then {{platforms}} packages have the "
                      "NOCI form route only"))
    return result


def default_platforms(client: Client, table: Rules | None = None) -> list[str]:
    """The client's enabled marketplaces that have rules, or every platform when none is set."""
    table = table or load_rules()
    enabled = [name for name in client.enabled_marketplaces() if name.lower() in table.platforms]
    return enabled or [k for k in table.platforms if k != "generic"]


def check_all(
    client: Client, platforms: Iterable[str] | None = None, *, today: dt.date | None = None,
    rules: Rules | None = None,
) -> list[Readiness]:
    table = rules or load_rules()
    names = list(platforms) if platforms is not None else default_platforms(client, table)
    rows = []
    for mark in client.marks:
        for name in names:
            rows.append(check(client, mark, table.platform(name), today=today, rules=table))
    return rows


def advice(rows: Iterable[Readiness]) -> list[tuple[str, str]]:
    """(level, text) advice lines, each naming every platform it applies to; failures first."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for c in row.checks:
            if c.level == "ok" or not c.advice:
                continue
            names = grouped.setdefault((c.level, c.advice), [])
            if row.platform.name not in names:
                names.append(row.platform.name)
    order = {"fail": 0, "warn": 1}
    lines = [
        (level, text.replace("{platforms}", "/".join(names)))
        for (level, text), names in grouped.items()
    ]
    return sorted(lines, key=lambda x: order[x[0]])


def readiness(client: Client, platforms: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every mark on every platform as plain rows (see `Readiness.as_dict`)."""
    return [r.as_dict() for r in check_all(client, platforms)]
