"""Scripted playback seen through the absence of a person.

People pause for a varying while, move on to the next video when they are ready, answer
"are you there" checks in a few uneven seconds, and their input is trusted by the
browser. A userscript resumes ~1 s after every pause, starts the next video ~1 s after
the last ended, answers checks in under a second, and its input is ``isTrusted=false``.
Weak signs (muted, hidden, no seeks, long sittings) only add to a strong one.
"""

from __future__ import annotations

from learnguard.detector.base import Evidence, Reason, SessionView


def _cohort_note(view: SessionView, feature: str, what: str) -> tuple[float | None, str]:
    value = view.cohort.baseline(feature)
    if value is None:
        return None, f"cohort too small for a baseline ({view.cohort.counts.get(feature, 0)} sessions)"
    return value, f"learners of this course: {what} {value:.2f} (n={view.cohort.counts.get(feature, 0)})"


def _cohort_params(view: SessionView, feature: str) -> dict[str, float | str]:
    """The cohort baseline a reason compared with, as message parameters."""
    value = view.cohort.baseline(feature)
    n = float(view.cohort.counts.get(feature, 0))
    return {"cohort_n": n} if value is None else {"cohort": value, "cohort_n": n}


def person_evidence(view: SessionView) -> list[Evidence]:
    f, t = view.features, view.thresholds
    found: list[Evidence] = []
    untrusted = f["untrusted_while_playing"]
    if untrusted >= t.untrusted_min:
        found.append(Evidence(Reason(
            "untrusted_input",
            f"{untrusted:.0f} times a script-made input (browser isTrusted=false) drove the player or a check "
            f"within 1.5 s; people's input is trusted, and an assistive tool's that drives nothing is not counted "
            f"(tolerated: fewer than {t.untrusted_min})", untrusted, float(t.untrusted_min),
            params={"count": untrusted, "min": t.untrusted_min}), 0.7, True))
    if f["resume_gaps"] >= t.auto_resume_min and f["resume_gap_mean_s"] <= t.auto_resume_max_mean_s \
            and f["resume_gap_sd_s"] <= t.constant_sd_s:
        cohort, note = _cohort_note(view, "resume_gap_mean_s", "5th percentile of resume gaps")
        found.append(Evidence(Reason(
            "auto_resume_constant",
            f"resumed {f['resume_gaps']:.0f} times {f['resume_gap_mean_s']:.2f} s after each pause "
            f"(sd {f['resume_gap_sd_s']:.2f} s); flagged below {t.auto_resume_max_mean_s} s with sd under "
            f"{t.constant_sd_s} s; {note}", round(f["resume_gap_mean_s"], 3),
            cohort if cohort is not None else t.auto_resume_max_mean_s,
            params={"count": f["resume_gaps"], "mean": f["resume_gap_mean_s"], "sd": f["resume_gap_sd_s"],
                    "max_mean": t.auto_resume_max_mean_s, "max_sd": t.constant_sd_s, **_cohort_params(view,
                    "resume_gap_mean_s")}), 0.6, True))
    if f["next_video_gaps"] >= t.min_repeats and f["next_video_gap_mean_s"] <= t.next_video_max_mean_s \
            and f["next_video_gap_sd_s"] <= t.constant_sd_s:
        found.append(Evidence(Reason(
            "next_video_constant",
            f"started the next video {f['next_video_gap_mean_s']:.2f} s after the last one ended, "
            f"{f['next_video_gaps']:.0f} times (sd {f['next_video_gap_sd_s']:.2f} s); flagged below "
            f"{t.next_video_max_mean_s} s with sd under {t.constant_sd_s} s",
            round(f["next_video_gap_mean_s"], 3), t.next_video_max_mean_s,
            params={"count": f["next_video_gaps"], "mean": f["next_video_gap_mean_s"], "sd": f["next_video_gap_sd_s"],
                    "max_mean": t.next_video_max_mean_s, "max_sd": t.constant_sd_s}), 0.6, True))
    if f["check_answers"] >= t.check_min:
        cohort, note = _cohort_note(view, "check_latency_mean_s", "5th percentile")
        limit = min(t.check_fast_floor_s, cohort) if cohort is not None else t.check_fast_floor_s
        if f["check_latency_mean_s"] < limit:
            found.append(Evidence(Reason(
                "check_answered_instantly",
                f"answered {f['check_answers']:.0f} presence checks in {f['check_latency_mean_s']:.2f} s on "
                f"average; flagged under {limit:.2f} s; {note}", round(f["check_latency_mean_s"], 3), limit,
                params={"count": f["check_answers"], "mean": f["check_latency_mean_s"], "limit": limit,
                        **_cohort_params(view, "check_latency_mean_s")}), 0.65, True))
        elif f["check_answers"] >= t.check_even_min and f["check_latency_mean_s"] <= t.check_even_max_mean_s \
                and f["check_latency_sd_s"] < t.check_even_sd_s:
            found.append(Evidence(Reason(
                "check_answered_evenly",
                f"answered {f['check_answers']:.0f} presence checks in {f['check_latency_mean_s']:.2f} s on average "
                f"with an sd of only {f['check_latency_sd_s']:.2f} s; people vary by seconds (flagged under "
                f"{t.check_even_sd_s} s when answering within {t.check_even_max_mean_s} s)",
                round(f["check_latency_sd_s"], 3), t.check_even_sd_s,
                params={"count": f["check_answers"], "mean": f["check_latency_mean_s"], "sd": f["check_latency_sd_s"],
                        "max_sd": t.check_even_sd_s, "max_mean": t.check_even_max_mean_s}), 0.55, True))
    found += _weak_signs(view)
    return found


