"""Honest learners must not be flagged; each pattern flags with readable reasons.

Every must-not-flag case of the issue runs on many simulated sessions (several seeds) of
that kind of learner, through the same detectors the service runs.
"""

from __future__ import annotations

import pytest

from learnguard.detector.offline import score_offline
from learnguard.features.course import CourseInfo, course_info, parse_course
from learnguard.simulator.cohort import simulate_cohort

MISCONDUCT = {"scripted_playback", "screen_flooding", "account_sharing"}


@pytest.fixture(scope="module")
def cohorts() -> list[tuple[dict, dict]]:
    """(scores by session, truth) for three seeds not used for tuning."""
    out = []
    for seed in (201, 202, 203):
        cohort = simulate_cohort(learners=120, seed=seed)
        import json
        course = course_info(parse_course(json.dumps(cohort.course).encode()), 2.0)
        out.append((score_offline(cohort.events, course), cohort.truth.sessions))
    return out


def sessions_of(cohorts, archetype: str):
    found = [(scores[sid], truth) for scores, sessions in cohorts for sid, truth in sessions.items()
             if truth["archetype"] == archetype]
    assert found, f"the simulator made no {archetype} sessions"
    return found


@pytest.mark.parametrize("archetype", ["fast_watcher", "mobile", "background_listener", "flaky_network",
                                       "night_owl", "weekend_binger", "late_starter", "regular"])
def test_honest_learners_are_not_accused(cohorts, archetype: str) -> None:
    for score, _ in sessions_of(cohorts, archetype):
        accused = [f.pattern for f in score.flags if f.pattern in MISCONDUCT]
        reasons = [r.message for f in score.flags for r in f.reasons]
        assert not accused, f"{archetype} session flagged {accused}: {reasons}"
        assert score.level == "normal"


def test_steady_late_starters_are_not_crammers(cohorts) -> None:
    for score, _ in sessions_of(cohorts, "late_starter"):
        assert "last_minute_cramming" not in {f.pattern for f in score.flags}


def test_two_x_watchers_get_full_study_time(cohorts) -> None:
    for score, truth in sessions_of(cohorts, "fast_watcher"):
        assert score.effective_seconds == pytest.approx(truth["true_watched_seconds"], abs=3)


def test_learners_who_leave_a_comment_or_two_are_not_flooders(cohorts) -> None:
    commenters = [(s, t) for s, t in sessions_of(cohorts, "regular")]
    assert all("screen_flooding" not in {f.pattern for f in s.flags} for s, _ in commenters)


@pytest.mark.parametrize("archetype, pattern", [
    ("forged_random", "scripted_playback"), ("instant_pass", "scripted_playback"),
    ("credit_burst", "scripted_playback"), ("parallel_videos", "scripted_playback"),
    ("inpage_bot", "scripted_playback"), ("flooder", "screen_flooding"),
    ("crammer", "last_minute_cramming"), ("account_sharer", "account_sharing"),
])
def test_each_pattern_flags_with_numbers_a_supervisor_can_read(cohorts, archetype: str, pattern: str) -> None:
    expected = [(s, t) for s, t in sessions_of(cohorts, archetype) if pattern in t["patterns"]]
    caught = [s for s, _ in expected if pattern in {f.pattern for f in s.flags}]
    assert len(caught) >= 0.95 * len(expected)
    for score in caught:
        flag = next(f for f in score.flags if f.pattern == pattern)
        assert flag.reasons and all(r.message and r.threshold is not None for r in flag.reasons)
        if pattern != "last_minute_cramming":
            assert score.level in ("review", "high")
        else:
            assert "not misconduct" in flag.reasons[0].message


def test_cramming_alone_never_makes_a_session_high_risk(cohorts) -> None:
    for score, _ in sessions_of(cohorts, "crammer"):
        assert score.level != "high" or any(f.pattern in MISCONDUCT for f in score.flags)


def test_scripted_sessions_keep_no_study_time(cohorts) -> None:
    for score, _truth in sessions_of(cohorts, "forged_random") + sessions_of(cohorts, "inpage_bot"):
        if "scripted_playback" in {f.pattern for f in score.flags}:
            assert score.effective_seconds == 0


def test_undescribed_course_still_detects_forged_progress() -> None:
    cohort = simulate_cohort(learners=40, seed=204)
    scores = score_offline(cohort.events, CourseInfo(described=False, max_rate=2.0))
    forged = [sid for sid, t in cohort.truth.sessions.items() if t["archetype"].startswith("forged")]
    assert all("scripted_playback" in {f.pattern for f in scores[sid].flags} for sid in forged)


def _with_clicks(trusted: bool, then_play: bool) -> list[dict]:
    """A 20-minute session with a script-made (or person-made) click every 2 minutes, each
    followed 0.2 s later by a pause/play of the player when ``then_play``."""
    from tests.factories import event, watched_session

    events = watched_session("clicks", minutes=20)
    n = len(events)
    for k in range(1, 9):
        at = 120.0 * k + 10
        events.append(event(n, "click", "clicks", at_s=at, target="play" if then_play else "body", trusted=trusted))
        n += 1
        if then_play:
            events.append(event(n, "video_pause", "clicks", at_s=at + 0.2, video_id="v1", position=at - 1))
            events.append(event(n + 1, "video_play", "clicks", at_s=at + 9.0, video_id="v1", position=at - 1,
                                rate=1.0))
            n += 2
    return events


def test_script_made_input_that_drives_nothing_is_an_assistive_tool_not_evidence() -> None:
    course = CourseInfo(described=False, max_rate=2.0)
    score = score_offline(_with_clicks(trusted=False, then_play=False), course)["clicks"]
    assert not [r.code for f in score.flags for r in f.reasons if r.code == "untrusted_input"]


def test_script_made_input_that_drives_the_player_is_evidence() -> None:
    course = CourseInfo(described=False, max_rate=2.0)
    score = score_offline(_with_clicks(trusted=False, then_play=True), course)["clicks"]
    reason = next(r for f in score.flags for r in f.reasons if r.code == "untrusted_input")
    assert reason.value == 8 and reason.threshold == 3
    honest = score_offline(_with_clicks(trusted=True, then_play=True), course)["clicks"]
    assert not [r for f in honest.flags for r in f.reasons if r.code == "untrusted_input"]
