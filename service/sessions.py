"""The session index: session records, learner × course summaries, cohort baselines, and the
indexes the read side walks (a device's sessions, a learner's courses, a course's roster).

The worker writes records, summaries and baselines through ``Streams.commit`` (the blobs
this adapter encodes) and the indexes with ``index_sessions`` just before it; the read
side and the reports only read.
"""

from __future__ import annotations

import zlib
from typing import Any, cast
from urllib.parse import quote, unquote

import msgspec
import redis

from learnguard.detector.linking import (
    START_SLOT_S,
    LinkProbe,
    LinkSight,
    PlaceMark,
    StartMark,
    indexed_buckets,
    place_mark,
    session_token,
    start_mark,
    week_of,
)
from learnguard.detector.records import LearnerCourse, SessionRecord, SessionSummary
from learnguard.detector.scoring import ModelEvidence
from learnguard.service import scripts, seen_mark
from learnguard.service.cold import ColdStore, ColdUnavailable, is_cold, pointer_of
from learnguard.service.keys import Keys, shard_of
from learnguard.service.redis_conn import mget_any, read_many, run_scripts
from learnguard.service.rows import member as rows_member

_encode = msgspec.msgpack.Encoder().encode
_decode_lc = msgspec.msgpack.Decoder(LearnerCourse).decode
_decode_summary = msgspec.msgpack.Decoder(SessionSummary).decode
_decode_record = msgspec.msgpack.Decoder(SessionRecord).decode
_decode_mark = msgspec.msgpack.Decoder(StartMark).decode
_decode_place_mark = msgspec.msgpack.Decoder(PlaceMark).decode
_decode_evidence = msgspec.msgpack.Decoder(ModelEvidence).decode
_decode_summaries = msgspec.msgpack.Decoder(dict[str, SessionSummary]).decode
EVIDENCE_TTL_S = 30 * 86400


# A learner x course record is kept in two parts. ``lc``: the summaries of its live sessions,
# which the worker rewrites at every batch that touches one of them; ``lcz``: those of its
# compacted sessions, zlib-compressed, written only by the compactor. Why: a compacted
# session's summary never changes again (until a new event wakes it: its new summary then
# goes to ``lc`` and is the one read), compresses to a third (its ids and browser builds
# repeat), and a cadre's year of sessions in a course is no longer rewritten whole by every
# heartbeat of today's. Readers get both parts merged (``merged_learner_course``).
def archive_blob(summaries: dict[str, SessionSummary]) -> bytes:
    """The compacted sessions' summaries as ``lcz`` keeps them."""
    return zlib.compress(_encode(summaries), 6)


def archived_summaries(raw: bytes | None) -> dict[str, SessionSummary]:
    return _decode_summaries(zlib.decompress(raw)) if raw else {}


def merged_learner_course(raw_live: bytes | None, raw_archive: bytes | None) -> LearnerCourse | None:
    """A learner x course record whole: its compacted sessions' summaries, then its live ones
    (a woken session's newer summary wins over the one archived when it was compacted)."""
    if not raw_live:
        return None
    record = _decode_lc(raw_live)
    if raw_archive:
        sessions = archived_summaries(raw_archive)
        sessions.update(record.sessions)
        record.sessions = sessions
    return record


def decode_record(raw: bytes) -> SessionRecord:
    return _decode_record(raw)


def _decode_place(raw: bytes) -> SessionSummary:
    """A device or network index entry: a ``PlaceMark``, or (written before marks) a whole summary."""
    try:
        return _decode_place_mark(raw).summary()
    except msgspec.ValidationError:
        return _decode_summary(raw)


# The replay index: per (course, video, 5 s bucket) a string of entries "\x1e learner \x1f
# token" appended once each, kept as a field of one hash per 5 minutes of the video
# (``Keys.gesture``). Why a string, not a set: a set member costs ~60 bytes of hash table
# around a ~25-byte id (and most buckets hold one or two sessions), an entry here its own
# ~20 bytes. Why a hash of 60 buckets, not a key per bucket: a key's own overhead (~90 bytes)
# outweighed its one or two entries. The index keeps every pause and seek for good (replays
# of old sessions).
_ENTRY, _LEARNER = "\x1e", "\x1f"


