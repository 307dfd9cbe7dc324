"""Session state in event time, and the playback physics that decides what study time stands.

Events enter a reorder buffer (``pending``) and are folded into the aggregates in ``ts``
order once the session's watermark (latest ``ts`` minus the reorder window) passes them.
Folding after every stream entry, never per batch, makes the state a function of the
sequence of entries alone: a worker killed and restarted mid-stream ends with the same
state. An event older than what is already folded is still folded (and counted as late).

Playback physics: a position report (heartbeat, pause, end, rate change, seek origin)
earns media time only while a ``video_play`` started the video and it was not paused
since, and never more than ``wall-clock since the last report × max_rate``. Watched media
is kept as merged intervals per video, so every second counts once.
"""

from __future__ import annotations

import msgspec

from learnguard.features.compact import KIND_CODE, Ev, kind_name
from learnguard.features.intervals import add_interval, total_length
from learnguard.features.running import RunningStat
from learnguard.features.timeline import Point
from learnguard.features.timeline import record as record_point

HEARTBEAT, PAUSE, ENDED = KIND_CODE["video_heartbeat"], KIND_CODE["video_pause"], KIND_CODE["video_ended"]
MEDIA_FETCH, CHALLENGE_ISSUED = KIND_CODE["media_fetch"], KIND_CODE["challenge_issued"]
POSITION_SLACK_S = 2.0  # jitter between player clock and wall clock a report may show
MAX_REMEMBERED = 8      # devices, ips, open check prompts, comment templates kept
CLICK_WINDOW_S = 1.0    # click storms are counted per second
BURST_CLICKS = 5        # clicks within one second that make a burst
SHORT_DWELL_S = 4.0     # a page left sooner than this was not read
DRIVES_WITHIN_S = 1.5   # script-made input followed this soon by a player or check action drove it
ACTED_BUCKET_S = 300.0  # person-made input is remembered per 5-minute bucket ...
MAX_ACTED = 96          # ... for at most 8 hours of a session
MAX_GESTURES = 32       # pauses and seeks kept as the session's fingerprint
GESTURE_PAUSE, GESTURE_SEEK = 0, 1  # gesture kinds
PENDING, PASSED, FAILED, LATE = 0, 1, 2, 3  # a service challenge's outcome


class Track(msgspec.Struct, omit_defaults=True):
    """One video's playback within a session."""

    playing: bool = False
    anchor_pos: float = -1.0
    anchor_ts: float = 0.0
    last_pos: float = -1.0
    last_heartbeat_ts: float = -1.0
    rate: float = 1.0
    duration: float = 0.0
    plays: int = 0
    paused_ts: float = -1.0
    last_report_ts: float = -1.0  # no longer written; kept so stored blobs still decode
    watched: list[list[float]] = msgspec.field(default_factory=list)
    span_start: float = -1.0  # wall-clock span of this video's latest credited playback
    span_end: float = -1.0
    delivered: list[list[float]] = msgspec.field(default_factory=list)  # media seconds the media server sent
    fetches: int = 0
    fetch_first: float = -1.0  # media-server clock of the first and last fetch
    fetch_last: float = -1.0


class Gesture(msgspec.Struct, array_like=True):
    """One pause (where, and for how long: -1 until play resumes) or seek (from, to): the
    sequence of them is a session's fingerprint, replayed sessions repeat it."""

    kind: int
    video: str
    at: float
    value: float


class Challenge(msgspec.Struct, array_like=True):
    """A challenge the service issued to the session, and its answer (platform-server clocks)."""

    at: float
    expires_at: float
    answer: int = -1          # the right choice of a checkpoint; -1 for presence
    options: int = 0
    prompt_chars: int = 0
    answered_at: float = -1.0
    choice: int = -1
    outcome: int = 0          # PENDING, PASSED, FAILED or LATE


