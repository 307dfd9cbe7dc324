"""Scripted playback seen through playback physics: progress no played video explains.

These checks need no cohort: reported progress that wall-clock time × the allowed rate
(or the absence of any ``video_play``) cannot explain, a rate above the course's
``max_rate``, several videos advancing at once, a device clock far from the server's.
"""

from __future__ import annotations

from learnguard.detector.base import Evidence, Reason, SessionView


def physics_evidence(view: SessionView) -> list[Evidence]:
    """Evidence of progress that no person's playback produced.

    >>> from learnguard.features.session import SessionState
    >>> from learnguard.features.course import CourseInfo
    >>> state = SessionState("s", "l", "o", "c", claimed_seconds=1800.0, unexplained_seconds=1800.0)
    >>> [e.reason.code for e in physics_evidence(SessionView(state, CourseInfo(described=True, max_rate=2.0)))]
    ['progress_unexplained']
    """
    state, course, features, t = view.state, view.course, view.features, view.thresholds
    found: list[Evidence] = []
    claimed, unexplained = state.claimed_seconds, state.unexplained_seconds
    if unexplained >= t.unexplained_min_s and unexplained >= t.unexplained_min_share * max(claimed, 1.0):
        plays = state.counts.get("video_play", 0)
        why = "no video_play at all" if plays == 0 else f"played {claimed - unexplained:.0f} s"
        found.append(Evidence(Reason(
            code="progress_unexplained",
            message=(f"{unexplained:.0f} s of the {claimed:.0f} s of reported video progress is not explained "
                     f"by playback ({why}; at most wall-clock × {course.max_rate:g} can be played); "
                     f"tolerated: under {t.unexplained_min_s:.0f} s or under {t.unexplained_min_share:.0%}"),
            value=round(unexplained, 1), threshold=t.unexplained_min_s,
            params={"unexplained": unexplained, "claimed": claimed, "played": claimed - unexplained, "plays": plays,
                    "max_rate": course.max_rate, "min_s": t.unexplained_min_s,
                    "min_share": t.unexplained_min_share}), weight=0.87, strong=True))
    if state.max_rate_seen > course.max_rate:
        found.append(Evidence(Reason(
            code="rate_above_course_max",
            message=(f"played at {state.max_rate_seen:g}× for {state.over_rate_seconds:.0f} s; "
                     f"this course allows at most {course.max_rate:g}×"),
            value=state.max_rate_seen, threshold=course.max_rate,
            params={"rate": state.max_rate_seen, "seconds": state.over_rate_seconds, "max_rate": course.max_rate}),
            weight=0.87, strong=True))
    parallel = features.get("max_parallel_videos", 0.0)
    if parallel > t.parallel_videos_max:
        found.append(Evidence(Reason(
            code="parallel_videos",
            message=(f"{parallel:.0f} videos advanced at the same time; a person watches one "
                     f"(at most {t.parallel_videos_max})"),
            value=parallel, threshold=float(t.parallel_videos_max),
            params={"videos": parallel, "max": t.parallel_videos_max}), weight=0.85, strong=True))
    skew = features.get("clock_skew_mean_s", 0.0)
    if abs(skew) > t.clock_skew_max_s:
        found.append(Evidence(Reason(
            code="client_clock_off",
            message=(f"the device clock ran {skew:+.0f} s from the platform's server on average "
                     f"(tolerated ±{t.clock_skew_max_s:.0f} s); a wrong clock alone is no misconduct"),
            value=round(skew, 1), threshold=t.clock_skew_max_s, params={"skew": skew, "max": t.clock_skew_max_s}),
            weight=0.3, strong=False))
    return found