def replay_entry(learner_id: str, session_id: str) -> str:
    """A session's entry in the replay index; a learner id holding a separator (or "%") is
    percent-encoded so that an entry is always found whole."""
    if any(c in learner_id for c in "\x1e\x1f%"):
        learner_id = quote(learner_id, safe="")
    return f"{_ENTRY}{learner_id}{_LEARNER}{session_token(session_id)}"


def replay_entries(raw: bytes | None) -> set[tuple[str, str]]:
    """(learner, session token) of each entry of a replay-index string."""
    out: set[tuple[str, str]] = set()
    for entry in (raw or b"").decode().split(_ENTRY):
        learner_id, _, token = entry.rpartition(_LEARNER)
        if token:
            out.add((unquote(learner_id) if "%" in learner_id else learner_id, token))
    return out


class SessionIndex:
    """Sessions and what points at them, for one deployment."""

    def __init__(self, client: redis.Redis, keys: Keys, shards: int, cold: ColdStore | None = None) -> None:
        self.client = client
        self.keys = keys
        self.shards = shards
        self.cold = cold
        self._append_once = client.register_script(scripts.APPEND_ONCE)
        self._archive = client.register_script(scripts.ARCHIVE_SUMMARIES)

    # -- records ----------------------------------------------------------------------
    def load_record(self, shard: int, session_id: str) -> SessionRecord | None:
        raw = cast(bytes | None, self.client.get(self.keys.session(shard, session_id)))
        return self.decode_records({session_id: raw}).get(session_id) if raw else None

    def load_records(self, shard: int, session_ids: list[str], unreadable: dict[str, str] | None = None,
                     waking: bool = False) -> dict[str, SessionRecord]:
        """Stored records; see ``decode_records`` for ``unreadable``.

        ``waking`` (the worker, about to apply new events to them): a compacted session's
        seen mark is first copied from its pointer to its seen key, so that the mark still
        answers for its older events once the live record replaces the pointer."""
        if not session_ids:
            return {}
        raws = cast(list[Any], self.client.mget([self.keys.session(shard, sid) for sid in session_ids]))
        if waking:
            self._keep_marks(shard, dict(zip(session_ids, raws, strict=True)))
        return self.decode_records(dict(zip(session_ids, raws, strict=True)), unreadable)

    def _keep_marks(self, shard: int, raws: dict[str, bytes | None]) -> None:
        marks = {session_id: pointer_of(raw) for session_id, raw in raws.items() if raw and is_cold(raw)}
        marks = {session_id: pointer for session_id, pointer in marks.items() if pointer.mark is not None}
        if not marks:
            return
        pipe = self.client.pipeline(transaction=False)
        for session_id, pointer in marks.items():  # NX: a seen key there already holds at least as much
            pipe.set(self.keys.seen(shard, session_id), seen_mark.encode(pointer.count or 0, pointer.mark or 0),
                     nx=True)
        pipe.execute()

    def decode_records(self, raws: dict[str, bytes | None], unreadable: dict[str, str] | None = None
                       ) -> dict[str, SessionRecord]:
        """Stored records decoded; a compacted session's is read back from the cold store.

        A compacted session whose archived record cannot be read raises ``ColdUnavailable``
        (a 503 naming the session and the file), or, when ``unreadable`` is given, is put
        there with what is wrong and left out — never returned as if it did not exist."""
        records: dict[str, SessionRecord] = {}
        cold: dict[str, str] = {}
        for session_id, raw in raws.items():
            if not raw:
                continue
            if is_cold(raw):
                cold[session_id] = pointer_of(raw).path
            else:
                records[session_id] = _decode_record(raw)
        if cold:
            if self.cold is None:
                raise RuntimeError("a compacted session was read but this store has no cold store configured")
            found, problems = self.cold.read(cold)
            for session_id, raw in found.items():
                try:
                    records[session_id] = _decode_record(raw)
                except msgspec.DecodeError as exc:
                    problems[session_id] = f"its row in cold file {cold[session_id]} is damaged ({exc})"
            if problems and unreadable is None:
                session_id = min(problems)
                raise ColdUnavailable(session_id, problems[session_id])
            if unreadable is not None:
                unreadable.update(problems)
        return records

    def record_blobs(self, shard: int, records: dict[str, SessionRecord]) -> dict[str, bytes]:
        """Session records as the key → blob pairs a commit writes."""
        return {self.keys.session(shard, sid): _encode(record) for sid, record in records.items()}

    # -- learner x course -------------------------------------------------------------------
    def load_learner_courses(self, shard: int, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], LearnerCourse]:
        """The live part of learner x course records (``lc``: what the worker rewrites; the
        compacted sessions' summaries are left in ``lcz``, unread)."""
        if not pairs:
            return {}
        raws = cast(list[Any], self.client.mget([self.keys.learner_course(shard, lid, cid) for lid, cid in pairs]))
        return {pair: _decode_lc(raw) for pair, raw in zip(pairs, raws, strict=True) if raw}

    def load_learner_course(self, learner_id: str, course_id: str) -> LearnerCourse | None:
        """A learner x course record whole (live and compacted sessions)."""
        shard = shard_of(learner_id, self.shards)
        raw_live, raw_archive = cast(list[Any], self.client.mget(
            [self.keys.learner_course(shard, learner_id, course_id),
             self.keys.learner_course_archive(shard, learner_id, course_id)]))
        return merged_learner_course(raw_live, raw_archive)

    def learner_course_blobs(self, shard: int, records: list[LearnerCourse]) -> dict[str, bytes]:
        return {self.keys.learner_course(shard, lc.learner_id, lc.course_id): _encode(lc) for lc in records}

    def roster_learner_courses(self, course_id: str) -> list[LearnerCourse]:
        """Every learner x course record of a course (for course-wide models such as Rasch)."""
        learners = sorted(m.decode() for m in cast(set[bytes], self.client.smembers(self.keys.roster(course_id))))
        pipe = self.client.pipeline(transaction=False)
        for learner_id in learners:
            shard = shard_of(learner_id, self.shards)
            pipe.get(self.keys.learner_course(shard, learner_id, course_id))
            pipe.get(self.keys.learner_course_archive(shard, learner_id, course_id))
        raws = pipe.execute()
        merged = (merged_learner_course(live, archive) for live, archive in zip(raws[::2], raws[1::2], strict=True))
        return [record for record in merged if record is not None]

    def archive_summaries(self, shard: int, owner: str, sessions: dict[tuple[str, str], set[str]]) -> int:
        """Move the summaries of sessions being compacted ((learner, course) → sessions) from
        their records' live part to the archive, if ``owner`` still holds the shard's lease;
        returns how many records moved (-1: the lease is lost). A record changed meanwhile is
        left as it was (see ``scripts.ARCHIVE_SUMMARIES``)."""
        pairs = sorted(sessions)
        if not pairs:
            return 0
        live_keys = [self.keys.learner_course(shard, lid, cid) for lid, cid in pairs]
        archive_keys = [self.keys.learner_course_archive(shard, lid, cid) for lid, cid in pairs]
        raws = cast(list[Any], self.client.mget(live_keys + archive_keys))  # one shard: one slot
        keys: list[str] = [self.keys.lease(shard)]
        args: list[Any] = [owner]
        for i, pair in enumerate(pairs):
            raw_live, raw_archive = raws[i], raws[len(pairs) + i]
            if not raw_live:
                continue
            record = _decode_lc(raw_live)
            moving = {sid: record.sessions.pop(sid) for sid in sorted(sessions[pair]) if sid in record.sessions}
            if not moving:
                continue
            archived = archived_summaries(raw_archive)
            archived.update(moving)
            keys += [live_keys[i], archive_keys[i]]
            args += [raw_live, raw_archive or b"", _encode(record), archive_blob(archived)]
        return int(self._archive(keys=keys, args=args)) if len(keys) > 1 else 0

    # -- cohort baselines -------------------------------------------------------------------
    def load_cohort_blob(self, shard: int, course_id: str) -> bytes | None:
        return cast(bytes | None, self.client.get(self.keys.cohort(shard, course_id)))

    def cohort_key(self, shard: int, course_id: str) -> str:
        return self.keys.cohort(shard, course_id)

    # -- indexes ----------------------------------------------------------------------
    def index_sessions(self, shard: int, summaries: dict[str, SessionSummary], courses: dict[str, str],
                       pairs: set[tuple[str, str]], indexed: dict[str, set[tuple[str, int]]] | None = None) -> None:
        """Record which sessions each device ran and each network saw on each day, when each
        session of a course started, where its pauses and seeks were, which courses each
        learner takes and who is in each course.

        All idempotent (a replay rewrites the same members, and a replay-index entry is
        appended only where it is not there yet), and written before the batch's commit: a
        worker killed in between redoes the batch, so no committed summary ever lacks its
        index entries. ``indexed``: the (video, bucket) pairs each session's committed
        summary already had (their replay entries are there: not sent again). The pairs'
        report rows are marked dirty here too.
        """
        appends: dict[str, list[str]] = {}  # replay-index hash -> bucket, entry, bucket, entry, ...
        pipe = self.client.pipeline(transaction=False)
        for session_id, summary in summaries.items():
            # the device and network copies keep what their readers use (``place_mark``); pauses
            # and seeks (replays) are read from the learner x course record, never from these
            mark = _encode(place_mark(summary))
            if summary.device:
                pipe.hset(self.keys.device(summary.device, week_of(summary.first_ts)), session_id, mark)
            if summary.link.network:
                pipe.hset(self.keys.network(summary.link.network, int(summary.first_ts // 86400)), session_id, mark)
            course_id = courses.get(session_id)
            if course_id is None:
                continue
            pipe.hset(self.keys.starts(course_id, int(summary.first_ts // START_SLOT_S)), session_id,
                      _encode(start_mark(summary)))
            entry = replay_entry(summary.learner_id, session_id)
            for video, bucket in indexed_buckets(summary) - (indexed or {}).get(session_id, set()):
                appends.setdefault(self.keys.gesture(course_id, video, bucket), []).extend((str(bucket), entry))
        if pairs:  # their report rows are stale (marked again after the commit: see service.rows)
            pipe.sadd(self.keys.rows_dirty(), *{rows_member(course_id, learner_id) for learner_id, course_id in pairs})
        for learner_id, course_id in pairs:
            pipe.sadd(self.keys.learner_courses(shard, learner_id), course_id)
            pipe.sadd(self.keys.roster(course_id), learner_id)
            pipe.sadd(self.keys.all_courses(), course_id)
        pipe.execute()
        run_scripts(self.client, [(self._append_once, [key], entries) for key, entries in sorted(appends.items())])

    def migrate_replay_sets(self) -> int:
        """Move layout 1's replay index (sets of "learner \x1f session") to strings of entries;
        returns how many buckets moved. Safe to run twice or from two processes at once."""
        moved = 0
        legacy = self.keys.legacy_gestures()
        head = len(legacy) - 1  # "{p}:gest:" — the rest of the key is "course:video:bucket"
        for key in list(self.client.scan_iter(match=legacy, count=1000)):
            members = cast(set[bytes], self.client.smembers(key))
            course_id, video_id, bucket = key.decode()[head:].rsplit(":", 2)
            entries = sorted(replay_entry(learner, session) for learner, _, session in
                             (m.decode().partition("\x1f") for m in members))
            if entries:
                self._append_once(keys=[self.keys.gesture(course_id, video_id, int(bucket))],
                                  args=[x for entry in entries for x in (bucket, entry)])
            self.client.delete(key)
            moved += 1
        return moved

    def migrate_replay_strings(self) -> int:
        """Move layout 3's replay index (a string per bucket) into hashes of 60 buckets; returns
        how many buckets moved. Safe to run twice or from two processes at once."""
        moved = 0
        legacy = self.keys.legacy_gesture_strings()
        head = len(legacy) - 1  # "{p}:gpos:" — the rest of the key is "course:video:bucket"
        for key in list(self.client.scan_iter(match=legacy, count=1000)):
            course_id, video_id, bucket = key.decode()[head:].rsplit(":", 2)
            held = (cast(bytes | None, self.client.get(key)) or b"").decode()
            entries = list(dict.fromkeys(_ENTRY + entry for entry in held.split(_ENTRY) if entry))  # in order
            if entries:
                self._append_once(keys=[self.keys.gesture(course_id, video_id, int(bucket))],
                                  args=[x for entry in entries for x in (bucket, entry)])
            self.client.delete(key)
            moved += 1
        return moved

    def courses_of(self, learner_id: str) -> list[str]:
        shard = shard_of(learner_id, self.shards)
        members = cast(set[bytes], self.client.smembers(self.keys.learner_courses(shard, learner_id)))
        return sorted(c.decode() for c in members)

    def course_ids(self) -> list[str]:
        return sorted(c.decode() for c in cast(set[bytes], self.client.smembers(self.keys.all_courses())))

    def sessions_on_shared_devices(self, records: list[LearnerCourse], window_s: float) -> set[str]:
        """Sessions of ``records`` whose device ran another learner's session within
        ``window_s`` of them (a ring may be there: a report reads those). One round trip, and
        only the weeks around each session, however long the device has been in use."""
        wanted: dict[str, list[tuple[str, str, float]]] = {}  # key -> (session, learner, start)
        for record in records:
            for session_id, summary in record.sessions.items():
                if not summary.device:
                    continue
                for week in range(week_of(summary.first_ts - window_s), week_of(summary.first_ts + window_s) + 1):
                    wanted.setdefault(self.keys.device(summary.device, week), []).append(
                        (session_id, record.learner_id, summary.first_ts))
        keys = sorted(wanted)
        replies = read_many(self.client, [("hgetall", key) for key in keys])
        shared: set[str] = set()
        for key, raw in zip(keys, replies, strict=True):
            marks = [_decode_place(v) for v in raw.values()]
            shared.update(session_id for session_id, learner_id, first_ts in wanted[key]
                          if any(m.learner_id != learner_id and abs(m.first_ts - first_ts) <= window_s for m in marks))
        return shared

    def migrate_device_hashes(self) -> int:
        """Split layout 2's one hash per device into a hash per device and week; returns how
        many devices moved. Safe to run twice or from two processes at once."""
        moved = 0
        legacy = self.keys.legacy_devices()
        head = len(legacy) - 1  # "{p}:device:" — the rest of the key is the device id
        for key in list(self.client.scan_iter(match=legacy, count=1000)):
            device_id = key.decode()[head:]
            raw = cast(dict[bytes, bytes], self.client.hgetall(key))
            pipe = self.client.pipeline(transaction=False)
            for session_id, value in raw.items():
                pipe.hset(self.keys.device(device_id, week_of(_decode_place(value).first_ts)), session_id, value)
            pipe.execute()
            self.client.delete(key)
            moved += 1
        return moved

    def context_of(self, learner_id: str, course_id: str, devices: list[str], probe: LinkProbe | None = None,
                   evidence: tuple[str, str] | None = None
                   ) -> tuple[LearnerCourse | None, dict[str, SessionSummary], bytes | None, LinkSight,
                              ModelEvidence | None]:
        """What the read-time detectors need, in one round trip: the learner x course record,
        the sessions of the given devices in the probe's weeks, the course's description (raw JSON), and what the
        linking index holds near the session (its network on the days around it, the course's
        sessions that started near it, other sessions that paused or sought where it did), and,
        given ``evidence`` (model version, session), what that version said of the session
        when a read asked it before (``cached_evidence``, without a round trip of its own)."""
        net_keys = [self.keys.network(probe.network, day) for day in probe.days] if probe and probe.network else []
        start_keys = [self.keys.starts(course_id, slot) for slot in probe.slots] if probe else []
        gesture_reads = [(f"hget:{bucket}", self.keys.gesture(course_id, video, bucket))
                         for video, bucket in probe.buckets] if probe else []
        device_keys = [self.keys.device(device, week) for device in devices for week in probe.weeks] if probe else []
        shard = shard_of(learner_id, self.shards)
        asked = [(f"hget:{evidence[1]}", self.keys.model_evidence(shard, evidence[0]))] if evidence else []
        raw_lc, raw_archive, raw_course, *rest = read_many(self.client, [
            ("get", self.keys.learner_course(shard, learner_id, course_id)),
            ("get", self.keys.learner_course_archive(shard, learner_id, course_id)),
            ("get", self.keys.course(course_id)),
            *asked,
            *[("hgetall", key) for key in device_keys],
            *[("hgetall", key) for key in net_keys + start_keys],
            *gesture_reads])
        raw_evidence = rest.pop(0) if asked else None
        raw_devices, rest = rest[:len(device_keys)], rest[len(device_keys):]
        sessions: dict[str, SessionSummary] = {}
        for raw in raw_devices:
            sessions.update({k.decode(): _decode_place(v) for k, v in raw.items()})
        sight = LinkSight()
        for raw in rest[:len(net_keys)]:
            sight.network.update({k.decode(): _decode_place(v) for k, v in raw.items()})
        for raw in rest[len(net_keys):len(net_keys) + len(start_keys)]:
            sight.started.update({k.decode(): _decode_mark(v) for k, v in raw.items()})
        for raw in rest[len(net_keys) + len(start_keys):]:
            for entry in replay_entries(raw):
                sight.gesture_hits[entry] = sight.gesture_hits.get(entry, 0) + 1
        return (merged_learner_course(raw_lc, raw_archive), sessions, raw_course, sight,
                _decode_evidence(raw_evidence) if raw_evidence else None)

    def linked_sessions(self, course_id: str, records: list[LearnerCourse], farm_min_accounts: int) -> set[str]:
        """Sessions of ``records`` that the index links to others (a report reads only those
        and the ones with flags of their own): their network held another session that day,
        ≥ ``farm_min_accounts`` sessions started in their slot, or another session paused or
        sought where they did. One round trip."""
        probes: list[tuple[str, str, int]] = []  # (session, key, sessions of its own learner under that key)
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            own_net: dict[str, int] = {}
            for summary in record.sessions.values():
                key = self.keys.network(summary.link.network, int(summary.first_ts // 86400))
                own_net[key] = own_net.get(key, 0) + 1
            for session_id, summary in record.sessions.items():
                if summary.link.network:
                    key = self.keys.network(summary.link.network, int(summary.first_ts // 86400))
                    probes.append((session_id, "hlen", own_net[key]))
                    pipe.hlen(key)
                probes.append((session_id, "hlen", farm_min_accounts - 1))
                pipe.hlen(self.keys.starts(course_id, int(summary.first_ts // START_SLOT_S)))
                own = len(replay_entry(summary.learner_id, session_id).encode())
                for video, bucket in indexed_buckets(summary):
                    probes.append((session_id, "strlen", own))
                    pipe.hstrlen(self.keys.gesture(course_id, video, bucket), str(bucket))
        counts = pipe.execute() if probes else []
        return {session_id for (session_id, _, own), count in zip(probes, counts, strict=True) if int(count) > own}

    def learner_courses_of(self, learner_ids: list[str], course_id: str) -> dict[str, LearnerCourse]:
        """Other learners' records in a course, in one round trip (linking compares accounts)."""
        if not learner_ids:
            return {}
        shards = [shard_of(lid, self.shards) for lid in learner_ids]
        raws = mget_any(self.client, [self.keys.learner_course(shard, lid, course_id)
                                      for shard, lid in zip(shards, learner_ids, strict=True)]
                        + [self.keys.learner_course_archive(shard, lid, course_id)
                           for shard, lid in zip(shards, learner_ids, strict=True)])
        merged = {lid: merged_learner_course(live, archive) for lid, live, archive in
                  zip(learner_ids, raws[:len(learner_ids)], raws[len(learner_ids):], strict=True)}
        return {lid: record for lid, record in merged.items() if record is not None}

    # -- model evidence of sessions scored before a promotion -------------------------------
    def cached_evidence(self, version: str, keys: list[tuple[int, str]]) -> list[ModelEvidence | None]:
        """What ``version`` said of each (shard, session), where a read asked it before."""
        pipe = self.client.pipeline(transaction=False)
        for shard, session_id in keys:
            pipe.hget(self.keys.model_evidence(shard, version), session_id)
        return [_decode_evidence(raw) if raw else None for raw in pipe.execute()]

    def cache_evidence(self, version: str, found: dict[tuple[int, str], ModelEvidence]) -> None:
        """Keep what ``version`` said of sessions (30 days: a later promotion makes it moot)."""
        if not found:
            return
        pipe = self.client.pipeline(transaction=False)
        for (shard, session_id), evidence in found.items():
            pipe.hset(self.keys.model_evidence(shard, version), session_id, _encode(evidence))
        for shard in {shard for shard, _ in found}:
            pipe.expire(self.keys.model_evidence(shard, version), EVIDENCE_TTL_S)
        pipe.execute()

    # -- the Rasch fit cache ---------------------------------------------------------------
    def cached_fit(self, course_id: str) -> bytes | None:
        return cast(bytes | None, self.client.get(self.keys.rasch(course_id)))

    def cache_fit(self, course_id: str, blob: bytes, ttl_s: int) -> None:
        self.client.set(self.keys.rasch(course_id), blob, ex=ttl_s)