class SessionState(msgspec.Struct, omit_defaults=True):
    """Everything LearnGuard keeps about one session (stored as one msgpack blob)."""

    session_id: str
    learner_id: str
    org_id: str
    course_id: str
    applied_events: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    max_ts: float = 0.0
    folded_ts: float = 0.0
    late_events: int = 0
    pending: list[Ev] = msgspec.field(default_factory=list)
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    videos: dict[str, Track] = msgspec.field(default_factory=dict)
    claimed_seconds: float = 0.0
    unexplained_seconds: float = 0.0
    credited_wall: list[list[float]] = msgspec.field(default_factory=list)
    max_rate_seen: float = 0.0
    over_rate_seconds: float = 0.0
    max_parallel: int = 0  # no longer read (a "playing" flag is no evidence of playback); kept for stored blobs
    heartbeat_gap: RunningStat = msgspec.field(default_factory=RunningStat)
    resume_gap: RunningStat = msgspec.field(default_factory=RunningStat)
    next_video_gap: RunningStat = msgspec.field(default_factory=RunningStat)
    check_latency: RunningStat = msgspec.field(default_factory=RunningStat)
    clock_skew: RunningStat = msgspec.field(default_factory=RunningStat)
    hidden: bool = False
    hidden_media_seconds: float = 0.0
    visibility_changes: int = 0
    clicks_trusted: int = 0
    clicks_untrusted: int = 0
    untrusted_while_playing: int = 0  # script-made inputs that drove a player or check action
    untrusted_since_report: int = 0   # no longer written; kept so stored blobs still decode
    muted_first_plays: int = 0
    unmuted_seen: bool = False
    seeks: int = 0
    backward_seeks: int = 0
    last_ended_ts: float = -1.0
    open_checks: dict[str, float] = msgspec.field(default_factory=dict)
    recent_clicks: list[float] = msgspec.field(default_factory=list)
    max_clicks_per_s: int = 0
    burst_clicks: int = 0
    last_page_ts: float = -1.0
    short_dwells: int = 0
    max_videos_reporting: int = 0
    last_trusted_ts: float = -1.0
    max_span_without_input: float = 0.0
    cohort_learned: bool = False
    quiz: dict[str, bool] = msgspec.field(default_factory=dict)
    timeline: list[Point] = msgspec.field(default_factory=list)
    timeline_base: float = 0.0
    comment_templates: dict[int, int] = msgspec.field(default_factory=dict)
    comment_samples: dict[int, str] = msgspec.field(default_factory=dict)  # first text of each template
    devices: list[str] = msgspec.field(default_factory=list)
    ips: list[str] = msgspec.field(default_factory=list)
    user_agent: str = ""
    last_untrusted_ts: float = -1.0
    acted: list[int] = msgspec.field(default_factory=list)
    gestures: list[Gesture] = msgspec.field(default_factory=list)
    challenges: dict[str, Challenge] = msgspec.field(default_factory=dict)
    server_events: int = 0     # events the platform's servers observed (v1.1)
    last_received: float = -1.0  # latest platform-server time seen in the session
    fetched: list[int] = msgspec.field(default_factory=list)  # 5-minute buckets with media delivered
    deliveries: list[Point] = msgspec.field(default_factory=list)  # media delivered over time, for the timeline


class PlaybackRules(msgspec.Struct, frozen=True):
    """What the course allows: the fastest rate, and the reorder window of event time."""

    max_rate: float = 2.0
    reorder_window_s: float = 90.0


def _remember(values: list[str], value: str | None) -> None:
    if value and value not in values and len(values) < MAX_REMEMBERED:
        values.append(value)


def add_events(state: SessionState, events: list[Ev], rules: PlaybackRules) -> None:
    """Apply the events of one stream entry: buffer them, then fold what the watermark passed."""
    for ev in events:
        if state.applied_events == 0 or ev.ts < state.first_ts:
            state.first_ts = ev.ts if state.applied_events == 0 else min(state.first_ts, ev.ts)
        state.applied_events += 1
        state.max_ts = max(state.max_ts, ev.ts)
        state.last_ts = state.max_ts
        state.pending.append(ev)
    state.pending.sort(key=Ev.sort_key)
    watermark = state.max_ts - rules.reorder_window_s
    ready = 0
    while ready < len(state.pending) and state.pending[ready].ts <= watermark:
        ready += 1
    for ev in state.pending[:ready]:
        fold(state, ev, rules)
    del state.pending[:ready]


