"""``/v1/flags/{id}`` (contract §5): a flag with its evidence, and supervisors' rulings on it."""

from __future__ import annotations

import time

import msgspec
from fastapi import APIRouter, Request, Response

from learnguard.api.bodies import decode_json, read_body
from learnguard.api.deps import Caller, CallerDep, RulesDep, SettingsDep, StoreDep
from learnguard.api.present import review_public, visible_reasons
from learnguard.api.schemas import FlagDetailPublic, ReviewRequest, documented
from learnguard.api.timefmt import rfc3339
from learnguard.detector.policy import Rules
from learnguard.detector.records import Review
from learnguard.errors import NotFound
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
        detail.confidence, detail.reasons = flag.confidence, visible_reasons(flag.reasons, caller.covers)
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


@router.get("/flags/{flag_id}", summary="A flag with its reasons and review history",
            **documented(FlagDetailPublic, errors=(401, 403, 404, 503)))
def get_flag(flag_id: str, caller: CallerDep, store: StoreDep, rules: RulesDep) -> Response:
    caller.require("reports")
    reviews = store.flags.reviews_of([flag_id]).get(flag_id, [])
    return _answer(_flag_detail(store, rules, flag_id, caller, reviews))
