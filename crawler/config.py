"""The client file (`markwatch.yaml`): typed models, loading and validation.

Everything that reads the client file goes through `load_client`, which returns a
`Client` or raises `ConfigError` with one line naming the file, the key path and
what was expected (CONTRACT.md section 1). Unknown keys are errors, because a typo
must not silently switch monitoring off.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import pycountry
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

# Registrations may name a regional or international office as well as a country.
_EXTRA_OFFICES = {"EM": "European Union (EUIPO)", "WO": "WIPO (Madrid / Hague / PCT)", "EU": "European Union"}


class ConfigError(Exception):
    """A client file that cannot be used; the message is one line for the user."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


def _resolve(value: str, info: ValidationInfo) -> Path:
    """Resolve a path against the client file's folder and insist that it exists."""
    base = Path((info.context or {}).get("base_dir", "."))
    path = Path(value)
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ValueError(f"expected an existing file, {value!r} not found at {path}")
    return path.resolve()


def _resolve_all(value: Any, info: ValidationInfo) -> list[Path]:
    """Resolve a list of paths (images, documents); each must exist."""
    if not isinstance(value, list):
        raise ValueError("expected a list of file paths")
    return [_resolve(p, info) for p in value]


def _country(value: str) -> str:
    code = str(value).strip().upper()
    if code in _EXTRA_OFFICES or pycountry.countries.get(alpha_2=code) is not None:
        return code
    raise ValueError(f"expected an ISO 3166-1 alpha-2 country code (or EM, WO), got {value!r}")


def _currency(value: str) -> str:
    code = str(value).strip().upper()
    if len(code) == 3 and pycountry.currencies.get(alpha_3=code) is not None:
        return code
    raise ValueError(f"expected an ISO 4217 currency code such as USD or CNY, got {value!r}")


def country_name(code: str) -> str:
    if code in _EXTRA_OFFICES:
        return _EXTRA_OFFICES[code]
    found = pycountry.countries.get(alpha_2=code)
    return found.name if found else code


class MarkType(str, Enum):
    trademark = "trademark"
    copyright = "copyright"
    patent = "patent"
    design = "design"


class Contact(_Strict):
    person: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None


class Documents(_Strict):
    business_license: Path | None = None
    power_of_attorney: Path | None = None
    id_document: Path | None = None
    # Translations of documents written in neither English nor Chinese.
    translations: list[Path] = Field(default_factory=list)

    @field_validator("business_license", "power_of_attorney", "id_document", mode="before")
    @classmethod
    def _exists(cls, v: Any, info: ValidationInfo) -> Any:
        return None if v is None else _resolve(v, info)

    _all_exist = field_validator("translations", mode="before")(classmethod(lambda cls, v, info: _resolve_all(v, info)))


class ClientInfo(_Strict):
    name: str = Field(min_length=1)
    contact: Contact = Field(default_factory=Contact)
    documents: Documents = Field(default_factory=Documents)


class Registration(_Strict):
    number: str = Field(min_length=1)
    country: str
    valid_from: dt.date
    valid_until: dt.date
    certificate: Path | None = None
    # Language of the certificate, when it is neither English nor Chinese a
    # translation is needed for most platforms.
    language: str | None = None

    @field_validator("number", mode="before")
    @classmethod
    def _number_text(cls, v: Any) -> Any:
        # YAML reads 12345678 as an int; a registration number is an identifier.
        return str(v) if isinstance(v, int) else v

    _country = field_validator("country", mode="before")(classmethod(lambda cls, v: _country(v)))

    @field_validator("certificate", mode="before")
    @classmethod
    def _cert(cls, v: Any, info: ValidationInfo) -> Any:
        return None if v is None else _resolve(v, info)

    @model_validator(mode="after")
    def _order(self) -> Registration:
        if self.valid_until <= self.valid_from:
            raise ValueError(
                f"valid_until ({self.valid_until}) must be after valid_from ({self.valid_from})"
            )
        return self

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_until


