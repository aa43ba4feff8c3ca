"""Working days from chinese-calendar (CN) and holidays (others), and the rule table.

Each expected date is worked out in the comment beside it from the State Council's
published schedule, and the key days are checked against the library itself, so a
wrong expectation and a wrong implementation cannot agree by accident.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import chinese_calendar
import pytest

from crawler.takedown import deadlines
from crawler.takedown.deadlines import (
    CalendarError,
    TakedownError,
    UnknownPlatform,
    add_working_days,
    is_working_day,
    working_days_between,
)

D = dt.date


def test_library_agrees_with_the_2026_national_day_schedule() -> None:
    # 2026: Oct 1-7 off (Mid-Autumn on Sep 25-27), Sun Sep 20 and Sat Oct 10 are working days.
    assert all(not chinese_calendar.is_workday(D(2026, 10, day)) for day in range(1, 8))
    assert chinese_calendar.is_workday(D(2026, 10, 10)) and D(2026, 10, 10).weekday() == 5
    assert chinese_calendar.is_workday(D(2026, 9, 20)) and D(2026, 9, 20).weekday() == 6
    assert not chinese_calendar.is_workday(D(2026, 9, 25))


@pytest.mark.parametrize(
    "start,days,expected,why",
    [
        (D(2026, 9, 30), 3, D(2026, 10, 10), "Oct 1-7 off; Oct 8 Thu, Oct 9 Fri, Oct 10 the adjusted Saturday"),
        (D(2026, 9, 30), 1, D(2026, 10, 8), "the first working day after the Golden Week"),
        (D(2026, 9, 18), 1, D(2026, 9, 20), "Sat Sep 19 off, Sun Sep 20 is an adjusted working day"),
        (D(2026, 9, 24), 1, D(2026, 9, 28), "Mid-Autumn Fri Sep 25 and the weekend off"),
        (D(2025, 9, 30), 1, D(2025, 10, 9), "2025: Oct 1-8 off (National Day with Mid-Autumn)"),
        (D(2025, 9, 30), 3, D(2025, 10, 11), "2025: Oct 9 Thu, Oct 10 Fri, Oct 11 the adjusted Saturday"),
        (D(2026, 2, 12), 3, D(2026, 2, 24), "Feb 13 Fri, Feb 14 adjusted Sat, Feb 15-23 Spring Festival, Feb 24"),
        (D(2026, 2, 26), 2, D(2026, 2, 28), "Feb 27 Fri, Feb 28 the adjusted Saturday after Spring Festival"),
        (D(2026, 2, 13), 1, D(2026, 2, 14), "the Saturday before Spring Festival is worked"),
        (D(2025, 1, 24), 1, D(2025, 1, 26), "2025: Sun Jan 26 is worked before Spring Festival (Jan 28-Feb 4)"),
        (D(2025, 1, 27), 1, D(2025, 2, 5), "2025: Jan 28-Feb 4 off, Feb 5 the first working day"),
        (D(2025, 2, 7), 1, D(2025, 2, 8), "2025: Sat Feb 8 is worked after Spring Festival"),
    ],
)
def test_china_working_days_across_holidays(start: dt.date, days: int, expected: dt.date, why: str) -> None:
    assert add_working_days("CN", start, days) == expected, why
    # Cross-check with the library: exactly `days` working days in (start, expected].
    span = [start + dt.timedelta(n) for n in range(1, (expected - start).days + 1)]
    assert sum(chinese_calendar.is_workday(d) for d in span) == days
    assert chinese_calendar.is_workday(expected)


def test_plain_weekend_counting_would_be_wrong() -> None:
    # Mon-Fri counting would give Wed Oct 7 (a holiday) for 2026-09-30 + 5. The calendar:
    # Oct 8, Oct 9, Sat Oct 10 (worked), Mon Oct 12, Tue Oct 13.
    assert add_working_days("CN", D(2026, 9, 30), 5) == D(2026, 10, 13)


def test_zero_days_and_counting_between() -> None:
    assert add_working_days("CN", D(2026, 10, 3), 0) == D(2026, 10, 8)
    assert add_working_days("CN", D(2026, 10, 8), 0) == D(2026, 10, 8)
    assert working_days_between("CN", D(2026, 9, 30), D(2026, 10, 10)) == 3
    assert working_days_between("CN", D(2026, 10, 10), D(2026, 9, 30)) == -3
    assert working_days_between("CN", D(2026, 10, 1), D(2026, 10, 1)) == 0
    with pytest.raises(CalendarError, match=">= 0"):
        add_working_days("CN", D(2026, 1, 5), -1)


def test_other_countries_use_the_holidays_library() -> None:
    # US: Thanksgiving, Thu 2026-11-26.
    assert add_working_days("US", D(2026, 11, 25), 1) == D(2026, 11, 27)
    # GB: Christmas Fri Dec 25, weekend, Boxing Day observed Mon Dec 28.
    assert add_working_days("GB", D(2026, 12, 24), 1) == D(2026, 12, 29)
    assert not is_working_day("US", D(2026, 7, 4))
    with pytest.raises(CalendarError, match="no holiday calendar for country 'XX'"):
        add_working_days("XX", D(2026, 1, 5), 1)


def test_years_without_a_published_chinese_schedule_are_errors_or_estimates() -> None:
    first, last = deadlines.china_years()
    assert first <= 2025 and last >= 2026, "chinese-calendar must cover 2025 and 2026"
    with pytest.raises(CalendarError) as err:
        add_working_days("CN", D(last, 12, 30), 3)
    message = str(err.value)
    assert f"{last + 1}" in message and f"{first}-{last}" in message and "chinese-calendar" in message
    # An estimate counts the statutory holidays (New Year's Day) and says which years it guessed.
    assert add_working_days("CN", D(last, 12, 30), 3, estimate=True) == D(last + 1, 1, 5)
    assert deadlines.estimated_years("CN", D(last, 12, 30), D(last + 1, 1, 5)) == [last + 1]
    assert deadlines.estimated_years("CN", D(last, 1, 5), D(last, 12, 1)) == []
    # Where the holidays library has the published schedule (2003: before chinese-calendar's
    # first year), it is used as is: National Day week off, no estimate.
    assert first > 2003 and deadlines.estimated_years("CN", D(2003, 1, 1), D(2003, 12, 31)) == []
    assert is_working_day("CN", D(2003, 6, 2)) and not is_working_day("CN", D(2003, 10, 2))


def test_default_rule_table() -> None:
    table = deadlines.load_rules()
    for key in ("taobao", "tmall", "1688", "alibaba", "aliexpress"):
        rule = table.platform(key)
        assert (rule.family, rule.country, rule.max_links) == ("alibaba_ipp", "CN", 300)
        assert rule.deadline_for("seller_notified").working_days == (3, 3)
        assert rule.deadline_for("removed").working_days == (27, 27)
        assert rule.deadline_for("dispute").working_days == (2, 5)
    jd = table.platform("JD")
    assert jd.deadline_for("seller_notified").working_days == (1, 3)
    assert jd.deadline_for("cross_complaint").working_days == (7, 7)
    assert jd.deadline_for("dispute").days == 15
    assert not table.platform("dhgate").verified
    assert "unverified" in table.platform("dhgate").deadline_for("seller_notified").describe()
    assert table.accuracy["takedown_rate_min"] == 0.90 and table.accuracy["counter_won_max"] == 0.05
    with pytest.raises(UnknownPlatform, match="unknown platform 'wish'"):
        table.platform("wish")


def test_rules_are_data_and_edits_take_effect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "rules.yaml"
    shutil.copy(deadlines.RULES_FILE, copy)
    text = copy.read_text(encoding="utf-8").replace(
        "seller_notified: {working_days: 3, what: \"seller's first response",
        "seller_notified: {working_days: 5, what: \"seller's first response",
    )
    copy.write_text(text, encoding="utf-8")
    monkeypatch.setenv(deadlines.RULES_ENV, str(copy))
    rule = deadlines.rules().platform("taobao")
    assert rule.deadline_for("seller_notified").working_days == (5, 5)
    assert rule.deadline_for("seller_notified").due("CN", D(2026, 9, 30)) == D(2026, 10, 13)


@pytest.mark.parametrize(
    "patch,where",
    [
        ({"family": "fax"}, "platforms.x.family"),
        ({"country": "CHN"}, "platforms.x.country"),
        ({"deadlines": {"sold": {"working_days": 3, "what": "w"}}}, "platforms.x.deadlines.sold"),
        ({"deadlines": {"dispute": {"working_days": [5, 2], "what": "w"}}}, "platforms.x.deadlines.dispute.working_days"),
        ({"deadlines": {"dispute": {"working_days": 2, "days": 3, "what": "w"}}}, "platforms.x.deadlines.dispute"),
        ({"documents": ["passport"]}, "platforms.x.documents"),
    ],
)
def test_bad_rules_name_the_file_and_key(tmp_path: Path, patch: dict, where: str) -> None:
    import yaml

    base = {"family": "letter", "country": "CN", "deadlines": {}}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"platforms": {"x": {**base, **patch}}}), encoding="utf-8")
    with pytest.raises(TakedownError) as err:
        deadlines.load_rules(path)
    assert str(err.value).startswith(f"{path}: {where}:")


@pytest.mark.parametrize("accuracy", [{"window_days": "three months"}, {"takedown_rate_min": None}, "strict"])
def test_bad_accuracy_figures_name_the_file_and_key(tmp_path: Path, accuracy: object) -> None:
    import yaml

    path = tmp_path / "rules.yaml"
    rules = {"accuracy": accuracy, "platforms": {"x": {"family": "letter", "country": "CN"}}}
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    with pytest.raises(TakedownError) as err:
        deadlines.load_rules(path)
    assert str(err.value).startswith(f"{path}: accuracy")


def test_days_left_to_an_estimated_deadline_are_counted() -> None:
    # The cases board and the reminders count down to deadlines that run into 2027.
    first, last = deadlines.china_years()
    assert deadlines.working_days_between("CN", D(last, 12, 30), D(last + 1, 1, 5)) == 3
