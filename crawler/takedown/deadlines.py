"""Working days per country, and the per-platform rule table that uses them.

China's calendar comes from `chinese-calendar`, which knows the public holidays
and the adjusted working days (weekend days that become working days) as the
State Council publishes them each year; other countries come from `holidays`.
The rule table (`rules.yaml`, or the file named by MARKWATCH_TAKEDOWN_RULES) says
how many working days each platform allows at each step of a case.

A year neither library has China's published schedule for is an error for
`is_working_day`: treating a holiday week as working days would put every deadline
in the wrong place. A case's deadline is then estimated instead (`estimate=True`):
the statutory holidays are known years ahead (`holidays` computes them), only the
weekend days made working days around them are not, so the estimate can be a day or
two late, and the case says it is an estimate.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

RULES_FILE = Path(__file__).with_name("rules.yaml")
RULES_ENV = "MARKWATCH_TAKEDOWN_RULES"
FAMILIES = {"alibaba_ipp", "amazon", "ebay_vero", "jd", "dhgate", "letter"}
DOCUMENT_KINDS = {"business_license", "certificate"}


class TakedownError(ValueError):
    """A takedown problem the user can fix; the message is one line."""


class CalendarError(TakedownError):
    """A working-day question the calendar cannot answer (e.g. a year not yet published)."""


class UnknownPlatform(TakedownError):
    pass


# ---------------------------------------------------------------- calendars


@lru_cache(maxsize=1)
def china_years() -> tuple[int, int]:
    """The first and last year chinese-calendar has published holiday data for."""
    from chinese_calendar import constants

    years = [d.year for d in constants.holidays] + [d.year for d in constants.workdays]
    return min(years), max(years)


@lru_cache(maxsize=16)
def _china_by_holidays(year: int) -> Any:
    """China's holidays for `year` from the `holidays` library, and whether they are the
    published schedule (it then lists the weekend days made working days) or the statutory
    dates alone."""
    import holidays

    cal = holidays.country_holidays("CN", years=year)
    day, published = dt.date(year, 1, 1), False
    while day.year == year and not published:
        published = day.weekday() >= 5 and cal.is_working_day(day)
        day += dt.timedelta(days=1)
    return cal, published


def _china_is_working(day: dt.date, estimate: bool = False) -> bool:
    import chinese_calendar

    first, last = china_years()
    if not first <= day.year <= last:
        cal, published = _china_by_holidays(day.year)
        if published or estimate:
            return bool(cal.is_working_day(day))
        raise CalendarError(
            f"China's working-day calendar for {day.year} is not available: chinese-calendar "
            f"{chinese_calendar.__version__} covers {first}-{last}; upgrade it "
            f"(pip install -U chinese-calendar) once the State Council publishes {day.year}'s holidays,"
            " or estimate with the statutory holidays alone"
        )
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:  # the library's own guard, in case its data has gaps
        raise CalendarError(f"China's working-day calendar: {exc}") from None


@lru_cache(maxsize=64)
def _country_calendar(country: str, year: int) -> Any:
    import holidays

    try:
        return holidays.country_holidays(country, years=year)
    except (NotImplementedError, KeyError, AttributeError):
        raise CalendarError(
            f"no holiday calendar for country {country!r}: expected an ISO 3166-1 alpha-2 code "
            "the holidays library supports (e.g. CN, US, DE, GB)"
        ) from None


def is_working_day(country: str, day: dt.date, *, estimate: bool = False) -> bool:
    """True when `day` is a working day in `country` (CN: public holidays and adjusted days).

    `estimate`: for a year China's schedule is not published for, count the statutory
    holidays alone instead of raising CalendarError.
    """
    country = country.upper()
    if country == "CN":
        return _china_is_working(day, estimate)
    cal = _country_calendar(country, day.year)
    if hasattr(cal, "is_working_day"):
        return bool(cal.is_working_day(day))
    weekend = getattr(cal, "weekend", {5, 6})
    return day.weekday() not in weekend and day not in cal


def check_country(country: str) -> str:
    """Validate a country code for working-day questions; return it upper-cased."""
    code = country.strip().upper()
    if code != "CN":
        _country_calendar(code, dt.date.today().year)
    return code


def add_working_days(country: str, start: dt.date, days: int, *, estimate: bool = False) -> dt.date:
    """The `days`-th working day after `start` (start itself not counted).

    With days == 0 the result is `start` if it is a working day, else the next one.
    `estimate`: see `is_working_day`.
    """
    if days < 0:
        raise CalendarError(f"expected a number of working days >= 0, got {days}")
    day = start
    if days == 0:
        while not is_working_day(country, day, estimate=estimate):
            day += dt.timedelta(days=1)
        return day
    left = days
    while left:
        day += dt.timedelta(days=1)
        if is_working_day(country, day, estimate=estimate):
            left -= 1
    return day


def estimated_years(country: str, start: dt.date, end: dt.date) -> list[int]:
    """The years from `start` to `end` whose working days in `country` are only estimated."""
    if country.upper() != "CN":
        return []
    first, last = china_years()
    return [y for y in range(start.year, end.year + 1) if not first <= y <= last and not _china_by_holidays(y)[1]]


def working_days_between(country: str, start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end`; negative when end is before start.

    A count to show (days left), so years without a published schedule are estimated.
    """
    lo, hi, sign = (start, end, 1) if end >= start else (end, start, -1)
    count, day = 0, lo
    while day < hi:
        day += dt.timedelta(days=1)
        if is_working_day(country, day, estimate=True):
            count += 1
    return count * sign


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class DeadlineRule:
    state: str
    what: str
    working_days: tuple[int, int] | None = None  # (min, max)
    days: int | None = None
    verified: bool = True

    def describe(self) -> str:
        if self.working_days:
            lo, hi = self.working_days
            span = f"{hi} working days" if lo == hi else f"{lo}-{hi} working days"
        else:
            span = f"{self.days} days"
        return f"{span}: {self.what}" + ("" if self.verified else " (unverified)")

    def due(self, country: str, start: dt.date, *, estimate: bool = False) -> dt.date:
        if self.working_days:
            return add_working_days(country, start, self.working_days[1], estimate=estimate)
        return start + dt.timedelta(days=self.days or 0)


