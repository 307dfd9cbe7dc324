"""A simulated cohort: one course, honest learners of every hard kind, and cheaters.

``simulate_cohort`` returns the course description, the events (contract v1, in arrival
order) and the ground truth: which learner and session shows which pattern, and how
much media each session really played.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from learnguard.simulator.careful import CAREFUL_CHEATERS, CAREFUL_HONEST, add_careful_groups
from learnguard.simulator.cheaters import flooding_session, forged_heartbeats, inpage_bot, mimic_bot
from learnguard.simulator.emit import Identity, SessionWriter
from learnguard.simulator.honest import Habits, honest_session
from learnguard.simulator.linked import (
    LINKED_CHEATERS,
    LINKED_HONEST,
    PC_AGENTS,
    PHONE_AGENTS,
    Place,
    add_linked_groups,
)
from learnguard.simulator.observed import policy_of

CHINA = timezone(timedelta(hours=8))
OPENS = datetime(2026, 3, 1, tzinfo=CHINA)
DEADLINE = datetime(2026, 3, 31, 23, 59, 59, tzinfo=CHINA)
DAY = 86400.0

HONEST = {
    "regular": 0.22, "fast_watcher": 0.08, "mobile": 0.08, "background_listener": 0.06,
    "flaky_network": 0.07, "night_owl": 0.05, "weekend_binger": 0.05, "late_starter": 0.06,
}
CHEATERS = {
    "forged_random": 0.03, "forged_fixed": 0.02, "instant_pass": 0.02, "credit_burst": 0.02,
    "parallel_videos": 0.02, "clock_ahead": 0.02, "inpage_bot": 0.07, "flooder": 0.05,
    "crammer": 0.05, "account_sharer": 0.04, "mimic_bot": 0.04,
}
PATTERN_OF = {
    "forged_random": "scripted_playback", "forged_fixed": "scripted_playback",
    "instant_pass": "scripted_playback", "credit_burst": "scripted_playback",
    "parallel_videos": "scripted_playback", "clock_ahead": "scripted_playback",
    "inpage_bot": "scripted_playback", "flooder": "screen_flooding",
    "crammer": "last_minute_cramming", "account_sharer": "account_sharing", "mimic_bot": "scripted_playback",
}
HARD_CLASS = {"mimic_bot"}  # reported separately by the evaluation
HONEST_KINDS = frozenset(HONEST) | frozenset(LINKED_HONEST) | frozenset(CAREFUL_HONEST)
"""Every honest archetype, the linked and messy hard honest ones included."""
CHEATER_KINDS = frozenset(CHEATERS) | frozenset(LINKED_CHEATERS) | frozenset(CAREFUL_CHEATERS)
ORGS = ["zhejiang/hdu/computing", "zhejiang/hdu/economics", "zhejiang/hdu/party-office",
        "zhejiang/zju/medicine", "zhejiang/zju/law"]


@dataclass
class Truth:
    items: dict[str, float] = field(default_factory=dict)
    learners: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Cohort:
    course_id: str
    course: dict[str, Any]
    events: list[dict[str, Any]]
    truth: Truth


def make_course(rng: random.Random, course_id: str) -> dict[str, Any]:
    videos = [{"video_id": f"{course_id}-v{i + 1:02d}", "duration": float(rng.randint(20, 45) * 60)}
              for i in range(14)]
    return {"title": "2026 spring governance class", "org_id": "zhejiang",
            "opens_at": OPENS.isoformat(), "deadline": DEADLINE.isoformat(),
            "required_hours": 8, "max_rate": 2.0, "videos": videos, "checkpoints": _checkpoints(course_id, videos)}


def _checkpoints(course_id: str, videos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A question about what was just shown every ~4 minutes of each video (contract v1.1 §10),
    from their own random stream so that the cohort's behaviour does not change."""
    rng = random.Random(f"checkpoints|{course_id}")
    out = []
    for video in videos:
        for n, at in enumerate(range(240, int(video["duration"]) - 30, 240)):
            out.append({"item_id": f"{video['video_id']}-k{n}", "video_id": video["video_id"],
                        "after_position": float(at), "prompt": f"刚才这一段中，讲者把哪一项列为第{n % 3 + 1}个要点？",
                        "choices": ["依法行政", "从严治党", "改革创新", "服务群众"], "answer": rng.randrange(4)})
    return out


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _at(day: float, hour: float) -> float:
    return OPENS.timestamp() + day * DAY + hour * 3600


