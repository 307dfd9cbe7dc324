"""Scoring policy in one place: what counts as misconduct, how evidence is fused into
``risk``, the levels, the cap on what is not misconduct, and the rules every detector and
the pipeline are held to (``rules_from(settings)``).

Fusion is a noisy-OR of the misconduct flags' confidences, so one strong detector is
enough and independent ones add up; flags that are not misconduct (cramming, an
unsupervised model) are capped below ``review`` so they never accuse on their own.

>>> fuse_evidence([(0.9, True), (0.95, False)])
0.945
>>> level_of(0.45), level_of(0.5), level_of(0.8)
('normal', 'review', 'high')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from learnguard.detector.thresholds import Thresholds
from learnguard.features.course import Course, CourseInfo, course_info
from learnguard.features.session import PlaybackRules

if TYPE_CHECKING:
    from learnguard.settings import Settings

PATTERNS = ("scripted_playback", "screen_flooding", "last_minute_cramming", "account_sharing",
            "coordinated_accounts")
MISCONDUCT_PATTERNS = frozenset({"scripted_playback", "screen_flooding", "account_sharing"})
LEVEL_REVIEW = 0.5
LEVEL_HIGH = 0.8
NON_MISCONDUCT_CAP = 0.45


def fuse_evidence(evidence: Iterable[tuple[float, bool]]) -> float:
    """Risk from (confidence, is misconduct) pairs: noisy-OR of the misconduct ones, joined
    by the strongest other one capped at ``NON_MISCONDUCT_CAP``."""
    keep = 1.0
    other = 0.0
    for confidence, misconduct in evidence:
        if misconduct:
            keep *= 1.0 - confidence
        else:
            other = max(other, min(confidence, NON_MISCONDUCT_CAP))
    return round(1.0 - keep * (1.0 - other), 4)


def fuse(flags: Iterable[Any]) -> float:
    """Risk of a session from its standing flags (anything with ``confidence``,
    ``misconduct`` and ``stands``): a dismissed flag adds nothing."""
    return fuse_evidence((flag.confidence, flag.misconduct) for flag in flags if flag.stands)


def standing_seconds(credited: float, flags: Iterable[Any]) -> float:
    """Study time that stands: what the session credits before any flag, less the media
    time standing misconduct flags explain, and none while a standing flag voids it (time
    resting on another account's turn, another tab's clock or a recording). A flag a
    supervisor dismissed takes nothing away.

    >>> from learnguard.detector.base import Flag
    >>> scripted = Flag("f-1", "scripted_playback", 0.9, [], 0.0, 1.0, suspect_media_seconds=600.0)
    >>> standing_seconds(1000.0, [scripted]), standing_seconds(1000.0, [msgspec.structs.replace(scripted,
    ...     status="dismissed")])
    (400.0, 1000.0)
    """
    standing = [flag for flag in flags if flag.stands]
    if any(flag.voids_time for flag in standing):
        return 0.0
    return round(max(0.0, credited - sum(flag.suspect_media_seconds for flag in standing if flag.misconduct)), 1)


def level_of(risk: float) -> str:
    if risk >= LEVEL_HIGH:
        return "high"
    if risk >= LEVEL_REVIEW:
        return "review"
    return "normal"


class Rules(msgspec.Struct, frozen=True):
    """What the pipeline and the detectors are held to, from one ``Settings``."""

    reorder_window_s: float = 90.0
    default_max_rate: float = 2.0
    thresholds: Thresholds = msgspec.field(default_factory=Thresholds)

    def course(self, course: Course | None) -> CourseInfo:
        """What detectors know of a course (defaults when it was never described)."""
        return course_info(course, self.default_max_rate)

    def playback(self, course: CourseInfo) -> PlaybackRules:
        """The physics a session of ``course`` is folded with."""
        return PlaybackRules(max_rate=course.max_rate, reorder_window_s=self.reorder_window_s)


def rules_from(settings: Settings) -> Rules:
    """The one way settings become rules (cramming keeps its own ``LEARNGUARD_CRAMMING_*``)."""
    overrides: dict[str, Any] = {"cramming_window_hours": settings.cramming_window_hours,
                                 "cramming_min_share": settings.cramming_min_share,
                                 "cramming_min_hours": settings.cramming_min_hours, **settings.thresholds}
    return Rules(reorder_window_s=settings.reorder_window_s, default_max_rate=settings.default_max_rate,
                 thresholds=Thresholds.from_overrides(overrides))
