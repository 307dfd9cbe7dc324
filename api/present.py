"""Stored records as the API shows them (times as RFC 3339 UTC, no internal fields; reasons
in the reader's language and their org's time zone, pattern and status names beside codes)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from learnguard.api.deps import Caller
from learnguard.api.messages import label, render
from learnguard.api.schemas import FlagPublic, ReportFlagPublic, ReviewPublic
from learnguard.api.timefmt import rfc3339
from learnguard.detector.base import Flag, Reason, Related
from learnguard.detector.records import Review

OUTSIDE = Related(learner_id="(an account outside your org subtree)", org_id="")


def visible_reasons(reasons: list[Reason], covers: Callable[[str], bool]) -> list[Reason]:
    """Reasons with the accounts a linking reason names hidden when they lie outside the
    reader's org subtree (the reader still learns that such an account exists)."""
    if not any(reason.related for reason in reasons):
        return reasons
    return [msgspec.structs.replace(reason, related=[r if covers(r.org_id) else OUTSIDE for r in reason.related])
            if reason.related else reason for reason in reasons]


def readable_reasons(reasons: list[Reason], caller: Caller, org_id: str) -> list[Reason]:
    """Reasons as ``caller`` may read them: accounts outside its subtree hidden, messages in
    its language with times in the org's time zone."""
    zone = caller.zone(org_id)
    return [render(reason, caller.lang, zone) for reason in visible_reasons(reasons, caller.covers)]


def flag_public(flag: Flag, caller: Caller, org_id: str) -> FlagPublic:
    return FlagPublic(flag_id=flag.flag_id, pattern=flag.pattern, confidence=flag.confidence,
                      reasons=readable_reasons(flag.reasons, caller, org_id),
                      start=rfc3339(flag.start), end=rfc3339(flag.end), status=flag.status,
                      label=label("pattern", flag.pattern, caller.lang),
                      status_label=label("status", flag.status, caller.lang))


def review_public(review: Review) -> ReviewPublic:
    return ReviewPublic(decision=review.decision, note=review.note, by=review.by_name, by_key=review.by_key,
                        at=rfc3339(review.at))


def report_flag_public(session_id: str, flag: Flag, reviews: list[Review], caller: Caller, org_id: str,
                       sessions: list[str] | None = None) -> ReportFlagPublic:
    return ReportFlagPublic(flag_id=flag.flag_id, pattern=flag.pattern, confidence=flag.confidence,
                            reasons=readable_reasons(flag.reasons, caller, org_id),
                            start=rfc3339(flag.start), end=rfc3339(flag.end),
                            status=flag.status, session_id=session_id, reviews=[review_public(r) for r in reviews],
                            sessions=sessions or [session_id], label=label("pattern", flag.pattern, caller.lang),
                            status_label=label("status", flag.status, caller.lang))
