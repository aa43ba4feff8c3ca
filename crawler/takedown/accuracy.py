"""Reporter accuracy: does this client still file complaints the platform trusts?

Platforms rank complainants by their record. Alibaba's good-faith programme, for
one, looks at the last three months: the takedown rate (complaints that ended in
removal) must stay >= 90% and the successful counter-notification rate (complaints
whose seller won a counter-notice and got the listing reinstated) <= 5%, both over
the decided complaints. The thresholds live in the rules file; an export warns
when a platform is near or past them, before more weak complaints make it worse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler import models as m
from crawler.takedown.deadlines import Rules
from crawler.takedown.deadlines import rules as load_rules

OUTCOMES = ("removed", "reinstated", "rejected")


@dataclass
class Accuracy:
    platform: str
    since: dt.datetime
    decided: int
    removed: int
    counter_won: int
    status: str  # ok | near | past | few | none
    messages: list[str] = field(default_factory=list)

    @property
    def takedown_rate(self) -> float | None:
        return self.removed / self.decided if self.decided else None

    @property
    def counter_won_rate(self) -> float | None:
        return self.counter_won / self.decided if self.decided else None


def platform_accuracy(
    session: Session, platform: str, *, now: dt.datetime | None = None, rules: Rules | None = None
) -> Accuracy:
    """Outcomes of the platform's complaints decided in the rules' window (about three months)."""
    table = rules or load_rules()
    cfg = table.accuracy
    now = now or m.utcnow()
    since = now - dt.timedelta(days=cfg["window_days"])
    rows = session.execute(
        select(m.CaseEvent.case_id, m.CaseEvent.to_state)
        .join(m.Case, m.Case.id == m.CaseEvent.case_id)
        .where(
            m.Case.platform == platform.lower(),
            m.CaseEvent.to_state.in_(OUTCOMES),
            m.CaseEvent.from_state.is_not(None),
            m.CaseEvent.from_state != m.CaseEvent.to_state,
            m.CaseEvent.at >= since,
            m.CaseEvent.at <= now,
        )
        .order_by(m.CaseEvent.id)
    ).all()
    final: dict[int, str] = {}
    for case_id, state in rows:
        final[case_id] = state  # the last outcome of a case in the window counts
    decided = len(final)
    removed = sum(1 for s in final.values() if s == "removed")
    # Reinstatement only follows a counter-notice (directly or after a dispute).
    won = sum(1 for s in final.values() if s == "reinstated")
    acc = Accuracy(platform.lower(), since, decided, removed, won, "none")
    if not decided:
        return acc
    rate, won_rate = acc.takedown_rate or 0.0, acc.counter_won_rate or 0.0
    lo, hi, margin = cfg["takedown_rate_min"], cfg["counter_won_max"], cfg["near_margin"]
    figures = (
        f"{platform}: takedown rate {rate:.0%} ({removed}/{decided}), counter-notices won by sellers "
        f"{won_rate:.0%} ({won}/{decided}) over the last {int(cfg['window_days'])} days"
    )
    if rate < lo or won_rate > hi:
        acc.status = "past"
        acc.messages.append(
            f"{figures}: past the thresholds (takedown >= {lo:.0%}, counter-notices won <= {hi:.0%}); "
            "file only clear-cut counterfeits until the record recovers"
        )
    elif rate < lo + margin or won_rate > hi - margin:
        acc.status = "near"
        acc.messages.append(
            f"{figures}: near the thresholds (takedown >= {lo:.0%}, counter-notices won <= {hi:.0%}); "
            "review weak cases before filing"
        )
    else:
        acc.status = "ok"
    if decided < cfg["min_decided"] and acc.status in ("near", "past"):
        acc.messages[-1] += f" (only {decided} decided complaints so far)"
    return acc
