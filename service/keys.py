"""Every Redis key LearnGuard uses, built in one place (STYLE 10).

Keys of one shard share the hash tag ``{n}`` so a shard's keys live on one Redis Cluster
node and the ingest/commit scripts touch a single slot. ``prefix`` namespaces a whole
deployment (tests use a random one and delete it afterwards).

    {p}:meta                      hash   shard count, layout version
    {p}:{n}:events                stream accepted events, one entry per validated chunk
    {p}:{n}:dead                  stream entries that failed max_deliveries times
    {p}:{n}:lease                 string owner worker id, PX lease
    {p}:{n}:applied               string last applied stream id of the shard
    {p}:{n}:stats                 hash   accepted / applied event counters (lag)
    {p}:{n}:ids:{session}         set    int64 digests of accepted event ids (dedup)
    {p}:{n}:sess:{session}        string session state blob (msgpack), or once compacted its cold pointer (with
                                         its seen mark: event count, time of its latest event)
    {p}:{n}:seen:{session}        string a woken compacted session's older seen mark (or a Bloom filter of old)
    {p}:{n}:touched               zset   live session -> when a commit last changed it (ms; the compactor's list)
    {p}:{n}:chal:{session}        hash   challenges issued to the session and the first answer to each
    {p}:{n}:lc:{course}:{learner} string learner x course summary of its live sessions (msgpack)
    {p}:{n}:lcz:{course}:{learner} string the summaries of its compacted sessions (zlib-compressed msgpack)
    {p}:{n}:cohort:{course}       string cohort baseline of the shard's learners (river)
    {p}:{n}:mev:{version}         hash   session -> a model version's evidence, for sessions scored before
                                         its promotion (30 days)
    {p}:dweek:{week}:{device}     hash   session -> its place mark (learner, span, device, network, browser,
                                         answer times), per device and week of the session's start
                                         (layout 3; layout 2 kept one hash per device: device:{device})
    {p}:net:{network}:{day}       hash   session -> its place mark, per /24 network and UTC day (linking)
    {p}:starts:{course}:{slot}    hash   session -> learner, start, network, browser, per 10-minute slot (farms)
    {p}:gpos5:{course}:{video}:{k} hash  5 s position bucket b (k = b // 60: 5 minutes of the video) ->
                                         "\x1e learner \x1f session token" of each session that paused or sought
                                         there (replays; layout 4; was the string gpos:{course}:{video}:{b},
                                         and before layout 2 the set gest:)
    {p}:{n}:courses:{learner}     set    courses a learner has sessions in
    {p}:roster:{course}           set    learners with sessions in a course
    {p}:rasch:{course}            string the course's Rasch fit (JSON, cached with a TTL)
    {p}:courses                   set    every course with sessions
    {p}:flag:{flag_id}            string what a flag is about: session, learner, course, org, pattern
    {p}:reviews:{flag_id}         list   every review of a flag, oldest first (never overwritten)
    {p}:course:{course}           string course description (JSON)
    {p}:owners:{kind}             hash   session / learner / course id -> the org that owns it
    {p}:rate:{key_id}             hash   the key's token bucket (tokens, at); expires when full
    {p}:apikey:{sha256}           hash   role, org, name, created_at, revoked_at
    {p}:apikeys                   set    sha256 of every key ever made
    {p}:workers                   zset   worker id -> last heartbeat (ms)
    {p}:models:secret             string HMAC key the registry signs artifacts with
    {p}:models:seq                string last model version number
    {p}:models:versions           zset   version -> number
    {p}:models:artifact:{version} hash   envelope, payload, signature
    {p}:models:active             string the active version
    {p}:models:history            list   every promotion and rollback (JSON), oldest first
    {p}:rows:c:{course}           hash   learner -> report row of the learner x course (fixed-width record)
    {p}:rows:f:{course}           hash   learner -> the row's flags (fixed-width records; rows with flags)
    {p}:rows:m:{course}           hash   learner -> each session's start and standing patterns (records)
    {p}:rows:d:{course}           hash   learner -> the row's flags with reasons and rulings (msgpack)
    {p}:rows:orgs                 hash   unit -> its number in the records
    {p}:rows:orgseq               string last unit number given
    {p}:rows:dirty                set    course and learner of every row to recompute
    {p}:rows:model                string the model version the rows were built with
    {p}:rows:rebuild              string pairs marked by the running rebuild (its progress)
    {p}:rows:busy                 zset   refreshes under way -> when they give up
    {p}:xapi:voided               hash   voided xAPI statement id -> the voiding statement's id
    {p}:xapi:ignored              stream statements acknowledged but not read (id, why, statement; last 100,000)
    {p}:offline:{learner}         hash   record id -> an offline training record (msgpack)
    {p}:hooks                     hash   webhook id -> url, org, secret (msgpack)
    {p}:hooks:out                 stream credit.changed notifications waiting to be sent
    {p}:hooks:retry               zset   deliveries that failed -> when to try again
    {p}:hooks:parked              list   deliveries that failed every attempt
    {p}:hooks:log:{hook}          list   the hook's last 1,000 delivery attempts (JSON)

``shard_of`` decides which shard a learner's keys live in.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

STREAM_GROUP = "workers"
LAYOUT_VERSION = "4"  # 2: the replay index became strings (gpos:) instead of sets (gest:);
#                       3: a device's sessions are kept per week (dweek:) instead of in one hash (device:);
#                       4: the replay index's strings are fields of a hash per 5 minutes of video (gpos5:)
GESTURE_BLOCK = 60  # 5 s position buckets per replay-index hash: 5 minutes of a video


def shard_of(learner_id: str, shards: int) -> int:
    """A learner's shard: stable across processes and versions (CRC-32, not ``hash``).

    >>> shard_of("learner-1", 8) == shard_of("learner-1", 8)
    True
    """
    return zlib.crc32(learner_id.encode()) % shards


@dataclass(frozen=True)
class Keys:
    """Key builders for one deployment prefix."""

    prefix: str = "lg"

    def __post_init__(self) -> None:
        if "{" in self.prefix or "}" in self.prefix or not self.prefix:
            raise ValueError(f"key prefix must be non-empty and free of braces, got {self.prefix!r}")

    def meta(self) -> str:
        return f"{self.prefix}:meta"

    def shard_tag(self, shard: int) -> str:
        return f"{self.prefix}:{{{shard}}}"

    def events(self, shard: int) -> str:
        return f"{self.shard_tag(shard)}:events"

    def dead(self, shard: int) -> str:
        return f"{self.shard_tag(shard)}:dead"

    def lease(self, shard: int) -> str:
        return f"{self.shard_tag(shard)}:lease"

    def applied(self, shard: int) -> str:
        return f"{self.shard_tag(shard)}:applied"

    def stats(self, shard: int) -> str:
        return f"{self.shard_tag(shard)}:stats"

    def event_ids(self, shard: int, session_id: str) -> str:
        return f"{self.shard_tag(shard)}:ids:{session_id}"

    def session(self, shard: int, session_id: str) -> str:
        return f"{self.shard_tag(shard)}:sess:{session_id}"

    def seen(self, shard: int, session_id: str) -> str:
        return f"{self.shard_tag(shard)}:seen:{session_id}"

    def touched(self, shard: int) -> str:
        return f"{self.shard_tag(shard)}:touched"

    def challenges(self, shard: int, session_id: str) -> str:
        return f"{self.shard_tag(shard)}:chal:{session_id}"

    def learner_course(self, shard: int, learner_id: str, course_id: str) -> str:
        return f"{self.shard_tag(shard)}:lc:{course_id}:{learner_id}"

    def learner_course_archive(self, shard: int, learner_id: str, course_id: str) -> str:
        return f"{self.shard_tag(shard)}:lcz:{course_id}:{learner_id}"

    def cohort(self, shard: int, course_id: str) -> str:
        return f"{self.shard_tag(shard)}:cohort:{course_id}"

    def model_evidence(self, shard: int, version: str) -> str:
        return f"{self.shard_tag(shard)}:mev:{version}"

    def learner_courses(self, shard: int, learner_id: str) -> str:
        return f"{self.shard_tag(shard)}:courses:{learner_id}"

    def roster(self, course_id: str) -> str:
        return f"{self.prefix}:roster:{course_id}"

    def rasch(self, course_id: str) -> str:
        return f"{self.prefix}:rasch:{course_id}"

    def all_courses(self) -> str:
        return f"{self.prefix}:courses"

    def flag(self, flag_id: str) -> str:
        return f"{self.prefix}:flag:{flag_id}"

    def reviews(self, flag_id: str) -> str:
        return f"{self.prefix}:reviews:{flag_id}"

    def device(self, device_id: str, week: int) -> str:
        return f"{self.prefix}:dweek:{week}:{device_id}"

    def legacy_devices(self) -> str:
        """The pattern of layout 2's one hash per device, which ``ensure_layout`` splits into weeks."""
        return f"{self.prefix}:device:*"

    def network(self, network: str, day: int) -> str:
        return f"{self.prefix}:net:{network}:{day}"

    def starts(self, course_id: str, slot: int) -> str:
        return f"{self.prefix}:starts:{course_id}:{slot}"

    def gesture(self, course_id: str, video_id: str, bucket: int) -> str:
        """The replay-index hash that holds a 5 s position bucket (its field: ``str(bucket)``)."""
        return f"{self.prefix}:gpos5:{course_id}:{video_id}:{bucket // GESTURE_BLOCK}"

    def legacy_gesture_strings(self) -> str:
        """The pattern of layout 3's one replay-index string per bucket, which ``ensure_layout``
        moves into ``gesture`` hashes."""
        return f"{self.prefix}:gpos:*"

    def legacy_gestures(self) -> str:
        """The pattern of layout 1's replay-index sets, which ``ensure_layout`` moves to ``gesture``."""
        return f"{self.prefix}:gest:*"

    def course(self, course_id: str) -> str:
        return f"{self.prefix}:course:{course_id}"

    def rate(self, key_id: str) -> str:
        return f"{self.prefix}:rate:{key_id}"

    def owners(self, kind: str) -> str:
        return f"{self.prefix}:owners:{kind}"

    def api_key(self, key_hash: str) -> str:
        return f"{self.prefix}:apikey:{key_hash}"

    def api_keys(self) -> str:
        return f"{self.prefix}:apikeys"

    def workers(self) -> str:
        return f"{self.prefix}:workers"

    def models(self, suffix: str) -> str:
        """The registry's keys: ``secret``, ``seq``, ``versions``, ``active``, ``history``,
        ``artifact:{version}``."""
        return f"{self.prefix}:models:{suffix}"

    def rows(self, course_id: str) -> str:
        return f"{self.prefix}:rows:c:{course_id}"

    def rows_flags(self, course_id: str) -> str:
        return f"{self.prefix}:rows:f:{course_id}"

    def rows_marks(self, course_id: str) -> str:
        return f"{self.prefix}:rows:m:{course_id}"

    def rows_detail(self, course_id: str) -> str:
        return f"{self.prefix}:rows:d:{course_id}"

    def rows_orgs(self) -> str:
        return f"{self.prefix}:rows:orgs"

    def rows_org_seq(self) -> str:
        return f"{self.prefix}:rows:orgseq"

    def rows_dirty(self) -> str:
        return f"{self.prefix}:rows:dirty"

    def rows_model(self) -> str:
        return f"{self.prefix}:rows:model"

    def rows_busy(self) -> str:
        return f"{self.prefix}:rows:busy"

    def xapi_voided(self) -> str:
        return f"{self.prefix}:xapi:voided"

    def xapi_ignored(self) -> str:
        return f"{self.prefix}:xapi:ignored"

    def offline(self, learner_id: str) -> str:
        return f"{self.prefix}:offline:{learner_id}"

    def hooks(self) -> str:
        return f"{self.prefix}:hooks"

    def hooks_out(self) -> str:
        return f"{self.prefix}:hooks:out"

    def hooks_retry(self) -> str:
        return f"{self.prefix}:hooks:retry"

    def hooks_parked(self) -> str:
        return f"{self.prefix}:hooks:parked"

    def hook_log(self, hook_id: str) -> str:
        return f"{self.prefix}:hooks:log:{hook_id}"

    def rows_rebuild(self) -> str:
        return f"{self.prefix}:rows:rebuild"

    def pattern(self) -> str:
        """A SCAN pattern for every key of this prefix (used to clean up tests)."""
        return f"{self.prefix}:*"
