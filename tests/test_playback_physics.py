"""Playback physics on session state: what study time stands (pure, no Redis)."""

from __future__ import annotations

import random

import msgspec

from learnguard.detector.policy import Rules
from learnguard.detector.scoring import default_detectors, evaluate_session
from learnguard.features.compact import compact
from learnguard.features.course import CourseInfo
from learnguard.features.events import Event
from learnguard.features.session import PlaybackRules, SessionState, add_events
from tests.factories import event, watched_session

COURSE = CourseInfo(described=True, max_rate=2.0)
RULES = PlaybackRules(max_rate=2.0, reorder_window_s=300)


def fold_in_batches(raw_events: list[dict], batch_sizes: list[int] | None = None, shuffle_seed: int | None = None):
    events = msgspec.convert(raw_events, list[Event])
    state = SessionState("s1", "l1", "zhejiang/hdu", "c1")
    sizes = batch_sizes or [len(events)]
    start = 0
    for size in sizes:
        chunk = [compact(e) for e in events[start:start + size]]
        if shuffle_seed is not None:
            random.Random(shuffle_seed).shuffle(chunk)
        add_events(state, chunk, RULES)
        start += size
    return evaluate_session(state, COURSE, default_detectors(), Rules(reorder_window_s=RULES.reorder_window_s))[0]


def test_a_2x_watcher_within_max_rate_gets_full_credit() -> None:
    score = fold_in_batches(watched_session(rate=2.0, minutes=15))
    assert score.effective_seconds == score.claimed_seconds == 1802.0
    assert score.flags == []


def test_rate_16_is_capped_at_the_course_max_rate() -> None:
    score = fold_in_batches(watched_session(rate=16.0, minutes=5))
    assert score.claimed_seconds == 4816.0
    assert score.effective_seconds <= 301 * 2.0 + 2 * 11
    assert [r.code for r in score.flags[0].reasons] == ["progress_unexplained", "rate_above_course_max"]


def test_rewatching_counts_each_second_once() -> None:
    events = watched_session(minutes=5)
    last = events[-1]["ts"]
    back = [event(100, "video_seek", at_s=(last - events[0]["ts"]) / 1000 + 1, video_id="v1",
                  from_position=301, to_position=0),
            event(101, "video_play", at_s=(last - events[0]["ts"]) / 1000 + 2, video_id="v1", position=0)]
    back += [event(102 + i, "video_heartbeat", at_s=(last - events[0]["ts"]) / 1000 + 2 + 30 * (i + 1),
                   video_id="v1", position=30 * (i + 1)) for i in range(4)]
    score = fold_in_batches(events + back)
    assert score.effective_seconds == 301.0


def test_heartbeats_without_play_earn_nothing() -> None:
    beats = [event(i, "video_heartbeat", at_s=30 * i, video_id="v1", position=30 * i) for i in range(1, 20)]
    score = fold_in_batches(beats)
    assert score.claimed_seconds == 540.0 and score.effective_seconds == 0.0


def test_instant_pass_is_not_credited() -> None:
    instant = [event(0, "video_play", at_s=0, video_id="v1", position=0),
               event(1, "video_heartbeat", at_s=5, video_id="v1", position=0),
               event(2, "video_heartbeat", at_s=12, video_id="v1", position=1798)]
    score = fold_in_batches(instant)
    assert score.claimed_seconds == 1798.0
    assert score.effective_seconds <= 12 * 2 + 2


def test_batches_in_time_order_equal_one_batch_and_order_within_a_batch_does_not_matter() -> None:
    events = watched_session(rate=1.5, minutes=30)
    one = fold_in_batches(events)
    split = fold_in_batches(events, batch_sizes=[5, 17, 1, 30, 200])
    shuffled = fold_in_batches(events, batch_sizes=[len(events)], shuffle_seed=3)
    assert msgspec.to_builtins(one) == msgspec.to_builtins(split) == msgspec.to_builtins(shuffled)


def test_a_late_heartbeat_within_the_reorder_window_changes_nothing() -> None:
    events = watched_session(minutes=10)
    late = events[:5] + events[6:9] + [events[5]] + events[9:]
    assert msgspec.to_builtins(fold_in_batches(late, batch_sizes=[1] * len(late))) == \
        msgspec.to_builtins(fold_in_batches(events))


def test_late_events_beyond_the_reorder_window_do_not_look_like_bursts() -> None:
    """A flaky network delivers a click, a page view and a play long after later ones:
    they must not become a click storm, a short page dwell or an instant resume."""
    from learnguard.detector.flooding import ScreenFloodingDetector  # noqa: F401 - the detectors read these features
    from learnguard.features.vector import session_features

    events = [event(i, "click", at_s=6 * i, trusted=True) for i in range(1, 60)]
    events += [event(100 + i, "page_view", at_s=30 * i, page=f"p{i}") for i in range(1, 10)]
    late = [event(200, "click", at_s=3), event(201, "page_view", at_s=31, page="late")]
    evs = msgspec.convert(events, list[Event])
    state = SessionState("s1", "l1", "zhejiang/hdu", "c1")
    rules = PlaybackRules(max_rate=2.0, reorder_window_s=5)
    for ev in sorted(evs, key=lambda e: e.ts if isinstance(e.ts, int) else 0):
        add_events(state, [compact(ev)], rules)
    for ev in msgspec.convert(late, list[Event]):
        add_events(state, [compact(ev)], rules)
    features = session_features(state)
    assert state.late_events >= 2
    assert features["max_clicks_per_s"] <= 2 and features["burst_clicks"] == 0
    assert features["short_dwells"] == 0
