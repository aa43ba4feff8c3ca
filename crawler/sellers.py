"""Who is behind the listings: seller history, risk, and networks of sellers.

A counterfeiter rarely runs one shop. This module reads the store and answers:

- **history**: per seller (marketplace + seller id), how many of its listings
  markwatch found, how many were hits (latest verdict counterfeit) or sent to
  review, how many an analyst confirmed, how many were taken down, and how many
  were relists of something already removed;
- **risk**: one number per seller, see `risk_score`;
- **clusters**: sellers, across marketplaces, linked by the same photo (equal
  SHA-256, or pHash within `CLUSTER_PHASH_DISTANCE` bits), the same contact
  (phone, WhatsApp, WeChat, QQ, e-mail, Telegram found in titles, descriptions or
  shop names, normalised), or near-identical shop names. Links are merged with
  union-find, so A~B and B~C put A, B and C in one cluster.

Photos or contacts shared by more than `MAX_SHARED_SELLERS` sellers are treated
as common property (the brand's own product shots, a platform hotline) and link
nobody: without that, one stock photo would merge every reseller into a single
"network". Such contacts are still reported (`SellerReport.widely_shared`): a
hotline, or a network larger than that, is for an analyst to tell. Whitelisted and
authorised sellers are never linked.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler import models as m

SellerRef = tuple[str, str]  # (marketplace, seller id)

CLUSTER_PHASH_DISTANCE = 4  # of 64 bits: the same photo re-encoded or resized
MAX_SHARED_SELLERS = 6
NAME_MIN_RATIO = 92.0
NAME_MIN_LENGTH = 6  # shorter normalised names ("best", "acme") are too common to link shops

REMOVED_STATES = frozenset({"removed", "relisted"})
# A case past these states means an analyst confirmed the listing.
_UNCONFIRMED_STATES = frozenset({"candidate", "dismissed", "withdrawn"})

# Marketplaces whose sellers write Chinese phone numbers without +86.
_CN_MARKETPLACES = frozenset(
    {
        "taobao",
        "tmall",
        "jd",
        "pinduoduo",
        "alibaba1688",
        "1688",
        "aliexpress",
        "dhgate",
        "alibaba",
        "xianyu",
    }
)


# ---------------------------------------------------------------- contacts


@dataclass(frozen=True, order=True)
class Contact:
    """A contact detail found in listing text; `value` is normalised for comparison."""

    kind: str  # phone | whatsapp | wechat | qq | email | telegram
    value: str

    @property
    def link_key(self) -> tuple[str, str]:
        # A WhatsApp number is a phone number: the same digits link both ways.
        return (
            ("phone", self.value) if self.kind in ("phone", "whatsapp") else (self.kind, self.value)
        )

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


_SEP = r"\s*(?:id|号|號)?\s*[:=]?\s*"
_EMAIL = re.compile(
    r"(?<![\w.+-])([a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24})(?![\w-])",
    re.IGNORECASE,
)
_WECHAT = re.compile(
    r"(?:(?<![a-z])(?:we\s?chat|weixin|wx|vx|v信|wei\s?xin)(?![a-z])|微信|威信|薇信|加v|\+v(?![a-z]))"
    + _SEP
    + r"([a-z][-_a-z0-9]{5,19}|\+?\d[\d -]{5,18}\d)",
    re.IGNORECASE,
)
_WHATSAPP = re.compile(
    r"(?:(?<![a-z])(?:whats\s?app|wa|wapp|wtsp|whatapp)(?![a-z])|wa\.me/)"
    + _SEP
    + r"(\+?\d[\d ().-]{5,20}\d)",
    re.IGNORECASE,
)
_QQ = re.compile(
    r"(?:(?<![a-z])qq(?![a-z])|扣扣|企鹅|q号)" + _SEP + r"([1-9]\d{4,11})(?!\d)", re.IGNORECASE
)
_TELEGRAM = re.compile(
    r"(?:(?<![a-z])(?:telegram|tg)(?![a-z])|电报|飞机)"
    + _SEP
    + r"@?([a-z][a-z0-9_]{4,31})|t\.me/@?([a-z][a-z0-9_]{4,31})",
    re.IGNORECASE,
)


_DIGIT_RUN = re.compile(r"(?:\d[\s().-]{0,2}){7,}")


def region_for(marketplace: str | None) -> str | None:
    """The phone region assumed for numbers written without a country code."""
    return "CN" if marketplace and marketplace.lower() in _CN_MARKETPLACES else None


def normalise_phone(raw: str, region: str | None = None) -> str | None:
    """Digits with the country code (E.164 without '+'), or None when it is no phone number."""
    import phonenumbers

    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region if not text.startswith("+") else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return f"{number.country_code}{number.national_number}"


def _idd_to_plus(text: str) -> str:
    """ "0086 139..." is "+86 139...": the international call prefix sellers write.

    Only where a number starts (not "138 0013 8000", whose "00" is mid-number).
    """

    def swap(match: re.Match[str]) -> str:
        before = text[: match.start()].rstrip(" -.")
        return match.group(0) if before[-1:].isdigit() else "+"

    return re.sub(r"(?<![\d+])00(?=[1-9]\d)", swap, text)


def extract_contacts(text: str | None, *, region: str | None = None) -> set[Contact]:
    """Contacts written into listing text, normalised.

    Phones become digits with country code (numbers without one are read in
    `region`, e.g. "CN"); e-mails and WeChat, QQ and Telegram ids are lower-cased.
    """
    if not text:
        return set()
    import phonenumbers

    # NFKC turns full-width digits, '+' and '：' into ASCII, as sellers type them.
    text = unicodedata.normalize("NFKC", text)
    found: set[Contact] = set()
    for match in _EMAIL.finditer(text):
        email = match.group(1).lower().rstrip(".")
        found.add(Contact("email", email))
        local, _, domain = email.partition("@")
        if domain == "qq.com" and local.isdigit():
            found.add(Contact("qq", local))
    for match in _WECHAT.finditer(text):
        value = match.group(1).strip()
        if re.fullmatch(r"\+?[\d -]+", value):
            digits = re.sub(r"\D", "", value)
            found.add(Contact("wechat", digits))
            phone = normalise_phone(value, region or "CN")
            if phone:
                found.add(Contact("phone", phone))
        else:
            found.add(Contact("wechat", value.lower()))
    for match in _WHATSAPP.finditer(text):
        raw = match.group(1)
        phone = normalise_phone(
            raw if raw.startswith(("+", "00")) else "+" + raw, None
        ) or normalise_phone(raw, region)
        if phone:
            found.add(Contact("whatsapp", phone))
    for match in _QQ.finditer(text):
        found.add(Contact("qq", match.group(1)))
    for match in _TELEGRAM.finditer(text):
        found.add(Contact("telegram", (match.group(1) or match.group(2)).lower()))
    # The matcher is slow: run it only where seven digits could form a number. With a
    # region it also finds the "+..." numbers a region-less pass would.
    if _DIGIT_RUN.search(text):
        dialled = _idd_to_plus(text)
        for match in phonenumbers.PhoneNumberMatcher(
            dialled, region, leniency=phonenumbers.Leniency.VALID
        ):
            number = match.number
            found.add(Contact("phone", f"{number.country_code}{number.national_number}"))
    return found


def listing_contacts(listing: m.Listing) -> set[Contact]:
    """Contacts in a listing's title, description and shop name."""
    text = "\n".join(t for t in (listing.title, listing.description, listing.seller_name) if t)
    return extract_contacts(text, region=region_for(listing.marketplace))


