"""Behaviour that spans accounts and sessions, cheating and honest.

Cheating that only shows across accounts: a 代学 proxy working through several accounts
from one machine (a fresh browser profile, so a new device id, per account), with short
or long gaps; one account playing one video per tab in parallel sessions; one recorded
human session replayed, time-shifted and jittered, into other accounts; farms of cloned
VMs started together every day behind one NAT or one proxy each.

Honest learners who look alike but must not be accused: an assistive tool whose clicks
are ``isTrusted=false``, a learner who leaves the PC tab playing and goes on on the
phone, colleagues taking turns on a study-room PC, a platform that autoplays the next
video, group study behind one NAT, mobile learners behind carrier-grade NAT.

Each group writes its own learners and sessions into the cohort's truth; ``farm``
learners also carry ``"farm": true`` so the evaluation can count them in the review queue.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from learnguard.simulator.cheaters import mimic_bot
from learnguard.simulator.emit import Identity, SessionWriter
from learnguard.simulator.honest import Habits, honest_session
from learnguard.simulator.observed import policy_of

DAY = 86400.0

PC_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36 Edg/120.0.2210.91",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 "
    "Safari/537.36 QQBrowser/11.9.5",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
    "Safari/605.1.15",
]
PHONE_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 12; NOH-AN00) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.88 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; V2241A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 MicroMessenger/8.0.34.2340",
]

LINKED_CHEATERS = {
    "proxy_ring": "account_sharing", "proxy_ring_gaps": "account_sharing",
    "parallel_tabs": "scripted_playback", "replayed_session": "scripted_playback",
    "farm_nat": "scripted_playback", "farm_proxies": "scripted_playback",
}
LINKED_HONEST = ("replay_source", "assistive_tool", "pc_and_phone", "study_room", "autoplay_platform",
                 "group_study", "carrier_nat")


@dataclass
class Place:
    """Where the cohort's linked groups draw their identities and times from."""

    seed: int
    course_id: str
    orgs: list[str]
    opens: float
    videos: list[tuple[str, float]]
    answer_correct: Callable[..., float]  # (item id, ability=…) -> probability of a right answer