def _weak_signs(view: SessionView) -> list[Evidence]:
    f, t = view.features, view.thresholds
    found: list[Evidence] = []
    playing = f["credited_wall_s"]
    if f["plays"] and f["muted_first_share"] >= 1.0 and not f["unmuted_seen"] and playing >= 600:
        found.append(Evidence(Reason(
            "muted_from_first_frame", f"every video started muted and was never unmuted over {playing / 60:.0f} min "
            "of playback", 1.0, 1.0, params={"minutes": playing / 60}), 0.25, False))
    if f["hidden_media_share"] > 0.8 and f["visibility_changes"] <= 1 and playing >= 600:
        found.append(Evidence(Reason(
            "hidden_without_switching", f"{f['hidden_media_share']:.0%} of the playback ran in a hidden tab that was "
            f"switched {f['visibility_changes']:.0f} times", round(f["hidden_media_share"], 3), 0.8,
            params={"share": f["hidden_media_share"], "switches": f["visibility_changes"]}), 0.2, False))
    if playing >= t.long_play_s and f["seeks"] == 0 and f["pauses"] <= 1:
        found.append(Evidence(Reason(
            "no_seek_no_pause", f"{playing / 60:.0f} min of playback without a seek and with {f['pauses']:.0f} pauses",
            f["seeks"], 0.0, params={"minutes": playing / 60, "pauses": f["pauses"]}), 0.15, False))
    if f["longest_unbroken_s"] >= t.unbroken_s:
        found.append(Evidence(Reason(
            "unbroken_sitting", f"{f['longest_unbroken_s'] / 3600:.1f} h of playback without a break of 5 s "
            f"(noted from {t.unbroken_s / 3600:.0f} h)", round(f["longest_unbroken_s"], 1), t.unbroken_s,
            params={"hours": f["longest_unbroken_s"] / 3600, "min_hours": t.unbroken_s / 3600}), 0.3, False))
    if f["heartbeats"] >= 20 and f["heartbeat_gap_sd_s"] < t.regular_heartbeat_sd_s:
        cohort, note = _cohort_note(view, "heartbeat_gap_sd_s", "5th percentile of heartbeat sd")
        if cohort is None or cohort > 4 * t.regular_heartbeat_sd_s:
            found.append(Evidence(Reason(
                "heartbeat_cadence_regular",
                f"{f['heartbeats']:.0f} heartbeats {f['heartbeat_gap_mean_s']:.2f} s apart "
                f"(sd {f['heartbeat_gap_sd_s']:.3f} s); {note}", round(f["heartbeat_gap_sd_s"], 4),
                cohort if cohort is not None else t.regular_heartbeat_sd_s,
                params={"count": f["heartbeats"], "mean": f["heartbeat_gap_mean_s"], "sd": f["heartbeat_gap_sd_s"],
                        **_cohort_params(view, "heartbeat_gap_sd_s")}), 0.3, False))
    return found
