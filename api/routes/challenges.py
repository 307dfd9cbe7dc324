"""``POST /v1/sessions/{session_id}/challenge`` (contract v1.1 §10): the service decides
whether a challenge is due and with what; the platform shows it and forwards the answer."""

from __future__ import annotations

import time

import msgspec
from fastapi import APIRouter, Request, Response

from learnguard.api.bodies import read_body, unreadable
from learnguard.api.deps import CallerDep, RulesDep, SettingsDep, StoreDep
from learnguard.api.routes.sessions import wait_until_applied
from learnguard.api.schemas import ChallengePublic, ChallengeRequest, documented
from learnguard.detector.challenges import ESCALATE_FROM_RISK, Answered, Issued, challenge_due, issue, went_wrong
from learnguard.detector.records import SessionRecord
from learnguard.errors import BadRequest
from learnguard.features.events import ChallengeIssued, epoch_seconds
from learnguard.service import metrics
from learnguard.service.keys import shard_of
from learnguard.service.store import Store

router = APIRouter(prefix="/v1", tags=["sessions"])
_decode_request = msgspec.json.Decoder(ChallengeRequest).decode
DAY_S = 86400.0


async def known_session(store: Store, session_id: str, wait_s: float
                        ) -> tuple[SessionRecord, list[Issued], dict[str, Answered]]:
    """The session's record as applied so far (the schedule needs its start, org and course,
    not its latest event) and its challenges, waiting only for a session whose first events
    are not applied yet."""
    counts = store.streams.accepted_counts(session_id)
    if len(counts) == 1:
        record, issued, answers = store.challenges.with_record(next(iter(counts)), session_id)
        if record is not None:
            return record, issued, answers
    record = await wait_until_applied(store, session_id, wait_s)
    issued, answers = store.challenges.of(shard_of(record.state.learner_id, store.shards), session_id)
    return record, issued, answers


_DOCUMENTED = documented(ChallengePublic, body=ChallengeRequest, errors=(400, 401, 403, 404, 409, 413, 503))
_DOCUMENTED["responses"][204] = {"description": "no challenge is due, or the session has ended"}


@router.post("/sessions/{session_id}/challenge", summary="A challenge for the session, when one is due",
             **_DOCUMENTED)
async def challenge(session_id: str, request: Request, caller: CallerDep, store: StoreDep,
                    settings: SettingsDep, rules: RulesDep) -> Response:
    """``200`` with the challenge to show, or ``204`` when none is due (or the session ended)."""
    started = time.perf_counter()
    caller.require("score")
    body = await read_body(request, settings)
    try:
        ask = _decode_request(body) if body.strip() else ChallengeRequest()
    except msgspec.ValidationError as exc:
        raise BadRequest(f"body: {exc}") from exc
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise unreadable(exc) or BadRequest("body cannot be read") from exc
    record, issued, answers = await known_session(store, session_id, settings.score_wait_s)
    state = record.state
    caller.require_org(state.org_id, f"session {session_id}")
    at = epoch_seconds(ask.at) if ask.at is not None else time.time()
    if at < state.first_ts - DAY_S or at > state.last_ts + DAY_S:
        raise BadRequest(f"at: more than a day from the session's events ({state.first_ts:.0f}–{state.last_ts:.0f} "
                         "epoch seconds); pass the platform server's time of the call")
    if state.counts.get("session_end", 0) and at >= state.last_ts:  # ended by then (event time: replays agree)
        return Response(status_code=204)
    shard = shard_of(state.learner_id, store.shards)
    course = rules.course(store.courses.get_recent(state.course_id))
    risk_now = record.score is not None and state.max_ts <= at and record.score.risk >= ESCALATE_FROM_RISK
    escalated = risk_now or went_wrong(issued, answers, at)
    if not challenge_due(session_id, state.first_ts, at, issued, escalated, course.max_challenges_per_hour):
        metrics.CHALLENGE_LATENCY.observe(time.perf_counter() - started)
        return Response(status_code=204)
    challenge, checkpoint = issue(session_id, at, issued, list(course.checkpoints), ask.video_id, ask.position)
    store.challenges.record_issue(shard, session_id, challenge)
    store.streams.ingest([ChallengeIssued(
        event_id=challenge.challenge_id, ts=int(at * 1000), learner_id=state.learner_id, org_id=state.org_id,
        course_id=state.course_id, session_id=session_id, source="server", received_at=int(at * 1000),
        check_id=challenge.challenge_id, kind=challenge.kind,
        answer=challenge.answer if checkpoint else None, options=challenge.options,
        prompt_chars=challenge.prompt_chars, expires_in_s=challenge.expires_in_s)])
    answer = ChallengePublic(challenge_id=challenge.challenge_id, kind=challenge.kind, item_id=challenge.item_id,
                             prompt=checkpoint.prompt if checkpoint else "Are you still there? Click to continue.",
                             choices=list(checkpoint.choices) if checkpoint else [],
                             expires_in_s=challenge.expires_in_s)
    metrics.CHALLENGE_LATENCY.observe(time.perf_counter() - started)
    return Response(msgspec.json.encode(answer), media_type="application/json")
