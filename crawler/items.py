"""The item every spider yields: one marketplace listing as seen on a page."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Listing:
    """A listing found by a spider. `listing_id` is the marketplace's own id."""

    marketplace: str
    listing_id: str
    url: str
    title: str
    price: float | None = None
    currency: str | None = None
    price_text: str | None = None
    seller_id: str | None = None
    seller_name: str | None = None
    store_url: str | None = None
    image_urls: list[str] = field(default_factory=list)
    location: str | None = None
    sales: int | None = None
    is_ad: bool = False
    description: str | None = None
    search_term: str | None = None
    page_url: str | None = None
    # Filled by the pipelines: downloaded image files (Scrapy's images pipeline),
    # then the store's row id and, once assessed, the assessment and its verdict.
    images: list[dict] = field(default_factory=list)
    stored_id: int | None = None
    assessment_id: int | None = None
    verdict: str | None = None

    @property
    def key(self) -> str:
        return f"{self.marketplace}:{self.listing_id}"
