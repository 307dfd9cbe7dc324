"""The stream worker: owns shards by lease, applies their entries, commits atomically.

Delivery is at-least-once (``XREADGROUP``, ``XAUTOCLAIM``); the effect is exactly once
because each commit writes the session blobs together with the shard's last applied
stream id, guarded by the lease, and entries at or below that id are only acked. An
entry that fails ``max_deliveries`` times goes to the shard's dead-letter stream with
its error, inside the same commit.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import threading
import time
import uuid
from collections import OrderedDict, defaultdict
from typing import cast

import msgspec

from learnguard.detector.base import Detector
from learnguard.detector.compose import model_evidence
from learnguard.detector.linking import indexed_buckets
from learnguard.detector.pipeline import BatchEffects, SessionPipeline, touched_later
from learnguard.detector.policy import rules_from
from learnguard.detector.records import SessionRecord
from learnguard.detector.scoring import SessionScore
from learnguard.features.course import CourseInfo
from learnguard.features.events import Event
from learnguard.features.session import Finalized
from learnguard.models.cohort import CohortBaseline
from learnguard.service import metrics
from learnguard.service.archive import write_entries
from learnguard.service.cold import ColdStore, ColdUnavailable
from learnguard.service.compaction import Compactor
from learnguard.service.store import Store, StoreError
from learnguard.service.streams import Entry
from learnguard.settings import Settings

log = logging.getLogger(__name__)

_decode_events = msgspec.json.Decoder(list[Event]).decode
COURSE_CACHE_S = 5.0
MAX_BACKOFF_S = 5.0  # longest wait between rounds while the store is unreachable
PEER_CHECK_S = 0.25  # how often a busy worker asks whether workers joined or left (one ZCOUNT)
Decoded = tuple[bytes, dict[bytes, bytes], list[Event] | Exception]  # an entry: id, fields, events or error


def parse_stream_id(raw: bytes) -> tuple[int, int]:
    ms, _, seq = raw.partition(b"-")
    return int(ms), int(seq or 0)


def decode_entry(fields: dict[bytes, bytes]) -> list[Event]:
    """The events of one stream entry (NDJSON in field ``e``)."""
    return _decode_events(b"[" + fields[b"e"].replace(b"\n", b",") + b"]")


class Worker:
    """One stream consumer; ``run`` loops until ``stop`` is set, ``step`` does one round."""

    def __init__(self, store: Store, settings: Settings, detectors: list[Detector] | None = None,
                 worker_id: str | None = None) -> None:
        self.store = store
        self.streams = store.streams
        self.settings = settings
        self.rules = rules_from(settings)
        self.detectors = detectors
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.owned: set[int] = set()
        self.needs_pending: set[int] = set()
        self.cache: dict[int, dict[str, SessionRecord]] = defaultdict(dict)
        # each cached session's finalized copy, kept up to date (dropped with its record)
        self.finals: dict[int, dict[str, Finalized]] = defaultdict(dict)
        self.cache_sizes: OrderedDict[tuple[int, str], int] = OrderedDict()  # least recently touched first
        self._cached_total = 0
        self.applied: dict[int, tuple[int, int] | None] = {}
        self.failures: dict[bytes, int] = defaultdict(int)
        self.errors: dict[bytes, str] = {}
        self.courses: dict[str, tuple[float, CourseInfo]] = {}
        self.cohorts: dict[tuple[int, str], CohortBaseline] = {}
        self.last_balance = self.last_renew = 0.0
        self.live_at_balance = 0  # live workers the last balance shared the shards among
        self.last_peer_check = 0.0
        self.last_reclaim = time.monotonic()
        self.last_trim = time.monotonic()
        self.compact_due: set[int] = set()  # owned shards with sessions due for compaction
        self.processed = 0
        self.errors_seen = 0
        self.isolating: dict[int, tuple[int, int]] = {}  # shard -> read one entry at a time up to this id
        self.compactor = Compactor(store, store.sessions.cold or ColdStore(settings.cold_path),
                                   settings.compact_after_s, settings.compact_batch)

    # -- ownership --------------------------------------------------------------------
    def balance(self) -> None:
        """Renew leases, then take or give back shards so live workers share them evenly."""
        live = self.live_at_balance = max(1, self.streams.heartbeat(self.worker_id, self.settings.lease_ms))
        held = set(self.streams.renew_leases(sorted(self.owned), self.worker_id, self.settings.lease_ms))
        for shard in self.owned - held:
            self._drop(shard, "lease lost")
        target = math.ceil(self.store.shards / live)
        for shard in sorted(self.owned, reverse=True)[: max(0, len(self.owned) - target)]:
            self.streams.release_lease(shard, self.worker_id)
            self._drop(shard, "rebalanced")
        free = [s for s in range(self.store.shards) if s not in self.owned]
        random.shuffle(free)
        for shard in free:
            if len(self.owned) >= target:
                break
            if self.streams.try_lease(shard, self.worker_id, self.settings.lease_ms):
                self._acquire(shard)
        self.last_balance = self.last_renew = time.monotonic()

    def _renew_if_due(self) -> None:
        """Renew the leases in the middle of a long batch (a backlog after an outage makes
        batches of tens of thousands of events): a lease that expired mid-batch made the
        commit fail and the batch start again, for ever."""
        now = time.monotonic()
        if now - self.last_renew < self.settings.lease_ms / 3000:
            return
        self.streams.heartbeat(self.worker_id, self.settings.lease_ms)  # still alive, for the others' count
        held = set(self.streams.renew_leases(sorted(self.owned), self.worker_id, self.settings.lease_ms))
        self.last_renew = now
        for shard in self.owned - held:
            self._drop(shard, "lease lost")

    def _acquire(self, shard: int) -> None:
        """Take a shard over: claim every entry its previous owner left unacked."""
        self.owned.add(shard)
        self._forget(shard)
        raw = self.streams.applied_id(shard)
        self.applied[shard] = parse_stream_id(raw) if raw else None
        self._claim_idle(shard, min_idle_ms=0)
        self.needs_pending.add(shard)
        log.info("worker %s took shard %d", self.worker_id, shard)

    def _claim_idle(self, shard: int, min_idle_ms: int) -> None:
        if self.streams.claim_idle(shard, self.worker_id, min_idle_ms):
            self.needs_pending.add(shard)

    def _drop(self, shard: int, why: str) -> None:
        self.owned.discard(shard)
        self.needs_pending.discard(shard)
        self._forget(shard)
        log.info("worker %s left shard %d (%s)", self.worker_id, shard, why)

    # -- the loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Process until ``stop`` is set, then finish the batch in hand and give shards back.

        Nothing stops the loop but ``stop``: when the store cannot be reached (a restart, a
        full disk) or a round fails for any other reason, the worker forgets what it held
        in memory, waits (doubling up to ``MAX_BACKOFF_S``) and starts again from the
        streams, which still hold every unacked entry.
        """
        log.info("worker %s started", self.worker_id)
        backoff = 0.0
        try:
            while not stop.is_set():
                try:
                    self.step()
                    backoff = 0.0
                except Exception as exc:  # noqa: BLE001 - the loop must outlive any one round
                    backoff = min(MAX_BACKOFF_S, max(0.1, backoff * 2))
                    self.errors_seen += 1
                    metrics.WORKER_ERRORS.inc()
                    level = logging.WARNING if isinstance(exc, StoreError) else logging.ERROR
                    log.log(level, "worker %s: round failed (%s: %s); retrying in %.1f s", self.worker_id,
                             type(exc).__name__, exc, backoff, exc_info=not isinstance(exc, StoreError))
                    self._reset()
                    stop.wait(backoff)
        finally:
            self.shutdown()

    def _reset(self) -> None:
        """Forget what uncommitted work left in memory; the next round renews the leases (or
        gives up the shards it lost) and re-reads every entry it had not acked."""
        for shard in list(self.owned):
            self._forget(shard)
            self.needs_pending.add(shard)
        self.last_balance = 0.0

    def shutdown(self) -> None:
        try:
            for shard in list(self.owned):
                self.streams.release_lease(shard, self.worker_id)
                self._drop(shard, "shutdown")
            self.streams.forget_worker(self.worker_id)
        except StoreError as exc:  # the leases expire on their own
            log.warning("worker %s could not give its shards back: %s", self.worker_id, exc)
        log.info("worker %s stopped after %d events", self.worker_id, self.processed)

    def step(self) -> int:
        """One round: keep leases fresh, read a batch per owned shard, apply and commit it.

        Shares are rebalanced between one shard's batch and the next, not only between
        rounds: working off a backlog, a round is up to ``worker_batch`` entries of every
        shard it owns (a worker that started first holds them all: 8 shards × 62,500 events
        took the whole 6-second drain of a 300,000-event backlog, while a worker that
        joined a moment later waited with none). A shard given away mid-round is skipped;
        the entries read for it are claimed by its new owner."""
        now = time.monotonic()
        if self._balance_due(now):
            self.balance()
        self._housekeeping(now)
        if not self.owned:
            time.sleep(self.settings.worker_block_ms / 1000)
            return 0
        done = 0
        for shard, entries in self._read().items():
            if self._balance_due(time.monotonic()):
                self.balance()
            if shard in self.owned:
                done += self._process(shard, entries)
        return done

    def _balance_due(self, now: float) -> bool:
        """A third of a lease since the last balance, or (asked at most every
        ``PEER_CHECK_S``) a worker joined or left since: a joining worker then gets its
        shards within a fraction of a second plus one shard's batch."""
        if now - self.last_balance > self.settings.lease_ms / 3000 or not self.owned:
            return True
        if now - self.last_peer_check < PEER_CHECK_S:
            return False
        self.last_peer_check = now
        return self.streams.live_workers(self.settings.lease_ms) != self.live_at_balance

    def _housekeeping(self, now: float) -> None:
        """What a round does besides events, each when it is due: claim entries other workers
        left idle, archive and trim the streams, compact a slice of due sessions."""
        if now - self.last_reclaim > self.settings.reclaim_idle_ms / 1000:
            for shard in list(self.owned):
                self._claim_idle(shard, self.settings.reclaim_idle_ms)
            self.last_reclaim = now
        if now - self.last_trim > self.settings.trim_interval_s:
            for shard in list(self.owned):
                self.archive_and_trim(shard)
            self.compact_due |= self.owned
            self.last_trim = now
        if self.compact_due:
            self.compact_slice()

    def archive_and_trim(self, shard: int) -> int:
        """Archive applied entries past the retention window to Parquet, then trim them."""
        cutoff = self.streams.trim_cutoff(shard, self.settings.stream_retention_ms)
        archived = 0
        while True:
            entries = self.streams.entries_before(shard, cutoff)
            if not entries:
                return archived
            if self.settings.archive:
                archived += write_entries(self.settings.archive_path, shard, entries)
            self.streams.trim_through(shard, entries[-1][0])

    def compact_slice(self) -> None:
        """Compact the due sessions of owned shards for at most ``compact_slice_ms`` (at least
        one batch), then go back to events; shards with more due stay in ``compact_due``."""
        until = time.monotonic() + self.settings.compact_slice_ms / 1000
        for shard in sorted(self.compact_due):
            if shard in self.owned:
                self.compact(shard, until=until)
            else:
                self.compact_due.discard(shard)
            if time.monotonic() >= until:
                return

    def compact(self, shard: int, now: float | None = None, until: float | None = None) -> int:
        """Compact the shard's sessions past their retry window (``service.compaction``), all
        of them or until the monotonic ``until`` (the shard then stays in ``compact_due``);
        returns how many were compacted."""
        if not self.settings.compact:
            self.compact_due.discard(shard)
            return 0
        done, looked, more = self.compactor.run(shard, self.worker_id, now, until)
        if more:
            self.compact_due.add(shard)
        else:
            self.compact_due.discard(shard)
        cached = self.cache.get(shard, {})
        for session_id in looked:
            self.finals.get(shard, {}).pop(session_id, None)
            if cached.pop(session_id, None) is not None:
                self._cached_total -= self.cache_sizes.pop((shard, session_id), 0)
        if done:
            metrics.SESSIONS_COMPACTED.inc(done)
            log.info("shard %d: %d sessions compacted%s", shard, done, " (more due)" if more else "")
        return done

    def _read(self) -> dict[int, list[Entry]]:
        """Entries delivered before but not acked first (after a failure or a takeover), then new ones.

        A shard whose batch could not be stored is read one entry at a time until it is past
        that batch, so the entry at fault is found and dead-lettered alone.
        """
        batch = self.settings.worker_batch
        batches: dict[int, list[Entry]] = {}
        for shard in sorted(self.needs_pending & self.owned):
            entries = self.streams.read_pending(shard, self.worker_id, 1 if shard in self.isolating else batch)
            if entries:
                batches[shard] = entries
            else:
                self.needs_pending.discard(shard)
        fresh = sorted(self.owned - set(batches) - self.needs_pending)
        if fresh:
            block = None if batches else self.settings.worker_block_ms
            batches.update(self.streams.read_new(fresh, self.worker_id, batch, block))
        return batches

    def _course(self, course_id: str) -> CourseInfo:
        """What detectors know of a course, re-read at most every ``COURSE_CACHE_S``."""
        cached = self.courses.get(course_id)
        if cached and time.monotonic() - cached[0] < COURSE_CACHE_S:
            return cached[1]
        info = self.rules.course(self.store.courses.get(course_id))
        self.courses[course_id] = (time.monotonic(), info)
        return info

    def _process(self, shard: int, entries: list[Entry]) -> int:
        """Apply a batch of one shard and commit it; on a failure, retry the batch later.

        Entries are applied, scored and taught to the cohort one after another in stream
        order, so the result depends only on the sequence of entries, never on where a
        batch happened to start (a restarted worker gets the same answers).
        """
        ack_ids = [entry_id for entry_id, _ in entries]
        todo = self._decode(shard, entries)
        effects = BatchEffects(records=self.cache[shard])
        decoded = [events for *_, events in todo if isinstance(events, list)]
        wanted = {e.session_id for events in decoded for e in events}
        unreadable: dict[str, str] = {}  # compacted sessions whose cold file cannot be read now
        effects.records.update(self.store.sessions.load_records(shard, sorted(wanted - set(effects.records)),
                                                                unreadable, waking=True))
        pairs = sorted({(e.learner_id, e.course_id) for events in decoded for e in events})
        effects.learner_courses = self.store.sessions.load_learner_courses(shard, pairs)
        indexed = {sid: indexed_buckets(summary) for lc in effects.learner_courses.values()
                   for sid, summary in lc.sessions.items() if sid in wanted}  # their replay entries exist
        applied = self._apply(shard, todo, effects, unreadable)
        if applied is None:
            return 0
        last_id, applied_events, dead = applied
        if last_id is None:
            self.streams.ack(shard, ack_ids)
            return 0
        self._add_model_evidence(effects)
        try:
            return self._commit(shard, effects, last_id, applied_events, dead, ack_ids, indexed)
        except StoreError:
            raise
        except Exception as exc:  # the effect cannot be stored (a value that does not encode, a bug)
            if len(entries) == 1:
                self._failed(shard, entries[0][0], exc)
            else:
                log.warning("shard %d: a batch of %d entries could not be stored (%s: %s); applying them one "
                            "at a time to find the entry at fault", shard, len(entries), type(exc).__name__, exc)
                self.isolating[shard] = parse_stream_id(entries[-1][0])
                self._forget(shard)
                self.needs_pending.add(shard)
            return 0

    def _add_model_evidence(self, effects: BatchEffects) -> None:
        """The active model's evidence on each session the batch changed, in one model call,
        stored with the score: a read then asks the model nothing (model evidence is
        computed once per session change, not once per read). A model that fails is
        logged and skipped — the read side asks it then — and never holds up a shard."""
        model, card = self.store.registry.active()
        records = [effects.records[sid] for sid in sorted(effects.touched)
                   if sid in effects.records and effects.records[sid].score is not None]
        if model is None or card is None or not records:
            return
        states = [record.state for record in records]
        try:
            found = model_evidence(states, [self._course(s.course_id) for s in states], self.rules, model, card.version)
        except Exception:  # noqa: BLE001 - evidence is an optimisation; the read side recomputes it
            log.exception("model %s failed on a batch; its evidence is left to the read side", card.version)
            return
        for record, evidence in zip(records, found, strict=True):
            record.score = msgspec.structs.replace(cast(SessionScore, record.score), model_evidence=evidence)

    def _decode(self, shard: int, entries: list[Entry]) -> list[Decoded]:
        """The entries not applied yet, each with its events or the error that decoding raised."""
        applied = self.applied.get(shard)
        todo: list[Decoded] = []
        for entry_id, fields in entries:
            if fields is None or (applied is not None and parse_stream_id(entry_id) <= applied):
                continue  # trimmed while pending, or applied before a crash: ack only
            try:
                todo.append((entry_id, fields, decode_entry(fields)))
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
                todo.append((entry_id, fields, exc))
        return todo

    def _apply(self, shard: int, todo: list[Decoded], effects: BatchEffects, unreadable: dict[str, str]
               ) -> tuple[bytes | None, int, list[tuple[bytes, str, bytes]]] | None:
        """Run the pipeline over each entry; an entry that failed ``max_deliveries`` times becomes a
        dead letter. Returns (last id, events, dead letters), or None when an entry failed now or the
        shard was lost to another worker.

        An entry with events of a compacted session whose cold file cannot be read fails (it
        must not start that session afresh): retried, then dead-lettered with the file named,
        so the rest of the shard moves on."""
        pipeline = SessionPipeline(self.rules, self._course, lambda course_id: self._cohort(shard, course_id),
                                   self.detectors, self.finals[shard])
        dead: list[tuple[bytes, str, bytes]] = []
        last_id: bytes | None = None
        applied_events = 0
        # where each session is touched last (not in an entry about to become a dead letter)
        later = touched_later([events if isinstance(events, list) and self.failures.get(entry_id, 0) <
                               self.settings.max_deliveries else None for entry_id, _, events in todo])
        for index, (entry_id, fields, events) in enumerate(todo):
            self._renew_if_due()
            if shard not in self.owned:
                return None  # another worker has the shard now: nothing of this batch is stored
            if self.failures.get(entry_id, 0) >= self.settings.max_deliveries:
                dead.append((entry_id, self.errors.pop(entry_id, "failed"), fields.get(b"e", b"")))
                self.failures.pop(entry_id, None)
                last_id = entry_id
                applied_events += int(fields.get(b"n", 0))  # processed (dead), so not lag
                continue
            try:
                if isinstance(events, Exception):
                    raise events
                _refuse_unreadable(events, unreadable)
                pipeline.apply(effects, events, later[index])
            except Exception as exc:  # a bad entry or a bug must not stop the shard for good
                self._failed(shard, entry_id, exc)
                return None
            last_id = entry_id
            applied_events += len(events)
        return last_id, applied_events, dead

    def _failed(self, shard: int, entry_id: bytes, exc: Exception) -> None:
        log.warning("entry %s of shard %d failed: %s", entry_id, shard, exc)
        self.failures[entry_id] += 1
        self.errors[entry_id] = f"{type(exc).__name__}: {exc}"
        self._forget(shard)  # drop half-applied effects; reload next round
        self.needs_pending.add(shard)

    def _commit(self, shard: int, effects: BatchEffects, last_id: bytes, applied_events: int,
                dead: list[tuple[bytes, str, bytes]], ack_ids: list[bytes],
                indexed: dict[str, set[tuple[str, int]]] | None = None) -> int:
        """Index the batch's sessions, then store its effect with its last id and ack it, atomically."""
        blobs = self.store.sessions.record_blobs(shard, {sid: effects.records[sid] for sid in effects.touched})
        sizes = {sid: len(blobs[self.store.keys.session(shard, sid)]) for sid in effects.touched}
        blobs.update(self.store.sessions.learner_course_blobs(
            shard, [lc for pair, lc in effects.learner_courses.items() if pair in effects.changed_pairs]))
        for course_id in effects.cohorts_changed:
            blobs[self.store.sessions.cohort_key(shard, course_id)] = self.cohorts[(shard, course_id)].dumps()
        # the indexes first: idempotent, so a worker killed before the commit redoes them with the
        # batch, and no committed summary is ever missing from them
        self.store.sessions.index_sessions(shard, effects.summaries, {
            sid: effects.records[sid].state.course_id for sid in effects.summaries if sid in effects.records},
            effects.changed_pairs, indexed)
        outcome = self.streams.commit(shard, self.worker_id, last_id, applied_events, blobs, dead, ack_ids,
                                      sorted(effects.touched))
        if outcome != "ok":
            self._forget(shard)
            if outcome == "lease_lost":
                self._drop(shard, "lease lost at commit")
            else:  # stale: another owner applied these entries already
                self.streams.ack(shard, ack_ids)
                raw = self.streams.applied_id(shard)
                self.applied[shard] = parse_stream_id(raw) if raw else None
            return 0
        self.applied[shard] = committed = parse_stream_id(last_id)
        self.store.rows.mark(effects.changed_pairs)  # a refresh between the index marks and the commit saw old state
        if shard in self.isolating and committed >= self.isolating[shard]:
            del self.isolating[shard]
        self._keep_cached(shard, sizes)
        metrics.WORKER_CACHE.set(self._cached_total)
        metrics.WORKER_SHARDS.set(len(self.owned))
        self.processed += applied_events
        metrics.EVENTS_PROCESSED.inc(applied_events)
        if dead:
            metrics.DEAD_LETTERS.inc(len(dead))
            log.error("shard %d: %d entries moved to the dead-letter stream", shard, len(dead))
        return applied_events

    def _keep_cached(self, shard: int, sizes: dict[str, int]) -> None:
        """Note the touched sessions' sizes, then drop the least recently touched until the
        cache fits ``worker_cache_bytes``."""
        for sid, size in sizes.items():
            self._cached_total += size - self.cache_sizes.pop((shard, sid), 0)
            self.cache_sizes[(shard, sid)] = size
        while self.cache_sizes and self._cached_total > self.settings.worker_cache_bytes:
            (old_shard, old_sid), size = self.cache_sizes.popitem(last=False)
            self.cache.get(old_shard, {}).pop(old_sid, None)
            self.finals.get(old_shard, {}).pop(old_sid, None)
            self._cached_total -= size

    def cached_bytes(self) -> int:
        """Encoded bytes of the session records held in memory."""
        return self._cached_total

    def _forget(self, shard: int) -> None:
        """Drop every in-memory effect of uncommitted work on a shard."""
        self.cache.pop(shard, None)
        self.finals.pop(shard, None)
        for key in [key for key in self.cache_sizes if key[0] == shard]:
            self._cached_total -= self.cache_sizes.pop(key)
        for key in [key for key in self.cohorts if key[0] == shard]:
            del self.cohorts[key]

    def _cohort(self, shard: int, course_id: str) -> CohortBaseline:
        key = (shard, course_id)
        if key not in self.cohorts:
            blob = self.store.sessions.load_cohort_blob(shard, course_id)
            self.cohorts[key] = CohortBaseline.loads(blob) if blob else CohortBaseline()
        return self.cohorts[key]


def _refuse_unreadable(events: list[Event], unreadable: dict[str, str]) -> None:
    """Raise for the first event of a session whose archived record cannot be read."""
    for event in events:
        if event.session_id in unreadable:
            raise ColdUnavailable(event.session_id, unreadable[event.session_id])
