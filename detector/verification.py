"""Evidence a client cannot forge (contract v1.1 §8–10): media its platform's servers
delivered, and challenges the service issued, timed on platform-server clocks.

Claims (positions, rates, ``trusted``, ``correct``) come from the learner's browser; these
come from the platform's servers, so they outweigh claims and every reason built on them
says ``basis: "observed"``. A session with none of them is judged on claims, and its
``verification.observed`` is false.

- Delivery: claimed playback of media never delivered; media delivered faster than the
  course's ``max_rate`` allows (a player running at 3× while reporting 1×); delivery with
  no player while progress is claimed (downloaders feeding a forger); claimed playback
  with no delivery at all in a course whose sessions almost all have deliveries.
- Challenges: ≥ 2 missed while playback went on (one miss is a person stepping away);
  checkpoint accuracy no better than chance (binomial tests, both stated); answers faster
  than the question can be read.
"""

from __future__ import annotations

import math

import msgspec

from learnguard.detector.base import Evidence, Reason
from learnguard.detector.thresholds import Thresholds
from learnguard.features.course import CourseInfo
from learnguard.features.intervals import total_length
from learnguard.features.session import FAILED, LATE, PASSED, SessionState
from learnguard.models.cohort import CohortView


class Verification(msgspec.Struct):
    """What the platform's servers observed of a session (the score's ``verification``)."""

    challenges: int = 0
    passed: int = 0
    failed: int = 0
    missed: int = 0
    pending: int = 0
    media_covered_seconds: float = 0.0
    observed: bool = False


def _intersection(a: list[list[float]], b: list[list[float]]) -> float:
    total = 0.0
    for a0, a1 in a:
        for b0, b1 in b:
            total += max(0.0, min(a1, b1) - max(a0, b0))
    return total


def delivered_seconds(state: SessionState) -> float:
    """Media seconds delivered to the session, each second of each video once."""
    return sum(total_length(track.delivered) for track in state.videos.values())


def watched_and_delivered(state: SessionState) -> float:
    """Media seconds both credited by playback physics and delivered."""
    return sum(_intersection(track.watched, track.delivered) for track in state.videos.values())


def has_delivery(state: SessionState) -> bool:
    return any(track.fetches for track in state.videos.values())


def outcomes(state: SessionState) -> tuple[int, int, int, int, list[float]]:
    """(passed, failed, missed, pending, expiries of the missed) of the service's challenges:
    unanswered is missed once platform-server time has passed the expiry or the session ended."""
    passed = failed = missed = pending = 0
    missed_at: list[float] = []
    ended = state.counts.get("session_end", 0) > 0
    for challenge in state.challenges.values():
        if challenge.outcome == PASSED:
            passed += 1
        elif challenge.outcome == FAILED:
            failed += 1
        elif challenge.outcome == LATE or ended or state.last_received > challenge.expires_at:
            missed += 1
            missed_at.append(challenge.expires_at)
        else:
            pending += 1
    return passed, failed, missed, pending, sorted(missed_at)


def resolved_of(state: SessionState) -> int:
    passed, failed, missed, _, _ = outcomes(state)
    return passed + failed + missed


def verification_of(state: SessionState) -> Verification:
    passed, failed, missed, pending, _ = outcomes(state)
    return Verification(challenges=len(state.challenges), passed=passed, failed=failed, missed=missed,
                        pending=pending, media_covered_seconds=round(delivered_seconds(state), 1),
                        observed=state.server_events > 0)


def _observed(code: str, message: str, value: float, threshold: float, weight: float,
              params: dict[str, float | str] | None = None) -> Evidence:
    return Evidence(Reason(code, message, value, threshold, basis="observed", params=params or {}), weight, True)


def chance_evidence(n: int, k: int, expected_by_chance: float, t: Thresholds, what: str) -> list[Evidence]:
    """Accuracy no better than guessing: ``k`` of ``n`` right where guessing expects
    ``expected_by_chance`` right; flagged when someone who watched (``human_accuracy``) would
    do this badly with probability < 0.01 and guessing does at least this well with ≥ 0.05.

    >>> [e.reason.code for e in chance_evidence(6, 1, 1.5, Thresholds(), "x")]
    ['checkpoints_at_chance']
    >>> chance_evidence(6, 5, 1.5, Thresholds(), "x")
    []
    """
    if n < t.chance_min_answers:
        return []
    from scipy.stats import binom

    chance = expected_by_chance / n
    p_guess = float(binom.sf(k - 1, n, chance))           # P(≥ k right | guessing)
    p_person = float(binom.cdf(k, n, t.human_accuracy))   # P(≤ k right | someone who watched)
    if p_person >= 0.01 or p_guess < 0.05:
        return []
    return [_observed(
        "checkpoints_at_chance",
        f"{k} of {n} {what} about what was just shown answered right; guessing among the choices gets "
        f"{chance:.0%} (binomial P(≥ {k} by guessing) = {p_guess:.2f}), someone who watched gets about "
        f"{t.human_accuracy:.0%} (P(≤ {k}) = {p_person:.4f}; flagged under 0.01)",
        round(k / n, 3), round(chance, 3), 0.8,
        {"form": "learner" if "sessions" in what else "session", "right": k, "answered": n, "chance": chance,
         "p_guess": p_guess, "human": t.human_accuracy, "p_person": p_person})]


def missed_while_playing(state: SessionState, t: Thresholds) -> list[float]:
    """Expiries of the challenges missed while playback went on."""
    _, _, _, _, missed_at = outcomes(state)
    return [at for at in missed_at
            if any(start < at + t.missed_playing_within_s and end > at for start, end in state.credited_wall)]


