"""Seller evidence: authorised sellers are clear; seller names that pose as the brand are a signal."""

from __future__ import annotations

import re

from matching.normalize import fold

_OFFICIAL = re.compile(
    r"\b(?:official|authori[sz]ed|flagship|brand|genuine|original|store|shop|outlet|factory)\b"
    r"|官方|旗舰|专卖|直营|正品|授权|品牌店"
)


def is_authorized(
    client, marketplace: str | None, seller_id: str | None, seller_name: str | None
) -> bool:
    return client.is_authorized(marketplace, seller_id, seller_name)


def imitation(seller_name: str | None, term_index) -> tuple[str, str] | None:
    """(mark_id, detail) when an unauthorised seller's name carries a mark term."""
    if not seller_name:
        return None
    hits = term_index.find(seller_name)
    for mark_id, hit in hits.items():
        if hit.kind == "fuzzy" and (hit.is_word or hit.short):
            continue
        official = _OFFICIAL.search(fold(seller_name))
        how = " and poses as an official shop" if official else ""
        return (
            mark_id,
            f"unauthorised seller '{seller_name}' uses the brand name ({hit.describe()}){how}",
        )
    return None
