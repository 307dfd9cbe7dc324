"""The ranking of units (红黑榜): how units are ordered and who lands on which list.

Pure: the reports tally each unit's learners, this orders them and says the rule, so the
rule printed with the list is the rule applied.

>>> good, bad = UnitTally("a"), UnitTally("b")
>>> good.add("l1", hours=5.0, required=4.0, flagged=False, confirmed=False)
>>> bad.add("l2", hours=1.0, required=4.0, flagged=True, confirmed=False)
>>> [(item["org_id"], item["rank"]) for item in rank_units([bad.counts(), good.counts()])[0]]
[('a', 1), ('b', 2)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WARNING_FLAGGED_RATE = 0.2  # a unit with this share of flagged learners is on the warning list
LIST_SIZE = 3               # the top and bottom units that make the lists
RANKED_BY = ("completion_rate − flagged_rate, then effective hours per learner, then the unit's id; "
             "flagged means a standing misconduct flag (cramming is learning quality, not a violation; a "
             "dismissed flag does not count); honour: the top 3 with no flagged learner; warning: a flagged "
             "rate of 20 % or more, or the bottom 3")
ACTIVE_HOURS = 1.0          # a learner with this many effective hours is active


@dataclass
class UnitTally:
    """One unit's learners and what they did."""

    org_id: str
    learners: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)
    complete: set[str] = field(default_factory=set)
    flagged: set[str] = field(default_factory=set)
    confirmed: set[str] = field(default_factory=set)
    hours: float = 0.0

    def add(self, learner_id: str, hours: float, required: float | None, flagged: bool, confirmed: bool) -> None:
        """One learner x course of the unit: effective hours, what the course requires, flags."""
        self.learners.add(learner_id)
        self.hours += hours
        if hours >= ACTIVE_HOURS:
            self.active.add(learner_id)
        if required and hours >= required:
            self.complete.add(learner_id)
        if flagged:
            self.flagged.add(learner_id)
        if confirmed:
            self.confirmed.add(learner_id)


    def counts(self) -> UnitCounts:
        return UnitCounts(self.org_id, len(self.learners), len(self.active), len(self.complete), len(self.flagged),
                          len(self.confirmed), self.hours)


@dataclass(frozen=True)
class UnitCounts:
    """A unit's tally as numbers: what the ranking reads (learners counted once each)."""

    org_id: str
    learners: int
    active: int
    complete: int
    flagged: int
    confirmed: int
    hours: float


def rank_units(units: list[UnitCounts]) -> tuple[list[dict[str, Any]], str]:
    """Units ranked best first, each with ``rank`` and ``list`` (honour, warning or None),
    and the rule they were ranked by."""
    items: list[dict[str, Any]] = []
    for unit in units:
        n = unit.learners
        items.append({"org_id": unit.org_id, "learners": n, "active_learners": unit.active,
                      "effective_hours_per_learner": round(unit.hours / n, 2),
                      "completion_rate": round(unit.complete / n, 4),
                      "flagged_rate": round(unit.flagged / n, 4),
                      "confirmed_rate": round(unit.confirmed / n, 4)})
    items.sort(key=lambda r: (-(r["completion_rate"] - r["flagged_rate"]), -r["effective_hours_per_learner"],
                              r["org_id"]))
    for rank, item in enumerate(items, start=1):
        item["rank"] = rank
        bottom = rank > len(items) - LIST_SIZE and len(items) > LIST_SIZE
        item["list"] = ("warning" if item["flagged_rate"] >= WARNING_FLAGGED_RATE or bottom
                        else "honour" if rank <= LIST_SIZE and item["flagged_rate"] == 0 else None)
    return items, RANKED_BY
