"""Reading an events body and putting its valid events on the streams.

Shared by ``POST /v1/events`` and the optional ``events`` of a score call, so both apply
exactly the same limits, validation, scoping and dedup.
"""

from __future__ import annotations

from fastapi import Request

from learnguard.api.bodies import unreadable
from learnguard.api.deps import Caller
from learnguard.api.schemas import IngestResult
from learnguard.detector.challenges import CHALLENGE_PREFIX, Answered
from learnguard.errors import BadRequest, Forbidden, PayloadTooLarge
from learnguard.features.events import (
    BodyError,
    ChallengeIssued,
    CheckAnswer,
    Event,
    Rejection,
    decode_json_array,
    decode_ndjson,
    epoch_seconds,
    split_ndjson,
)
from learnguard.features.orgs import org_covers
from learnguard.service import metrics
from learnguard.service.keys import shard_of
from learnguard.service.store import Store
from learnguard.settings import Settings


def is_ndjson(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in ("application/x-ndjson", "application/ndjson", "application/jsonl")


def parse_events(body: bytes, ndjson: bool, settings: Settings) -> tuple[list[Event], list[int], list[Rejection]]:
    """Validate a body; 400 if it is not JSON, 413 if it holds too many events."""
    if not body.strip():
        raise BadRequest("body is empty: send a JSON array of events or NDJSON")
    try:
        if ndjson:
            lines = len(split_ndjson(body))
            if lines > settings.max_events:
                raise PayloadTooLarge(f"{lines} events in one body; the limit is {settings.max_events}")
            return decode_ndjson(body)
        events, indexes, rejected = decode_json_array(body)
    except BodyError as exc:
        raise BadRequest(str(exc)) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise unreadable(exc) or BadRequest("body cannot be read as events") from exc
    count = len(events) + len(rejected)
    if count > settings.max_events:
        raise PayloadTooLarge(f"{count} events in one body; the limit is {settings.max_events}")
    return events, indexes, rejected


def check_scope(caller: Caller, events: list[Event], indexes: list[int]) -> None:
    """A platform key may only send events of its own org subtree: else 403, nothing stored."""
    outside = [(index, event) for index, event in zip(indexes, events, strict=True)
               if not caller.covers(event.org_id)]
    if outside:
        shown = ", ".join(f"index {i} (org_id {e.org_id!r})" for i, e in outside[:5])
        more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
        raise Forbidden(f"{len(outside)} events are outside this key's org subtree "
                        f"{caller.key.org!r}: {shown}{more}; nothing was accepted",
                        indexes=[i for i, _ in outside[:100]])


def claim_ids(store: Store, caller: Caller, events: list[Event], indexes: list[int]
              ) -> tuple[list[Event], list[int], list[Rejection]]:
    """Bind new session, learner and course ids to the org of the event that first names them,
    and refuse events that name ids another org owns (per event; the owner is not told)."""
    if not events:
        return events, indexes, []
    owners = store.owners.bind((kind, identifier, event.org_id) for event in events
                               for kind, identifier in _ids(event))
    kept: list[Event] = []
    kept_indexes: list[int] = []
    refused: list[Rejection] = []
    verdicts: dict[tuple[str, str], bool] = {}  # (owner, org) -> may use; few distinct pairs per batch
    for index, event in zip(indexes, events, strict=True):
        foreign = []
        for kind, identifier in _ids(event):
            pair = (owners[(kind, identifier)], event.org_id)
            allowed = verdicts.get(pair)
            if allowed is None:
                allowed = verdicts[pair] = _may_use(caller, *pair)
            if not allowed:
                foreign.append(f"{kind}_id")
        if foreign:
            refused.append(Rejection(index, event.event_id, f"{foreign[0]}: {getattr(event, foreign[0])!r} is "
                                     "already used by an org outside this key's subtree; ids belong to the org "
                                     "that first used them"))
        else:
            kept.append(event)
            kept_indexes.append(index)
    return kept, kept_indexes, refused


def _ids(event: Event) -> tuple[tuple[str, str], ...]:
    return (("session", event.session_id), ("learner", event.learner_id), ("course", event.course_id))


def _may_use(caller: Caller, owner: str, org_id: str) -> bool:
    """An id may be named from inside its owner's subtree, or by a key whose subtree holds the owner."""
    return org_covers(owner, org_id) or caller.covers(owner)


def check_challenges(store: Store, events: list[Event], indexes: list[int]
                     ) -> tuple[list[Event], list[int], list[Rejection]]:
    """Refuse ``challenge_issued`` from clients and answers to challenges the service never
    issued to the session; record the first answer to each issued one (the endpoint decides
    the next challenge from it without waiting for the workers)."""
    asks: list[tuple[int, str, str]] = []
    for event in events:
        if isinstance(event, CheckAnswer) and event.check_id.startswith(CHALLENGE_PREFIX):
            asks.append((shard_of(event.learner_id, store.shards), event.session_id, event.check_id))
    known = iter(store.challenges.check_answers(asks))
    kept: list[Event] = []
    kept_indexes: list[int] = []
    refused: list[Rejection] = []
    answers = []
    for index, event in zip(indexes, events, strict=True):
        if isinstance(event, ChallengeIssued):
            refused.append(Rejection(index, event.event_id, "type: challenge_issued is written by the service "
                                     "itself; send the learner's answer as check_answer"))
            continue
        if isinstance(event, CheckAnswer) and event.check_id.startswith(CHALLENGE_PREFIX):
            if not next(known):
                refused.append(Rejection(index, event.event_id, f"check_id: challenge {event.check_id!r} was not "
                                         f"issued to session {event.session_id!r}"))
                continue
            received = event.received_at if event.received_at is not None else event.ts
            answers.append((shard_of(event.learner_id, store.shards), event.session_id, event.check_id,
                            Answered(received_at=epoch_seconds(received),
                                     choice=event.choice if event.choice is not None else -1)))
        kept.append(event)
        kept_indexes.append(index)
    store.challenges.record_answers(answers)
    return kept, kept_indexes, refused


def ingest(store: Store, caller: Caller, events: list[Event], indexes: list[int],
           rejected: list[Rejection]) -> IngestResult:
    check_scope(caller, events, indexes)
    events, indexes, refused = claim_ids(store, caller, events, indexes)
    events, indexes, refused_answers = check_challenges(store, events, indexes)
    refused += refused_answers
    if refused:
        rejected = sorted(rejected + refused, key=lambda rejection: rejection.index)
    fresh = store.streams.ingest(events) if events else []
    accepted = sum(fresh)
    duplicates = len(fresh) - accepted
    metrics.EVENTS_ACCEPTED.inc(accepted)
    metrics.EVENTS_DUPLICATE.inc(duplicates)
    metrics.EVENTS_REJECTED.inc(len(rejected))
    return IngestResult(accepted=accepted, duplicates=duplicates, rejected=rejected)
