"""``/v1/flags/{id}`` (contract §5): a flag with its evidence, supervisors' rulings on it
(one flag or a selection), and the learner's appeal.

Rulings count (``readside.reviewed_score``): a dismissed flag adds no risk and takes no
study time; an appeal puts a ruled flag back in the queue as ``appealed`` (it stands
meanwhile) with the learner's statement. Every ruling and appeal is kept, with who and when.
"""

from __future__ import annotations

import time

import msgspec
from fastapi import APIRouter, Request, Response

from learnguard.api.bodies import decode_json, read_body
from learnguard.api.deps import Caller, CallerDep, RulesDep, SettingsDep, StoreDep
from learnguard.api.present import readable_reasons, review_public
from learnguard.api.schemas import (
    AppealRequest,
    BulkReviewError,
    BulkReviewRequest,
    BulkReviewResult,
    FlagDetailPublic,
    ReviewRequest,
    documented,
)
from learnguard.api.timefmt import rfc3339
from learnguard.detector.policy import Rules
from learnguard.detector.records import Review
from learnguard.errors import Forbidden, NotFound
from learnguard.service.keys import shard_of
from learnguard.service.readside import reviewed_score
from learnguard.service.store import Store

router = APIRouter(prefix="/v1", tags=["supervision"])


def _flag_detail(store: Store, rules: Rules, flag_id: str, caller: Caller, reviews: list[Review]
                 ) -> FlagDetailPublic:
    ref = store.flags.ref(flag_id)
    if ref is None:
        raise NotFound(f"flag {flag_id!r} is unknown (flags are known once a score or report showed them)")
    caller.require_org(ref.org_id, f"flag {flag_id}")
    record = store.sessions.load_record(shard_of(ref.learner_id, store.shards), ref.session_id)
    flag = None
    if record is not None and record.score is not None:
        flag = next((f for f in reviewed_score(store, record, rules)[0].flags if f.flag_id == flag_id), None)
    detail = FlagDetailPublic(flag_id=flag_id, pattern=ref.pattern, session_id=ref.session_id,
                              learner_id=ref.learner_id, course_id=ref.course_id, org_id=ref.org_id,
                              status=reviews[-1].decision if reviews else "open",
                              reviews=[review_public(r) for r in reviews])
    if flag is None:
        detail.note = "the flag no longer applies to the session"
    else:
        detail.confidence, detail.reasons = flag.confidence, readable_reasons(flag.reasons, caller, ref.org_id)
        detail.start, detail.end = rfc3339(flag.start), rfc3339(flag.end)
    return detail


def _answer(detail: FlagDetailPublic) -> Response:
    return Response(msgspec.json.encode(detail), media_type="application/json")


@router.post("/flags/{flag_id}/review", summary="Confirm or dismiss a flag (kept with who and when)",
             **documented(FlagDetailPublic, body=ReviewRequest, errors=(400, 401, 403, 404, 413, 422, 503)))
async def review(flag_id: str, request: Request, caller: CallerDep, store: StoreDep, settings: SettingsDep,
                 rules: RulesDep) -> Response:
    caller.require("reviews")
    body = decode_json(await read_body(request, settings), ReviewRequest,
                       '{"decision": "confirmed" | "dismissed", "note": "…"}')
    _flag_detail(store, rules, flag_id, caller, [])  # 404 / 403 before anything is written
    reviews = store.flags.add_review(flag_id, Review(decision=body.decision, note=body.note[:2000],
                                                     by_key=caller.key.key_id, by_name=caller.key.name,
                                                     at=time.time()))
    return _answer(_flag_detail(store, rules, flag_id, caller, reviews))


@router.post("/flags/review", summary="Confirm or dismiss a selection of flags with one ruling",
             **documented(BulkReviewResult, body=BulkReviewRequest, errors=(400, 401, 403, 413, 422, 503)))
async def review_many(request: Request, caller: CallerDep, store: StoreDep, settings: SettingsDep,
                      rules: RulesDep) -> Response:
    """Each flag is ruled on its own: one unknown or outside the caller's subtree is listed
    in ``errors`` and does not stop the others."""
    caller.require("reviews")
    body = decode_json(await read_body(request, settings), BulkReviewRequest,
                       '{"flag_ids": ["f-…", …], "decision": "confirmed" | "dismissed", "note": "…"}')
    result = BulkReviewResult(items=[], errors=[])
    at = time.time()
    for flag_id in dict.fromkeys(body.flag_ids):
        try:
            _flag_detail(store, rules, flag_id, caller, [])
        except (NotFound, Forbidden) as exc:
            result.errors.append(BulkReviewError(flag_id=flag_id, status=exc.status, detail=str(exc)))
            continue
        reviews = store.flags.add_review(flag_id, Review(decision=body.decision, note=body.note[:2000],
                                                         by_key=caller.key.key_id, by_name=caller.key.name, at=at))
        result.items.append(_flag_detail(store, rules, flag_id, caller, reviews))
    return Response(msgspec.json.encode(result), media_type="application/json")


@router.post("/flags/{flag_id}/appeal", summary="Appeal a flag with the learner's statement (back in the queue)",
             **documented(FlagDetailPublic, body=AppealRequest, errors=(400, 401, 403, 404, 413, 422, 503)))
async def appeal(flag_id: str, request: Request, caller: CallerDep, store: StoreDep, settings: SettingsDep,
                 rules: RulesDep) -> Response:
    """The flag's status becomes ``appealed`` until a supervisor rules again; the statement
    and who passed it on are kept in its history."""
    caller.require("appeals")
    body = decode_json(await read_body(request, settings), AppealRequest,
                       '{"statement": "what the learner says", "on_behalf_of": "who asked (optional)"}')
    _flag_detail(store, rules, flag_id, caller, [])
    by = caller.key.name + (f" for {body.on_behalf_of[:200]}" if body.on_behalf_of else "")
    reviews = store.flags.add_review(flag_id, Review(decision="appealed", note=body.statement, by_key=caller.key.key_id,
                                                     by_name=by, at=time.time()))
    return _answer(_flag_detail(store, rules, flag_id, caller, reviews))


@router.get("/flags/{flag_id}", summary="A flag with its reasons and review history",
            **documented(FlagDetailPublic, errors=(401, 403, 404, 503)))
def get_flag(flag_id: str, caller: CallerDep, store: StoreDep, rules: RulesDep) -> Response:
    caller.require("reports")
    reviews = store.flags.reviews_of([flag_id]).get(flag_id, [])
    return _answer(_flag_detail(store, rules, flag_id, caller, reviews))
