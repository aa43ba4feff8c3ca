"""The client file (`markwatch.yaml`): typed models, loading and validation.

Everything that reads the client file goes through `load_client`, which returns a
`Client` or raises `ConfigError` with one line naming the file, the key path and
what was expected (CONTRACT.md section 1). Unknown keys are errors, because a typo
must not silently switch monitoring off.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Iterable, Mapping
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

    @field_validator("*")
    @classmethod
    def _valid(cls, v: str | None) -> str | None:
        # A selector that cannot be parsed would find nothing on every page: refuse it now.
        if v is None:
            return v
        if v.startswith("json:"):
            if not v[5:].strip(" ."):
                raise ValueError(f"expected a dotted JSON path after 'json:', got {v!r}")
        elif v.startswith("xpath:"):
            from lxml import etree

            try:
                etree.XPath(v[6:])
            except etree.XPathSyntaxError as exc:
                raise ValueError(f"expected a valid XPath expression after 'xpath:', got {v!r} ({exc})") from None
        else:
            from cssselect import SelectorError
            from parsel.csstranslator import HTMLTranslator

            try:
                HTMLTranslator().css_to_xpath(v)
            except SelectorError as exc:
                raise ValueError(
                    f"expected a CSS selector (or 'xpath:...', 'json:...'), got {v!r} ({exc})"
                ) from None
        return v


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

    @field_validator("search_url")
    @classmethod
    def _has_term(cls, v: str | None) -> str | None:
        if v is not None and "{term}" not in v:
            raise ValueError(
                f"expected a URL with {{term}} where the search words go (and {{page}} or {{offset}}), got {v!r}"
            )
        return v


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _not_a_url(written: str, url: str) -> str:
    """Why an alert URL is refused, naming its variables but showing no secret."""
    names = _ENV_REF.findall(written)
    source = f" (from {', '.join('${' + n + '}' for n in names)})" if names else ""
    shown = redact(url)
    got = f"{shown!r}" if shown.strip("*@/") else f"{len(url)} characters without '://'"
    return f"expected an apprise URL such as mailtos://... or slack://..., got {got}{source}"


class AlertTarget(_Strict):
    """One alert URL as written; `${NAME}` is read from the environment by `resolved_url`
    only when alerts are used, so `score` runs without the alert secrets."""

    url: str = Field(min_length=3)
    min_verdict: Literal["counterfeit", "review"] = "counterfeit"
    tags: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _shape(cls, v: str) -> str:
        # Without ${NAME} the URL is complete and can be checked now.
        if not _ENV_REF.search(v) and "://" not in v:
            raise ValueError(_not_a_url(v, v))
        return v

    def resolved_url(self, env: Mapping[str, str] | None = None) -> str:
        """The URL with each `${NAME}` replaced from the environment; ValueError otherwise."""
        env = os.environ if env is None else env

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in env:
                raise ValueError(f"expected environment variable {name} to be set")
            return env[name]

        url = _ENV_REF.sub(sub, self.url)
        if "://" not in url:
            raise ValueError(_not_a_url(self.url, url))
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

    def alert_urls(self, env: Mapping[str, str] | None = None, *, where: str | None = None) -> list[str]:
        """Every alert URL with its `${NAME}` read from the environment, in file order.

        Raises ConfigError naming `alerts[N].url` when a variable is not set, after
        `where` (default: the client file's path).
        """
        urls: list[str] = []
        for i, alert in enumerate(self.alerts):
            try:
                urls.append(alert.resolved_url(env))
            except ValueError as exc:
                raise ConfigError(f"{where or self.source or 'client file'}: alerts[{i}].url: {exc}") from None
        return urls


class _KeyedError(ValueError):
    """A cross-field error that knows its own key path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


# Apprise services whose "host" is a token (a bot token, webhook ids, an access token),
# even when it contains a dot, as a Pushbullet token `o.gn5kj...` does.
_TOKEN_HOST_SCHEMES = frozenset(
    {"tgram", "pbul", "slack", "discord", "msteams", "pover", "join", "prowl", "ifttt", "pjet", "flock", "gchat"}
)
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
# A secret shorter than this is masked in free text only where it stands as a whole word,
# so a one-letter user name does not eat the letters of ordinary words.
MIN_SECRET_LENGTH = 6


def _token_like(label: str) -> bool:
    """A DNS label that reads like a generated token rather than a name."""
    digits = sum(c.isdigit() for c in label)
    mixed_case = label != label.lower() and label != label.upper()
    return bool(digits) and digits < len(label) and (len(label) >= 16 or mixed_case)


def is_host_name(host: str) -> bool:
    """True for a real host name (`smtp.internal`, `hooks.example.com`, `localhost`, an IP)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return (
        len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and re.fullmatch(r"[A-Za-z]{2,63}", labels[-1]) is not None  # a top-level domain is letters
        and not any(_token_like(label) for label in labels)
    )


def _split_url(url: str) -> tuple[str | None, str, str, str, str, str | None]:
    """(scheme, userinfo, host[:port], path, query, fragment) without decoding anything."""
    m = _SCHEME.match(url)
    scheme, rest = (m.group(1), m.group(2)) if m else (None, url)
    netloc = re.match(r"[^/?#]*", rest).group(0)  # type: ignore[union-attr]
    tail = rest[len(netloc) :]
    userinfo, _, hostport = netloc.rpartition("@")
    fragment = None
    if "#" in tail:
        tail, fragment = tail.split("#", 1)
    path, _, query = tail.partition("?")
    return scheme, userinfo, hostport, path, query, fragment


def _host_part(scheme: str | None, hostport: str) -> tuple[str, bool]:
    """The host[:port] as written and whether it may be shown."""
    port = re.fullmatch(r"(.*):(\d{1,5})", hostport)
    host = port.group(1) if port else hostport
    shown = bool(host) and (scheme or "").lower() not in _TOKEN_HOST_SCHEMES and is_host_name(host)
    return hostport, shown


def redact(url: str) -> str:
    """An apprise URL safe to print or log: scheme and real host name only.

    User, password, path segments, query values and fragment become `***`; a "host"
    that is not a real host name (a Telegram bot token, Slack or Discord webhook ids, a
    Pushbullet token) is masked too: `tgram://***/***`, `mailtos://***@smtp.example.com`,
    `mailto://smtp.internal:25?from=***&to=***`. Text that is not a URL shows its host
    name at most.
    """
    scheme, userinfo, hostport, path, query, fragment = _split_url(url.strip())
    hostport, shown = _host_part(scheme, hostport)
    out = f"{scheme}://" if scheme else ""
    if userinfo:
        out += "***@"
    out += hostport if shown else ("***" if hostport or not scheme else "")
    if path:
        out += "/".join("***" if seg else "" for seg in path.split("/"))
    if query:
        out += "?" + "&".join(f"{p.split('=', 1)[0]}=***" if "=" in p else "***" for p in query.split("&") if p)
    if fragment is not None:
        out += "#***"
    return out


def url_secrets(url: str) -> set[str]:
    """Every part of an apprise URL that `redact` masks, as written and percent-decoded."""
    from urllib.parse import unquote

    scheme, userinfo, hostport, path, query, fragment = _split_url(url.strip())
    values: set[str] = set()
    if userinfo:
        values.add(userinfo)
        values.update(userinfo.split(":", 1))
    hostport, shown = _host_part(scheme, hostport)
    if not shown:
        values.add(hostport)
        values.update(hostport.split(":"))
    values.update(path.split("/"))
    values.update(p.split("=", 1)[-1] for p in query.split("&"))
    if fragment:
        values.add(fragment)
    return {v for value in values for v in (value, unquote(value)) if v.strip()}


def mask_secrets(text: str, url: str) -> str:
    """`text` (an error message, a log line) with `url` and every secret part of it masked.

    The URL itself becomes `redact(url)`. A secret part of MIN_SECRET_LENGTH characters
    or more is masked wherever it occurs; a shorter one only where it stands as a whole
    word, so a short user name does not damage the surrounding words.
    """
    url = url.strip()
    if url:
        text = text.replace(url, redact(url))
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, "***")
        else:
            text = re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", "***", text)
        if len(secret) > 1:
            # apprise's own log lines ("Unparseable URL ...") abbreviate a secret to its
            # first and last characters: those are part of it too.
            text = text.replace(f"{secret[0]}...{secret[-1]}", "***")
    return text


@functools.lru_cache(maxsize=1)
def spider_names() -> tuple[str, ...]:
    """The names of the marketplace spiders, as Scrapy's spider loader will find them.

    Read from the class attribute `name` of the spider classes in the modules that
    `crawler.settings.SPIDER_MODULES` lists, without importing Scrapy: the spider files
    stay the one place a marketplace name is defined. `generic` is left out; it reads
    any site that has `search_url` and `selectors`.
    """
    import ast
    import importlib.util

    from crawler import settings

    names: set[str] = set()
    for module in settings.SPIDER_MODULES:
        spec = importlib.util.find_spec(module)
        if spec is None:
            continue
        folders = list(spec.submodule_search_locations or [])
        files = [p for f in folders for p in sorted(Path(f).rglob("*.py"))] or [Path(spec.origin or "")]
        for file in files:
            try:
                tree = ast.parse(file.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError):
                continue
            for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
                for stmt in cls.body:
                    if isinstance(stmt, ast.Assign):
                        targets = stmt.targets
                    elif isinstance(stmt, ast.AnnAssign):
                        targets = [stmt.target]
                    else:
                        continue
                    value = stmt.value
                    named = any(isinstance(t, ast.Name) and t.id == "name" for t in targets)
                    if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
                        names.add(value.value)
    names.discard(GENERIC_SPIDER)
    return tuple(sorted(names))


GENERIC_SPIDER = "generic"


def _typo_of(name: str, known: Iterable[str]) -> str | None:
    """The known name that `name` is a likely misspelling of (one edit, two for long names)."""
    from rapidfuzz.distance import Levenshtein  # only when a name is wrong

    best = None
    for candidate in known:
        d = Levenshtein.distance(name.lower(), candidate.lower())
        if 0 < d <= (1 if len(candidate) <= 6 else 2) and (best is None or d < best[0]):
            best = (d, candidate)
    return best[1] if best else None


def _check_marketplace_names(client: Client) -> None:
    """Each enabled marketplace can be crawled and each authorised seller's marketplace
    exists, so a misspelt name is an error instead of a marketplace never watched.

    Raises _KeyedError. Disabled blocks are not crawled and are not checked, so a site
    can be named for takedown letters only.
    """
    spiders = spider_names()
    listed = ", ".join(spiders)
    for name, market in client.marketplaces.items():
        if not market.enabled or name in spiders or (market.search_url and market.selectors):
            continue
        if market.search_url or market.selectors or name == GENERIC_SPIDER:
            missing = (
                "selectors" if market.search_url else "search_url" if market.selectors else "search_url and selectors"
            )
            raise _KeyedError(
                f"marketplaces.{name}",
                f"a site without its own spider is read by the generic spider, which needs search_url "
                f"and selectors (missing: {missing}); spiders: {listed}",
            )
        typo = _typo_of(name, spiders)
        hint = f"did you mean {typo!r}? " if typo else ""
        raise _KeyedError(
            f"marketplaces.{name}",
            f"no spider called {name!r}; {hint}expected one of {listed}, "
            "or a generic site with search_url and selectors (or enabled: false)",
        )
    configured = set(client.marketplaces)
    known = configured | set(spiders)
    for i, seller in enumerate(client.authorized_sellers):
        name = seller.marketplace
        if name in known:
            continue
        typo = _typo_of(name, known)
        # A client file for `score` alone may name the marketplaces of its listings file;
        # once marketplaces are configured, a seller must be on one of them or a spider's.
        if typo is None and not configured:
            continue
        hint = f"did you mean {typo!r}? " if typo else ""
        raise _KeyedError(
            f"authorized_sellers[{i}].marketplace",
            f"unknown marketplace {name!r}; {hint}expected a configured marketplace or a spider name "
            f"({', '.join(sorted(known))})",
        )


class DuplicateKeyError(yaml.YAMLError):
    """A mapping that names the same key twice; YAML would silently keep the last."""

    def __init__(self, key: Any, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r} at line {line} (first at line {first_line})")
        self.key, self.line, self.first_line = key, line, first_line


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping naming the same key twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` then overriding a key is not a duplicate
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:  # also two on one line: `{a: 1, a: 2}`
                    raise DuplicateKeyError(key, line, seen[key])
                seen[key] = line
            except TypeError:
                continue  # an unhashable key; SafeLoader reports it
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        # `2027-13-31` looks like a date to YAML but is none: keep the text so
        # validation names the key instead of a ValueError escaping the loader.
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_yaml_timestamp)


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


def load_client(path: str | os.PathLike[str], *, resolve_alerts: bool = False) -> Client:
    """Read, validate and return the client file; raise ConfigError with one line.

    With `resolve_alerts`, every `${NAME}` in the alert URLs must be set in the
    environment too (commands that send alerts); otherwise that waits for
    `Client.alert_urls`, so scoring needs no alert secrets.
    """
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read the file ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only
    except DuplicateKeyError as exc:
        raise ConfigError(
            f"{name}: line {exc.line}: duplicate key {exc.key!r} (first at line {exc.first_line}); "
            "YAML would silently drop the first one, so merge the two or rename one"
        ) from None
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
    try:
        _check_marketplace_names(client)
    except _KeyedError as exc:
        raise ConfigError(f"{name}: {exc.key}: {exc.message}") from None
    if resolve_alerts:
        client.alert_urls(where=name)
    client.source = path.resolve()
    return client