class LinkedWriter:
    """Adds linked groups' learners, sessions and events to a cohort under construction."""

    patterns: dict[str, str] = LINKED_CHEATERS
    id_letter = "K"

    def __init__(self, rng: random.Random, place: Place, truth: Any, events: list[dict[str, Any]],
                 observed: bool = False) -> None:
        self.observed = observed
        self.rng = rng
        self.place = place
        self.truth = truth
        self.events = events
        self.count = 0

    # -- bookkeeping --------------------------------------------------------------------
    def writer(self, who: Identity, session_id: str, rng: random.Random) -> SessionWriter:
        return SessionWriter(who=who, session_id=session_id, rng=rng, observed=self.observed)

    def learner(self, archetype: str, extra: dict[str, Any] | None = None) -> tuple[str, str, float]:
        """A new learner of ``archetype``: (learner id, org, ability)."""
        learner_id = f"{self.id_letter}{self.place.seed:03d}-{self.count:04d}"
        self.count += 1
        org_id = self.rng.choice(self.place.orgs)
        ability = self.rng.gauss(0.6, 1.0)
        pattern = self.patterns.get(archetype)
        self.truth.learners[learner_id] = {"archetype": archetype, "org_id": org_id, "ability": round(ability, 3),
                                           "patterns": [pattern] if pattern else [], **(extra or {})}
        return learner_id, org_id, ability

    def keep(self, writer: SessionWriter, archetype: str, cheating: bool) -> None:
        pattern = self.patterns.get(archetype)
        played = writer.true_watched_seconds() > 0
        self.truth.sessions[writer.session_id] = {
            "learner_id": writer.who.learner_id, "archetype": archetype,
            "patterns": [pattern] if cheating and pattern and played else [],
            "true_watched_seconds": round(writer.true_watched_seconds(), 1),
            "policy": policy_of(archetype)}
        self.events.extend(writer.events)

    def at(self, day: float, hour: float) -> float:
        return self.place.opens + day * DAY + hour * 3600

    def correct(self, ability: float) -> Callable[[str], float]:
        return functools.partial(self.place.answer_correct, ability=ability)

    # -- cheating ---------------------------------------------------------------------------
    def proxy_ring(self, accounts: int, gaps_h: tuple[float, float], archetype: str) -> None:
        """One operator, one machine, one IP, a fresh browser profile per account; the
        accounts are worked through one after another on several days."""
        rng = self.rng
        ip = f"59.{rng.randint(32, 63)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
        agent = rng.choice(PC_AGENTS)
        members: list[tuple[Identity, float, dict[str, float]]] = []
        for _ in range(accounts):
            learner_id, org_id, ability = self.learner(archetype)
            who = Identity(learner_id, org_id, self.place.course_id, f"prof-{learner_id}", ip, agent)
            members.append((who, ability, {}))
        habits = Habits(hidden_share=0.4, pause_per_min=0.02)
        for day in sorted(rng.sample(range(26), 6)):
            at = self.at(day, rng.uniform(8, 10))
            for index, (who, ability, progress) in enumerate(members):
                writer = self.writer(who=who, session_id=f"{who.learner_id}-d{day:02d}", rng=rng)
                end = honest_session(writer, habits, self.place.videos, progress, at, rng.uniform(50, 80),
                                     self.correct(ability))
                self.keep(writer, archetype, cheating=True)
                at = end + rng.uniform(*gaps_h) * 3600 + (rng.uniform(60, 900) if index else 0)
                if (at - self.at(day, 0)) / 3600 > 23.5:
                    break

    def parallel_tabs(self) -> None:
        """One account, 3–4 tabs at once, one video per tab, played by a careful script."""
        rng = self.rng
        learner_id, org_id, _ = self.learner("parallel_tabs")
        who = Identity(learner_id, org_id, self.place.course_id, f"dev-{learner_id}",
                       f"36.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}",
                       rng.choice(PC_AGENTS))
        progress: dict[str, float] = {}
        videos = list(self.place.videos)
        for sitting, day in enumerate(sorted(rng.sample(range(26), 3))):
            start = self.at(day, rng.uniform(8, 21))
            todo = [v for v in videos if progress.get(v[0], 0.0) < v[1]]
            tabs = min(rng.randint(3, 4), len(todo))
            for tab in range(tabs):
                writer = self.writer(who=who, session_id=f"{learner_id}-s{sitting}t{tab}", rng=rng)
                mimic_bot(writer, todo[tab::tabs], progress, start + rng.uniform(1, 20), 60.0, 1.0,
                          trusted_input=True)
                self.keep(writer, "parallel_tabs", cheating=tabs >= 2)

    def replayed(self, copies: int) -> None:
        """A human's sessions recorded once and replayed into other accounts, shifted in
        time and jittered; the source learner is honest."""
        rng = self.rng
        source_id, org_id, ability = self.learner("replay_source")
        source = Identity(source_id, org_id, self.place.course_id, f"dev-{source_id}",
                          f"115.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}",
                          rng.choice(PC_AGENTS))
        progress: dict[str, float] = {}
        recorded: list[SessionWriter] = []
        for index, day in enumerate(sorted(rng.sample(range(14), 5))):
            writer = self.writer(who=source, session_id=f"{source_id}-s{index:02d}", rng=rng)
            honest_session(writer, Habits(), self.place.videos, progress, self.at(day, rng.uniform(8, 21)),
                           rng.uniform(40, 90), self.correct(ability))
            self.keep(writer, "replay_source", cheating=False)
            recorded.append(writer)
        for _ in range(copies):
            learner_id, org_id, _ = self.learner("replayed_session")
            who = Identity(learner_id, org_id, self.place.course_id, f"dev-{learner_id}",
                           f"117.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}",
                           rng.choice(PC_AGENTS))
            shift = rng.uniform(1, 12) * DAY + rng.uniform(-3, 3) * 3600
            for index, original in enumerate(recorded):
                writer = self.writer(who=who, session_id=f"{learner_id}-s{index:02d}", rng=rng)
                _replay_into(writer, original, shift, rng)
                self.keep(writer, "replayed_session", cheating=True)

    def farm(self, accounts: int, behind_one_nat: bool) -> None:
        """Cloned VMs (one browser build) running a careful bot, started together every day."""
        rng = self.rng
        archetype = "farm_nat" if behind_one_nat else "farm_proxies"
        agent = rng.choice(PC_AGENTS)
        nat = f"61.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
        members: list[tuple[Identity, dict[str, float]]] = []
        for _ in range(accounts):
            learner_id, org_id, _ = self.learner(archetype, {"farm": True})
            ip = nat if behind_one_nat else \
                f"{rng.randint(100, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
            members.append((Identity(learner_id, org_id, self.place.course_id, f"vm-{learner_id}", ip, agent), {}))
        hour = rng.uniform(1, 5)
        for day in sorted(rng.sample(range(26), 6)):
            start = self.at(day, hour)
            for who, progress in members:
                writer = self.writer(who=who, session_id=f"{who.learner_id}-d{day:02d}", rng=rng)
                mimic_bot(writer, self.place.videos, progress, start + rng.uniform(0, 90), 150.0, 1.0,
                          trusted_input=True)
                self.keep(writer, archetype, cheating=True)

    # -- honest ------------------------------------------------------------------------------
    def _solo(self, archetype: str, agent: str) -> tuple[Identity, float]:
        rng = self.rng
        learner_id, org_id, ability = self.learner(archetype)
        return Identity(learner_id, org_id, self.place.course_id, f"dev-{learner_id}",
                        f"10.{100 + rng.randint(0, 99)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}", agent), ability

    def solo_honest(self, archetype: str, habits: Habits, sittings: int = 8) -> None:
        """An honest learner on their own machine whose habits are the hard part."""
        rng = self.rng
        who, ability = self._solo(archetype, rng.choice(PC_AGENTS))
        progress: dict[str, float] = {}
        for index, day in enumerate(sorted(rng.sample(range(29), sittings))):
            writer = self.writer(who=who, session_id=f"{who.learner_id}-s{index:02d}", rng=rng)
            honest_session(writer, habits, self.place.videos, progress, self.at(day, rng.uniform(8, 21.5)),
                           rng.uniform(30, 90), self.correct(ability))
            self.keep(writer, archetype, cheating=False)

    def pc_and_phone(self) -> None:
        """Starts on the PC, leaves its tab playing, goes on with the next video on the phone."""
        rng = self.rng
        pc, ability = self._solo("pc_and_phone", rng.choice(PC_AGENTS))
        phone = Identity(pc.learner_id, pc.org_id, pc.course_id, f"phone-{pc.learner_id}",
                         f"223.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}",
                         rng.choice(PHONE_AGENTS))
        progress: dict[str, float] = {}
        for index, day in enumerate(sorted(rng.sample(range(29), 8))):
            start = self.at(day, rng.uniform(8, 21))
            writer = self.writer(who=pc, session_id=f"{pc.learner_id}-s{index:02d}", rng=rng)
            end = honest_session(writer, Habits(), self.place.videos, progress, start, rng.uniform(30, 60),
                                 self.correct(ability))
            left = False
            if rng.random() < 0.6:  # the PC tab keeps playing on its own while the phone goes on
                todo = [v for v in self.place.videos if progress.get(v[0], 0.0) < v[1]]
                if todo:
                    left_playing = todo[0]
                    writer.events = [e for e in writer.events if e["type"] != "session_end"]
                    _leave_playing(writer, left_playing, progress.get(left_playing[0], 0.0), end + 5, rng)
                    left = True
                    phone_writer = self.writer(who=phone, session_id=f"{pc.learner_id}-s{index:02d}m", rng=rng)
                    honest_session(phone_writer, Habits(clicks=False), self.place.videos[1:], progress,
                                   end + rng.uniform(60, 300), rng.uniform(20, 40), self.correct(ability))
                    self.keep(phone_writer, "pc_and_phone", cheating=False)
            self.keep(writer, "pc_and_phone", cheating=False)
            if left:
                self.truth.sessions[writer.session_id]["away_after"] = end + 5  # nobody answers on the PC

    def study_room(self, colleagues: int) -> None:
        """Colleagues taking turns on one study-room PC (one browser profile) on some days,
        and studying at their own desks on others."""
        rng = self.rng
        room_ip = f"10.{rng.randint(0, 99)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
        agent = PC_AGENTS[0]
        people: list[tuple[Identity, float, dict[str, float]]] = []
        for _ in range(colleagues):
            who, ability = self._solo("study_room", rng.choice(PC_AGENTS))
            people.append((who, ability, {}))
        room_days = sorted(rng.sample(range(29), 4))
        for day in range(29):
            if day in room_days:
                at = self.at(day, rng.uniform(12, 13))
                for who, ability, progress in rng.sample(people, len(people)):
                    shared = Identity(who.learner_id, who.org_id, who.course_id, "studyroom-pc-1", room_ip, agent)
                    writer = self.writer(who=shared, session_id=f"{who.learner_id}-r{day:02d}", rng=rng)
                    at = honest_session(writer, Habits(), self.place.videos, progress, at, rng.uniform(25, 45),
                                        self.correct(ability)) + rng.uniform(30, 600)
                    self.keep(writer, "study_room", cheating=False)
            else:
                for who, ability, progress in people:
                    if rng.random() < 0.2:
                        writer = self.writer(who=who, session_id=f"{who.learner_id}-o{day:02d}", rng=rng)
                        honest_session(writer, Habits(), self.place.videos, progress,
                                       self.at(day, rng.uniform(8, 21.5)), rng.uniform(30, 90),
                                       self.correct(ability))
                        self.keep(writer, "study_room", cheating=False)

    def group_study(self, members: int) -> None:
        """A study group at the office: own PCs behind one NAT, one browser build, starting
        together on several afternoons (and studying alone on other days)."""
        rng = self.rng
        nat = f"202.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
        agent = rng.choice(PC_AGENTS)
        people: list[tuple[Identity, float, dict[str, float]]] = []
        for _ in range(members):
            learner_id, org_id, ability = self.learner("group_study")
            people.append((Identity(learner_id, org_id, self.place.course_id, f"dev-{learner_id}", nat, agent),
                           ability, {}))
        group_days = sorted(rng.sample(range(29), 4))
        for day in range(29):
            for who, ability, progress in people:
                if day in group_days:
                    start = self.at(day, 14) + rng.uniform(0, 120)
                elif rng.random() < 0.15:
                    start = self.at(day, rng.uniform(8, 21.5))
                else:
                    continue
                writer = self.writer(who=who, session_id=f"{who.learner_id}-d{day:02d}", rng=rng)
                honest_session(writer, Habits(), self.place.videos, progress, start, rng.uniform(45, 90),
                               self.correct(ability))
                self.keep(writer, "group_study", cheating=False)

    def carrier_nat(self, people: int) -> None:
        """Mobile learners whose public address is a carrier NAT pool shared with strangers."""
        rng = self.rng
        pool = f"117.136.{rng.randint(0, 255)}"
        for _ in range(people):
            learner_id, org_id, ability = self.learner("carrier_nat")
            agent = rng.choice(PHONE_AGENTS)
            progress: dict[str, float] = {}
            for index, day in enumerate(sorted(rng.sample(range(29), 9))):
                who = Identity(learner_id, org_id, self.place.course_id, f"phone-{learner_id}",
                               f"{pool}.{rng.randint(2, 250)}", agent)
                writer = self.writer(who=who, session_id=f"{learner_id}-s{index:02d}", rng=rng)
                hour = rng.choice([rng.uniform(7, 9), rng.uniform(12, 13.5), rng.uniform(20.5, 23)])
                honest_session(writer, Habits(clicks=False), self.place.videos, progress, self.at(day, hour),
                               rng.uniform(20, 50), self.correct(ability))
                self.keep(writer, "carrier_nat", cheating=False)


