"""Values shared by the matchers: what goes in (a listing) and what comes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class ListingInput:
    """A listing as the matchers see it (CONTRACT.md section 2).

    `images` are local paths or http(s) URLs; `image_bytes`, when the caller has
    already downloaded them (the crawl pipeline), are used instead of reading.
    """

    id: str
    title: str
    marketplace: str | None = None
    url: str | None = None
    description: str | None = None
    price: float | None = None
    currency: str | None = None
    seller_id: str | None = None
    seller_name: str | None = None
    images: list[str | Path] = field(default_factory=list)
    image_bytes: list[bytes] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], base_dir: Path | None = None) -> ListingInput:
        """Build from a JSON object; relative image paths resolve against base_dir."""
        images: list[str | Path] = []
        for ref in data.get("images") or []:
            ref = str(ref)
            if ref.startswith(("http://", "https://")) or base_dir is None:
                images.append(ref)
            else:
                images.append(base_dir / ref)
        price = data.get("price")
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            marketplace=data.get("marketplace"),
            url=data.get("url"),
            description=data.get("description"),
            price=float(price) if price is not None else None,
            currency=data.get("currency"),
            seller_id=None if data.get("seller_id") is None else str(data["seller_id"]),
            seller_name=data.get("seller_name"),
            images=images,
        )


@dataclass(slots=True)
class Signal:
    """One piece of evidence: its kind, its strength in [0, 1] and why, in words."""

    kind: str  # text | chinese | cue | context | price | seller | image | logo | ocr
    score: float
    detail: str
    mark_id: str | None = None
    product_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "score": round(float(self.score), 3), "detail": self.detail}


@dataclass(slots=True)
class Assessment:
    """The verdict on one listing, with the evidence behind it."""

    id: str
    score: float
    verdict: str  # counterfeit | review | clear
    mark_id: str | None
    signals: list[Signal] = field(default_factory=list)
    product_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(float(self.score), 4),
            "verdict": self.verdict,
            "mark_id": self.mark_id,
            "signals": [s.to_json() for s in self.signals],
        }