# ---------------------------------------------------------------- names

_GENERIC_WORDS = re.compile(
    r"\b(?:official|store|shop|online|flagship|factory|outlet|trading|trade|company|co|ltd|limited|inc|llc|"
    r"global|international|direct|mall|the)\b"
    r"|旗舰店|专卖店|专营店|官方|店铺|商行|商店|贸易|有限公司|公司|店",
    re.IGNORECASE,
)


def normalise_name(name: str | None) -> str:
    """A shop name without case, spacing, punctuation and generic words ("Store", "旗舰店")."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _GENERIC_WORDS.sub(" ", text)
    return re.sub(r"[\W_]+", "", text)


# ---------------------------------------------------------------- history and risk


def risk_score(
    *, listings: int, hits: int, reviews: int, confirmed: int, removed: int, relists: int
) -> float:
    """A seller's risk in [0, 1).

        evidence = hits + 0.5 * reviews + 2 * confirmed + 3 * removed + 4 * relists
        share    = listings that were hits or confirmed / listings found
        risk     = (1 - exp(-evidence / 4)) * (0.5 + 0.5 * share)

    Each step of proof adds weight (a hit that was confirmed and taken down counts
    1 + 2 + 3), a relist counts most (the seller came back after a takedown), and
    the result saturates: one takedown gives about 0.78, a seller with a few
    takedowns and a relist is near 1. `share` halves the risk of a big shop in
    which a hit is the exception rather than the rule.
    """
    if listings <= 0:
        return 0.0
    evidence = hits + 0.5 * reviews + 2 * confirmed + 3 * removed + 4 * relists
    share = min(1.0, max(hits, confirmed) / listings)
    return round((1 - math.exp(-evidence / 4)) * (0.5 + 0.5 * share), 4)


@dataclass
class SellerStats:
    marketplace: str
    seller_id: str
    name: str | None = None
    whitelisted: bool = False
    listings: int = 0
    hits: int = 0
    reviews: int = 0
    confirmed: int = 0
    removed: int = 0
    relists: int = 0
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    contacts: set[Contact] = field(default_factory=set)
    cluster: int | None = None
    risk: float = 0.0

    @property
    def ref(self) -> SellerRef:
        return (self.marketplace, self.seller_id)

    @property
    def key(self) -> str:
        return f"{self.marketplace}:{self.seller_id}"


@dataclass(frozen=True)
class Link:
    a: SellerRef
    b: SellerRef
    kind: str  # image | contact | name
    detail: str


@dataclass
class Cluster:
    id: int
    members: list[SellerStats]
    links: list[Link]

    @property
    def marketplaces(self) -> list[str]:
        return sorted({s.marketplace for s in self.members})

    @property
    def risk(self) -> float:
        return max((s.risk for s in self.members), default=0.0)

    @property
    def hits(self) -> int:
        return sum(s.hits for s in self.members)

    def shared(self) -> dict[str, set[tuple[str, str]]]:
        """Each thing the cluster's sellers share (a link's reason) and every seller sharing it.

        Sellers sharing one thing (a photo, a contact, a name) are linked in a star, first
        seller to each other; all of them share that thing.
        """
        things: dict[str, set[tuple[str, str]]] = {}
        for lk in self.links:
            things.setdefault(lk.detail, set()).update((tuple(lk.a), tuple(lk.b)))
        return things


@dataclass
class WidelyShared:
    """A contact too many sellers show to link them (see the module docstring)."""

    detail: str  # "wechat fakeacme88"
    sellers: list[SellerRef]


@dataclass
class SellerReport:
    sellers: list[SellerStats]  # riskiest first
    clusters: list[Cluster]  # riskiest first; only groups of two or more
    widely_shared: list[WidelyShared] = field(default_factory=list)  # most sellers first

    def seller(self, marketplace: str, seller_id: str) -> SellerStats | None:
        for s in self.sellers:
            if s.ref == (marketplace, str(seller_id)):
                return s
        return None


def _seller_ref(listing: m.Listing) -> SellerRef | None:
    if listing.seller_id:
        return (listing.marketplace, str(listing.seller_id))
    if listing.seller_name:
        # No id on the page: the shop name is the best handle there is.
        return (listing.marketplace, f"name:{listing.seller_name.strip()}")
    return None


def _collect(
    session: Session, client: Any = None
) -> tuple[dict[SellerRef, SellerStats], dict[int, SellerRef]]:
    from crawler.db import iter_listings_with_assessment

    sellers: dict[SellerRef, SellerStats] = {}
    owner: dict[int, SellerRef] = {}
    known = {(row.marketplace, row.seller_id): row for row in session.scalars(select(m.Seller))}
    cases: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
    for listing_pk, state, relist_of in session.execute(
        select(m.Case.listing_pk, m.Case.state, m.Case.relist_of)
    ):
        cases[listing_pk].append((state, relist_of))

    for listing, assessment in iter_listings_with_assessment(session):
        ref = _seller_ref(listing)
        if ref is None:
            continue
        stats = sellers.get(ref)
        if stats is None:
            row = known.get(ref)
            stats = SellerStats(
                ref[0], ref[1], name=listing.seller_name or (row.name if row else None)
            )
            stats.whitelisted = bool(row and row.whitelisted) or bool(
                client is not None
                and client.is_authorized(
                    listing.marketplace, listing.seller_id, listing.seller_name
                )
            )
            sellers[ref] = stats
        owner[listing.id] = ref
        stats.listings += 1
        if listing.seller_name and not stats.name:
            stats.name = listing.seller_name
        verdict = assessment.verdict if assessment is not None else None
        stats.hits += verdict == "counterfeit"
        stats.reviews += verdict == "review"
        own_cases = cases.get(listing.id, [])
        confirmed = listing.triage_state == "confirmed" or any(
            s not in _UNCONFIRMED_STATES for s, _ in own_cases
        )
        stats.confirmed += confirmed
        stats.removed += any(s in REMOVED_STATES for s, _ in own_cases)
        stats.relists += any(r is not None for _, r in own_cases)
        stats.first_seen = min(filter(None, (stats.first_seen, listing.first_seen)), default=None)
        stats.last_seen = max(filter(None, (stats.last_seen, listing.last_seen)), default=None)
        stats.contacts |= listing_contacts(listing)
    for stats in sellers.values():
        stats.risk = (
            0.0
            if stats.whitelisted
            else risk_score(
                listings=stats.listings,
                hits=stats.hits,
                reviews=stats.reviews,
                confirmed=stats.confirmed,
                removed=stats.removed,
                relists=stats.relists,
            )
        )
    return sellers, owner


def seller_history(session: Session, marketplace: str, seller_id: str) -> SellerStats | None:
    """One seller's history and risk (clusters need the whole store: see `seller_report`)."""
    sellers, _ = _collect(session)
    return sellers.get((marketplace, str(seller_id)))