def finalized(state: SessionState, rules: PlaybackRules) -> SessionState:
    """A copy with every buffered event folded: what scoring reads (the timeline, which
    scoring never reads, is left out of the copy: it is most of the state's size)."""
    timeline, deliveries = state.timeline, state.deliveries
    state.timeline, state.deliveries = [], []
    try:
        done = msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=SessionState)
    finally:
        state.timeline, state.deliveries = timeline, deliveries
    for ev in done.pending:
        fold(done, ev, rules)
    done.pending = []
    return done


class Finalized(msgspec.Struct):
    """A session's ``finalized`` copy kept up to date as events arrive in order, so that
    scoring after each stream entry folds only that entry's events instead of copying the
    state and re-folding its whole reorder buffer (a worker scores every session an entry
    touches; with one event per session per entry that re-fold was most of its time).

    Valid while every new event sorts after every event already in it and the playback
    rules stay the same; otherwise ``advance`` says so and the caller starts again from
    ``finalized``. Kept in the worker's memory only, never stored."""

    done: SessionState
    last_key: tuple[float, int]
    rules: PlaybackRules


def start_finalized(state: SessionState, rules: PlaybackRules) -> Finalized:
    """The snapshot of ``state`` as it is now (after ``add_events``)."""
    # the newest event in it: the latest pending one, or, with nothing pending, any event
    # up to ``max_ts`` (so the next must be later than that)
    last = max(ev.sort_key() for ev in state.pending) if state.pending else (state.max_ts, 2**32)
    return Finalized(done=finalized(state, rules), last_key=last, rules=rules)


def advance(snapshot: Finalized, state: SessionState, events: list[Ev], rules: PlaybackRules) -> bool:
    """Fold an entry's events (already added to ``state``) into the snapshot; False when
    they cannot be (an event sorts before one already folded, or the rules changed), and
    then the snapshot is stale and must be started again."""
    ordered = sorted(events, key=Ev.sort_key)
    if not ordered or rules != snapshot.rules or ordered[0].sort_key() <= snapshot.last_key:
        return False
    done = snapshot.done
    for ev in ordered:
        fold(done, ev, rules)
    done.timeline, done.deliveries = [], []  # scoring never reads them; keep the copy small
    done.applied_events, done.first_ts = state.applied_events, state.first_ts
    done.last_ts, done.max_ts = state.last_ts, state.max_ts
    snapshot.last_key = ordered[-1].sort_key()
    return True


