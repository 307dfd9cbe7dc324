"""Honest learners, including the hard cases that must never be flagged.

A person plays a video, pauses now and then (longer or shorter, at moments of the
content), seeks back to re-watch, clicks or taps, answers "are you there" checks in a
few seconds, sometimes switches tabs, and moves on to the next video after a while.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from learnguard.simulator.emit import SessionWriter
from learnguard.simulator.seeking import planned_seeks


@dataclass
class Habits:
    """How one honest learner behaves while watching."""

    rate: float = 1.0                 # 1.0, or 1.25–2 for fast watchers (within max_rate)
    clicks: bool = True               # mobile learners send no click events
    hidden_share: float = 0.0         # background listeners keep the tab hidden
    heartbeat_s: float = 30.0
    flaky: bool = False               # irregular, late and repeated heartbeats
    pause_per_min: float = 0.04
    comment_share: float = 0.1
    trusted_clicks: bool = True       # an assistive/keyboard extension makes every click isTrusted=false
    autoplay: bool = False            # the platform's player starts the next video by itself
    seek_rate: float = 1.0            # × the seek chains real audiences make (Coursera priors, ``seeking``)


def watch_video(w: SessionWriter, habits: Habits, video_id: str, duration: float, start_pos: float,
                at: float, until: float, autoplayed: bool = False) -> tuple[float, float]:
    """Play ``video_id`` from ``start_pos`` until it ends or ``until``; returns (time, position)."""
    rng = w.rng
    position = start_pos
    muted = rng.random() < 0.05
    extra = {"autoplay": True} if autoplayed else {}
    w.emit("video_play", at, video_id=video_id, position=round(position, 2), duration=duration,
           rate=habits.rate, muted=muted, **extra)
    hidden = habits.hidden_share > 0 and rng.random() < habits.hidden_share
    if hidden:
        w.emit("visibility", at + rng.uniform(2, 20), visible=False)
    next_check = at + rng.uniform(600, 1500)
    seeks = planned_seeks(rng, position, duration, habits.seek_rate)
    while position < duration and at < until:
        gap = habits.heartbeat_s if not habits.flaky else rng.uniform(10, 95)
        gap *= rng.uniform(0.97, 1.03)
        step_end = min(duration, position + gap * habits.rate)
        seeks = [seek for seek in seeks if seek[0] >= position]
        seek = seeks.pop(0) if seeks and seeks[0][0] <= step_end else None
        if seek is not None:
            step_end = seek[0]
        played = step_end - position
        w.watch(video_id, position, step_end, at, habits.rate)
        at += played / habits.rate
        position = step_end
        if seek is not None:  # skip ahead or go back to re-watch, as real audiences do
            w.emit("video_seek", at, video_id=video_id, from_position=round(position, 2),
                   to_position=seek[1])
            position = seek[1]
            at += rng.uniform(0.3, 2.0)
            continue
        if position >= duration:
            break
        w.emit("video_heartbeat", at, video_id=video_id, position=round(position, 2), rate=habits.rate,
               muted=muted, visible=not hidden)
        if habits.flaky and rng.random() < 0.15:  # a late duplicate report
            w.emit("video_heartbeat", at + rng.uniform(0.5, 8), video_id=video_id,
                   position=round(position, 2), rate=habits.rate, muted=muted, visible=not hidden)
        if habits.clicks and not hidden and rng.random() < 0.35:
            w.emit("click", at + rng.uniform(0.5, 10), target=rng.choice(["note", "subtitle", "volume", "outline"]),
                   trusted=habits.trusted_clicks)
        if at > next_check:
            w.emit("check_prompt", at, check_id=f"chk-{int(at)}")
            answer_after = rng.lognormvariate(1.4, 0.5) + (8 if hidden else 0)
            w.emit("check_answer", at + answer_after, check_id=f"chk-{int(at)}", correct=rng.random() < 0.97)
            at += answer_after
            next_check = at + rng.uniform(600, 1500)
        if rng.random() < habits.pause_per_min * gap / 60:
            w.emit("video_pause", at, video_id=video_id, position=round(position, 2))
            at += rng.choice([rng.uniform(3, 30), rng.uniform(30, 400)])
            if rng.random() < 0.3:
                back = max(0.0, position - rng.uniform(10, 90))
                w.emit("video_seek", at, video_id=video_id, from_position=round(position, 2),
                       to_position=round(back, 2))
                position = back
            w.emit("video_play", at + rng.uniform(0.2, 2), video_id=video_id, position=round(position, 2),
                   rate=habits.rate, muted=muted)
            at += 1
    if position >= duration:
        w.emit("video_ended", at, video_id=video_id, position=duration)
    else:
        w.emit("video_pause", at, video_id=video_id, position=round(position, 2))
    if hidden:
        w.emit("visibility", at + rng.uniform(1, 30), visible=True)
    return at, position


def honest_session(w: SessionWriter, habits: Habits, videos: list[tuple[str, float]],
                   progress: dict[str, float], start: float, minutes: float,
                   answer_correct: Callable[[str], float], comment_text: str | None = None) -> float:
    """One sitting: open the course, watch videos in order from where the learner left off."""
    rng = w.rng
    at = start
    until = start + minutes * 60
    w.emit("session_start", at)
    w.emit("page_view", at + rng.uniform(1, 5), page="course-home")
    at += rng.uniform(5, 40)
    autoplayed = False
    for video_id, duration in videos:
        if at >= until:
            break
        if progress.get(video_id, 0.0) >= duration:
            continue
        at, position = watch_video(w, habits, video_id, duration, progress.get(video_id, 0.0), at, until,
                                   autoplayed)
        progress[video_id] = position
        ended_at = at
        if position >= duration:
            for item in range(2):
                at += rng.uniform(15, 90)
                item_id = f"{video_id}-q{item}"
                w.emit("quiz_answer", at, item_id=item_id, correct=rng.random() < answer_correct(item_id))
        if comment_text and rng.random() < habits.comment_share:
            w.emit("comment", at + rng.uniform(20, 120), text=comment_text)
        autoplayed = habits.autoplay and position >= duration
        if autoplayed:  # the platform starts the next video ~1.4 s after the last ended
            at = ended_at + rng.uniform(1.2, 1.6)
        else:
            at += rng.uniform(5, 90)  # a person takes a while before the next video
    w.emit("session_end", at + rng.uniform(1, 20))
    return at
