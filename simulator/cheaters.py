"""Cheating behaviours as public brushing tools implement them.

Forged progress (no player at all), in-page playback bots, screen flooding. Cramming and
account sharing are schedules of otherwise ordinary sessions (see ``cohort``).
"""

from __future__ import annotations

from dataclasses import dataclass

from learnguard.simulator.emit import SessionWriter
from learnguard.simulator.honest import Habits, watch_video


def forged_heartbeats(w: SessionWriter, videos: list[tuple[str, float]], start: float, style: str) -> float:
    """Only heartbeats, no play/pause/seek/visibility: the progress-report forgers."""
    rng = w.rng
    at = start
    w.emit("session_start", at)
    if style == "parallel":
        chosen = videos[: min(len(videos), rng.randint(8, 20))]
        positions = dict.fromkeys((v for v, _ in chosen), 0.0)
        while any(positions[v] < d for v, d in chosen):
            gap = rng.choice([35, 60])
            at += gap
            for video_id, duration in chosen:
                if positions[video_id] < duration:
                    positions[video_id] = min(duration, positions[video_id] + gap * rng.uniform(1, 2))
                    w.emit("video_heartbeat", at + rng.uniform(0, 0.5), video_id=video_id,
                           position=round(positions[video_id], 1))
        return at
    for video_id, duration in videos:
        position = 0.0
        if style == "instant":
            w.emit("video_heartbeat", at, video_id=video_id, position=0)
            at += rng.uniform(3, 10)
            w.emit("video_heartbeat", at, video_id=video_id, position=round(duration - rng.uniform(0, 2), 1))
            at += rng.uniform(1, 3)
            continue
        fixed_gap = rng.choice([35, 60])
        while position < duration:
            if style == "burst":
                gap, gain = 3, 480.0
            elif style == "fixed":
                gap = fixed_gap
                gain = gap * rng.uniform(1, 2)
            else:
                gap = rng.randint(30, 90)
                gain = gap * rng.uniform(1, 2)
            at += gap
            position = min(duration, position + gain)
            w.emit("video_heartbeat", at, video_id=video_id, position=round(position, 1))
    return at


@dataclass(frozen=True)
class BotStyle:
    """How a bot that drives the real player behaves; both bots below share one loop."""

    muted: bool
    hide_tab: bool
    input_every: tuple[float, float]
    input_target: str
    pause_chance: float | None        # a random pause per heartbeat (None: never pauses by itself)
    pause_length: tuple[float, float]
    check_answer_after: tuple[float, float]
    pause_for_check: bool             # the platform pauses the video while its check is open
    resume_after_check: tuple[float, float] | None
    next_video_after: tuple[float, float]


INPAGE = BotStyle(muted=True, hide_tab=True, input_every=(15, 30), input_target="body", pause_chance=None,
                  pause_length=(0, 0), check_answer_after=(0.5, 1.0), pause_for_check=True,
                  resume_after_check=(0.9, 1.1), next_video_after=(0.9, 1.1))
MIMIC = BotStyle(muted=False, hide_tab=False, input_every=(20, 120), input_target="player", pause_chance=0.03,
                 pause_length=(2, 60), check_answer_after=(2, 3), pause_for_check=False,
                 resume_after_check=None, next_video_after=(3, 30))


