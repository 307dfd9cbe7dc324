"""Linking accounts and sessions: one person has one clock, one operator many accounts.

The worker keeps, in the same pass as the summaries, an index of who studied on which
network (/24) and browser build on which day, when each session of a course started, and
where its pauses and seeks were (``service/sessions.index_sessions``). These pure
functions read what that index holds near a session and the records of the accounts it
points at, and say:

- ``proxy ring`` (``account_sharing``): ≥ 3 accounts took turns on one device, or one
  network with one browser build, never at the same time (one operator, one clock), on
  several days, and each studies almost only there. Offices, study rooms, group study and
  carrier NAT fail at least one of these: people there overlap, or study elsewhere too.
- ``parallel sessions``: one account playing in three sessions at once, or in two with
  a person acting in both during the overlap (a forgotten tab has nobody acting in it).
  Same device and browser: ``scripted_playback`` (tabs); otherwise ``account_sharing``.
- ``replay``: the same pauses (where, how long) and seeks as an earlier session of another
  account: a recorded session played back into this one (``scripted_playback``).
- ``farm`` (``coordinated_accounts``): ≥ 5 accounts on one network or browser build
  starting within minutes of each other on several days. Honest group study looks alike,
  so this goes to the review queue and accuses no one.

Every reason names the accounts it rests on in ``related``; the API hides those outside
the reader's org subtree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from learnguard.detector.base import Evidence, Flag, Reason, Related, flag_id_for
from learnguard.detector.records import LearnerCourse, SessionSummary
from learnguard.detector.thresholds import Thresholds
from learnguard.features.linking import LinkFacts
from learnguard.features.session import GESTURE_PAUSE, Gesture

GESTURE_BUCKET_S = 5.0   # pause/seek positions are indexed per 5 s of the video
START_SLOT_S = 600.0     # session starts are indexed per 10 minutes
MIN_GESTURE_AT_S = 5.0   # the first seconds of a video are where everyone pauses or restarts
MAX_LINKED = 30          # other accounts' records loaded for one session at most
PAUSE_LENGTH_MATCH_S = 2.5  # two pauses this close in length are the same pause (a replay jitters by ~1 s)
DAY = 86400.0
WEEK = 7 * DAY  # a device's sessions are indexed per week of their start


class LinkProbe(msgspec.Struct, frozen=True):
    """Which index entries to read for one session."""

    network: str
    days: tuple[int, ...]
    slots: tuple[int, ...]
    buckets: tuple[tuple[str, int], ...]
    weeks: tuple[int, ...] = ()  # the device's weeks that hold sessions within ``sharing_day_s`` of it


class StartMark(msgspec.Struct, array_like=True):
    """A session's start as the course's start-slot index keeps it: small, because a popular
    start time holds many sessions and every read of a session near it decodes them all."""

    learner_id: str
    first_ts: float
    network: str = ""
    browser: str = ""


def start_mark(summary: SessionSummary) -> StartMark:
    return StartMark(summary.learner_id, summary.first_ts, summary.link.network, summary.link.browser)


class PlaceMark(msgspec.Struct, array_like=True):
    """A session as the device and network indexes keep it: who, when, on which device,
    network and browser build (rings compare those), and when its challenge answers reached
    the platform (queued answers) — nothing else. Why so little: every score reads every
    session of its device and of its network on three days, and the indexes keep them all."""

    learner_id: str
    first_ts: float
    last_ts: float
    device: str | None = None
    network: str = ""
    browser: str = ""
    answers: list[float] = msgspec.field(default_factory=list)

    def summary(self) -> SessionSummary:
        """The mark as the summary the linking detectors read (what it does not keep is empty)."""
        return SessionSummary(self.learner_id, self.first_ts, self.last_ts, 0.0, 0.0, self.device, None, False,
                              link=LinkFacts(network=self.network, browser=self.browser, answers=self.answers))


def place_mark(summary: SessionSummary) -> PlaceMark:
    return PlaceMark(summary.learner_id, summary.first_ts, summary.last_ts, summary.device, summary.link.network,
                     summary.link.browser, summary.link.answers)


def session_token(session_id: str) -> str:
    """Eight hex digits that name a session among its learner's sessions in one course.

    Why not the id: the replay index keeps one entry per pause/seek position of every
    session, for good; a token is a fixed 8 bytes where ids run to 128 characters. Tokens
    of two sessions may collide, but a reader only ever resolves a token among one learner's
    sessions of one course (tens), where a collision costs a comparison, never a link."""
    return hashlib.blake2b(session_id.encode(), digest_size=4).hexdigest()


class LinkSight(msgspec.Struct):
    """What the index holds near one session. ``gesture_hits``: (learner, session token) →
    how many of this session's pause/seek buckets that session shares."""

    network: dict[str, SessionSummary] = msgspec.field(default_factory=dict)
    started: dict[str, StartMark] = msgspec.field(default_factory=dict)
    gesture_hits: dict[tuple[str, str], int] = msgspec.field(default_factory=dict)