def fold(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    """Fold one event, in event-time order, into the aggregates."""
    if ev.ts < state.folded_ts:
        state.late_events += 1
    state.folded_ts = max(state.folded_ts, ev.ts)
    name = kind_name(ev.kind)
    state.counts[name] = state.counts.get(name, 0) + 1
    _remember(state.devices, ev.device)
    _remember(state.ips, ev.ip)
    if ev.ua and not state.user_agent:
        state.user_agent = ev.ua[:512]
    if ev.kind in _PLAYER_OR_CHECK:
        _note_driven(state, ev.ts)
    _note_clocks(state, ev)
    handler = _HANDLERS.get(ev.kind)
    video_index = None
    if ev.video is not None:
        if ev.video not in state.videos:
            state.videos[ev.video] = Track()
        video_index = list(state.videos).index(ev.video)
    if not state.timeline and not state.deliveries:
        state.timeline_base = ev.ts
    if ev.kind == MEDIA_FETCH:  # drawn apart: a player fetches hundreds of segments
        record_point(state.deliveries, msgspec.structs.replace(ev, pos=ev.pos2), video_index, state.timeline_base)
    elif ev.kind != CHALLENGE_ISSUED:  # challenges are listed with their outcome
        record_point(state.timeline, ev, video_index, state.timeline_base)
    if handler is not None:
        handler(state, ev, rules)


def _note_clocks(state: SessionState, ev: Ev) -> None:
    """The device clock's skew (claims only) and the latest platform-server time seen."""
    if ev.skew is not None:
        if not ev.server:
            state.clock_skew.update(ev.skew)
        state.last_received = max(state.last_received, ev.ts - ev.skew)
    if ev.server:
        state.server_events += 1
        state.last_received = max(state.last_received, ev.ts)


def _note_driven(state: SessionState, ts: float) -> None:
    """A player or check action: script-made input just before it drove it (evidence);
    script-made input that drives nothing is an assistive tool's, not a bot's."""
    if state.last_untrusted_ts >= 0 and 0 <= ts - state.last_untrusted_ts <= DRIVES_WITHIN_S:
        state.untrusted_while_playing += 1
        state.last_untrusted_ts = -1.0


def _note_acted(state: SessionState, ts: float) -> None:
    """Remember that a person acted (trusted input, a check answered) in this 5-minute bucket."""
    bucket = int(ts // ACTED_BUCKET_S)
    if bucket not in state.acted and len(state.acted) < MAX_ACTED:
        state.acted.append(bucket)


def _gesture(state: SessionState, kind: int, video: str | None, at: float, value: float) -> None:
    if len(state.gestures) < MAX_GESTURES:
        state.gestures.append(Gesture(kind, video or "?", round(at, 1), round(value, 1)))


def _track(state: SessionState, ev: Ev) -> Track:
    video = ev.video or "?"
    track = state.videos.get(video)
    if track is None:
        track = state.videos[video] = Track()
    if ev.duration:
        track.duration = ev.duration
    if ev.rate is not None:
        track.rate = ev.rate
        state.max_rate_seen = max(state.max_rate_seen, ev.rate)
    return track


def _report(state: SessionState, track: Track, position: float, ts: float, rules: PlaybackRules) -> None:
    """A position report: credit what playback physics explains, note what it does not."""
    gain = position - track.anchor_pos if track.anchor_pos >= 0 else 0.0
    if track.playing and ts >= track.anchor_ts and gain > 0:
        wall = ts - track.anchor_ts
        credit = min(gain, wall * rules.max_rate + POSITION_SLACK_S)
        add_interval(track.watched, track.anchor_pos, track.anchor_pos + credit)
        add_interval(state.credited_wall, track.anchor_ts, ts)
        state.unexplained_seconds += gain - credit
        if track.rate > rules.max_rate:
            state.over_rate_seconds += wall
        if state.hidden:
            state.hidden_media_seconds += credit
        _note_simultaneous(state, track, ts)
    elif not track.playing and gain > 0:
        state.unexplained_seconds += gain
    if ts >= track.anchor_ts:
        track.anchor_pos, track.anchor_ts = position, ts
    track.last_pos = position

    if track.playing:
        since_input = ts - max(state.last_trusted_ts, state.first_ts)
        state.max_span_without_input = max(state.max_span_without_input, since_input)


def _note_simultaneous(state: SessionState, track: Track, ts: float) -> None:
    """Videos advance at once only when their credited playback overlaps in wall time.

    Several players on one page, or a play on one video without a logged pause on the
    other, is not two videos playing: the other shows no progress over the same time.
    """
    track.span_start, track.span_end = track.anchor_ts, ts
    at_once = sum(1 for other in state.videos.values()
                  if other.span_end > track.span_start and other.span_start < ts)
    state.max_videos_reporting = max(state.max_videos_reporting, at_once)


def _claim(state: SessionState, track: Track, position: float) -> None:
    """What a heartbeat-counting platform credits: forward progress between reports."""
    if track.last_pos >= 0 and position > track.last_pos:
        state.claimed_seconds += position - track.last_pos


def _on_play(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    track = _track(state, ev)
    position = ev.pos or 0.0
    if track.playing:
        if _skipped_ahead(track, position, ev.ts, rules):
            state.seeks += 1  # a play far ahead with no seek logged is skipping: no credit, no flag
        else:
            _report(state, track, position, ev.ts, rules)
    elif 0 <= track.paused_ts <= ev.ts:  # a late play tells nothing about resuming
        state.resume_gap.update(ev.ts - track.paused_ts)
        for gesture in reversed(state.gestures):
            if gesture.kind == GESTURE_PAUSE and gesture.video == (ev.video or "?") and gesture.value < 0:
                gesture.value = round(ev.ts - track.paused_ts, 1)
                break
    if track.plays == 0 and 0 <= state.last_ended_ts <= ev.ts and not ev.autoplay:
        # the platform's own player starting the next video is no bot's constant gap
        state.next_video_gap.update(ev.ts - state.last_ended_ts)
    if ev.muted and track.plays == 0:
        state.muted_first_plays += 1
    if ev.muted is False:
        state.unmuted_seen = True
    track.plays += 1
    track.playing = True
    track.anchor_pos, track.anchor_ts = position, ev.ts
    track.last_pos = position


def _skipped_ahead(track: Track, position: float, ts: float, rules: PlaybackRules) -> bool:
    """Whether a ``video_play`` starts further ahead than playback since the last report can
    explain: the player jumped (a seek the platform did not log), it did not play there."""
    return position - track.anchor_pos > max(0.0, ts - track.anchor_ts) * rules.max_rate + POSITION_SLACK_S


def _on_position(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    track = _track(state, ev)
    position = ev.pos or 0.0
    if ev.kind == HEARTBEAT:
        if track.last_heartbeat_ts >= 0 and ev.ts > track.last_heartbeat_ts:
            state.heartbeat_gap.update(ev.ts - track.last_heartbeat_ts)
        track.last_heartbeat_ts = max(track.last_heartbeat_ts, ev.ts)
        if ev.muted is False:
            state.unmuted_seen = True
    if ev.kind in (HEARTBEAT, PAUSE, ENDED):
        _claim(state, track, position)
    _report(state, track, position, ev.ts, rules)
    if ev.kind == PAUSE:
        if track.playing:
            _gesture(state, GESTURE_PAUSE, ev.video, position, -1.0)
        track.playing = False
        track.paused_ts = ev.ts
    elif ev.kind == ENDED:
        track.playing = False
        state.last_ended_ts = max(state.last_ended_ts, ev.ts)


def _on_seek(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    track = _track(state, ev)
    origin, target = ev.pos or 0.0, ev.pos2 or 0.0
    _report(state, track, origin, ev.ts, rules)
    state.seeks += 1
    _gesture(state, GESTURE_SEEK, ev.video, origin, target)
    if target < origin:
        state.backward_seeks += 1
    track.anchor_pos, track.anchor_ts = target, ev.ts
    track.last_pos = target


def _on_visibility(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    if ev.visible is None or (not ev.visible) == state.hidden:
        return
    state.visibility_changes += 1
    state.hidden = not ev.visible


def _on_click(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    if ev.trusted is False:
        state.clicks_untrusted += 1
        state.last_untrusted_ts = ev.ts  # evidence only if a player or check action follows
    else:
        state.clicks_trusted += 1
        state.last_trusted_ts = max(state.last_trusted_ts, ev.ts)
        _note_acted(state, ev.ts)
    recent = sorted([*state.recent_clicks, ev.ts])[-4 * BURST_CLICKS * 2:]
    state.recent_clicks = recent
    # |Δt| rather than "after": a late click must not find every later click in its window
    in_window = sum(1 for t in recent if abs(t - ev.ts) < CLICK_WINDOW_S)
    state.max_clicks_per_s = max(state.max_clicks_per_s, in_window)
    if in_window >= BURST_CLICKS:
        state.burst_clicks += 1


def _on_page_view(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    if state.last_page_ts >= 0 and 0 <= ev.ts - state.last_page_ts < SHORT_DWELL_S:
        state.short_dwells += 1
    state.last_page_ts = max(state.last_page_ts, ev.ts)


def _on_comment(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    if ev.text_hash is None:
        return
    templates = state.comment_templates
    if ev.text_hash in templates or len(templates) < MAX_REMEMBERED:
        templates[ev.text_hash] = templates.get(ev.text_hash, 0) + 1
        if ev.text is not None and ev.text_hash not in state.comment_samples:
            state.comment_samples[ev.text_hash] = ev.text


def _on_quiz_answer(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    if ev.ref and ev.correct is not None and (ev.ref in state.quiz or len(state.quiz) < 256):
        state.quiz[ev.ref] = ev.correct  # the latest answer to an item counts


def _on_check_prompt(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    if ev.ref and len(state.open_checks) < MAX_REMEMBERED:
        state.open_checks[ev.ref] = ev.ts


def _on_media_fetch(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    track = _track(state, ev)
    start, end = ev.pos or 0.0, ev.pos2 or 0.0
    if end > start:
        add_interval(track.delivered, start, end)
    track.fetches += 1
    track.fetch_first = ev.ts if track.fetch_first < 0 else min(track.fetch_first, ev.ts)
    track.fetch_last = max(track.fetch_last, ev.ts)
    bucket = int(ev.ts // ACTED_BUCKET_S)
    if bucket not in state.fetched and len(state.fetched) < MAX_ACTED:
        state.fetched.append(bucket)


def _on_challenge_issued(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    if ev.ref and ev.ref not in state.challenges:
        state.challenges[ev.ref] = Challenge(at=ev.ts, expires_at=ev.ts + (ev.pos or 90.0),
                                             answer=-1 if ev.choice is None else ev.choice,
                                             options=ev.options or 0, prompt_chars=ev.chars or 0)


def _grade(state: SessionState, challenge: Challenge, ev: Ev) -> None:
    """The first answer counts; timed from the challenge's ``at`` to the answer's
    ``received_at`` (platform-server clocks; the answer's own ``ts`` if it has none)."""
    if challenge.answered_at >= 0:
        return
    received = ev.ts - ev.skew if ev.skew is not None else ev.ts
    challenge.answered_at = received
    challenge.choice = -1 if ev.choice is None else ev.choice
    if received > challenge.expires_at:
        challenge.outcome = LATE
    elif challenge.options < 2 or challenge.choice == challenge.answer:
        challenge.outcome = PASSED
    else:
        challenge.outcome = FAILED
    if received >= challenge.at:  # the platform's own checks keep their latency statistics apart
        _note_acted(state, received)


def _on_check_answer(state: SessionState, ev: Ev, rules: PlaybackRules) -> None:
    challenge = state.challenges.get(ev.ref or "")
    if challenge is not None:
        _grade(state, challenge, ev)
        return
    shown = state.open_checks.pop(ev.ref or "", None)
    if shown is not None and ev.ts >= shown:
        state.check_latency.update(ev.ts - shown)
        _note_acted(state, ev.ts)


_PLAYER_OR_CHECK = frozenset(KIND_CODE[name] for name in (
    "video_play", "video_pause", "video_seek", "video_ratechange", "check_answer"))

_HANDLERS = {KIND_CODE[name]: handler for name, handler in {
    "video_play": _on_play,
    "video_pause": _on_position,
    "video_heartbeat": _on_position,
    "video_ended": _on_position,
    "video_ratechange": _on_position,
    "video_seek": _on_seek,
    "visibility": _on_visibility,
    "click": _on_click,
    "page_view": _on_page_view,
    "comment": _on_comment,
    "check_prompt": _on_check_prompt,
    "quiz_answer": _on_quiz_answer,
    "check_answer": _on_check_answer,
    "media_fetch": _on_media_fetch,
    "challenge_issued": _on_challenge_issued,
}.items()}


def watched_media_seconds(state: SessionState) -> float:
    """Media seconds really played, each second of each video counted once."""
    return sum(total_length(track.watched) for track in state.videos.values())


def credited_wall_seconds(state: SessionState) -> float:
    """Wall-clock seconds during which some credited playback ran."""
    return total_length(state.credited_wall)