def bot_session(w: SessionWriter, videos: list[tuple[str, float]], progress: dict[str, float], start: float,
                minutes: float, rate: float, style: BotStyle, trusted_input: bool) -> float:
    """A script playing the real player through the videos at a constant ``rate``."""
    rng = w.rng
    at = start
    until = start + minutes * 60
    w.emit("session_start", at)
    for video_id, duration in videos:
        if at >= until:
            break
        position = progress.get(video_id, 0.0)
        if position >= duration:
            continue
        w.emit("video_play", at, video_id=video_id, position=position, duration=duration, rate=rate,
               muted=style.muted)
        if style.hide_tab:
            w.emit("visibility", at + 0.5, visible=False)
        next_input = at + rng.uniform(*style.input_every)
        next_check = at + rng.uniform(600, 1200)
        while position < duration and at < until:
            step_end = min(duration, position + 30 * rate)
            w.watch(video_id, position, step_end, at, rate)
            at += (step_end - position) / rate
            position = step_end
            if position >= duration:
                break
            w.emit("video_heartbeat", at, video_id=video_id, position=round(position, 2), rate=rate,
                   muted=style.muted, visible=not style.hide_tab)
            while next_input < at:
                w.emit("click", next_input, target=style.input_target, trusted=trusted_input)
                next_input += rng.uniform(*style.input_every)
            if style.pause_chance is not None and rng.random() < style.pause_chance:
                w.emit("video_pause", at, video_id=video_id, position=round(position, 2))
                at += rng.uniform(*style.pause_length)
                _press_play(w, at, trusted_input)
                w.emit("video_play", at, video_id=video_id, position=round(position, 2), rate=rate,
                       muted=style.muted)
            if at > next_check:
                if style.pause_for_check:
                    w.emit("video_pause", at, video_id=video_id, position=round(position, 2))
                w.emit("check_prompt", at, check_id=f"chk-{int(at)}")
                answer = at + rng.uniform(*style.check_answer_after)
                w.emit("check_answer", answer, check_id=f"chk-{int(at)}", correct=True)
                at = answer
                if style.resume_after_check is not None:
                    at += rng.uniform(*style.resume_after_check)
                    _press_play(w, at, trusted_input)
                    w.emit("video_play", at, video_id=video_id, position=round(position, 2), rate=rate,
                           muted=style.muted)
                next_check = at + rng.uniform(600, 1200)
        progress[video_id] = position
        if position >= duration:
            w.emit("video_ended", at, video_id=video_id, position=duration)
            at += rng.uniform(*style.next_video_after)
    w.emit("session_end", at + 1)
    return at


def _press_play(w: SessionWriter, at: float, trusted: bool) -> None:
    """A script resumes by clicking the player's play button just before the play."""
    w.emit("click", at - 0.12, target="play", trusted=trusted)


def inpage_bot(w: SessionWriter, videos: list[tuple[str, float]], progress: dict[str, float],
               start: float, minutes: float, rate: float) -> float:
    """A userscript driving the real player: constant rate, muted, auto-resume ~1 s after the
    check pause, no seeks, next video ~1 s after the last, script-made input."""
    return bot_session(w, videos, progress, start, minutes, rate, INPAGE, trusted_input=False)


def mimic_bot(w: SessionWriter, videos: list[tuple[str, float]], progress: dict[str, float],
              start: float, minutes: float, rate: float, trusted_input: bool) -> float:
    """A harder bot that imitates a person: rate within the course limit, random pauses,
    fake input (trusted when driven through the devtools protocol), checks answered in 2–3 s."""
    return bot_session(w, videos, progress, start, minutes, rate, MIMIC, trusted_input)


def flooding_session(w: SessionWriter, videos: list[tuple[str, float]], progress: dict[str, float],
                     start: float, kind: str) -> float:
    """A short ordinary sitting with a flood: templated comments, click storms or page cycling."""
    rng = w.rng
    at = start
    w.emit("session_start", at)
    video_id, duration = videos[0]
    at, position = watch_video(w, Habits(), video_id, duration, progress.get(video_id, 0.0), at + 5,
                               at + rng.uniform(300, 900))
    progress[video_id] = position
    if kind == "comments":
        for _ in range(rng.randint(20, 60)):
            at += rng.uniform(2, 8)
            w.emit("comment", at, text=f"好好学习，天天向上。{int(at * 1000)}")
    elif kind == "clicks":
        for _ in range(rng.randint(3, 6)):
            per_second = rng.randint(5, 20)
            for _ in range(rng.randint(5, 20) * per_second):
                at += 1.0 / per_second
                w.emit("click", at, target="like", trusted=rng.random() < 0.5)
            at += rng.uniform(5, 30)
    else:
        for page in range(60):
            at += rng.uniform(1, 3)
            w.emit("page_view", at, page=f"chapter-{page}")
    w.emit("session_end", at + 2)
    return at