# ---------------------------------------------------------------- clusters


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[SellerRef, SellerRef] = {}

    def find(self, x: SellerRef) -> SellerRef:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: SellerRef, b: SellerRef) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


def _group_links(
    groups: dict[Any, set[SellerRef]], kind: str, describe: Any, links: list[Link], uf: _UnionFind
) -> None:
    for key, members in groups.items():
        if len(members) < 2 or len(members) > MAX_SHARED_SELLERS:
            continue
        ordered = sorted(members)
        for other in ordered[1:]:
            uf.union(ordered[0], other)
            links.append(Link(ordered[0], other, kind, describe(key)))


def _near_phash_groups(
    phashes: dict[str, set[SellerRef]], max_distance: int
) -> dict[tuple[str, str], set[SellerRef]]:
    """Pairs of distinct pHashes within `max_distance` bits, found without comparing all pairs.

    Split each hash into max_distance + 1 bands: two hashes that differ in at most
    max_distance bits agree exactly on at least one band (pigeonhole), so only hashes
    sharing a band are compared.
    """
    by_length: dict[int, list[str]] = defaultdict(list)
    for h in phashes:
        by_length[len(h)].append(h)
    pairs: dict[tuple[str, str], set[SellerRef]] = {}
    for length, hashes in by_length.items():
        bits = length * 4
        bands = max_distance + 1
        edges = [round(i * bits / bands) for i in range(bands + 1)]
        values = {h: int(h, 16) for h in hashes}
        buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
        for h, v in values.items():
            for i in range(bands):
                lo, hi = edges[i], edges[i + 1]
                buckets[(i, (v >> lo) & ((1 << (hi - lo)) - 1))].append(h)
        for bucket in buckets.values():
            if len(bucket) < 2:
                continue
            for i, a in enumerate(bucket):
                for b in bucket[i + 1 :]:
                    pair = (min(a, b), max(a, b))
                    if pair in pairs or (values[a] ^ values[b]).bit_count() > max_distance:
                        continue
                    pairs[pair] = phashes[a] | phashes[b]
    return pairs