def _schedule(rng: random.Random, archetype: str) -> list[tuple[float, float]]:
    """(start epoch seconds, minutes) of each sitting, by archetype."""
    if archetype == "night_owl":
        return [(_at(d, rng.uniform(22.5, 25.5)), rng.uniform(40, 100)) for d in sorted(rng.sample(range(28), 8))]
    if archetype == "weekend_binger":
        weekends = [d for d in range(30) if (OPENS + timedelta(days=d)).weekday() >= 5]
        return [(_at(d, rng.uniform(9, 14)), rng.uniform(150, 260)) for d in sorted(rng.sample(weekends, 4))]
    if archetype == "late_starter":
        return [(_at(d, rng.uniform(19, 21)), rng.uniform(55, 70)) for d in range(23, 30)]
    if archetype == "crammer":
        sittings = []
        for d in (28.0, 29.0, 30.0):
            for hour in (8.5, 11.0, 14.0, 17.0, 20.0):
                sittings.append((_at(d, hour + rng.uniform(0, 0.5)), rng.uniform(110, 140)))
        return sittings
    if archetype in ("inpage_bot", "mimic_bot"):
        hour = rng.choice([2.0, 3.0, 9.0])  # the same start time every day
        return [(_at(d, hour), 180.0) for d in sorted(rng.sample(range(26), 5))]
    return [(_at(d, rng.uniform(8, 21.5)), rng.uniform(30, 90)) for d in sorted(rng.sample(range(29), 10))]


def _habits(rng: random.Random, archetype: str) -> Habits:
    return Habits(
        rate=rng.choice([1.25, 1.5, 2.0]) if archetype == "fast_watcher" else 1.0,
        clicks=archetype != "mobile",
        hidden_share=0.8 if archetype == "background_listener" else 0.05,
        flaky=archetype == "flaky_network",
    )


def _sharers_in_groups(archetypes: list[str]) -> list[str]:
    """Account sharing needs several accounts per operator: groups of 4, and a last group
    of fewer than 3 joins the one before (or, alone, becomes regular learners)."""
    sharers = [i for i, a in enumerate(archetypes) if a == "account_sharer"]
    if len(sharers) % 4 in (1, 2) and len(sharers) < 4:
        for i in sharers:
            archetypes[i] = "regular"
    return archetypes


def _where(who: Identity, archetype: str, number: int, org_index: int, seed: int, start: float) -> Identity:
    """The address a session comes from: the unit's office NAT on weekdays 08–18 Beijing
    time, else home (a broadband address of the learner's own, or the carrier's NAT pool
    for phones). Account sharers sit at their operator's machine."""
    if archetype == "account_sharer":
        return who
    local = datetime.fromtimestamp(start, tz=CHINA)
    if local.weekday() < 5 and 8 <= local.hour < 18:
        return dataclasses.replace(who, ip=f"10.{seed % 250}.{org_index}.1")
    if archetype == "mobile":
        return dataclasses.replace(who, ip=f"117.136.{seed % 250}.{number % 250}")
    return dataclasses.replace(who, ip=f"183.{(number // 250) % 250}.{number % 250}.{seed % 250}")


def _p_correct(item: str, ability: float, difficulty: dict[str, float]) -> float:
    """The Rasch probability that a learner of ``ability`` answers ``item`` right."""
    return 1 / (1 + math.exp(-(ability - difficulty[item])))


