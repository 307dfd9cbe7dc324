"""``PUT/GET /v1/courses/{course_id}`` (contract §2)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request, Response
from learnguard.api.deps import CallerDep, SettingsDep, StoreDep
from learnguard.api.ingest import read_body
from learnguard.api.schemas import CoursePublic, documented
from learnguard.features.course import Course, CourseError, parse_course

from learnguard.errors import NotFound, Unprocessable

router = APIRouter(prefix="/v1", tags=["courses"])


def _answer(course_id: str, course: Course) -> Response:
    public = CoursePublic(course_id=course_id, **msgspec.structs.asdict(course))
    return Response(msgspec.json.encode(public), media_type="application/json")


@router.put("/courses/{course_id}", summary="Describe a course",
            **documented(CoursePublic, body=CoursePublic, errors=(400, 401, 403, 413, 422, 503)))
async def put_course(course_id: str, request: Request, caller: CallerDep, store: StoreDep,
                     settings: SettingsDep) -> Response:
    caller.require("courses:write")
    try:
        course = parse_course(await read_body(request, settings))
    except CourseError as exc:
        raise Unprocessable(str(exc)) from exc
    caller.require_org(course.org_id, f"course {course_id}")
    existing = store.courses.get(course_id)
    if existing is not None:
        caller.require_org(existing.org_id, f"existing course {course_id}")
    store.courses.put(course_id, course)
    return _answer(course_id, course)


@router.get("/courses/{course_id}", summary="Read a course description",
            **documented(CoursePublic, errors=(401, 403, 404, 503)))
async def get_course(course_id: str, caller: CallerDep, store: StoreDep) -> Response:
    caller.require("courses:read")
    course = store.courses.get(course_id)
    if course is None:
        raise NotFound(f"course {course_id!r} is not described")
    caller.require_org(course.org_id, f"course {course_id}")
    return _answer(course_id, course)
