"""``GET /v1/learners/{learner_id}`` (contract §4): the learner's portrait, per course."""

from __future__ import annotations

import time

import msgspec
from fastapi import APIRouter, Response

from learnguard.api.deps import CallerDep, RulesDep, StoreDep
from learnguard.api.messages import render_text
from learnguard.api.present import flag_public
from learnguard.api.schemas import LearnerPublic, OfflinePublic, OfflineRecordPublic, documented
from learnguard.api.timefmt import parse_time
from learnguard.errors import NotFound
from learnguard.features.offline import OfflineRecord
from learnguard.service.readside import learner_portrait

router = APIRouter(prefix="/v1", tags=["learners"])


@router.get("/learners/{learner_id}", summary="A learner's portrait and learning-effect assessment",
            **documented(LearnerPublic, errors=(400, 401, 403, 404, 503)))
def get_learner(learner_id: str, caller: CallerDep, store: StoreDep, rules: RulesDep,
                course_id: str | None = None, as_of: str | None = None) -> Response:
    """Each course's entry carries ``next_steps`` (what to re-watch, the pace to the deadline)
    as of ``as_of`` (RFC 3339 or epoch ms; default now)."""
    caller.require("learners")
    moment = parse_time(as_of, "as_of") if as_of else time.time()
    found = learner_portrait(store, learner_id, course_id, rules, moment)
    offline = store.offline.of(learner_id)
    if found is None and not offline:
        where = f" in course {course_id!r}" if course_id else ""
        raise NotFound(f"learner {learner_id!r} has no sessions{where} and no offline records")
    org_id, courses = found if found is not None else (offline[-1].org_id, [])
    caller.require_org(org_id, f"learner {learner_id}")
    for entry in courses:
        entry["offline_hours"] = round(sum(r.hours for r in offline if r.activity == entry["course_id"]), 2)
    zone = caller.zone(org_id)
    for entry in courses:
        entry["flags"] = [flag_public(flag, caller, org_id) for flag in entry["flags"]]
        assessment = entry["assessment"]
        assessment["explanations"] = [render_text(e["code"], e["params"], caller.lang, zone, message)
                                      for e, message in zip(assessment["explained"], assessment["explanations"],
                                                            strict=True)]
    return Response(msgspec.json.encode(LearnerPublic(learner_id=learner_id, org_id=org_id, courses=courses,
                                                      offline=_offline(offline))),
                    media_type="application/json")


def _offline(records: list[OfflineRecord]) -> OfflinePublic | None:
    if not records:
        return None
    by_kind: dict[str, float] = {}
    for record in records:
        by_kind[record.kind] = round(by_kind.get(record.kind, 0.0) + record.hours, 2)
    return OfflinePublic(hours=round(sum(r.hours for r in records), 2), by_kind=by_kind,
                         records=[OfflineRecordPublic(r.activity, r.hours, r.day, r.kind) for r in records])