def simulate_cohort(learners: int = 60, seed: int = 1, course_id: str = "gov-2026s", observed: bool = False
                    ) -> Cohort:
    """``observed``: the platform is v1.1 and forwards its media server's log; the cohort's
    behaviour is the same either way (delivery has its own random streams)."""
    rng = random.Random(seed)
    course = make_course(rng, course_id)
    videos = [(v["video_id"], v["duration"]) for v in course["videos"]]
    difficulty = {f"{video_id}-q{item}": rng.gauss(0.0, 1.0) for video_id, _ in videos for item in range(2)}
    truth = Truth(items=difficulty)
    events: list[dict[str, Any]] = []
    weights = {**HONEST, **CHEATERS}
    archetypes = _sharers_in_groups([_pick(rng, weights) for _ in range(learners)])
    sharer_device: dict[int, Any] = {}
    sharers = 0
    total_sharers = archetypes.count("account_sharer")
    for number, archetype in enumerate(archetypes):
        learner_id = f"L{seed:03d}-{number:04d}"
        org_id = rng.choice(ORGS)
        device = f"dev-{seed}-{number}"
        ip = f"10.{seed % 250}.{number // 250}.{number % 250}"
        turn = group = 0
        if archetype == "account_sharer":  # accounts in groups of 4 share one operator machine
            group, turn = divmod(sharers, 4)
            if group and group == total_sharers // 4 and total_sharers % 4 in (1, 2):
                group, turn = group - 1, 4 + turn  # too few left for a group: join the last one
            sharers += 1
            sharer_device.setdefault(group, (f"proxy-{seed}-{group}", f"172.16.{seed % 250}.{group % 250}",
                                             rng.uniform(0, 4)))
            device, ip, shift = sharer_device[group]
        org_index = ORGS.index(org_id)
        ability = rng.gauss(0.6, 1.0)  # Rasch ability (logits); items have their own difficulty
        pattern = PATTERN_OF.get(archetype)
        truth.learners[learner_id] = {"archetype": archetype, "org_id": org_id, "ability": round(ability, 3),
                                      "patterns": [pattern] if pattern else []}
        agents = PHONE_AGENTS if archetype == "mobile" else PC_AGENTS
        agent = agents[(group if archetype == "account_sharer" else number) % len(agents)]  # one machine, one browser
        who = Identity(learner_id=learner_id, org_id=org_id, course_id=course_id, device_id=device, ip=ip,
                       user_agent=agent)
        progress: dict[str, float] = {}
        flood_kind = rng.choice(["comments", "clicks", "pages"])
        for index, (start, minutes) in enumerate(_schedule(rng, archetype)):
            session_id = f"{learner_id}-s{index:02d}"
            if archetype == "account_sharer":
                start = _at(7 + index * 2, 9 + shift + 1.6 * turn)  # accounts in turn, same day
                minutes = 80
            writer = SessionWriter(who=_where(who, archetype, number, org_index, seed, start), session_id=session_id,
                                   rng=rng, observed=observed,
                                   repeat_share=0.02 if archetype == "flaky_network" else 0.0,
                                   delay_s=(0.1, 25.0) if archetype == "flaky_network" else (0.05, 0.4))
            patterns: list[str] = []
            if archetype.startswith("forged") or archetype in ("instant_pass", "credit_burst",
                                                               "parallel_videos", "clock_ahead"):
                style = {"forged_random": "random", "forged_fixed": "fixed", "instant_pass": "instant",
                         "credit_burst": "burst", "parallel_videos": "parallel",
                         "clock_ahead": "random"}[archetype]
                if archetype == "clock_ahead":
                    writer.clock_offset_s = rng.uniform(300, 900)
                todo = [v for v in videos if progress.get(v[0], 0) < v[1]][:4] or videos[:2]
                forged_heartbeats(writer, todo, start, style)
                for video_id, duration in todo:
                    progress[video_id] = duration
                patterns = ["scripted_playback"]
            elif archetype == "inpage_bot":
                inpage_bot(writer, videos, progress, start, minutes, rate=rng.choice([16.0, 3.0, 2.0]))
                patterns = ["scripted_playback"] if writer.true_watched_seconds() > 0 else []
            elif archetype == "mimic_bot":
                mimic_bot(writer, videos, progress, start, minutes, rate=rng.choice([1.0, 1.5, 2.0]),
                          trusted_input=number % 2 == 0)
                patterns = ["scripted_playback"] if writer.true_watched_seconds() > 0 else []
            elif archetype == "flooder" and index % 3 == 1:
                flooding_session(writer, videos, progress, start, flood_kind)
                patterns = ["screen_flooding"]
            else:
                comment = rng.choice(["老师讲得很清楚", "这一节的案例很有启发", "请问第三部分的材料在哪里下载？"])
                honest_session(writer, _habits(rng, archetype), videos, progress, start, minutes,
                               functools.partial(_p_correct, ability=ability, difficulty=difficulty),
                               comment_text=comment)
                if pattern == "last_minute_cramming" or (
                        pattern == "account_sharing" and writer.true_watched_seconds() > 0):
                    patterns = [pattern]
            truth.sessions[session_id] = {"learner_id": learner_id, "archetype": archetype,
                                          "patterns": patterns,
                                          "true_watched_seconds": round(writer.true_watched_seconds(), 1),
                                          "policy": policy_of(archetype)}
            events.extend(writer.events)
    if learners >= 200:  # groups that span accounts: one of each kind per 200 learners
        place = Place(seed=seed, course_id=course_id, orgs=ORGS, opens=OPENS.timestamp(), videos=videos,
                      answer_correct=functools.partial(_p_correct, difficulty=difficulty))
        add_linked_groups(rng, place, truth, events, learners // 200, observed)
        add_careful_groups(rng, place, truth, events, learners // 200, observed)
    events.sort(key=lambda e: e["received_at"])
    return Cohort(course_id=course_id, course=course, events=events, truth=truth)


def write_cohort(cohort: Cohort, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "events.ndjson", "w", encoding="utf-8") as fh:
        for event in cohort.events:
            fh.write(json.dumps(event, ensure_ascii=False) + "\n")
    (out / "course.json").write_text(json.dumps({"course_id": cohort.course_id, **cohort.course},
                                                ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "truth.json").write_text(json.dumps({"items": cohort.truth.items, "learners": cohort.truth.learners,
                                                "sessions": cohort.truth.sessions},
                                               ensure_ascii=False, indent=1), encoding="utf-8")
