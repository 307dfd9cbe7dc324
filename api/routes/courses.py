"""``PUT/GET /v1/courses/{course_id}`` (contract §2)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request, Response

from learnguard.api.bodies import read_body
from learnguard.api.deps import CallerDep, SettingsDep, StoreDep
from learnguard.api.schemas import CoursePublic, documented
from learnguard.errors import BadRequest, Conflict, NotFound
from learnguard.features.course import Course, CourseError, parse_course
from learnguard.features.orgs import org_covers

router = APIRouter(prefix="/v1", tags=["courses"])


ANSWER_ROLES = ("admin", "analyst")


def _answer(course_id: str, course: Course, role: str) -> Response:
    """The course as the caller may see it: checkpoint answers only for admin and analyst keys
    (a platform or supervisor key would hand them to the learner)."""
    fields = msgspec.structs.asdict(course)
    public = msgspec.to_builtins(CoursePublic(course_id=course_id, **fields))
    if role not in ANSWER_ROLES:
        for checkpoint in public.get("checkpoints", []):
            checkpoint.pop("answer", None)
    return Response(msgspec.json.encode(public), media_type="application/json")


@router.put("/courses/{course_id}", summary="Describe a course",
            **documented(CoursePublic, body=CoursePublic, errors=(400, 401, 403, 409, 413, 503)))
async def put_course(course_id: str, request: Request, caller: CallerDep, store: StoreDep,
                     settings: SettingsDep) -> Response:
    caller.require("courses:write")
    try:
        course = parse_course(await read_body(request, settings))
    except CourseError as exc:
        raise BadRequest(str(exc)) from exc
    caller.require_org(course.org_id, f"course {course_id}")
    owner = store.owners.bind([("course", course_id, course.org_id)])[("course", course_id)]
    caller.require_org(owner, f"course {course_id}")
    if owner != course.org_id:
        if not org_covers(course.org_id, owner):
            raise Conflict(f"course {course_id!r} is used by units outside org {course.org_id!r}; describe it with "
                           "an org that contains every unit using it (a course is shared by an ancestor org)")
        store.owners.set_owner("course", course_id, course.org_id)
    store.courses.put(course_id, course)
    store.rows.mark_courses([course_id])  # a new deadline or required hours changes its learners' rows
    return _answer(course_id, course, caller.key.role)


@router.get("/courses/{course_id}", summary="Read a course description",
            **documented(CoursePublic, errors=(401, 403, 404, 503)))
async def get_course(course_id: str, caller: CallerDep, store: StoreDep) -> Response:
    caller.require("courses:read")
    course = store.courses.get(course_id)
    if course is None:
        raise NotFound(f"course {course_id!r} is not described")
    caller.require_org(course.org_id, f"course {course_id}")
    return _answer(course_id, course, caller.key.role)