class Linked(msgspec.Struct):
    """Linking evidence by pattern, and the review-queue flag (farms)."""

    evidence: dict[str, list[Evidence]] = msgspec.field(default_factory=dict)
    review: list[Flag] = msgspec.field(default_factory=list)


def gesture_buckets(gestures: list[Gesture], tolerance_s: float) -> set[tuple[str, int]]:
    """The (video, bucket) pairs a session's gestures fall in, with the neighbour bucket
    when a gesture sits within ``tolerance_s`` of a bucket edge.

    >>> sorted(gesture_buckets([Gesture(0, "v1", 12.0, 3.0), Gesture(0, "v1", 2.0, 1.0)], 1.5))
    [('v1', 2)]
    >>> sorted(gesture_buckets([Gesture(0, "v1", 14.2, 3.0)], 1.5))
    [('v1', 2), ('v1', 3)]
    """
    out: set[tuple[str, int]] = set()
    for g in gestures:
        if g.at < MIN_GESTURE_AT_S:
            continue
        out.add((g.video, int(g.at // GESTURE_BUCKET_S)))
        out.add((g.video, int((g.at - tolerance_s) // GESTURE_BUCKET_S)))
        out.add((g.video, int((g.at + tolerance_s) // GESTURE_BUCKET_S)))
    return out


def indexed_buckets(summary: SessionSummary) -> set[tuple[str, int]]:
    """The (video, bucket) pairs the replay index files a session's pauses and seeks under."""
    return {(g.video, int(g.at // GESTURE_BUCKET_S)) for g in summary.link.gestures}


def week_of(ts: float) -> int:
    """The week a device's session is indexed under (by its start): a score reads the weeks
    around its session, never a shared office PC's whole year."""
    return int(ts // WEEK)


def probe_of(summary: SessionSummary, t: Thresholds) -> LinkProbe:
    """The index entries near ``summary``: its device in the weeks within ``sharing_day_s`` of
    it (rings look no further), its network on the day before, of and after it,
    the start slots around it (only with a network: ``farm_candidates`` needs one, and a
    course's slot can hold thousands of starts), and its gestures' buckets."""
    day = int(summary.first_ts // DAY)
    slot = int(summary.first_ts // START_SLOT_S)
    weeks = range(week_of(summary.first_ts - t.sharing_day_s), week_of(summary.first_ts + t.sharing_day_s) + 1)
    return LinkProbe(network=summary.link.network, days=(day - 1, day, day + 1),
                     slots=(slot - 1, slot, slot + 1) if summary.link.network else (),
                     buckets=tuple(sorted(gesture_buckets(summary.link.gestures, t.replay_match_s))),
                     weeks=tuple(weeks))


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


# -- proxy rings ------------------------------------------------------------------------
def _day_start(day: str) -> float:
    """The epoch second a ``_day`` label (a UTC date) starts."""
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


def _place_test(summary: SessionSummary) -> Callable[[SessionSummary], bool]:
    device, network, browser = summary.device, summary.link.network, summary.link.browser

    def at_place(other: SessionSummary) -> bool:
        return bool(device and other.device == device) or bool(
            network and browser and other.link.network == network and other.link.browser == browser)
    return at_place


def _chain_containing(session_id: str, ordered: list[tuple[str, SessionSummary]], max_gap_s: float
                      ) -> list[tuple[str, SessionSummary]]:
    """The run of back-to-back sessions (of any accounts) that contains ``session_id``."""
    chains: list[list[tuple[str, SessionSummary]]] = []
    for item in ordered:
        if chains and 0 <= item[1].first_ts - chains[-1][-1][1].last_ts <= max_gap_s:
            chains[-1].append(item)
        else:
            chains.append([item])
    for chain in chains:
        if any(sid == session_id for sid, _ in chain):
            return chain
    return []


def ring_candidates(session_id: str, summary: SessionSummary, device_sessions: dict[str, SessionSummary],
                    sight: LinkSight, t: Thresholds) -> set[str]:
    """Accounts that took turns with this session at its place (whose records to load): only
    when, within a day of it, the place was used by them alone, one at a time."""
    at_place = _place_test(summary)
    pool = {sid: s for sid, s in {**sight.network, **device_sessions}.items()
            if at_place(s) and abs(s.first_ts - summary.first_ts) <= t.sharing_day_s}
    pool[session_id] = summary
    ordered = sorted(pool.items(), key=lambda item: item[1].first_ts)
    chain = _chain_containing(session_id, ordered, t.sharing_max_gap_s)
    accounts = {s.learner_id for _, s in chain}
    if len(accounts) < t.sharing_min_accounts:
        return set()
    begin, end = chain[0][1].first_ts - t.sharing_max_gap_s, chain[-1][1].last_ts + t.sharing_max_gap_s
    if any(s.learner_id not in accounts for s in pool.values() if s.last_ts > begin and s.first_ts < end):
        return set()  # the place is busy with other accounts too: an office, a campus, a carrier
    for (_, a), (_, b) in zip(ordered, ordered[1:], strict=False):
        if a.learner_id != b.learner_id and b.first_ts < a.last_ts - 60:
            return set()  # two accounts at the place at once: two people, not one operator
    return accounts


def _share_at(record: LearnerCourse, at_place: Callable[[SessionSummary], bool]) -> float:
    sessions = list(record.sessions.values())
    total = sum(s.effective_seconds for s in sessions)
    if total <= 0:
        return sum(at_place(s) for s in sessions) / max(len(sessions), 1)
    return sum(s.effective_seconds for s in sessions if at_place(s)) / total


def _overlaps(a: list[SessionSummary], b: list[SessionSummary], slack_s: float = 60.0) -> bool:
    return any(_overlap(x.first_ts, x.last_ts, y.first_ts, y.last_ts) > slack_s for x in a for y in b)


def ring_evidence(summary: SessionSummary, candidates: set[str], records: dict[str, LearnerCourse],
                  t: Thresholds) -> list[Evidence]:
    """≥ 3 accounts that take turns at one place, never at once, on several days, and
    study almost only there."""
    at_place = _place_test(summary)
    there = {lid: [s for s in records[lid].sessions.values() if at_place(s)]
             for lid in sorted(candidates) if lid in records}
    exclusive = {lid for lid in there if _share_at(records[lid], at_place) >= t.ring_exclusive_share}
    if summary.learner_id not in exclusive:
        return []
    ring = [summary.learner_id]
    for lid in sorted(exclusive - {summary.learner_id}):
        if not any(_overlaps(there[lid], there[member]) for member in ring):
            ring.append(lid)
    if len(ring) < t.sharing_min_accounts:
        return []
    by_day: dict[str, set[str]] = {}
    for lid in ring:
        for s in there[lid]:
            by_day.setdefault(_day(s.first_ts), set()).add(lid)
    days = sorted(day for day, who in by_day.items() if len(who) >= t.sharing_min_accounts)
    if len(days) < t.ring_min_days:
        return []
    where = (f"device {summary.device}" if summary.device and all(
        any(s.device == summary.device for s in there[lid]) for lid in ring)
        else f"network {summary.link.network} with browser {summary.link.browser or 'unknown'}")
    sessions = sum(len(there[lid]) for lid in ring)
    related = [Related(learner_id=lid, org_id=records[lid].org_id) for lid in ring if lid != summary.learner_id]
    return [Evidence(Reason(
        "accounts_take_turns",
        f"{len(ring)} accounts took turns on {where} on {len(days)} days ({days[0]} to {days[-1]} UTC; "
        f"{sessions} sessions, each next one within {t.sharing_max_gap_s / 3600:.0f} h, never two at the same "
        f"time), and each studied at least {t.ring_exclusive_share:.0%} of its time there; flagged from "
        f"{t.sharing_min_accounts} accounts on {t.ring_min_days} days. People sharing an office PC also study "
        "elsewhere; confirm with the unit before acting",
        float(len(ring)), float(t.sharing_min_accounts), related=related,
        params={"accounts": len(ring), "form": "device" if where.startswith("device") else "network",
                "device": summary.device or "", "network": summary.link.network or "",
                "browser": summary.link.browser or "unknown", "days": len(days), "first_day_ts": _day_start(days[0]),
                "last_day_ts": _day_start(days[-1]), "sessions": sessions, "gap_h": t.sharing_max_gap_s / 3600,
                "share": t.ring_exclusive_share, "min_accounts": t.sharing_min_accounts,
                "min_days": t.ring_min_days}), 0.85, True)]


# -- parallel sessions of one account ------------------------------------------------------
def _stretch_overlap(a: list[list[float]], b: list[list[float]]) -> list[tuple[float, float]]:
    out = []
    for a0, a1 in a:
        for b0, b1 in b:
            if min(a1, b1) > max(a0, b0):
                out.append((max(a0, b0), min(a1, b1)))
    return out


def _acted_within(summary: SessionSummary, spans: list[tuple[float, float]], bucket_s: float) -> bool:
    """A person acted in a 5-minute bucket that lies wholly inside the overlap (the last click
    before someone walked away from a tab does not; media delivery does not either: a tab
    left playing fetches its media too)."""
    return any(start <= bucket * bucket_s and (bucket + 1) * bucket_s <= end
               for bucket in summary.link.acted for start, end in spans)


def _most_at_once(stretches: list[list[list[float]]]) -> int:
    points = sorted([(s, 1) for spans in stretches for s, _ in spans] + [(e, -1) for spans in stretches
                                                                          for _, e in spans])
    best = current = 0
    for _, step in points:
        current += step
        best = max(best, current)
    return best


def parallel_evidence(session_id: str, summary: SessionSummary, record: LearnerCourse | None,
                      t: Thresholds, acted_bucket_s: float) -> tuple[str, list[Evidence]]:
    """(pattern, evidence) for one account playing in several sessions at once."""
    if record is None or not summary.link.playing:
        return "", []
    overlapping = []
    for other_id, other in sorted(record.sessions.items()):
        if other_id == session_id:
            continue
        spans = _stretch_overlap(summary.link.playing, other.link.playing)
        if sum(end - start for start, end in spans) >= t.two_places_min_overlap_s:
            overlapping.append((other_id, other, spans))
    if not overlapping:
        return "", []
    same_machine = all(o.device == summary.device and o.link.browser == summary.link.browser
                       for _, o, _ in overlapping)
    pattern = "scripted_playback" if same_machine else "account_sharing"
    at_once = _most_at_once([summary.link.playing] + [o.link.playing for _, o, _ in overlapping])
    total = sum(end - start for _, _, spans in overlapping for start, end in spans)
    names = ", ".join(other_id for other_id, _, _ in overlapping[:4])
    where = "in other tabs of the same browser" if same_machine else "on other devices"
    if at_once >= 3:
        return pattern, [Evidence(Reason(
            "playing_in_sessions_at_once",
            f"this account played in {at_once} sessions at the same moment ({where}: {names}); "
            f"{total / 60:.0f} min of playback overlapped. One person watches one video at a time; "
            "flagged from 3 at once", float(at_once), 3.0,
            params={"form": "tabs" if same_machine else "devices", "sessions": at_once, "names": names,
                    "minutes": total / 60}), 0.8, True)]
    other_id, other, spans = overlapping[0]
    if _acted_within(summary, spans, acted_bucket_s) and _acted_within(other, spans, acted_bucket_s):
        return pattern, [Evidence(Reason(
            "two_places_at_once",
            f"played here and in session {other_id} ({where}) at the same time for {total / 60:.0f} min, "
            f"with a person acting in both while they overlapped (a tab left playing has nobody acting in "
            f"it); flagged from {t.two_places_min_overlap_s / 60:.0f} min", round(total, 1),
            t.two_places_min_overlap_s,
            params={"form": "tabs" if same_machine else "devices", "other": other_id, "minutes": total / 60,
                    "min_minutes": t.two_places_min_overlap_s / 60}), 0.7, True)]
    return "", []


# -- one person answering for several accounts -------------------------------------------------
def answering_evidence(summary: SessionSummary, sight: LinkSight, t: Thresholds) -> list[Evidence]:
    """Challenge answers of different accounts reaching the platform from one network within
    seconds of each other, again and again: one person working through several accounts'
    challenges (each account's challenges come on its own jittered schedule, so people
    studying side by side rarely answer within seconds of each other even once)."""
    if not summary.link.answers or not summary.link.network:
        return []
    hits: dict[str, int] = {}
    for other in sight.network.values():
        if other.learner_id == summary.learner_id or other.link.network != summary.link.network:
            continue
        close = sum(any(abs(mine - theirs) <= t.answer_queue_s for theirs in other.link.answers)
                    for mine in summary.link.answers)
        if close:
            hits[other.learner_id] = hits.get(other.learner_id, 0) + close
    together = sum(hits.values())
    if together < t.answer_queue_min or len(hits) < 1:
        return []
    return [Evidence(Reason(
        "answers_queued_across_accounts",
        f"{together} of this session's challenge answers reached the platform within {t.answer_queue_s:g} s of "
        f"answers for {len(hits)} other account(s) on network {summary.link.network}; the service times each "
        f"account's challenges on its own schedule; flagged from {t.answer_queue_min}",
        float(together), float(t.answer_queue_min), basis="observed",
        related=[Related(learner_id=lid, org_id="") for lid in sorted(hits)],
        params={"answers": together, "within_s": t.answer_queue_s, "accounts": len(hits),
                "network": summary.link.network, "min": t.answer_queue_min}), 0.75, True)]


# -- replays ----------------------------------------------------------------------------
def replay_candidates(session_id: str, summary: SessionSummary, sight: LinkSight, t: Thresholds) -> set[str]:
    """Other accounts with a session that shares enough pause/seek positions with this one."""
    return {learner_id for (learner_id, _), hits in sight.gesture_hits.items()
            if hits >= t.replay_min_matches and learner_id != summary.learner_id}


def _same(a: Gesture, b: Gesture, tolerance_s: float) -> bool:
    if a.kind != b.kind or a.video != b.video or abs(a.at - b.at) > tolerance_s:
        return False
    if a.kind == GESTURE_PAUSE:
        if a.value < 0 or b.value < 0:
            return a.value < 0 and b.value < 0
        return abs(a.value - b.value) <= PAUSE_LENGTH_MATCH_S
    return abs(a.value - b.value) <= tolerance_s


def matched_gestures(mine: list[Gesture], theirs: list[Gesture], tolerance_s: float) -> int:
    """How many of ``mine`` have a twin in ``theirs`` (each used once).

    >>> a = [Gesture(0, "v", 100.0, 12.0), Gesture(1, "v", 300.0, 250.0)]
    >>> b = [Gesture(0, "v", 100.8, 13.1), Gesture(1, "v", 299.5, 250.4)]
    >>> matched_gestures(a, b, 1.5), matched_gestures(a, [Gesture(0, "v", 140.0, 12.0)], 1.5)
    (2, 0)
    """
    used: set[int] = set()
    count = 0
    for g in mine:
        if g.at < MIN_GESTURE_AT_S:
            continue
        for index, h in enumerate(theirs):
            if index not in used and _same(g, h, tolerance_s):
                used.add(index)
                count += 1
                break
    return count


def _countable(gestures: list[Gesture]) -> int:
    return sum(g.at >= MIN_GESTURE_AT_S for g in gestures)


def replay_evidence(summary: SessionSummary, sight: LinkSight, records: dict[str, LearnerCourse],
                    t: Thresholds) -> list[Evidence]:
    """The same pauses and seeks as an earlier session of another account."""
    best: tuple[int, str, str, SessionSummary] | None = None
    for learner_id, other_id, other in _hit_sessions(sight, records):
        if learner_id == summary.learner_id or other.first_ts >= summary.first_ts:
            continue
        matched = matched_gestures(summary.link.gestures, other.link.gestures, t.replay_match_s)
        fewest = min(_countable(summary.link.gestures), _countable(other.link.gestures))
        if matched >= max(t.replay_min_matches, fewest / 2) and (best is None or matched > best[0]):
            best = (matched, other_id, learner_id, other)
    if best is None:
        return []
    matched, other_id, learner_id, other = best
    record = records[learner_id]
    lag_h = (summary.first_ts - other.first_ts) / 3600
    return [Evidence(Reason(
        "replayed_session",
        f"{matched} of this session's {len(summary.link.gestures)} pauses and seeks repeat those of a session "
        f"of another account (see related), {lag_h:.1f} h earlier (same video positions within "
        f"{t.replay_match_s:g} s, pauses within {PAUSE_LENGTH_MATCH_S:g} s of the same length); flagged from "
        f"{t.replay_min_matches} and half of either session's pauses and seeks. People do not pause "
        "where and as long as someone else did: a recording was played back",
        float(matched), float(t.replay_min_matches),
        related=[Related(learner_id=learner_id, org_id=record.org_id, session_id=other_id)],
        params={"matched": matched, "gestures": len(summary.link.gestures), "lag_h": lag_h,
                "position_s": t.replay_match_s, "pause_s": PAUSE_LENGTH_MATCH_S, "min": t.replay_min_matches}),
        0.8, True)]


def _hit_sessions(sight: LinkSight, records: dict[str, LearnerCourse]
                  ) -> list[tuple[str, str, SessionSummary]]:
    """(learner, session id, summary) of each session the replay index pointed at, its token
    resolved among its learner's sessions (sorted: the same answer whatever the order)."""
    tokens: dict[str, set[str]] = {}
    for learner_id, token in sight.gesture_hits:
        tokens.setdefault(learner_id, set()).add(token)
    out = []
    for learner_id in sorted(tokens):
        record = records.get(learner_id)
        if record is None:
            continue
        out += [(learner_id, sid, other) for sid, other in sorted(record.sessions.items())
                if session_token(sid) in tokens[learner_id]]
    return out


# -- farms --------------------------------------------------------------------------------
def farm_candidates(summary: SessionSummary, sight: LinkSight, t: Thresholds) -> set[str]:
    """Accounts that started within minutes of this session on its network or browser build."""
    mine = start_mark(summary)
    if not mine.network:
        return set()
    return {m.learner_id for m in sight.started.values()
            if m.learner_id != mine.learner_id and abs(m.first_ts - mine.first_ts) <= t.farm_window_s
            and _alike(mine, m)}


def _alike(a: StartMark, b: StartMark) -> bool:
    """One network, or one browser build (cloned machines behind proxies of their own)."""
    return bool(a.network and a.network == b.network) or bool(a.browser and a.browser == b.browser and a.network)


def farm_flag(session_id: str, summary: SessionSummary, record: LearnerCourse | None, candidates: set[str],
              records: dict[str, LearnerCourse], t: Thresholds) -> list[Flag]:
    """A review-queue flag (never misconduct) for accounts that start together day after day."""
    if record is None or len(candidates) + 1 < t.farm_min_accounts:
        return []
    days = {_day(summary.first_ts)}
    together = set(candidates)  # named in the reason
    for other_id, mine in record.sessions.items():
        if other_id == session_id or _day(mine.first_ts) in days:
            continue
        with_me = {lid for lid in candidates if lid in records and any(
            abs(s.first_ts - mine.first_ts) <= t.farm_window_s and _alike(start_mark(s), start_mark(mine))
            for s in records[lid].sessions.values())}
        if len(with_me) + 1 >= t.farm_min_accounts:
            days.add(_day(mine.first_ts))
    if len(days) < t.farm_min_days:
        return []
    related = [Related(learner_id=lid, org_id=records[lid].org_id) for lid in sorted(together) if lid in records]
    reason = Reason(
        "accounts_start_together",
        f"{len(together) + 1} accounts on network {summary.link.network or '?'} or browser "
        f"{summary.link.browser or '?'} started within {t.farm_window_s / 60:.0f} min of each other on "
        f"{len(days)} days ({min(days)} to {max(days)} UTC); noted from {t.farm_min_accounts} accounts on "
        f"{t.farm_min_days} days. A machine farm looks like this, and so does a study group: for review, "
        "not an accusation", float(len(together) + 1), float(t.farm_min_accounts), related=related,
        params={"accounts": len(together) + 1, "network": summary.link.network or "?",
                "browser": summary.link.browser or "?", "window_min": t.farm_window_s / 60, "days": len(days),
                "first_day_ts": _day_start(min(days)), "last_day_ts": _day_start(max(days)),
                "min_accounts": t.farm_min_accounts, "min_days": t.farm_min_days})
    return [Flag(flag_id=flag_id_for(session_id, "coordinated_accounts"), pattern="coordinated_accounts",
                 confidence=0.45, reasons=[reason], start=summary.first_ts, end=summary.last_ts, misconduct=False)]


class MemoryIndex:
    """The linking index in memory, for the offline runner (the service keeps it in Redis
    with the same buckets)."""

    def __init__(self) -> None:
        self.networks: dict[tuple[str, int], dict[str, SessionSummary]] = {}
        self.starts: dict[tuple[str, int], dict[str, StartMark]] = {}
        self.gestures: dict[tuple[str, str, int], set[tuple[str, str]]] = {}  # (learner, session token)

    def add(self, session_id: str, course_id: str, summary: SessionSummary) -> None:
        if summary.link.network:
            self.networks.setdefault((summary.link.network, int(summary.first_ts // DAY)), {})[session_id] = \
                place_mark(summary).summary()
        self.starts.setdefault((course_id, int(summary.first_ts // START_SLOT_S)), {})[session_id] = start_mark(summary)
        for video, bucket in indexed_buckets(summary):
            self.gestures.setdefault((course_id, video, bucket), set()).add(
                (summary.learner_id, session_token(session_id)))

    def sight(self, probe: LinkProbe, course_id: str) -> LinkSight:
        out = LinkSight()
        for day in probe.days if probe.network else ():
            out.network.update(self.networks.get((probe.network, day), {}))
        for slot in probe.slots:
            out.started.update(self.starts.get((course_id, slot), {}))
        for video, bucket in probe.buckets:
            for entry in self.gestures.get((course_id, video, bucket), ()):
                out.gesture_hits[entry] = out.gesture_hits.get(entry, 0) + 1
        return out
