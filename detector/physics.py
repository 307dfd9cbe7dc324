"""Scripted playback seen through playback physics: progress no played video explains.

These checks need no cohort: reported progress that wall-clock time × the allowed rate
(or the absence of any ``video_play``) cannot explain, a rate above the course's
``max_rate``, several videos advancing at once, a device clock far from the server's.
"""

from __future__ import annotations

from detector.base import Evidence, Reason, SessionView

MIN_UNEXPLAINED_S = 120.0   # below this, jitter and lost events explain the gap
MIN_UNEXPLAINED_SHARE = 0.5
MAX_PARALLEL = 2            # two tabs happen; three videos advancing together do not
MAX_CLOCK_SKEW_S = 120.0


def physics_evidence(view: SessionView) -> list[Evidence]:
    """Evidence of progress that no person's playback produced.

    >>> from features.session import SessionState
    >>> from detector.base import CourseInfo
    >>> state = SessionState("s", "l", "o", "c", claimed_seconds=1800.0, unexplained_seconds=1800.0)
    >>> [e.reason.code for e in physics_evidence(SessionView(state, CourseInfo(described=True, max_rate=2.0)))]
    ['progress_unexplained']
    """
    state, course, features = view.state, view.course, view.features
    found: list[Evidence] = []
    claimed, unexplained = state.claimed_seconds, state.unexplained_seconds
    if unexplained >= MIN_UNEXPLAINED_S and unexplained >= MIN_UNEXPLAINED_SHARE * max(claimed, 1.0):
        plays = state.counts.get("video_play", 0)
        why = "no video_play at all" if plays == 0 else f"played {claimed - unexplained:.0f} s"
        found.append(Evidence(Reason(
            code="progress_unexplained",
            message=(f"{unexplained:.0f} s of the {claimed:.0f} s of reported video progress is not explained "
                     f"by playback ({why}; at most wall-clock × {course.max_rate:g} can be played); "
                     f"tolerated: under {MIN_UNEXPLAINED_S:.0f} s or under {MIN_UNEXPLAINED_SHARE:.0%}"),
            value=round(unexplained, 1), threshold=MIN_UNEXPLAINED_S), weight=0.87, strong=True))
    if state.max_rate_seen > course.max_rate:
        found.append(Evidence(Reason(
            code="rate_above_course_max",
            message=(f"played at {state.max_rate_seen:g}× for {state.over_rate_seconds:.0f} s; "
                     f"this course allows at most {course.max_rate:g}×"),
            value=state.max_rate_seen, threshold=course.max_rate), weight=0.87, strong=True))
    parallel = features.get("max_parallel_videos", 0.0)
    if parallel > MAX_PARALLEL:
        found.append(Evidence(Reason(
            code="parallel_videos",
            message=f"{parallel:.0f} videos advanced at the same time; a person watches one (at most {MAX_PARALLEL})",
            value=parallel, threshold=float(MAX_PARALLEL)), weight=0.85, strong=True))
    skew = features.get("clock_skew_mean_s", 0.0)
    if abs(skew) > MAX_CLOCK_SKEW_S:
        found.append(Evidence(Reason(
            code="client_clock_off",
            message=(f"the device clock ran {skew:+.0f} s from the platform's server on average "
                     f"(tolerated ±{MAX_CLOCK_SKEW_S:.0f} s); a wrong clock alone is no misconduct"),
            value=round(skew, 1), threshold=MAX_CLOCK_SKEW_S), weight=0.3, strong=False))
    return found
