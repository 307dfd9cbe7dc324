"""A session as a vector of named features: what detectors, cohort baselines and the
generic anomaly models (pyod, river) all read. Names say what they hold."""

from __future__ import annotations

from learnguard.features.intervals import total_length
from learnguard.features.session import SessionState, credited_wall_seconds, watched_media_seconds

UNBROKEN_GAP_S = 5.0  # credited playback separated by less than this is one sitting


def longest_unbroken_seconds(state: SessionState) -> float:
    """Longest chain of credited wall-clock playback with no break of ``UNBROKEN_GAP_S``."""
    longest = 0.0
    run_start = run_end = -1.0
    for low, high in state.credited_wall:
        if run_end >= 0 and low - run_end <= UNBROKEN_GAP_S:
            run_end = max(run_end, high)
        else:
            run_start, run_end = low, high
        longest = max(longest, run_end - run_start)
    return longest


def session_features(state: SessionState) -> dict[str, float]:
    """Every numeric feature of a finalised session (floats, no missing values)."""
    plays = state.counts.get("video_play", 0)
    heartbeats = state.counts.get("video_heartbeat", 0)
    credited_wall = credited_wall_seconds(state)
    comments = state.counts.get("comment", 0)
    duration = max(state.last_ts - state.first_ts, 1.0)
    watched = watched_media_seconds(state)
    return {
        "duration_s": duration,
        "events": float(state.applied_events),
        "claimed_s": state.claimed_seconds,
        "watched_media_s": watched,
        "credited_wall_s": credited_wall,
        "unexplained_share": state.unexplained_seconds / max(state.claimed_seconds, 1.0),
        "plays": float(plays),
        "heartbeats": float(heartbeats),
        "heartbeats_without_play": float(heartbeats if plays == 0 else 0),
        "heartbeat_gap_mean_s": state.heartbeat_gap.mean,
        "heartbeat_gap_sd_s": state.heartbeat_gap.sd,
        "pauses": float(state.counts.get("video_pause", 0)),
        "seeks": float(state.seeks),
        "backward_seeks": float(state.backward_seeks),
        "max_rate": state.max_rate_seen,
        "max_parallel_videos": float(state.max_videos_reporting),
        "muted_first_share": state.muted_first_plays / plays if plays else 0.0,
        "unmuted_seen": float(state.unmuted_seen),
        "hidden_media_share": state.hidden_media_seconds / watched if watched else 0.0,
        "visibility_changes": float(state.visibility_changes),
        "trusted_clicks": float(state.clicks_trusted),
        "untrusted_clicks": float(state.clicks_untrusted),
        "untrusted_while_playing": float(state.untrusted_while_playing),
        "max_span_without_input_s": state.max_span_without_input,
        "resume_gaps": float(state.resume_gap.n),
        "resume_gap_mean_s": state.resume_gap.mean,
        "resume_gap_sd_s": state.resume_gap.sd,
        "next_video_gaps": float(state.next_video_gap.n),
        "next_video_gap_mean_s": state.next_video_gap.mean,
        "next_video_gap_sd_s": state.next_video_gap.sd,
        "check_answers": float(state.check_latency.n),
        "check_latency_mean_s": state.check_latency.mean,
        "check_latency_cv": state.check_latency.cv,
        "check_latency_sd_s": state.check_latency.sd,
        "clock_skew_mean_s": state.clock_skew.mean,
        "comments": float(comments),
        "comments_per_hour": comments * 3600.0 / duration,
        "max_comment_repeats": float(max(state.comment_templates.values(), default=0)),
        "max_clicks_per_s": float(state.max_clicks_per_s),
        "burst_clicks": float(state.burst_clicks),
        "page_views": float(state.counts.get("page_view", 0)),
        "short_dwells": float(state.short_dwells),
        "longest_unbroken_s": longest_unbroken_seconds(state),
        "credited_spans": float(len(state.credited_wall)),
        "wall_coverage": total_length(state.credited_wall) / duration,
        "media_fetches": float(sum(track.fetches for track in state.videos.values())),
        "challenges": float(len(state.challenges)),
    }


FEATURE_NAMES: tuple[str, ...] = tuple(session_features(SessionState("", "", "", "")).keys())
