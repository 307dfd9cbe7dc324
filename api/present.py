"""Stored records as the API shows them (times as RFC 3339 UTC, no internal fields)."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

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


def flag_public(flag: Flag, covers: Callable[[str], bool]) -> FlagPublic:
    return FlagPublic(flag_id=flag.flag_id, pattern=flag.pattern, confidence=flag.confidence,
                      reasons=visible_reasons(flag.reasons, covers),
                      start=rfc3339(flag.start), end=rfc3339(flag.end), status=flag.status)


def review_public(review: Review) -> ReviewPublic:
    return ReviewPublic(decision=review.decision, note=review.note, by=review.by_name, by_key=review.by_key,
                        at=rfc3339(review.at))


def report_flag_public(session_id: str, flag: Flag, reviews: list[Review], covers: Callable[[str], bool],
                       sessions: list[str] | None = None) -> ReportFlagPublic:
    return ReportFlagPublic(flag_id=flag.flag_id, pattern=flag.pattern, confidence=flag.confidence,
                            reasons=visible_reasons(flag.reasons, covers),
                            start=rfc3339(flag.start), end=rfc3339(flag.end),
                            status=flag.status, session_id=session_id, reviews=[review_public(r) for r in reviews],
                            sessions=sessions or [session_id])