def challenge_evidence(state: SessionState, t: Thresholds) -> list[Evidence]:
    found: list[Evidence] = []
    playing_after = missed_while_playing(state, t)
    passed, failed, missed, _, _ = outcomes(state)
    resolved = passed + failed + missed
    if len(playing_after) >= t.challenge_min_missed and missed * 2 >= resolved:
        found.append(_observed(
            "challenges_missed_while_playing",
            f"{len(playing_after)} of {resolved} challenges went unanswered while playback went on (expiry by the "
            f"platform's server clock; playback credited within {t.missed_playing_within_s / 60:.0f} min after); "
            f"people step away now and then: flagged from {t.challenge_min_missed} and half of the challenges",
            float(len(playing_after)), float(t.challenge_min_missed),
            0.6 if len(playing_after) == t.challenge_min_missed else 0.85,
            {"missed": len(playing_after), "resolved": resolved, "within_min": t.missed_playing_within_s / 60,
             "min": t.challenge_min_missed}))
    graded = [c for c in state.challenges.values() if c.options >= 2 and c.outcome in (PASSED, FAILED)]
    at_chance = chance_evidence(len(graded), sum(c.outcome == PASSED for c in graded),
                                sum(1 / c.options for c in graded), t, "checkpoint questions")
    found += at_chance
    answered = [c for c in state.challenges.values() if c.answered_at >= 0 and c.outcome in (PASSED, FAILED)
                and c.options >= 2]
    too_fast = [c for c in answered
                if c.answered_at - c.at < t.read_min_s + c.prompt_chars / t.read_chars_per_s]
    if len(too_fast) >= t.fast_answers_min and len(too_fast) * 2 >= len(answered):
        fastest = min(c.answered_at - c.at for c in too_fast)
        found.append(_observed(
            "answered_before_reading",
            f"{len(too_fast)} of {len(answered)} checkpoint answers reached the platform's server sooner than the "
            f"question and its choices can be read ({t.read_min_s:g} s + {t.read_chars_per_s:g} characters per "
            f"second; fastest {fastest:.2f} s); flagged from {t.fast_answers_min}",
            float(len(too_fast)), float(t.fast_answers_min), 0.7,
            {"fast": len(too_fast), "answered": len(answered), "read_s": t.read_min_s,
             "chars_per_s": t.read_chars_per_s, "fastest": fastest, "min": t.fast_answers_min}))
    return found


def delivery_evidence(state: SessionState, course: CourseInfo, cohort: CohortView, t: Thresholds) -> list[Evidence]:
    found: list[Evidence] = []
    watched = sum(total_length(track.watched) for track in state.videos.values())
    if has_delivery(state):
        undelivered = watched - watched_and_delivered(state)
        if undelivered >= t.undelivered_min_s and undelivered >= t.undelivered_min_share * watched:
            found.append(_observed(
                "playback_not_delivered",
                f"{undelivered / 60:.0f} min of claimed playback ({undelivered / max(watched, 1):.0%}) was never "
                f"delivered by the media server; flagged from {t.undelivered_min_s / 60:.0f} min and "
                f"{t.undelivered_min_share:.0%} (a few minutes of log delay are tolerated)",
                round(undelivered, 1), t.undelivered_min_s, 0.85,
                {"minutes": undelivered / 60, "share": undelivered / max(watched, 1),
                 "min_minutes": t.undelivered_min_s / 60, "min_share": t.undelivered_min_share}))
        for video_id, track in state.videos.items():
            span = track.fetch_last - track.fetch_first
            media = total_length(track.delivered)
            if track.fetches >= 3 and span > 0 and media >= 600:
                pace = max(0.0, media - t.delivery_buffer_s) / span
                if pace > course.max_rate * t.delivery_rate_slack:
                    found.append(_observed(
                        "delivered_faster_than_allowed",
                        f"video {video_id}: {media / 60:.0f} min of media delivered in {span / 60:.1f} min "
                        f"({pace:.1f}× after a {t.delivery_buffer_s:.0f} s buffer); the course allows "
                        f"{course.max_rate:g}× (flagged above ×{t.delivery_rate_slack:g})",
                        round(pace, 2), course.max_rate * t.delivery_rate_slack, 0.85,
                        {"video": video_id, "minutes": media / 60, "span_minutes": span / 60, "pace": pace,
                         "buffer_s": t.delivery_buffer_s, "max_rate": course.max_rate, "slack": t.delivery_rate_slack}))
                    break
        delivered = delivered_seconds(state)
        if state.counts.get("video_play", 0) == 0 and delivered >= 300 and state.claimed_seconds > 0:
            found.append(_observed(
                "delivered_without_player",
                f"{delivered / 60:.0f} min of media delivered and {state.claimed_seconds / 60:.0f} min of progress "
                "claimed, but no player ever started: a downloader, not a viewer", round(delivered, 1), 300.0, 0.7,
                {"minutes": delivered / 60, "claimed_minutes": state.claimed_seconds / 60}))
    else:
        norm = cohort.baseline("media_fetches")
        if norm is not None and norm > 0 and state.claimed_seconds >= t.undelivered_min_s:
            found.append(_observed(
                "claimed_without_delivery",
                f"{state.claimed_seconds / 60:.0f} min of progress claimed and no media delivered to the session, "
                f"while at least 90 % of this course's sessions had deliveries (10th percentile "
                f"{norm:.0f} fetches, n={cohort.counts.get('media_fetches', 0)})",
                0.0, math.floor(norm), 0.85,
                {"claimed_minutes": state.claimed_seconds / 60, "fetches": norm,
                 "cohort_n": cohort.counts.get("media_fetches", 0)}))
    return found


def capped_by_delivery(state: SessionState, media: float) -> float:
    """Credit never exceeds what was delivered, when delivery is observed."""
    if not has_delivery(state):
        return media
    return min(media, watched_and_delivered(state))