def _clusters(
    session: Session, sellers: dict[SellerRef, SellerStats], owner: dict[int, SellerRef]
) -> tuple[list[Cluster], list[WidelyShared]]:
    uf = _UnionFind()
    links: list[Link] = []
    eligible = {ref for ref, s in sellers.items() if not s.whitelisted}

    # Images: equal files, equal or near perceptual hashes.
    files: dict[str, set[SellerRef]] = defaultdict(set)
    phashes: dict[str, set[SellerRef]] = defaultdict(set)
    rows = session.execute(
        select(m.ListingImage.listing_pk, m.ListingImage.sha256, m.ListingImage.phash).where(
            m.ListingImage.error.is_(None)
        )
    )
    for listing_pk, sha, phash in rows:
        ref = owner.get(listing_pk)
        if ref is None or ref not in eligible:
            continue
        if sha:
            files[sha].add(ref)
        if phash and re.fullmatch(r"[0-9a-fA-F]+", phash):
            phashes[phash.lower()].add(ref)
    # A photo many sellers share is a stock photo: its near copies must not link either.
    common = {h for h, refs in phashes.items() if len(refs) > MAX_SHARED_SELLERS}
    _group_links(files, "image", lambda k: f"same photo (sha256 {k[:12]}...)", links, uf)
    _group_links(
        {h: r for h, r in phashes.items() if h not in common},
        "image",
        lambda k: f"same photo (pHash {k})",
        links,
        uf,
    )
    near = _near_phash_groups(
        {h: r for h, r in phashes.items() if h not in common}, CLUSTER_PHASH_DISTANCE
    )
    _group_links(
        near, "image", lambda k: f"near-identical photo (pHash {k[0]} ~ {k[1]})", links, uf
    )

    # Contacts.
    contacts: dict[tuple[str, str], set[SellerRef]] = defaultdict(set)
    for ref in eligible:
        for contact in sellers[ref].contacts:
            contacts[contact.link_key].add(ref)
    _group_links(contacts, "contact", lambda k: f"same {k[0]} {k[1]}", links, uf)
    widely = sorted(
        (
            WidelyShared(f"{kind} {value}", sorted(refs))
            for (kind, value), refs in contacts.items()
            if len(refs) > MAX_SHARED_SELLERS
        ),
        key=lambda w: (-len(w.sellers), w.detail),
    )

    # Shop names: equal after normalising, or near-identical.
    names: dict[str, set[SellerRef]] = defaultdict(set)
    for ref in eligible:
        norm = normalise_name(sellers[ref].name)
        # A CJK character says about as much as two Latin letters.
        if sum(2 if ord(c) >= 0x2E80 else 1 for c in norm) >= NAME_MIN_LENGTH:
            names[norm].add(ref)
    _group_links(names, "name", lambda k: f"same shop name ({k})", links, uf)
    keys = sorted(names)
    if len(keys) > 1:
        scores = process.cdist(
            keys, keys, scorer=fuzz.ratio, score_cutoff=NAME_MIN_RATIO, dtype="uint8"
        )
        for i, j in zip(*scores.nonzero()):
            if i < j:
                a, b = min(names[keys[i]]), min(names[keys[j]])
                uf.union(a, b)
                links.append(
                    Link(
                        a,
                        b,
                        "name",
                        f"near-identical shop names ({keys[i]} ~ {keys[j]}, {scores[i, j]})",
                    )
                )

    groups: dict[SellerRef, list[SellerRef]] = defaultdict(list)
    for ref in eligible:
        groups[uf.find(ref)].append(ref)
    clusters: list[Cluster] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        member_set = set(members)
        clusters.append(
            Cluster(
                id=0,
                members=sorted((sellers[r] for r in members), key=lambda s: (-s.risk, s.key)),
                links=[lk for lk in links if lk.a in member_set],
            )
        )
    clusters.sort(key=lambda c: (-c.risk, -len(c.members), c.members[0].key))
    for number, cluster in enumerate(clusters, 1):
        cluster.id = number
        for member in cluster.members:
            member.cluster = number
    return clusters, widely


def seller_report(session: Session, *, client: Any = None) -> SellerReport:
    """Every seller's history and risk, and the clusters they form.

    `client` (optional) marks its authorised sellers like whitelisted ones: no
    risk, no links.
    """
    sellers, owner = _collect(session, client)
    clusters, widely = _clusters(session, sellers, owner)
    ordered = sorted(sellers.values(), key=lambda s: (-s.risk, -s.hits, s.key))
    return SellerReport(ordered, clusters, widely)


def contacts_of(sellers: Iterable[SellerStats]) -> list[str]:
    """All distinct contacts of some sellers, as kind:value strings."""
    return sorted({str(c) for s in sellers for c in s.contacts})
