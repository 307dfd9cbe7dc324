"""Careful bots built by someone who read our README and detectors, and honest learners
whose days are messy — the threat model of contract v1.1 (issue 10).

Each bot passes the claim rules: real players (so real media delivery, unless it has no
page), rates within ``max_rate``, pauses that vary, input the browser trusts, check
answers in seconds. What they cannot do is read a question about what was just shown:
they answer the service's challenges at random, at machine or human-like speed, or not at
all. The honest ones: someone cooking while the video plays (answers late, misses one), a
slow network whose heartbeats arrive in bursts, someone who always starts at 08:00 with
the same routine.
"""

from __future__ import annotations

import random
from typing import Any

from learnguard.simulator.cheaters import MIMIC, BotStyle, bot_session
from learnguard.simulator.emit import Identity
from learnguard.simulator.honest import Habits, honest_session
from learnguard.simulator.linked import PC_AGENTS, PHONE_AGENTS, LinkedWriter, Place

CAREFUL_CHEATERS = {
    "cdp_player": "scripted_playback", "userscript_maxrate": "scripted_playback",
    "muted_background": "scripted_playback", "handoff_script": "scripted_playback",
    "spread_bot": "scripted_playback", "jitter_forger": "scripted_playback",
    "fast_reporter": "scripted_playback", "android_a11y": "scripted_playback",
}
CAREFUL_HONEST = ("cooking", "slow_network", "routine_0800")

CDP = BotStyle(muted=False, hide_tab=False, input_every=(30, 150), input_target="player", pause_chance=0.04,
               pause_length=(3, 90), check_answer_after=(2.5, 6.0), pause_for_check=False,
               resume_after_check=None, next_video_after=(4, 40))
MAXRATE = BotStyle(muted=False, hide_tab=False, input_every=(40, 200), input_target="note", pause_chance=0.05,
                   pause_length=(2, 120), check_answer_after=(3.0, 5.0), pause_for_check=False,
                   resume_after_check=None, next_video_after=(5, 60))
MUTED_TAB = BotStyle(muted=True, hide_tab=True, input_every=(300, 900), input_target="tab", pause_chance=0.01,
                     pause_length=(5, 60), check_answer_after=(8.0, 40.0), pause_for_check=False,
                     resume_after_check=None, next_video_after=(3, 20))