def _replay_into(writer: SessionWriter, original: SessionWriter, shift_s: float, rng: random.Random) -> None:
    """Copy ``original``'s events into ``writer``'s account, ``shift_s`` later, each event
    jittered by up to a second and positions by a fraction of one."""
    for event in original.events:
        if event["type"] == "media_fetch":
            continue  # a replay fabricates claims: the media server delivers nothing to this account
        at = event["ts"] / 1000 + shift_s + rng.uniform(-1.0, 1.0)
        fields = {k: v for k, v in event.items() if k not in (
            "event_id", "ts", "type", "learner_id", "org_id", "course_id", "session_id", "device_id", "ip",
            "received_at", "user_agent")}
        for name in ("position", "from_position", "to_position"):
            if isinstance(fields.get(name), int | float):
                fields[name] = round(max(0.0, fields[name] + rng.uniform(-0.3, 0.3)), 2)
        writer.emit(event["type"], at, **fields)
    writer.events.sort(key=lambda e: e["ts"])
    for video_id, spans in original.watched.items():
        for start, end in spans:
            writer.watch(video_id, start, end)


def _leave_playing(writer: SessionWriter, video: tuple[str, float], position: float, at: float,
                   rng: random.Random) -> None:
    """The PC tab plays ``video`` to its end with nobody there: heartbeats, no input."""
    video_id, duration = video
    writer.emit("video_play", at, video_id=video_id, position=round(position, 2), duration=duration, rate=1.0)
    while position < duration:
        step = min(duration, position + 30.0)
        writer.watch(video_id, position, step, at, 1.0)
        at += step - position
        position = step
        kind = "video_ended" if position >= duration else "video_heartbeat"
        writer.emit(kind, at, video_id=video_id, position=round(position, 2), rate=1.0)
    writer.emit("session_end", at + rng.uniform(60, 600))


def add_linked_groups(rng: random.Random, place: Place, truth: Any, events: list[dict[str, Any]],
                      groups: int, observed: bool = False) -> None:
    """``groups`` of each linked cheating and hard honest kind."""
    out = LinkedWriter(rng, place, truth, events, observed)
    for _ in range(groups):
        out.proxy_ring(5, (0.02, 0.3), "proxy_ring")
        out.proxy_ring(5, (2.0, 5.0), "proxy_ring_gaps")
        for _ in range(3):
            out.parallel_tabs()
        out.replayed(3)
        out.farm(10, behind_one_nat=True)
        out.farm(10, behind_one_nat=False)
        for _ in range(6):
            out.solo_honest("assistive_tool", Habits(trusted_clicks=False))
            out.solo_honest("autoplay_platform", Habits(autoplay=True))
            out.pc_and_phone()
        out.study_room(4)
        out.group_study(8)
        out.carrier_nat(12)