@dataclass(frozen=True)
class PlatformRule:
    key: str
    name: str
    family: str
    country: str
    portal: str | None
    verified: bool
    source: str
    registration_offices: tuple[str, ...]
    foreign_registrations: str  # ok | warn | fail
    documents: tuple[str, ...]
    max_links: int | None
    max_links_verified: bool
    deadlines: dict[str, DeadlineRule]
    extra: dict[str, Any] = field(default_factory=dict)

    def deadline_for(self, state: str) -> DeadlineRule | None:
        return self.deadlines.get(state)


@dataclass(frozen=True)
class Rules:
    path: Path
    platforms: dict[str, PlatformRule]
    accuracy: dict[str, float]

    def platform(self, key: str) -> PlatformRule:
        """The rule of a platform, by marketplace name; UnknownPlatform when there is none."""
        rule = self.platforms.get(str(key).strip().lower())
        if rule is None:
            raise UnknownPlatform(
                f"unknown platform {key!r}: expected one of {', '.join(sorted(self.platforms))}"
            )
        return rule


def _fail(path: Path, where: str, what: str) -> TakedownError:
    return TakedownError(f"{path}: {where}: {what}")


def _deadline(path: Path, where: str, state: str, raw: Any) -> DeadlineRule:
    if not isinstance(raw, dict) or not isinstance(raw.get("what"), str):
        raise _fail(path, where, "expected a mapping with working_days or days, and what")
    unknown = set(raw) - {"working_days", "days", "what", "verified"}
    if unknown:
        raise _fail(path, f"{where}.{min(unknown)}", "unknown key")
    wd, days = raw.get("working_days"), raw.get("days")
    if (wd is None) == (days is None):
        raise _fail(path, where, "expected exactly one of working_days or days")
    span: tuple[int, int] | None = None
    if wd is not None:
        if isinstance(wd, int) and not isinstance(wd, bool) and wd >= 0:
            span = (wd, wd)
        elif (
            isinstance(wd, list) and len(wd) == 2 and all(isinstance(x, int) and x >= 0 for x in wd)
            and wd[0] <= wd[1]
        ):
            span = (wd[0], wd[1])
        else:
            raise _fail(path, f"{where}.working_days", f"expected a whole number or [min, max], got {wd!r}")
    elif not (isinstance(days, int) and days >= 0):
        raise _fail(path, f"{where}.days", f"expected a whole number of days, got {days!r}")
    return DeadlineRule(state, raw["what"], span, days, bool(raw.get("verified", True)))