class CarefulWriter(LinkedWriter):
    """Adds the careful bots and the messy honest learners to a cohort under construction."""

    patterns = CAREFUL_CHEATERS
    id_letter = "Q"

    def _me(self, archetype: str, phone: bool = False) -> tuple[Identity, float]:
        rng = self.rng
        learner_id, org_id, ability = self.learner(archetype)
        agent = rng.choice(PHONE_AGENTS if phone else PC_AGENTS)
        ip = f"{rng.randint(36, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
        return Identity(learner_id, org_id, self.place.course_id, f"dev-{learner_id}", ip, agent), ability

    def bot(self, archetype: str, style: BotStyle, rate: float, trusted: bool, days: int = 6,
            spread: bool = False, pace: float | None = None) -> None:
        rng = self.rng
        who, _ = self._me(archetype, phone=archetype == "android_a11y")
        progress: dict[str, float] = {}
        hour = rng.uniform(8, 21)
        for index, day in enumerate(sorted(rng.sample(range(28), days))):
            start = self.at(day, rng.uniform(7, 22) if spread else hour + rng.uniform(-1.5, 1.5))
            writer = self.writer(who=who, session_id=f"{who.learner_id}-s{index:02d}", rng=rng)
            writer.fetch_pace = pace
            bot_session(writer, self.place.videos, progress, start, rng.uniform(60, 120), rate, style, trusted)
            self.keep(writer, archetype, cheating=True)

    def handoff(self) -> None:
        """A person opens the session and watches a little, then a script takes over."""
        rng = self.rng
        who, ability = self._me("handoff_script")
        progress: dict[str, float] = {}
        for index, day in enumerate(sorted(rng.sample(range(28), 6))):
            writer = self.writer(who=who, session_id=f"{who.learner_id}-s{index:02d}", rng=rng)
            start = self.at(day, rng.uniform(8, 21))
            end = honest_session(writer, Habits(), self.place.videos, progress, start, rng.uniform(8, 15),
                                 self.correct(ability))
            writer.events = [e for e in writer.events if e["type"] != "session_end"]
            person_watched = writer.true_watched_seconds()
            bot_session(writer, self.place.videos, progress, end + rng.uniform(5, 60), rng.uniform(60, 100), 1.0,
                        MIMIC, trusted_input=True)
            writer.events = [e for e in writer.events if e["type"] != "session_start" or e["ts"] <= start * 1000 + 1]
            self.keep(writer, "handoff_script", cheating=writer.true_watched_seconds() > person_watched)

    def jitter_forger(self) -> None:
        """Heartbeats with a person's jitter after a ``video_play``, and no player at all."""
        rng = self.rng
        who, _ = self._me("jitter_forger")
        done: set[str] = set()
        for index, day in enumerate(sorted(rng.sample(range(28), 6))):
            writer = self.writer(who=who, session_id=f"{who.learner_id}-s{index:02d}", rng=rng)
            at = self.at(day, rng.uniform(8, 21))
            writer.emit("session_start", at)
            for video_id, duration in self.place.videos:
                if video_id in done:
                    continue
                writer.emit("video_play", at, video_id=video_id, position=0.0, duration=duration, rate=1.0)
                position = 0.0
                while position < duration:
                    gap = rng.gauss(30.0, 1.5)
                    at += gap
                    position = min(duration, position + gap)
                    writer.emit("video_ended" if position >= duration else "video_heartbeat", at,
                                video_id=video_id, position=round(position, 2), rate=1.0)
                done.add(video_id)
                at += rng.uniform(10, 90)
                if len(done) % 2 == 0:
                    break
            writer.emit("session_end", at + 5)
            self.keep(writer, "jitter_forger", cheating=True)
            self.truth.sessions[writer.session_id]["patterns"] = ["scripted_playback"]  # nothing was played

    def fast_reporter(self) -> None:
        """Plays at 3× for real (fetching at that pace) while reporting 1× positions."""
        self.bot("fast_reporter", CDP, 1.0, True, pace=3.0)

    # -- honest -------------------------------------------------------------------------------
    def messy_honest(self, archetype: str) -> None:
        rng = self.rng
        who, ability = self._me(archetype)
        progress: dict[str, float] = {}
        hour = 8.0
        for index, day in enumerate(sorted(rng.sample(range(29), 8))):
            start = self.at(day, hour + rng.uniform(-0.02, 0.02) if archetype == "routine_0800"
                            else rng.uniform(8, 21.5))
            writer = self.writer(who=who, session_id=f"{who.learner_id}-s{index:02d}", rng=rng)
            if archetype == "slow_network":
                writer.delay_s = (0.5, 60.0)  # heartbeats reach the platform late, in bursts
            honest_session(writer, Habits(hidden_share=0.3 if archetype == "cooking" else 0.0,
                                          flaky=archetype == "slow_network"),
                           self.place.videos, progress, start, rng.uniform(30, 90), self.correct(ability))
            self.keep(writer, archetype, cheating=False)


def add_careful_groups(rng: random.Random, place: Place, truth: Any, events: list[dict[str, Any]], groups: int,
                       observed: bool = False) -> None:
    """``groups`` of each careful bot (3 accounts) and messy honest kind (4 learners)."""
    out = CarefulWriter(rng, place, truth, events, observed)
    for _ in range(groups):
        for _ in range(3):
            out.bot("cdp_player", CDP, 1.0, True)
            out.bot("userscript_maxrate", MAXRATE, 2.0, False)
            out.bot("muted_background", MUTED_TAB, 1.0, True)
            out.handoff()
            out.bot("spread_bot", CDP, 1.5, True, spread=True)
            out.jitter_forger()
            out.fast_reporter()
            out.bot("android_a11y", CDP, 1.0, True)
        for _ in range(4):
            for archetype in CAREFUL_HONEST:
                out.messy_honest(archetype)

