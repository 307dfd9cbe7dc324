"""Every threshold a detector uses: one named, documented setting each, with its default.

A cheater who reads this file learns the numbers; that is assumed (DESIGN, Trust). They
are settings so that an operator can tighten or loosen them per deployment
(``LEARNGUARD_THRESHOLDS='{"sharing_min_accounts": 4}'``) without a release, and so that
the README's table is generated from here and cannot drift (a test compares them).

>>> Thresholds().sharing_min_accounts
3
>>> Thresholds.from_overrides({"cramming_min_share": 0.7}).cramming_min_share
0.7
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text, ge=0)


class Thresholds(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The numbers the pattern and context detectors compare measurements with."""

    # -- scripted playback: physics --------------------------------------------------
    unexplained_min_s: Annotated[float, _doc(
        "reported progress no playback explains is strong evidence from this many seconds "
        "(below it, jitter and lost events explain the gap)")] = 120.0
    unexplained_min_share: Annotated[float, _doc(
        "... and from this share of the claimed progress")] = 0.5
    parallel_videos_max: Annotated[int, _doc(
        "videos advancing at once that a person may have (two tabs happen)")] = 2
    clock_skew_max_s: Annotated[float, _doc(
        "device clock offset from the platform's server tolerated before it is noted (weak)")] = 120.0
    # -- scripted playback: absence of a person ----------------------------------------
    min_repeats: Annotated[int, _doc(
        "video changes needed before their timing is judged")] = 2
    auto_resume_min: Annotated[int, _doc(
        "resumes after a pause needed before their timing is judged (a real learner on EdNet "
        "resumed twice within a second by chance)")] = 3
    check_min: Annotated[int, _doc(
        "presence checks needed before their answer latency is judged (real latencies make two "
        "fast answers happen by chance)")] = 3
    auto_resume_max_mean_s: Annotated[float, _doc(
        "resuming this soon after every pause, on average, looks automatic")] = 2.0
    constant_sd_s: Annotated[float, _doc(
        "... when the resume or next-video gaps vary by less than this (sd)")] = 0.35
    next_video_max_mean_s: Annotated[float, _doc(
        "starting the next video this soon after the last ended, on average, looks automatic")] = 2.5
    check_fast_floor_s: Annotated[float, _doc(
        "presence checks answered faster than this on average (or the cohort's 5th percentile, "
        "whichever is lower) were not read")] = 1.2
    check_even_min: Annotated[int, _doc(
        "checks needed before an even answering rhythm is judged")] = 5
    check_even_max_mean_s: Annotated[float, _doc(
        "an even rhythm is judged for answers within this many seconds on average")] = 3.5
    check_even_sd_s: Annotated[float, _doc(
        "answer latencies varying by less than this (sd) are machine-even")] = 0.35
    untrusted_min: Annotated[int, _doc(
        "script-made inputs (isTrusted=false) driving a player or check action within 1.5 s that are strong "
        "evidence")] = 3
    long_play_s: Annotated[float, _doc(
        "playback this long without a seek and with at most one pause is noted (weak)")] = 3600.0
    unbroken_s: Annotated[float, _doc(
        "one sitting of playback this long without a 5 s break is noted (weak)")] = 3 * 3600.0
    regular_heartbeat_sd_s: Annotated[float, _doc(
        "heartbeats more regular than this (sd of the gaps) are noted (weak)")] = 0.05
    # -- what the platform's servers observed (contract v1.1) ----------------------------
    challenge_min_missed: Annotated[int, _doc(
        "service challenges missed while playback went on (and half of them) that are evidence")] = 3
    missed_playing_within_s: Annotated[float, _doc(
        "a miss counts as 'while playing' when playback is credited within this many seconds after expiry")] = 300.0
    chance_min_answers: Annotated[int, _doc(
        "graded checkpoint answers needed before accuracy is held against chance")] = 4
    human_accuracy: Annotated[float, _doc(
        "checkpoint accuracy of someone who watched, the binomial test's alternative")] = 0.8
    read_chars_per_s: Annotated[float, _doc(
        "reading speed a checkpoint answer is held to (characters of the prompt and choices per second)")] = 12.0
    read_min_s: Annotated[float, _doc(
        "... plus this many seconds to see the question at all")] = 1.0
    fast_answers_min: Annotated[int, _doc(
        "checkpoint answers sooner than reading allows (and half of them) that are evidence")] = 3
    undelivered_min_s: Annotated[float, _doc(
        "claimed playback never delivered by the media server that is evidence (seconds) ...")] = 180.0
    undelivered_min_share: Annotated[float, _doc(
        "... and as a share of the claimed playback")] = 0.3
    delivery_buffer_s: Annotated[float, _doc(
        "media a player may fetch ahead of playback (seconds)")] = 120.0
    delivery_rate_slack: Annotated[float, _doc(
        "media delivered faster than max_rate × this is evidence")] = 1.25
    answer_queue_s: Annotated[float, _doc(
        "challenge answers of two accounts on one network this close in time answer together")] = 10.0
    answer_queue_min: Annotated[int, _doc(
        "answers together with other accounts' that make one person answering for several")] = 3
    # -- screen flooding ----------------------------------------------------------------
    template_repeats: Annotated[int, _doc(
        "comments of one template (digits folded) that make templated flooding")] = 5
    comments_min: Annotated[int, _doc(
        "comments a session needs before its comments are judged")] = 10
    comments_per_hour_floor: Annotated[float, _doc(
        "comment rate flagged above this or the cohort's 99th percentile, whichever is higher")] = 30.0
    burst_clicks_min: Annotated[int, _doc(
        "clicks inside bursts needed for a click storm")] = 15
    clicks_per_s_floor: Annotated[float, _doc(
        "clicks in one second flagged from this or the cohort's 99th percentile, whichever is higher")] = 5.0
    short_dwells_floor: Annotated[float, _doc(
        "pages left within 4 s flagged from this many or the cohort's 99th percentile")] = 20.0
    # -- last-minute cramming --------------------------------------------------------------
    cramming_window_hours: Annotated[float, _doc(
        "the window before the deadline that counts as the last minute (hours)")] = 72.0
    cramming_min_share: Annotated[float, _doc(
        "share of the learner's effective study time in that window that is flagged")] = 0.6
    cramming_min_hours: Annotated[float, _doc(
        "... with at least this many effective hours in the window")] = 1.0
    # -- account sharing and schedules ---------------------------------------------------
    sharing_min_accounts: Annotated[int, _doc(
        "accounts taking turns at one place (device, or network and browser) that make account sharing")] = 3
    sharing_max_gap_s: Annotated[float, _doc(
        "each next account's session starts within this many seconds of the previous one's end")] = 6 * 3600.0
    sharing_day_s: Annotated[float, _doc(
        "sessions at one place within this many seconds of each other are looked at together")] = 12 * 3600.0
    ring_exclusive_share: Annotated[float, _doc(
        "share of an account's study time at that place that makes it study almost only there")] = 0.8
    ring_min_days: Annotated[int, _doc(
        "days on which the accounts took turns there before it is account sharing")] = 2
    two_places_min_overlap_s: Annotated[float, _doc(
        "one account playing in two sessions at once for this long (a person acting in both) is evidence")] = 600.0
    replay_match_s: Annotated[float, _doc(
        "two pauses or seeks at video positions this close (and pauses as long) are the same gesture")] = 1.5
    replay_min_matches: Annotated[int, _doc(
        "pauses/seeks repeating an earlier session of another account (and half of either's) that make a "
        "replay")] = 2
    farm_window_s: Annotated[float, _doc(
        "accounts starting within this many seconds of each other start together")] = 180.0
    farm_min_accounts: Annotated[int, _doc(
        "accounts on one network or browser build starting together that go to the review queue ...")] = 5
    farm_min_days: Annotated[int, _doc(
        "... on at least this many days")] = 2
    same_start_min_days: Annotated[int, _doc(
        "days needed before a fixed daily start time is judged")] = 4
    same_start_sd_min: Annotated[float, _doc(
        "start times varying by less than this many minutes (sd) look scheduled (weak)")] = 3.0

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> Thresholds:
        """Defaults with some values replaced; an unknown name or a bad value raises
        ``ValueError`` naming it."""
        try:
            return msgspec.convert(overrides, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"LEARNGUARD_THRESHOLDS: {exc}") from exc


def threshold_table() -> str:
    """The README's table of thresholds (name, default, meaning), generated from the code."""
    info = msgspec.inspect.type_info(Thresholds)
    assert isinstance(info, msgspec.inspect.StructType)
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for field in info.fields:
        schema = getattr(field.type, "extra_json_schema", None) or {}
        text = schema.get("description", "")
        rows.append(f"| `{field.name}` | {field.default:g} | {text} |")
    return "\n".join(rows)
