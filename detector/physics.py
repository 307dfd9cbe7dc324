"""Scripted playback seen through playback physics: progress that no played video explains.

These are the checks that need no cohort: a rate above what the course allows, and
reported progress that wall-clock time × allowed rate, or the absence of any
``video_play``, cannot explain.
"""

from __future__ import annotations

from detector.base import Flag, Reason, SessionView, flag_id_for
from features.session import watched_media_seconds

MIN_UNEXPLAINED_S = 120.0   # below this, jitter and lost events explain the gap
MIN_UNEXPLAINED_SHARE = 0.5


class PlaybackPhysicsDetector:
    """Flags ``scripted_playback`` when reported progress defies playback physics.

    >>> from features.session import SessionState
    >>> from detector.base import CourseInfo
    >>> state = SessionState("s", "l", "o", "c", claimed_seconds=1800.0, unexplained_seconds=1800.0,
    ...                      first_ts=0.0, last_ts=20.0)
    >>> [f.reasons[0].code for f in PlaybackPhysicsDetector().detect(
    ...     SessionView(state, CourseInfo(described=True, max_rate=2.0)))]
    ['progress_unexplained']
    """

    pattern = "scripted_playback"

    def detect(self, view: SessionView) -> list[Flag]:
        state, course = view.state, view.course
        reasons: list[Reason] = []
        claimed = state.claimed_seconds
        unexplained = state.unexplained_seconds
        if unexplained >= MIN_UNEXPLAINED_S and unexplained >= MIN_UNEXPLAINED_SHARE * max(claimed, 1.0):
            played = watched_media_seconds(state)
            reasons.append(Reason(
                code="progress_unexplained",
                message=(f"{unexplained:.0f} s of reported video progress that no playback explains "
                         f"(played {played:.0f} s; allowed at most wall-clock × {course.max_rate:g}); "
                         f"tolerated: under {MIN_UNEXPLAINED_S:.0f} s or under "
                         f"{MIN_UNEXPLAINED_SHARE:.0%} of claimed {claimed:.0f} s"),
                value=round(unexplained, 1), threshold=MIN_UNEXPLAINED_S))
        if state.max_rate_seen > course.max_rate:
            reasons.append(Reason(
                code="rate_above_course_max",
                message=(f"played at {state.max_rate_seen:g}× for {state.over_rate_seconds:.0f} s; "
                         f"this course allows at most {course.max_rate:g}×"),
                value=state.max_rate_seen, threshold=course.max_rate))
        if not reasons:
            return []
        confidence = min(0.99, 0.75 + 0.12 * len(reasons))
        return [Flag(flag_id=flag_id_for(state.session_id, self.pattern), pattern=self.pattern,
                     confidence=confidence, reasons=reasons, start=state.first_ts, end=state.last_ts,
                     suspect_media_seconds=0.0)]