def load_rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """Read and validate the rule table; errors name the file and the key."""
    from crawler.takedown.states import STATES

    src = Path(path or os.environ.get(RULES_ENV) or RULES_FILE)
    try:
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TakedownError(f"{src}: rules file not found") from None
    except yaml.YAMLError as exc:
        raise TakedownError(f"{src}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("platforms"), dict):
        raise _fail(src, "platforms", "expected a mapping of platform name to rules")
    acc = data.get("accuracy") or {}
    if not isinstance(acc, dict):
        raise _fail(src, "accuracy", "expected a mapping of the good-faith thresholds")
    defaults = {"window_days": 91, "takedown_rate_min": 0.90, "counter_won_max": 0.05, "near_margin": 0.03,
                "min_decided": 5}
    accuracy: dict[str, float] = {}
    for key, default in defaults.items():
        value = acc.get(key, default)
        # An edited figure that is not a number must be one line naming it, not a traceback.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise _fail(src, f"accuracy.{key}", f"expected a number >= 0, got {value!r}")
        accuracy[key] = float(value)
    platforms: dict[str, PlatformRule] = {}
    for key, raw in data["platforms"].items():
        key = str(key).lower()
        where = f"platforms.{key}"
        if not isinstance(raw, dict):
            raise _fail(src, where, "expected a mapping")
        family = raw.get("family")
        if family not in FAMILIES:
            raise _fail(src, f"{where}.family", f"expected one of {sorted(FAMILIES)}, got {family!r}")
        country = str(raw.get("country", "")).upper()
        if len(country) != 2:
            raise _fail(src, f"{where}.country", f"expected an ISO 3166-1 alpha-2 code, got {country!r}")
        foreign = raw.get("foreign_registrations", "warn")
        if foreign not in ("ok", "warn", "fail"):
            raise _fail(src, f"{where}.foreign_registrations", f"expected ok, warn or fail, got {foreign!r}")
        documents = tuple(raw.get("documents") or ())
        for doc in documents:
            if doc not in DOCUMENT_KINDS:
                raise _fail(src, f"{where}.documents", f"expected items of {sorted(DOCUMENT_KINDS)}, got {doc!r}")
        deadlines = {}
        for state, rule in (raw.get("deadlines") or {}).items():
            if state not in STATES:
                raise _fail(src, f"{where}.deadlines.{state}", f"expected a case state ({', '.join(STATES)})")
            deadlines[state] = _deadline(src, f"{where}.deadlines.{state}", state, rule)
        max_links = raw.get("max_links")
        if max_links is not None and not (isinstance(max_links, int) and max_links > 0):
            raise _fail(src, f"{where}.max_links", f"expected a positive whole number, got {max_links!r}")
        known = {
            "name", "family", "country", "portal", "verified", "source", "registration_offices",
            "foreign_registrations", "documents", "max_links", "max_links_verified", "deadlines",
        }
        platforms[key] = PlatformRule(
            key=key, name=str(raw.get("name") or key), family=family, country=country,
            portal=raw.get("portal"), verified=bool(raw.get("verified", False)),
            source=str(raw.get("source") or ""),
            registration_offices=tuple(str(c).upper() for c in raw.get("registration_offices") or ()),
            foreign_registrations=foreign, documents=documents, max_links=max_links,
            max_links_verified=bool(raw.get("max_links_verified", True)), deadlines=deadlines,
            extra={k: v for k, v in raw.items() if k not in known},
        )
    return Rules(src, platforms, accuracy)


_cache: dict[tuple[str, float], Rules] = {}


def rules(path: str | os.PathLike[str] | None = None) -> Rules:
    """The rule table, re-read when the file changes (it is meant to be edited)."""
    src = Path(path or os.environ.get(RULES_ENV) or RULES_FILE)
    try:
        stamp = src.stat().st_mtime
    except OSError:
        return load_rules(src)
    key = (str(src.resolve()), stamp)
    if key not in _cache:
        _cache[key] = load_rules(src)
    return _cache[key]