class Mark(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    type: MarkType = MarkType.trademark
    title: str = Field(min_length=1)
    owner: str | None = None
    terms: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    images: list[Path] = Field(default_factory=list)
    classes: list[Annotated[int, Field(ge=1, le=45)]] = Field(default_factory=list)
    keywords: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    registrations: list[Registration] = Field(default_factory=list)
    protect_until: dt.date | None = None

    _images = field_validator("images", mode="before")(classmethod(lambda cls, v, info: _resolve_all(v, info)))

    @model_validator(mode="after")
    def _needs_something_to_match(self) -> Mark:
        if not self.terms and not self.images:
            raise ValueError("expected at least one of terms or images, so the mark can be matched")
        return self


class Product(_Strict):
    id: str = Field(min_length=1)
    mark: str
    name: str = Field(min_length=1)
    msrp: float | None = Field(default=None, gt=0)
    currency: str = "USD"
    images: list[Path] = Field(default_factory=list)

    _currency = field_validator("currency", mode="before")(classmethod(lambda cls, v: _currency(v)))

    _images = field_validator("images", mode="before")(classmethod(lambda cls, v, info: _resolve_all(v, info)))


class AuthorizedSeller(_Strict):
    marketplace: str = Field(min_length=1)
    seller_id: str | None = None
    seller_name: str | None = None

    @field_validator("seller_id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _one_key(self) -> AuthorizedSeller:
        if not self.seller_id and not self.seller_name:
            raise ValueError("expected seller_id or seller_name")
        return self


class ExchangeRates(_Strict):
    base: str = "USD"
    rates: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)

    _base = field_validator("base", mode="before")(classmethod(lambda cls, v: _currency(v)))

    @field_validator("rates", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError("expected a mapping of currency code to rate")
        return {_currency(k): rate for k, rate in v.items()}

    def to_base(self, amount: float, currency: str | None) -> float | None:
        """Convert an amount to the base currency; None when the rate is unknown."""
        code = (currency or self.base).upper()
        if code == self.base:
            return amount
        rate = self.rates.get(code)
        return None if rate is None else amount * rate


class Selectors(_Strict):
    """Selectors of the generic spider: CSS (default), XPath (`xpath:`) or JSON path (`json:`)."""

    item: str
    id: str
    title: str
    url: str | None = None
    price: str | None = None
    currency: str | None = None
    seller_id: str | None = None
    seller_name: str | None = None
    image: str | None = None
    next_page: str | None = None


class MarketplaceConfig(_Strict):
    enabled: bool = True
    base_url: str | None = None
    max_pages: int = Field(default=5, ge=1, le=100)
    download_delay: float = Field(default=2.0, ge=0)
    concurrency: int = Field(default=2, ge=1, le=64)
    interval_hours: float = Field(default=24.0, gt=0)
    user_agent: str | None = None
    obey_robots: bool = True
    use_browser: bool | None = None
    # Generic spider only: where the search lives and how to read its results.
    search_url: str | None = None
    selectors: Selectors | None = None

    @field_validator("base_url", "search_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"expected an http(s) URL, got {v!r}")
        return v.rstrip("/") if v and "{" not in v else v


class AlertTarget(_Strict):
    url: str = Field(min_length=3)
    min_verdict: Literal["counterfeit", "review"] = "counterfeit"
    tags: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _expand(cls, v: str) -> str:
        # Secrets stay out of the file: ${NAME} is read from the environment.
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ValueError(f"expected environment variable {name} to be set")
            return os.environ[name]

        url = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, v)
        if "://" not in url:
            raise ValueError(f"expected an apprise URL such as mailtos://... or slack://..., got {redact(v)!r}")
        return url


class Thresholds(_Strict):
    """Score cut-offs for the verdicts; lower means more recall and more analyst work."""

    counterfeit: float = Field(default=0.70, ge=0, le=1)
    review: float = Field(default=0.40, ge=0, le=1)

    @model_validator(mode="after")
    def _order(self) -> Thresholds:
        if self.review > self.counterfeit:
            raise ValueError("expected review <= counterfeit")
        return self


class Client(_Strict):
    client: ClientInfo
    marks: list[Mark] = Field(min_length=1)
    products: list[Product] = Field(default_factory=list)
    authorized_sellers: list[AuthorizedSeller] = Field(default_factory=list)
    exchange_rates: ExchangeRates = Field(default_factory=ExchangeRates)
    marketplaces: dict[str, MarketplaceConfig] = Field(default_factory=dict)
    alerts: list[AlertTarget] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    # Where the file was read from; not part of the YAML.
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _cross_checks(self) -> Client:
        seen: set[str] = set()
        for i, mark in enumerate(self.marks):
            if mark.id in seen:
                raise _KeyedError(f"marks[{i}].id", f"duplicate mark id {mark.id!r}")
            seen.add(mark.id)
            if mark.owner is None:
                mark.owner = self.client.name
        products: set[str] = set()
        for i, product in enumerate(self.products):
            if product.mark not in seen:
                raise _KeyedError(
                    f"products[{i}].mark", f"expected one of the mark ids {sorted(seen)}, got {product.mark!r}"
                )
            if product.id in products:
                raise _KeyedError(f"products[{i}].id", f"duplicate product id {product.id!r}")
            products.add(product.id)
            if product.currency != self.exchange_rates.base and product.currency not in self.exchange_rates.rates:
                raise _KeyedError(
                    f"products[{i}].currency",
                    f"expected a rate for {product.currency} in exchange_rates.rates (base {self.exchange_rates.base})",
                )
        return self

    def mark(self, mark_id: str) -> Mark:
        for mark in self.marks:
            if mark.id == mark_id:
                return mark
        raise KeyError(mark_id)

    def products_of(self, mark_id: str) -> list[Product]:
        return [p for p in self.products if p.mark == mark_id]

    def is_authorized(self, marketplace: str | None, seller_id: str | None, seller_name: str | None = None) -> bool:
        for seller in self.authorized_sellers:
            if marketplace and seller.marketplace != marketplace:
                continue
            if seller.seller_id and seller_id and seller.seller_id == str(seller_id):
                return True
            if seller.seller_name and seller_name and seller.seller_name.casefold() == seller_name.casefold():
                return True
        return False

    def enabled_marketplaces(self) -> dict[str, MarketplaceConfig]:
        return {name: m for name, m in self.marketplaces.items() if m.enabled}


class _KeyedError(ValueError):
    """A cross-field error that knows its own key path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def redact(url: str) -> str:
    """An apprise URL with its credentials and tokens masked, safe to print or log."""
    m = re.match(r"^([A-Za-z0-9+.-]+://)(.*)$", url)
    if not m:
        return "***"
    scheme, rest = m.groups()
    rest = re.sub(r"^[^@/]*@", "***@", rest)  # user:password@
    parts = rest.split("/")
    host, path = parts[0], parts[1:]
    masked = [seg[:2] + "***" if len(seg) > 4 else seg for seg in path]
    rest = "/".join([host, *masked]) if path else host
    return scheme + re.sub(r"(\?|&)([^=&]+)=([^&]*)", lambda q: f"{q.group(1)}{q.group(2)}=***", rest)


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith(("function-", "model-")) and part not in (
            "function-after",
        ):
            out += f".{part}" if out else part
    return out or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    got = err.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    if kind == "extra_forbidden":
        return "unknown key (check its spelling; unknown keys are refused)"
    if kind == "missing":
        return "required key is missing"
    if kind.startswith("date"):
        return f"expected a date YYYY-MM-DD, got {shown}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, got {shown}"
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, got {shown}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {shown}"
    if kind in ("list_type",):
        return f"expected a list, got {shown}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {shown}"
    if kind == "string_type":
        return f"expected text, got {shown}"
    limits = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in limits:
        bound = next(iter((err.get("ctx") or {}).values()), "?")
        return f"expected a number {limits[kind]} {bound}, got {shown}"
    if kind == "string_pattern_mismatch":
        return f"expected letters, digits, '_', '.' or '-' only (no spaces), got {shown}"
    if kind == "too_short":
        return f"expected at least {(err.get('ctx') or {}).get('min_length', 1)} item(s), got none"
    if kind == "enum" or kind == "literal_error":
        return f"{err['msg'].lower()}, got {shown}"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


def load_client(path: str | os.PathLike[str]) -> Client:
    """Read, validate and return the client file; raise ConfigError with one line."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read the file ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{name}: invalid YAML at {where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: (top level): expected a mapping with client: and marks:, got {type(data).__name__}")
    try:
        client = Client.model_validate(data, context={"base_dir": str(path.resolve().parent)})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _KeyedError):
            raise ConfigError(f"{name}: {ctx_err.key}: {ctx_err.message}") from None
        raise ConfigError(f"{name}: {_key_path(err['loc'])}: {_describe(err)}") from None
    client.source = path.resolve()
    return client
