"""What a v1.1 platform's servers see of a simulated session, and how its learner (or bot)
meets the service's challenges.

Delivery: the media server logs the segments (10 s of media) a real player fetched, a
little ahead of playback, with the log line reaching the platform 5–90 s later. A forger
without a page fetches nothing; a player running faster than it reports fetches at its
real pace; a replay fetches nothing for the account it is replayed into.

Answers: a ``Policy`` says how a kind of learner meets a challenge: how long reading and
answering take on the platform's server clock, how often they know the answer, how often
they are away. People read (about 12 characters a second) and are mostly right; a bot
that cannot read picks a choice at random, at machine or human-like speed; a forger
without a page never sees a challenge.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SEGMENT_S = 10.0
BUFFER_AHEAD_S = 30.0


@dataclass(frozen=True)
class Policy:
    """How a learner meets challenges (times in seconds on the platform's server clock)."""

    name: str
    sees: bool = True                      # a page that shows challenges (forgers have none)
    reads: bool = True                     # understands the question (bots pick at random)
    accuracy: float = 0.85                 # right answers when reading a checkpoint
    latency: tuple[float, float] = (1.3, 0.45)  # lognormal (mu, sigma) of thinking time after reading
    away: float = 0.02                     # chance of not being there at all (a miss)
    late: float = 0.0                      # chance of answering only after 100–300 s (a miss)
    machine: tuple[float, float] | None = None  # uniform answer time of a script, instead of reading

    def answer(self, rng: random.Random, kind: str, options: int, prompt_chars: int
               ) -> tuple[float, int] | None:
        """(seconds until the answer reaches the platform, choice) or None for no answer."""
        if not self.sees or rng.random() < self.away:
            return None
        if self.late and rng.random() < self.late:
            return rng.uniform(100, 300), rng.randrange(max(options, 1))
        if self.machine is not None:
            delay = rng.uniform(*self.machine)
        else:
            delay = 0.8 + prompt_chars / 12.0 + rng.lognormvariate(*self.latency)
        if kind != "checkpoint" or options < 2:
            return delay, 0
        return delay, -1 if (self.reads and rng.random() < self.accuracy) else rng.randrange(options)


PERSON = Policy("person")
DISTRACTED = Policy("distracted", away=0.08, late=0.12, latency=(2.0, 0.6))  # cooking while it plays
BOT_MACHINE = Policy("bot answering at once", reads=False, machine=(0.3, 1.2))
BOT_HUMANLIKE = Policy("bot answering like a person", reads=False, machine=(3.0, 8.0))
NO_PAGE = Policy("forger without a page", sees=False)
AWAY = Policy("nobody watching", away=0.85)  # a muted background tab glanced at now and then


def fetches(rng: random.Random, video_id: str, start: float, end: float, at: float, pace: float
            ) -> list[tuple[float, float, float, float]]:
    """(fetch time, log arrival time, range start, range end) of the segments a player that
    plays media ``start``→``end`` from ``at`` at ``pace`` media seconds per second fetches."""
    out = []
    first = int(start // SEGMENT_S)
    last = int(max(start, end - 1e-6) // SEGMENT_S)
    for index in range(first, last + 1):
        seg_start = index * SEGMENT_S
        when = at + max(0.0, seg_start - start - BUFFER_AHEAD_S) / pace
        out.append((when, when + rng.uniform(5, 90), seg_start, seg_start + SEGMENT_S))
    return out


POLICY_OF = {
    "background_listener": DISTRACTED, "cooking": DISTRACTED,
    "forged_random": NO_PAGE, "forged_fixed": NO_PAGE, "instant_pass": NO_PAGE, "credit_burst": NO_PAGE,
    "parallel_videos": NO_PAGE, "clock_ahead": NO_PAGE, "replayed_session": NO_PAGE, "jitter_forger": NO_PAGE,
    "inpage_bot": BOT_MACHINE, "android_a11y": BOT_MACHINE,
    "mimic_bot": BOT_HUMANLIKE, "parallel_tabs": BOT_HUMANLIKE, "farm_nat": BOT_HUMANLIKE,
    "farm_proxies": BOT_HUMANLIKE, "cdp_player": BOT_HUMANLIKE, "userscript_maxrate": BOT_HUMANLIKE,
    "handoff_script": BOT_HUMANLIKE, "spread_bot": BOT_HUMANLIKE, "fast_reporter": BOT_HUMANLIKE,
    "muted_background": AWAY,
}
POLICIES = {policy.name: policy for policy in (PERSON, DISTRACTED, BOT_MACHINE, BOT_HUMANLIKE, NO_PAGE, AWAY)}


def policy_of(archetype: str) -> str:
    """The name of the policy a learner of ``archetype`` meets challenges with."""
    return POLICY_OF.get(archetype, PERSON).name
