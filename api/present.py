"""Stored records as the API shows them (times as RFC 3339 UTC, no internal fields)."""

from __future__ import annotations

from learnguard.api.schemas import FlagPublic, ReportFlagPublic, ReviewPublic
from learnguard.api.timefmt import rfc3339
from learnguard.detector.base import Flag
from learnguard.detector.records import Review


def flag_public(flag: Flag) -> FlagPublic:
    return FlagPublic(flag_id=flag.flag_id, pattern=flag.pattern, confidence=flag.confidence, reasons=flag.reasons,
                      start=rfc3339(flag.start), end=rfc3339(flag.end), status=flag.status)


def review_public(review: Review) -> ReviewPublic:
    return ReviewPublic(decision=review.decision, note=review.note, by=review.by_name, by_key=review.by_key,
                        at=rfc3339(review.at))


def report_flag_public(session_id: str, flag: Flag, reviews: list[Review]) -> ReportFlagPublic:
    return ReportFlagPublic(flag_id=flag.flag_id, pattern=flag.pattern, confidence=flag.confidence,
                            reasons=flag.reasons, start=rfc3339(flag.start), end=rfc3339(flag.end),
                            status=flag.status, session_id=session_id, reviews=[review_public(r) for r in reviews])
